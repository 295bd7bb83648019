"""The outcome blocks of orders whose readouts are unobserved leaves, computed together in one
compiled pass (:class:`LeafBatch`, for :func:`bayesdx.ranking.build_tables`).

An order whose unobserved readouts R are all leaves has the block
P(targets, R | e) = Σ_H P(targets, H | e) Π_r P(r | its unobserved parents, e), with H the
readouts' parents that are neither targets, observed, nor deterministic summaries of those
(:func:`bayesdx._leafjoints._leaf_group_joint` states it and computes it one order at a time in
numpy). A diagnosis of the bundled network has about twenty such blocks: each costs tens of
microseconds of numpy calls on arrays of a few thousand entries, so their sum was half of a
whole ``diagnose``. Here every block's factors are gathered once into flat buffers and a numba
kernel (:func:`leaf_products`) writes every block, one row per outcome over the targets' joint
states, straight into the ranking's stacked table.

The kernel flags a block whose products leave float64's normal range; that block is then made
the numpy way (which checks every step and asks the engine when it must), so the guarantees are
those of :mod:`bayesdx._leafjoints`. This module imports numba: :mod:`bayesdx.ranking` imports
it when it builds its first tables, not ``import bayesdx``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numba import njit

from ._leafjoints import (
    _children,
    _deterministic,
    _leaf_group_joint,
    _readout_table,
    _relevant,
)

__all__ = ["LeafBatch", "leaf_products"]

#: the smallest normal float64: a product below it (or rounded to zero) has lost precision
_TINY = np.finfo(np.float64).tiny
#: a block over more entries than this (targets, hidden parents, readouts) is left to the engine,
#: as :func:`bayesdx._leafjoints._leaf_group_joint` leaves it
_MAX_ENTRIES = 5e7


@njit(cache=True, nogil=True)
def leaf_products(src, items, tabs, tmins, data, rows, hidx, out, flags):  # pragma: no cover (compiled)
    """Write every block of ``items`` into the rows of ``out`` (shape (m, n_t)).

    ``items[b] = (first row of its source in src, H, first table in tabs, number of tables,
    first row of out)``: the block is out[o + s, t] = Σ_h src[s0 + h, t] Π_i T_i[.., s_i, t], with
    s the outcomes' mixed-radix index, the first table's readout slowest. ``tabs[i] = (offset
    in data, row of rows (-1: the target state itself), offset in hidx, card, dep rows R)``:
    table i is laid out (its hidden states, its readout's states, its targets' R rows); target
    state t reads row ``rows[k, t]`` and the block's hidden state h its hidden index
    ``hidx[off + h]``. ``tmins[i]`` is its smallest nonzero entry. ``flags[b]`` is set when a
    product of nonzero factors fell below float64's normal range (checked only where the
    smallest factors' product could).

    Every loop runs over the targets' states, innermost, so that it vectorises: the products of
    a hidden state's readout factors grow in ``part`` (one row per outcome of the readouts but
    the last), and the last readout's factors multiply them into ``out``.
    """
    n_t = out.shape[1]
    width = 1
    for b in range(items.shape[0]):
        size = 1
        for i in range(items[b, 3] - 1):
            size *= tabs[items[b, 2] + i, 3]
        width = max(width, size)
    part = np.empty((width, n_t))
    src_low = np.full(src.shape[0], np.inf)  # each source row's smallest nonzero entry
    for j in range(src.shape[0]):
        for t in range(n_t):
            w = src[j, t]
            if 0.0 < w < src_low[j]:
                src_low[j] = w
    for b in range(items.shape[0]):
        s0, n_h, t0, n_tab, o0 = items[b, 0], items[b, 1], items[b, 2], items[b, 3], items[b, 4]
        size_b = 1
        for i in range(n_tab):
            size_b *= tabs[t0 + i, 3]
        # no product can leave the normal range when the smallest factors' cannot
        low = np.inf
        for h in range(n_h):
            low = min(low, src_low[s0 + h])
        for i in range(n_tab):
            low *= tmins[t0 + i]
        check = not low >= _TINY
        bad = False
        for s in range(size_b):
            for t in range(n_t):
                out[o0 + s, t] = 0.0
        for h in range(n_h):
            for t in range(n_t):
                part[0, t] = src[s0 + h, t]
            size = 1
            for i in range(n_tab):
                k = t0 + i
                d_off, rk, card, n_rows = tabs[k, 0], tabs[k, 1], tabs[k, 3], tabs[k, 4]
                hb = d_off + hidx[tabs[k, 2] + h] * card * n_rows
                last = i == n_tab - 1
                for a in range(size - 1, -1, -1):  # backwards: part grows in place
                    for c in range(card - 1, -1, -1):
                        tb = hb + c * n_rows
                        dst = out[o0 + a * card + c] if last else part[a * card + c]
                        if check:
                            bad |= _checked(dst, part[a], data, tb, rows, rk, last)
                        elif rk < 0:
                            _fast(dst, part[a], data[tb:tb + n_t], last)
                        else:
                            _fast_rows(dst, part[a], data, tb, rows[rk], last)
                size *= card
        flags[b] = bad


@njit(cache=True, nogil=True, inline="always")
def _fast(dst, row, coef, add):  # pragma: no cover (compiled)
    """dst (+)= row * coef, elementwise."""
    if add:
        for t in range(dst.shape[0]):
            dst[t] += row[t] * coef[t]
    else:
        for t in range(dst.shape[0]):
            dst[t] = row[t] * coef[t]


@njit(cache=True, nogil=True, inline="always")
def _fast_rows(dst, row, data, tb, rows, add):  # pragma: no cover (compiled)
    """dst (+)= row * data[tb + rows], elementwise."""
    if add:
        for t in range(dst.shape[0]):
            dst[t] += row[t] * data[tb + rows[t]]
    else:
        for t in range(dst.shape[0]):
            dst[t] = row[t] * data[tb + rows[t]]


@njit(cache=True, nogil=True)
def _checked(dst, row, data, tb, rows, rk, add):  # pragma: no cover (compiled)
    """:func:`_fast` or :func:`_fast_rows` (rk < 0: the target state is the row), returning
    whether a product of nonzero factors left float64's normal range."""
    bad = False
    for t in range(dst.shape[0]):
        p = row[t]
        x = data[tb + (t if rk < 0 else rows[rk, t])]
        v = p * x
        if v < _TINY and v != 0.0 or v == 0.0 and p != 0.0 and x != 0.0:
            bad = True
        if add:
            dst[t] += v
        else:
            dst[t] = v
    return bad


class LeafBatch:
    """The leaf blocks of one diagnosis, gathered by :meth:`add` and written by :meth:`run`.

    Parameters
    ----------
    network : Network
    evidence : mapping of str to int
        The encoded evidence.
    query : JointQuery
        The diagnosis' engine pass, which holds the hidden parents' joints.
    """

    def __init__(self, network, evidence: Mapping[str, int], query):
        self._network, self._evidence, self._query = network, evidence, query
        self._targets = network.targets
        self._known = set(self._targets) | set(evidence)
        self._target_shape = tuple(network.arrays.card(t) for t in self._targets)
        self._n_t = math.prod(self._target_shape)
        self._sources: list[np.ndarray] = []  # each (H, n_t)
        self._source_at: dict = {}  # hidden tuple -> (first row, H)
        self._n_src = 0
        self._items: list[tuple] = []  # (source row, H, first table, tables, out row, free, scratch)
        self._tabs: list[tuple] = []  # see :func:`_laid_out`

    def add(self, free: tuple[str, ...], row: int, scratch: bool = False) -> int | None:
        """Queue P(targets, free | e) for the rows ``row : row + width`` of the output (with
        ``scratch``, of its scratch rows: see :meth:`run`); returns ``width``, or None when
        ``free`` is not a set of leaves this batch can read (a readout with children, or a
        block over more than 5e7 entries)."""
        network, evidence = self._network, self._evidence
        cache = network._cache
        relevant = cache.get(("leaf batch relevant", free))
        if relevant is None:
            relevant = cache[("leaf batch relevant", free)] = tuple(dict.fromkeys(
                p for r in free for p in _relevant(network, r)))
        key = ("leaf batch item", free, self._targets, tuple([evidence.get(p, -1) for p in relevant]))
        got = cache.get(key)
        if got is None:
            got = cache[key] = self._item(free)
        if not got:
            return None
        hidden, n_h, tabs, width = got
        at = self._source_at.get(hidden)
        if at is None:
            at = self._source_at[hidden] = (self._n_src, n_h)
            self._sources.append(self._source(hidden))
            self._n_src += n_h
        self._items.append((at[0], n_h, len(self._tabs), len(tabs), row, free, scratch))
        self._tabs.extend(tabs)
        return width

    def _item(self, free: tuple[str, ...]) -> tuple | bool:
        """What :meth:`add` keeps on the network per readouts and pattern of their relevant
        evidence: (hidden parents, their joint states, the laid-out tables, width), or False."""
        network, known = self._network, self._known
        arrays = network.arrays
        kids = _children(network)
        hidden: list[str] = []
        for r in free:
            if kids[r]:
                return False
            for p in arrays.parents[r]:
                if p in known or p in hidden:
                    continue
                if not (_deterministic(network, p) and set(arrays.parents[p]) <= known):
                    hidden.append(p)
        hidden_t = tuple(hidden)
        hidden_cards = tuple(arrays.card(h) for h in hidden_t)
        width = math.prod(arrays.card(r) for r in free)
        if self._n_t * math.prod(hidden_cards) * width > _MAX_ENTRIES:
            return False
        tabs = tuple(_laid_out(network, table, axes_names, self._targets, hidden_t, hidden_cards)
                     for axes_names, table in (_readout_table(network, r, self._evidence, known)
                                               for r in free))
        return hidden_t, math.prod(hidden_cards), tabs, width

    def _source(self, hidden: tuple) -> np.ndarray:
        """P(targets, hidden | e) as (H, n_t), from the query when there is at most one hidden
        parent, else asked of the engine."""
        query = self._query
        if not hidden:
            return np.reshape(query.target_joint, (1, self._n_t))
        if len(hidden) == 1:
            joint = query.node_joints[hidden[0]]
        else:
            joint = self._network.engine.group_joint(self._evidence, self._targets, hidden)
        return np.reshape(joint, (self._n_t, -1)).T

    def run(self, out: np.ndarray, scratch_at: int = 0) -> None:
        """Write every queued block into ``out`` (shape (m, n_t), C order), the scratch ones
        from row ``scratch_at`` on; a block the kernel flags is made again by
        :func:`bayesdx._leafjoints._leaf_group_joint` (or the engine)."""
        if self._items:
            items = [(*t[:4], t[4] + scratch_at, t[5], False) if t[6] else t for t in self._items]
            self._write(out, items, self._tabs)

    def _write(self, out: np.ndarray, items: list, laid: list) -> None:
        """One kernel call for ``items``, whose tables are ``laid`` (the first at 0)."""
        store = _store(self._network)
        tabs = np.empty((len(laid), 5), dtype=np.int64)
        tabs[:, 1:] = [t[1:5] for t in laid]  # rows, hidden index, card, target rows
        tabs[0, 0] = 0
        np.cumsum([t[0].size for t in laid[:-1]], out=tabs[1:, 0])  # where each table's data begins
        src = np.concatenate(self._sources) if len(self._sources) > 1 else self._sources[0]
        flags = np.zeros(len(items), dtype=np.bool_)
        leaf_products(np.ascontiguousarray(src, dtype=np.float64), np.array([t[:5] for t in items], dtype=np.int64),
                      tabs, np.array([t[5] for t in laid]), np.concatenate([t[0] for t in laid]),
                      store["rows"][0], store["hidx"][0], out, flags)
        for b in np.flatnonzero(flags).tolist():
            self._remake(out, items[b])

    def _remake(self, out: np.ndarray, item: tuple) -> None:
        network, evidence, free = self._network, self._evidence, item[5]
        try:
            with np.errstate(over="raise", under="raise", invalid="raise", divide="raise"):
                joint = _leaf_group_joint(network, evidence, self._query, free)
        except FloatingPointError:
            joint = None
        if joint is None:
            joint = network.engine.group_joint(evidence, self._targets, free)
        block = np.reshape(joint, (self._n_t, -1)).T
        out[item[4]:item[4] + block.shape[0]] = block


def _store(network) -> dict:
    """The network's store (per targets) of laid-out tables and of the index arrays they read: ``rows`` and
    ``hidx`` are each (one array holding every index array registered, {key: its position}),
    grown by appending (a position once given stays valid)."""
    key = ("leaf batch", network.targets)  # networks made from this one share its cache
    got = network._cache.get(key)
    if got is None:
        n_t = math.prod(network.arrays.card(t) for t in network.targets)
        got = network._cache[key] = {"tables": {}, "rows": (np.zeros((1, n_t), np.int64), {}),
                                     "hidx": (np.zeros(0, np.int64), {})}
    return got


def _register(store: dict, which: str, key, make) -> int:
    """The position of ``key``'s index array in ``store[which]``, appended (``make()``) if new."""
    array, at = store[which]
    got = at.get(key)
    if got is None:
        part = np.ascontiguousarray(make(), dtype=np.int64)
        if which == "rows":
            got = len(at)
            grown = part[None, :] if not at else np.concatenate([array, part[None, :]])
        else:
            got = array.size
            grown = np.concatenate([array, part])
        store[which] = (grown, {**at, key: got})  # one step: readers see the old or the new
    return got


def _laid_out(network, table: np.ndarray, axes_names: Sequence[str], targets: Sequence[str],
              hidden: tuple, hidden_cards: tuple) -> tuple:
    """``table`` (over ``axes_names``: some targets, some of ``hidden`` and the readout, in any
    order) as the kernel reads it: flat over (its hidden parents in ``hidden`` order, the
    readout, its targets in target order), with the position of its rows in the network's store
    (-1 when it depends on every target, in order: its rows are then the target states), the
    position of its hidden index there, its card and number of rows, and its smallest nonzero
    entry. Kept there by the table (which the network keeps)."""
    store = _store(network)
    key = (id(table), hidden, targets)
    got = store["tables"].get(key)
    if got is not None and got[0] is table:
        return got[1]
    dep = tuple(k for k, t in enumerate(targets) if t in axes_names)
    sub = tuple(k for k, h in enumerate(hidden) if h in axes_names)
    readout = [i for i, n in enumerate(axes_names) if n not in targets and n not in hidden]
    order = ([axes_names.index(hidden[k]) for k in sub] + readout
             + [axes_names.index(targets[k]) for k in dep])
    data = np.ascontiguousarray(np.transpose(table, order), dtype=np.float64).reshape(-1)
    card = table.shape[readout[0]]
    target_shape = tuple(network.arrays.card(t) for t in targets)
    n_rows = math.prod(target_shape[k] for k in dep)

    def rows():
        """The row of each target state t in the table: its coordinates on ``dep``, flattened."""
        grid = np.indices(target_shape).reshape(len(target_shape), -1)
        if not dep:
            return np.zeros(grid.shape[1], dtype=np.int64)
        return np.ravel_multi_index(tuple(grid[k] for k in dep), tuple(target_shape[k] for k in dep))

    def hidx():
        """The table's hidden index at each joint state of ``hidden``."""
        if not sub:
            return np.zeros(math.prod(hidden_cards), dtype=np.int64)
        grid = np.indices(hidden_cards).reshape(len(hidden_cards), -1)
        return np.ravel_multi_index(tuple(grid[k] for k in sub), tuple(hidden_cards[k] for k in sub))

    # every target, in order: the rows are the target states themselves (-1)
    rk = -1 if dep == tuple(range(len(targets))) else _register(store, "rows", (target_shape, dep), rows)
    h_off = _register(store, "hidx", (hidden_cards, sub), hidx)
    positive = data[data > 0]
    laid = (data, rk, h_off, card, n_rows, float(positive.min()) if positive.size else 1.0)
    store["tables"][key] = (table, laid)
    return laid
