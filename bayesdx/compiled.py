"""The compiled junction tree engine (``engine="compiled"``): the numpy engine's algorithm
(:mod:`bayesdx.jtree`, kept as the reference) executed by numba kernels over flat buffers.

Compilation (once per network)
    The same triangulation as the numpy engine (:mod:`bayesdx._triangulate`: the best of
    min-fill, min-weight and weighted min-fill), a junction tree rooted at its centre, and a
    :class:`~bayesdx._jtplan.TreePlan`: the tree, the CPTs and the prior messages as two flat
    arrays. The prior propagation runs in the kernel (:func:`bayesdx._jtentry.run_prior`), one
    clique table at a time.

Queries
    One kernel call per query (:func:`bayesdx._jtentry.run_query`): it derives the schedule from the
    pattern of evidence, propagates over the batch (the joint configurations of the unobserved
    targets in :meth:`CompiledEngine.joint_query`, the cases in
    :meth:`CompiledEngine.marginals_batch`) in cache-sized chunks, normalises, and writes
    P(targets, X | e) of every requested node side by side into one buffer, with the
    information gains computed in the same call. Python only encodes the evidence and wraps the
    answer. A cohort on a network whose prior clique tables are stored runs in
    :func:`bayesdx._cohortkernel.run_cohort` instead, with a plan derived once per pattern of
    evidence (:mod:`bayesdx._cohortplan`): the findings' cliques are not formed per case, and
    messages are multiplied in where they are smallest.

Numerical safety
    The kernels scale between cliques as the numpy engine does, but cannot report a float
    underflow inside a clique. The processor's flags are read around every kernel call
    (:mod:`bayesdx._fpflags`; a query kernel clears and tests them itself,
    :func:`bayesdx._jtentry.run_query_flagged`): a query that raised one, or any query on a
    network whose prior propagation raised one, is answered by the numpy engine, which checks
    every step and widens its floats (see :mod:`bayesdx.jtree`). Where the flags cannot be
    read, networks with a CPT entry below 1e-100 are answered by the numpy engine. Every answer
    is checked to be finite and normalised.

The kernels are compiled by numba on the first engine build of a machine (the cohort kernel on
its first cohort) and cached on disk (``cache=True``); numba is imported then, not by
``import bayesdx``.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import _fpflags as fp
from . import _triangulate as tri
from ._jtcohort import check_batch
from ._jtplan import TreePlan
from .exceptions import NumericalRangeError
from .inference import Engine, ModelArrays, StackedJoints, ZeroProbabilityEvidence, request_indices
from ._precision import check_totals
from .jtree import JTreeJointQuery, JunctionTreeEngine

__all__ = ["CompiledEngine", "CompiledJointQuery"]

FREE, SLICED, CLAMPED, INDICATOR = 0, 1, 2, 3
_NO_CST = np.zeros((1, 1), np.int64)


_KERNEL = None
_WARM: list = []  # non-empty once run_prior has run (and so been compiled) in this process
_COHORT_WARM: list = []  # the same for the cohort kernel
#: [False] once the query kernel cannot read the float flags itself on this platform
_IN_KERNEL_FLAGS: list = [True]
#: the flags the query kernel clears and tests (:func:`bayesdx._fpflags.mask`), read once
_MASK: list = [0]


_log = logging.getLogger("bayesdx")
_ANNOUNCED: set = set()


def _cached(dispatcher) -> bool:
    """Whether numba holds compiled code of ``dispatcher`` on disk (an index file in its cache
    directory); True when that cannot be told."""
    try:
        where = Path(dispatcher._cache.cache_path)
        name = dispatcher.py_func.__module__.rsplit(".", 1)[-1] + "." + dispatcher.py_func.__name__
        return any(where.glob(f"{name}-*.nbi"))
    except Exception:  # noqa: BLE001 (a numba without this cache layout: say nothing)
        return True


def _announce(dispatchers, what: str) -> None:
    """Say once per process, through the ``bayesdx`` logger (shown by default, as a warning),
    that numba is about to compile ``what`` because this machine has no cached code for it."""
    if what in _ANNOUNCED:  # looked at once per process: cohorts call this every time
        return
    _ANNOUNCED.add(what)
    if not all(_cached(d) for d in dispatchers):
        _log.warning("bayesdx is compiling %s for this machine: once, about a minute; the code is "
                     "then cached on disk for every later process.", what)


def _kernel():
    """The numba kernels (imported, and compiled or loaded from the cache, on first use)."""
    global _KERNEL
    if _KERNEL is None:
        from . import _jtentry

        _announce([_jtentry.run_prior, _jtentry.run_query_flagged], "the compiled engine's kernels")
        _MASK[0] = fp.mask()
        _KERNEL = _jtentry
    return _KERNEL


class _kept:  # noqa: N801 (a decorator, named as one)
    """:func:`functools.cached_property` without the lock Python 3.11 takes on every first
    access (two threads may both compute the value; they compute the same)."""

    def __init__(self, fn):
        self.fn, self.name, self.__doc__ = fn, fn.__name__, fn.__doc__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


class CompiledJointQuery(JTreeJointQuery):
    """:class:`~bayesdx.jtree.JTreeJointQuery` whose information gains were computed by the
    kernel in the same call; :meth:`information_gains_bits` returns them.

    The engine makes it from the kernel's buffers alone (:meth:`_from_kernel`): ``target_joint``,
    ``node_joints``, ``stacked``, ``columns``, ``free_target_probs`` and ``prob_evidence`` are
    views of them made on first access and kept (a ranking reads two of the six; on a small
    network making all six cost about as much as the kernel)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_gains", None)  # made without the kernel: computed on demand

    @classmethod
    def _from_kernel(cls, targets: tuple, log_pe: float, parts: tuple) -> CompiledJointQuery:
        """The answer of one kernel query. ``parts`` is ``(pattern, evs, observed, nodes, cards,
        joints, p_free, gains)``: the query's :class:`_Pattern`, its per-variable states and
        observed states, the requested nodes, the network's cardinalities and the kernel's
        output (P(targets, X | e) one read node above the other, P(free targets | e), the gains
        of the read nodes)."""
        query = cls.__new__(cls)
        query.__dict__.update(targets=targets, log_prob_evidence=log_pe, _parts=parts,
                              _gains=(parts[0].zero_gains, parts[0].read_names, parts[7]))
        return query

    @_kept
    def prob_evidence(self) -> float:
        return math.exp(self.log_prob_evidence)

    @_kept
    def free_target_probs(self) -> np.ndarray:
        return self._parts[6]

    @_kept
    def stacked(self) -> np.ndarray | None:
        pat, joints = self._parts[0], self._parts[5]
        return joints.T if pat.width else None  # a row per target configuration

    @_kept
    def columns(self) -> dict:
        return dict(self._parts[0].columns)

    @_kept
    def _where(self) -> tuple | None:
        """Where the free targets' rows go in the targets' shape (None when every target is
        free)."""
        pat, evs = self._parts[0], self._parts[1]
        if pat.all_free:
            return None
        return tuple(int(evs[v]) if pat.kind[v] == SLICED else slice(None) for v in pat.t_idx)

    @_kept
    def target_joint(self) -> np.ndarray:
        pat, p_free = self._parts[0], self._parts[6]
        where = self._where
        if where is None:
            return p_free.reshape(pat.shape)
        target_joint = np.zeros(pat.shape)
        target_joint[where] = p_free.reshape(pat.free_cards)
        return target_joint

    @_kept
    def node_joints(self) -> StackedJoints:
        pat, _, observed, nodes, cards, joints = self._parts[:6]
        return StackedJoints(nodes, pat.node_index, cards, observed, pat.columns, joints.T, self.target_joint,
                             pat.free_cards, self._where)

    def information_gains_bits(self) -> dict[str, float]:
        """I(targets ; X | evidence) in bits for every node X of ``node_joints`` (0 for observed
        nodes), as computed by the kernel from :attr:`stacked` (the same formula as
        :func:`bayesdx.voi.mutual_information_stacked_bits`)."""
        if self._gains is None:
            return super().information_gains_bits()
        zeros, names, values = self._gains
        out = dict(zeros)
        out.update(zip(names, values.tolist() if len(names) else ()))
        return out


class _Pattern:
    """What a joint query derives from its pattern alone (targets, requested nodes, observed
    nodes): the kind of every variable (observed: sliced; unobserved targets: clamped, one
    batch element per joint configuration), the read-out layout and the result's index maps.
    Built once per pattern by :meth:`CompiledEngine._pattern`; a query writes its observed
    states into a copy of ``evs`` (``ev_info``: variable, cardinality and name of each observed
    node, in the evidence's order)."""

    __slots__ = ("kind", "evs", "ev_info", "t_idx", "free", "free_cards", "n_conf", "all_free", "shape",
                 "read_vars", "read_off", "read_cards", "n_read", "width", "read_names", "columns", "node_index",
                 "zero_gains", "split")

    def __init__(self, engine: CompiledEngine, targets: tuple, nodes: tuple, observed: tuple):
        # plain Python over the nodes: a new pattern is the common case on small networks, where
        # a few numpy calls would cost more than the query (the int arrays are views of one)
        index, cards = engine._index, engine._cards
        t_idx, n_idx = request_indices(index, targets, nodes)
        ev_idx = [index[node] for node in observed]
        self.ev_info = list(zip(ev_idx, [cards[v] for v in ev_idx], observed))
        n = len(cards)
        kind = [FREE] * n
        evs = [0] * n
        for v in ev_idx:
            kind[v] = SLICED
        self.free = tuple(v for v in t_idx if kind[v] == FREE)
        for i, v in enumerate(self.free):
            kind[v], evs[v] = CLAMPED, i
        self.t_idx = t_idx
        self.free_cards = [cards[v] for v in self.free]
        self.n_conf = math.prod(self.free_cards)
        self.all_free = len(self.free) == len(t_idx)
        self.shape = tuple(cards[v] for v in t_idx)
        read = [(name, v) for name, v in zip(nodes, n_idx) if kind[v] == FREE]
        read_vars = [v for _, v in read]
        read_cards = [cards[v] for v in read_vars]
        read_off = [0, *itertools.accumulate(read_cards)][:-1]
        m = len(read)
        ints = np.array([*kind, *evs, *read_vars, *read_cards, *read_off], np.int64)
        self.kind, self.evs = ints[:n], ints[n:2 * n]
        self.read_vars, self.read_cards = ints[2 * n:2 * n + m], ints[2 * n + m:2 * n + 2 * m]
        self.read_off = ints[2 * n + 2 * m:]
        self.n_read = m
        self.width = sum(read_cards)
        self.read_names = [name for name, _ in read]
        self.columns = dict(zip(self.read_names, zip(read_off, read_cards)))
        self.node_index = dict(zip(nodes, n_idx))
        self.zero_gains = dict.fromkeys(nodes, 0.0)
        w, c = self.width * self.n_conf, self.n_conf
        #: ends of the answer's parts in one buffer: joints, P(free targets | e), gains, totals
        self.split = (w, w + c, w + c + m, w + c + m + 2)


class CompiledEngine(Engine):
    """Exact inference by a junction tree executed by compiled kernels.

    Parameters
    ----------
    arrays : ModelArrays
        The network.
    heuristics : sequence of str, optional
        Triangulation heuristics to try (see :mod:`bayesdx._triangulate`).
    phi0_max_entries : float, optional
        Store the prior clique tables (one gather per clique at query time instead of one product
        per CPT) when the cliques total at most this many entries. Default 2**23 (64 MiB).
    keep_max_floats : float, optional
        Keep the clique tables formed during collect for distribute when a propagation's tables
        total at most this many floats; above it, tables are formed again (memory stays near the
        largest clique). Default 2**22 (32 MiB).
    merge_added : float, optional
        Joint queries run on a coarser junction tree whose neighbouring cliques are merged while
        a merge adds at most this many table entries
        (:func:`bayesdx._triangulate.merge_small_cliques`): with tiny cliques a kernel step costs
        more than its arithmetic. 0 turns it off. Default 64.
    merge_max_total : float, optional
        Only networks whose cliques total at most this many entries get the coarser tree (a
        second plan, with its own prior propagation). Default 2**18.

    Attributes
    ----------
    heuristic : str
        The triangulation heuristic kept.
    triangulation_sizes : dict of str to int
        Total clique table size reached by each heuristic tried.
    total_clique_size : int
        Sum of the clique table sizes.
    cliques : list of tuple of str
        The cliques, as node names.
    query_cliques : list of tuple of str
        The cliques joint queries run on: ``cliques`` with tiny neighbours merged on small
        networks (see ``merge_added``), else ``cliques``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesdx.inference import ModelArrays
    >>> arrays = ModelArrays(
    ...     nodes=("d", "t"), states={"d": ("no", "yes"), "t": ("neg", "pos")},
    ...     parents={"d": (), "t": ("d",)},
    ...     cpts={"d": np.array([0.99, 0.01]), "t": np.array([[0.95, 0.05], [0.1, 0.9]])})
    >>> engine = CompiledEngine(arrays)
    >>> q = engine.joint_query({"t": 1}, ["d"], [])
    >>> round(float(q.target_joint[1]), 4)
    0.1538
    """

    name = "compiled"
    #: Floats of working tables per chunk of the batch (8 MiB: few chunks, each op runs over
    #: long rows; smaller chunks fit the cache better but repeat every op more often).
    chunk_floats = 2.0**20
    #: The same for cohorts.
    cohort_chunk_floats = 2.0**20
    #: Largest store of constants gathered at the targets' configurations, per target set.
    gather_max_floats = 2**22

    def __init__(self, arrays: ModelArrays, heuristics: Sequence[str] = tri.HEURISTICS,
                 phi0_max_entries: float = 2**23, keep_max_floats: float = 2**22,
                 merge_added: float = 64, merge_max_total: float = 2**18):
        super().__init__(arrays)
        nodes = arrays.nodes
        self._index = {n: i for i, n in enumerate(nodes)}
        self._cards = cards = [arrays.card(n) for n in nodes]
        families = [[*(self._index[p] for p in arrays.parents[n]), self._index[n]] for n in nodes]
        cpts = [np.asarray(arrays.cpts[n], dtype=float) for n in nodes]
        adj = tri.moral_graph([f[:-1] for f in families])
        cliques, self.heuristic, self.triangulation_sizes = tri.best_triangulation(adj, cards, heuristics)
        edges = tri.junction_tree_edges(cliques, cards)
        plan, flagged = self._propagated(cliques, edges, cards, families, cpts, phi0_max_entries)
        self._plan = plan
        if fp.available():
            #: True when the kernels' float64 tables cannot hold this network: numpy answers.
            self._extreme = flagged
        else:
            tiny = [float(c[c > 0].min()) for c in cpts if (c > 0).any()]
            self._extreme = bool(tiny) and min(tiny) < 1e-100
        # joint queries on a small network run on a coarser tree: with tiny cliques a kernel step
        # costs more than its arithmetic (cohorts keep the fine tree, whose evidence leaves they
        # read from per-pattern tables)
        self._qplan = plan
        if merge_added > 0 and len(cliques) > 1 and plan.total_size <= merge_max_total and not flagged:
            merged, medges = tri.merge_small_cliques(cliques, edges, cards, math.inf, merge_added)
            if len(merged) < len(cliques):
                qplan, q_flagged = self._propagated(merged, medges, cards, families, cpts, phi0_max_entries)
                if not q_flagged:
                    self._qplan = qplan
        self._reference: JunctionTreeEngine | None = None
        self._keep_max = float(keep_max_floats)
        self.total_clique_size = plan.total_size
        self.cliques = [tuple(nodes[v] for v in c) for c in plan.cliques]
        self.query_cliques = [tuple(nodes[v] for v in c) for c in self._qplan.cliques]
        self._no_gather = (np.zeros(0), np.full((3, len(plan.cliques)), -1, np.int64))
        self._no_gather_q = (np.zeros(0), np.full((3, len(self._qplan.cliques)), -1, np.int64))
        self._gathered: dict = {}
        self._patterns: dict = {}

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _propagated(cliques, edges, cards, families, cpts, phi0_max_entries) -> tuple[TreePlan, bool]:
        """A plan with its prior propagation run, and whether that raised a float flag."""
        kernel = _kernel()
        plan = TreePlan(cliques, edges, cards, families, cpts, phi0_max_entries)
        fp.clear()
        kernel.run_prior(plan.S, plan.F)
        flagged = fp.raised()
        if flagged and not _WARM:  # the first call may have compiled the kernel, raising flags itself
            plan = TreePlan(cliques, edges, cards, families, cpts, phi0_max_entries)
            fp.clear()
            kernel.run_prior(plan.S, plan.F)
            flagged = fp.raised()
        _WARM.append(True)
        return plan, flagged

    def _numpy(self) -> JunctionTreeEngine:
        """The numpy engine over the same network, for queries the kernels cannot hold."""
        if self._reference is None:
            self._reference = JunctionTreeEngine(self.arrays)
        return self._reference

    def _run(self, plan: TreePlan, *args) -> float | None:
        """One kernel query on ``plan``; None when it raised a float flag (the answer may be
        inexact). The kernel reads the flags itself where it can
        (:func:`bayesdx._jtentry.run_query_flagged`); elsewhere they are read around the call."""
        kernel = _kernel()
        mask = _MASK[0] if _IN_KERNEL_FLAGS[0] else 0
        if mask:
            try:
                out, flags = kernel.run_query_flagged(plan.S, plan.F, *args, mask)
            except Exception:  # noqa: BLE001 (numba could not link <fenv.h> here: read them around the call)
                _IN_KERNEL_FLAGS[0] = False
            else:
                return None if flags else out
        fp.clear()
        out = kernel.run_query(plan.S, plan.F, *args)  # a genuine error raises here again
        return None if fp.raised() else out

    def _encode(self, evidence: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
        n = len(self._cards)
        kind = np.zeros(n, np.int64)
        evs = np.zeros(n, np.int64)
        index, cards = self._index, self._cards
        for node, state in evidence.items():
            v = index[node]
            s = int(state)
            if not 0 <= s < cards[v]:
                raise ValueError(f"State index {s} out of range for node '{node}'.")
            kind[v] = SLICED
            evs[v] = s
        return kind, evs

    def _gather(self, free: tuple) -> tuple[np.ndarray, np.ndarray]:
        """The constants gathered at every configuration of the targets ``free`` (cached for the
        last few target sets): loading them is then a strided copy instead of a gather."""
        got = self._gathered.get(free)
        if got is None:
            if not free:
                return self._no_gather_q
            kind = np.zeros(len(self._cards), np.int64)
            evs = np.zeros(len(self._cards), np.int64)
            for i, v in enumerate(free):
                kind[v], evs[v] = CLAMPED, i
            got = _kernel().gather_constants(self._qplan.S, self._qplan.F, kind, evs, self.gather_max_floats)
            if len(self._gathered) >= 4:
                self._gathered.pop(next(iter(self._gathered)))
            self._gathered[free] = got
        return got

    # ------------------------------------------------------------------ queries
    def log_prob_evidence(self, evidence: Mapping[str, int]) -> float:
        """ln P(evidence); -inf when the evidence is impossible."""
        kind, evs = self._encode(evidence)
        empty = np.zeros(0, np.int64)
        out = None if self._extreme else self._run(
            self._qplan, kind, evs, _NO_CST, 1, empty, empty, 1.0, 1.0, np.zeros((0, 1)), np.empty(1),
            np.empty(0), empty, *self._no_gather_q, np.empty(2))
        if out is None:
            return self._numpy().log_prob_evidence(evidence)
        return float(out)

    def _pattern(self, targets: tuple, nodes: tuple, observed: tuple) -> _Pattern:
        """The layout of a query (targets, nodes, observed nodes), validated and derived once per
        pattern of evidence (cached): a query then only writes the observed states."""
        key = (targets, nodes, observed)
        got = self._patterns.get(key)
        if got is None:
            got = _Pattern(self, targets, nodes, observed)
            if len(self._patterns) >= 256:
                self._patterns.clear()  # one atomic step: other threads may be reading it
            self._patterns[key] = got
        return got

    def joint_query(self, evidence, targets, nodes):
        if self._extreme:
            return self._numpy().joint_query(evidence, targets, nodes)
        targets, nodes = tuple(targets), tuple(nodes)
        key = (targets, nodes, tuple(evidence))
        pat = self._patterns.get(key) or self._pattern(*key)
        # a small query costs a few tens of microseconds: its steps are written out here rather
        # than in helpers (each Python call counts when other work has filled the caches)
        evs = pat.evs.copy()
        observed = {}
        for (v, card, node), s in zip(pat.ev_info, evidence.values()):
            s = int(s)
            if not 0 <= s < card:
                raise ValueError(f"State index {s} out of range for node '{node}'.")
            evs[v] = observed[v] = s
        # the answer's parts are views of one buffer: one allocation a query
        a, b, c, d = pat.split
        buf = np.zeros(d)
        joints, p_free, gains = buf[:a].reshape(pat.width, pat.n_conf), buf[a:b], buf[b:c]
        log_pe = self._run(self._qplan, pat.kind, evs, _NO_CST, 1, pat.read_vars, pat.read_off,
                           float(self.chunk_floats), self._keep_max, joints, p_free, gains, pat.read_cards,
                           *(self._gathered.get(pat.free) or self._gather(pat.free)), buf[c:])
        if log_pe is None:
            return self._numpy().joint_query(evidence, targets, nodes)
        if not math.isfinite(log_pe):
            raise ZeroProbabilityEvidence("P(evidence) = 0")
        total, grand = buf[c:].tolist()
        if not (abs(total - 1.0) <= 1e-9 and abs(grand - pat.n_read) <= 1e-9 * pat.n_read):  # NaN fails too
            check_totals(total, grand, pat.n_read)  # raises, naming the failure
        return CompiledJointQuery._from_kernel(
            targets, log_pe, (pat, evs, observed, nodes, self._cards, joints, p_free, gains))

    def _run_cohort(self, kind, evs, cst, read_vars, read_off, buf, flags) -> bool | None:
        """One cohort through :func:`bayesdx._cohortkernel.run_cohort`, its plan derived once per
        pattern of evidence (kinds and read variables); None when it raised a float flag."""
        from . import _cohortkernel, _cohortplan

        _announce([_cohortkernel.run_cohort], "the compiled engine's cohort kernel")

        cache = self.__dict__.setdefault("_cohort_plans", {})
        key = (kind.tobytes(), read_vars.tobytes(), self.cohort_chunk_floats, self._keep_max)
        plan = cache.get(key)
        if plan is None:
            plan = _cohortplan.cohort_plan(self._plan, kind, read_vars, float(self.cohort_chunk_floats),
                                           float(self._keep_max))
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            cache[key] = plan
        one = buf.shape[1] == 1  # a lone case is run twice, so that it is computed as in a cohort
        if one:
            cst, out, probs = np.repeat(cst, 2, axis=1), np.zeros((buf.shape[0], 2)), np.zeros(2)
        else:
            out, probs = buf, flags
        for first in (not _COHORT_WARM, False):
            fp.clear()
            _cohortkernel.run_cohort(self._plan.S, self._plan.F, kind, evs, cst, plan.top, plan.active,
                                     plan.down, plan.read_from, read_vars, read_off, plan.chunk, plan.keep, out,
                                     probs, *plan[6:])
            flagged = fp.raised()
            _COHORT_WARM[:] = [True]
            if not (flagged and first):
                break
            out[:] = 0.0  # the first call in a process may have compiled the kernel, raising flags itself
        if one:
            buf[:, 0], flags[0] = out[:, 0], probs[0]
        return None if flagged else True

    def marginals_batch(self, evidence_nodes, evidence, nodes):
        if self._extreme:
            return self._numpy().marginals_batch(evidence_nodes, evidence, nodes)
        cards = self._cards
        evidence, e_idx, n_idx = check_batch(self._index, cards, evidence_nodes, evidence, nodes)
        n_cases = evidence.shape[0]
        kind = np.zeros(len(cards), np.int64)
        evs = np.zeros(len(cards), np.int64)
        rows = []
        observed = evidence >= 0
        seen, every = observed.any(axis=0), observed.all(axis=0)
        same = every & (evidence == evidence[:1]).all(axis=0) if n_cases else every
        for j, v in enumerate(e_idx):
            if not seen[j]:
                continue
            if same[j]:
                kind[v], evs[v] = SLICED, int(evidence[0, j])  # the same in every case: sliced once
                continue
            kind[v] = CLAMPED if every[j] else INDICATOR
            evs[v] = len(rows)
            rows.append(j)
        cst = np.ascontiguousarray(evidence[:, rows].T) if rows else _NO_CST
        read = [v for v in dict.fromkeys(n_idx) if kind[v] in (FREE, INDICATOR)]
        offsets, width = {}, 0
        for v in read:
            offsets[v] = width
            width += cards[v]
        out = {n: np.full((n_cases, cards[v]), np.nan) for n, v in zip(nodes, n_idx)}
        possible = np.zeros(n_cases, dtype=bool)
        if n_cases == 0:
            return out, possible
        buf = np.zeros((width, n_cases))
        flags = np.zeros(n_cases)
        read_vars = np.asarray(read, np.int64)
        read_off = np.fromiter((offsets[v] for v in read), np.int64, len(read))
        if self._plan.phi0_mode:
            done = self._run_cohort(kind, evs, cst, read_vars, read_off, buf, flags)
        else:
            empty = np.zeros(0, np.int64)
            done = self._run(self._plan, kind, evs, cst, 0, read_vars, read_off, float(self.cohort_chunk_floats),
                             float(self._keep_max), buf, flags, np.zeros(0), empty, *self._no_gather,
                             np.empty(2))
        if done is None:
            return self._numpy().marginals_batch(evidence_nodes, evidence, nodes)
        ok = possible[:] = flags > 0
        sums = buf.sum(axis=0)[ok]  # finite only when every entry is
        if width and sums.size and not (np.isfinite(sums).all() and not (buf < 0).any() and np.abs(
                sums - len(read)).max() <= 1e-9 * max(len(read), 1)):
            raise NumericalRangeError("a cohort case's posterior is not finite or does not sum to 1; "
                                      "no answer is returned rather than a wrong one")
        for name, v in zip(nodes, n_idx):
            if v in offsets:
                out[name] = np.ascontiguousarray(buf[offsets[v]:offsets[v] + cards[v]].T)
            else:
                m = np.zeros((n_cases, cards[v]))
                if kind[v] == SLICED:
                    m[:, evs[v]] = 1.0
                else:
                    m[np.arange(n_cases), cst[evs[v]]] = 1.0
                m[~ok] = np.nan
                out[name][:] = m
        return out, possible
