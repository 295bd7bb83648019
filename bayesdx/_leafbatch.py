"""The outcome blocks of orders whose readouts are unobserved leaves, gathered for one pass
(:class:`LeafBatch`, for :func:`bayesdx.ranking.build_tables`).

An order whose unobserved readouts R are all leaves has the block
P(targets, R | e) = Σ_H P(targets, H | e) Π_r P(r | its unobserved parents, e), with H the
readouts' parents that are neither targets, observed, nor deterministic summaries of those
(:func:`bayesdx._leafjoints._leaf_group_joint` states it and computes it one order at a time in
numpy). A diagnosis of the bundled network has about twenty such blocks: each costs tens of
microseconds of numpy calls on arrays of a few thousand entries, so their sum was half of a
whole ``diagnose``. A batch gathers every block's factors once, laid out flat (kept on the
network per readout table), and with the compiled engine a numba kernel
(:func:`bayesdx._leafkernel.leaf_products`) writes every block, one row per outcome over the
targets' joint states, straight into the ranking's stacked table.

The kernel flags a block whose products leave float64's normal range; that block is then made
the numpy way (which checks every step and asks the engine when it must), so the guarantees are
those of :mod:`bayesdx._leafjoints`. With any other engine each block is a few numpy products
over the same laid-out tables (under the kernel's bound on its products; a block beyond it, or
too large to form, is made the checked numpy way): the numpy engine needs no compiler, and a first
ranking imports nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ._leafjoints import (
    MAX_GROUP_ENTRIES,
    _group_parents,
    _leaf_group_joint,
    _readout_table,
    _relevant,
)

__all__ = ["LeafBatch"]

#: the smallest normal float64: a product below it (or rounded to zero) has lost precision
_TINY = np.finfo(np.float64).tiny
#: without the kernel, a block whose products over (hidden states, outcomes, target states)
#: have more entries than this is made by :func:`bayesdx._leafjoints._leaf_group_joint`, which
#: never forms them all
NUMPY_ENTRIES = 2**22

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
        self._n_t = math.prod(network.arrays.card(t) for t in self._targets)
        self._source_at: dict = {}  # hidden parents -> (first row of their joint in the kernel's, H)
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
        if at is None:  # its joint is read when the kernel runs
            at = self._source_at[hidden] = (self._n_src, n_h)
            self._n_src += n_h
        self._items.append((at[0], n_h, len(self._tabs), len(tabs), row, free, scratch))
        self._tabs.extend(tabs)
        return width

    def _item(self, free: tuple[str, ...]) -> tuple | bool:
        """What :meth:`add` keeps on the network per readouts and pattern of their relevant
        evidence: (hidden parents, their joint states, the laid-out tables, width), or False."""
        network, known = self._network, self._known
        arrays = network.arrays
        got = _group_parents(network, free, known)
        if got is None:
            return False
        hidden_t = got[0]
        hidden_cards = tuple(arrays.card(h) for h in hidden_t)
        width = math.prod(arrays.card(r) for r in free)
        if self._n_t * math.prod(hidden_cards) * width > MAX_GROUP_ENTRIES:
            return False
        tabs = tuple(_laid_out(network, table, axes_names, self._targets, hidden_t, hidden_cards)
                     for axes_names, table in (_readout_table(network, r, self._evidence, known)
                                               for r in free))
        return hidden_t, math.prod(hidden_cards), tabs, width

    def _source(self, hidden: tuple) -> np.ndarray:
        """P(targets, hidden | e) as (H, n_t), from the query when there is at most one hidden
        parent, else asked of the engine (the kernel's input; the numpy way reads its own)."""
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
        from row ``scratch_at`` on: in one kernel call with the compiled engine, else (and for
        a block the kernel flags) the numpy way (:meth:`_numpy_block`)."""
        if not self._items:
            return
        items = [(*t[:4], t[4] + scratch_at, t[5], False) if t[6] else t for t in self._items]
        if self._network.engine_name != "compiled":
            self._numpy_run(out, items)
            return
        # numba, which the compiled engine has imported
        from ._leafkernel import leaf_products

        laid, store = self._tabs, _store(self._network)
        tabs = np.empty((len(laid), 5), dtype=np.int64)
        tabs[:, 1:] = [t[1:5] for t in laid]  # rows, hidden index, card, target rows
        tabs[0, 0] = 0
        np.cumsum([t[0].size for t in laid[:-1]], out=tabs[1:, 0])  # where each table's data begins
        src = np.concatenate([self._source(hidden) for hidden in self._source_at], dtype=np.float64)
        flags = np.zeros(len(items), dtype=np.bool_)
        leaf_products(src, np.array([t[:5] for t in items], dtype=np.int64), tabs,
                      np.array([t[5] for t in laid]), np.concatenate([t[0] for t in laid]),
                      store["rows"][0], store["hidx"][0], out, flags)
        for b in np.flatnonzero(flags).tolist():
            self._numpy_block(out, items[b])

    def _numpy_run(self, out: np.ndarray, items: list) -> None:
        """:meth:`run` without the kernel: each block is a few numpy products over the same
        laid-out tables, the last an ``einsum`` over the hidden states, where no product of
        nonzero factors can leave float64's normal range (the smallest factors' product
        decides, as in the kernel) and the products stay under :data:`NUMPY_ENTRIES`; any other
        block is made by :meth:`_numpy_block`."""
        store = _store(self._network)
        rows, hidx = store["rows"][0], store["hidx"][0]
        hidden_at = {at[0]: hidden for hidden, at in self._source_at.items()}
        sources: dict = {}  # hidden parents -> (their joint as (H, n_t), its smallest entry > 0)
        n_t = self._n_t
        for item in items:
            s0, n_h, t0, n_tab, row = item[:5]
            laid = self._tabs[t0:t0 + n_tab]
            width = math.prod(t[3] for t in laid)
            if n_h * width * n_t > NUMPY_ENTRIES:
                self._numpy_block(out, item)
                continue
            hidden = hidden_at[s0]
            got = sources.get(hidden)
            if got is None:
                src = self._source(hidden)
                positive = src[src > 0]
                got = sources[hidden] = (src, float(positive.min()) if positive.size else 1.0)
            acc, low = got
            for t in laid:
                low *= t[5]
            if not low >= _TINY:
                self._numpy_block(out, item)
                continue
            acc = acc[:, None, :]  # (hidden, outcomes so far, target states)
            for i, (data, rk, h_off, card, n_rows, _) in enumerate(laid):
                table = data.reshape(-1, card, n_rows)  # (its hidden states, the readout, its rows)
                if table.shape[0] != n_h:
                    table = table[hidx[h_off:h_off + n_h]]
                if rk >= 0:
                    table = table[:, :, rows[rk]]
                if i < n_tab - 1:
                    acc = (acc[:, :, None, :] * table[:, None, :, :]).reshape(n_h, -1, n_t)
                else:  # the last readout's factors, summed over the hidden states
                    np.einsum("hat,hct->act", acc, table,
                              out=out[row:row + width].reshape(acc.shape[1], card, n_t))

    def _numpy_block(self, out: np.ndarray, item: tuple) -> None:
        """Write ``item``'s block the numpy way: a deferred leaf from the query (see
        :class:`bayesdx._leafjoints.LeafJointQuery`), several leaves by
        :func:`~bayesdx._leafjoints._leaf_group_joint`, both with every float step checked and
        the engine asked where one fails."""
        network, evidence, free = self._network, self._evidence, item[5]
        if len(free) == 1:
            joint = self._query.node_joints[free[0]]
        else:
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
