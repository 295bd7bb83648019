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
    answer (:mod:`bayesdx._compiledquery`: the layout derived once per pattern of evidence, and
    the answer's views, made on first access). On a network whose whole joint distribution is a
    small table, a joint query reads that table instead (:mod:`bayesdx._tablekernel`). A cohort
    on a network whose prior clique tables are stored runs in
    :func:`bayesdx._cohortkernel.run_cohort` instead, with a plan derived once per pattern of
    evidence (:mod:`bayesdx._cohortplan`): the findings' cliques are not formed per case, and
    messages are multiplied in where they are smallest. On networks with large cliques a joint
    query may run on a junction tree triangulated for its pattern of evidence, without the
    observed nodes (:mod:`bayesdx._evidencetree`), when that tree's entries (weighed once per
    pattern) make up for building it.

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

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import _evidencetree
from . import _fpflags as fp
from . import _triangulate as tri
from ._compiledquery import CLAMPED, FREE, INDICATOR, SLICED, UNDECIDED, CompiledJointQuery, _Pattern
from ._jtcohort import check_batch
from ._jtplan import TreePlan
from .exceptions import NumericalRangeError
from .inference import Engine, ModelArrays, ZeroProbabilityEvidence
from ._precision import check_totals
from .jtree import JunctionTreeEngine

__all__ = ["CompiledEngine", "CompiledJointQuery"]

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


def _announce(dispatchers, what: str, how_long: str = "about a minute") -> None:
    """Say once per process, through the ``bayesdx`` logger (shown by default, as a warning),
    that numba is about to compile ``what`` because this machine has no cached code for it."""
    if what in _ANNOUNCED:  # looked at once per process: cohorts call this every time
        return
    _ANNOUNCED.add(what)
    if not all(_cached(d) for d in dispatchers):
        _log.warning("bayesdx is compiling %s for this machine: once, %s; the code is "
                     "then cached on disk for every later process.", what, how_long)


def _kernel():
    """The numba kernels (imported, and compiled or loaded from the cache, on first use)."""
    global _KERNEL
    if _KERNEL is None:
        from . import _jtentry

        _announce([_jtentry.run_prior, _jtentry.run_query_flagged], "the compiled engine's kernels")
        _MASK[0] = fp.mask()
        _KERNEL = _jtentry
    return _KERNEL


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
    table_max_entries : float, optional
        Joint queries on a network whose whole joint distribution has at most this many entries
        read it from one table (:mod:`bayesdx._tablekernel`) instead of propagating: for a few
        hundred multiply-adds a propagation is mostly bookkeeping. 0 turns it off. Default 2**12.
    evidence_trees : {"auto", "always", "never"}, optional
        Whether a joint query may run on a junction tree triangulated for its pattern of evidence
        (:mod:`bayesdx._evidencetree`: without the observed nodes, whose fill-in can make the
        network's own cliques many times larger than the evidence leaves necessary). ``"auto"``
        (default) weighs both trees' table entries once per pattern, on networks whose sliced
        cliques are large; ``"always"`` uses it whenever no target or requested node is
        observed (for tests and comparisons: with little evidence an evidence tree can be far
        larger and slower than the network's); ``"never"`` keeps the network's tree.
    evidence_tree_heuristics : sequence of str, optional
        Triangulation heuristics tried for an evidence tree (the smallest total is kept). Default
        ``("weighted_min_fill",)``: on the held-out networks' evidence patterns it was as small as
        min-fill's or smaller (up to three times) in all but two of thirty cases.

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
    joint_table_size : int
        The entries of the joint table joint queries read (see ``table_max_entries``); 0 when
        they run on ``query_cliques``.
    evidence_tree_queries : int
        How many joint queries ran on an evidence tree (see ``evidence_trees``).

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
                 merge_added: float = 64, merge_max_total: float = 2**18, table_max_entries: float = 2**12,
                 evidence_trees: str = "auto", evidence_tree_heuristics: Sequence[str] = ("weighted_min_fill",)):
        super().__init__(arrays)
        if evidence_trees not in ("auto", "always", "never"):
            raise ValueError(f"evidence_trees must be 'auto', 'always' or 'never', not {evidence_trees!r}.")
        unknown = [h for h in evidence_tree_heuristics if h not in tri.HEURISTICS]
        if unknown or not evidence_tree_heuristics:
            raise ValueError(f"evidence_tree_heuristics must be some of {tri.HEURISTICS}, "
                             f"not {tuple(evidence_tree_heuristics)!r}.")
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
        self._table = None
        if not self._extreme and math.prod(cards) <= table_max_entries:
            self._table = self._joint_table(cpts, families, cards)
        self.joint_table_size = 0 if self._table is None else self._table[1].size
        # evidence trees: weighed only where the network's tree is large enough to lose to one
        self._families, self._cpts = families, cpts
        self._evtree_mode = None if evidence_trees == "never" or self._table is not None or (
            evidence_trees == "auto" and self._qplan.total_size < _evidencetree.MIN_ENTRIES) else evidence_trees
        self._evtree_heuristics = tuple(evidence_tree_heuristics)
        self._weigher = _evidencetree.Weigher(self._qplan)
        self.evidence_tree_queries = 0

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

    @staticmethod
    def _joint_table(cpts, families, cards) -> tuple | None:
        """``(kernel, table, cards, strides)`` for :func:`bayesdx._tablekernel.table_query`, or
        None: the table underflows, or the kernel cannot read the float flags here (its answers
        would go unchecked)."""
        if not (_MASK[0] and _IN_KERNEL_FLAGS[0]):
            return None
        from . import _tablekernel

        table = _tablekernel.joint_table(cpts, families, cards)
        if table is None:
            return None
        card = np.asarray(cards, np.int64)
        strides = np.ones(card.size, np.int64)
        strides[:-1] = np.cumprod(card[::-1])[-2::-1]
        run = _tablekernel.table_query
        _announce([run], "the compiled engine's one-table kernel", "a few seconds")
        z = np.zeros(2)
        try:  # compiled or loaded here, not in a query: a platform where it cannot link is told now
            run(table, card, strides, np.full(card.size, -1, np.int64), np.zeros(card.size, np.int64),
                np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 1)),
                z[:1], np.zeros(0), z, _MASK[0])
        except Exception:  # noqa: BLE001 (numba could not link <fenv.h>: the junction tree answers)
            return None
        return run, table, card, strides

    def _numpy(self) -> JunctionTreeEngine:
        """The numpy engine over the same network, for queries the kernels cannot hold."""
        if self._reference is None:
            self._reference = JunctionTreeEngine(self.arrays)
        return self._reference

    def _run(self, S: np.ndarray, F: np.ndarray, *args) -> float | None:
        """One kernel query on the plan ``S``, ``F``; None when it raised a float flag (the
        answer may be inexact). The kernel reads the flags itself where it can
        (:func:`bayesdx._jtentry.run_query_flagged`); elsewhere they are read around the call."""
        kernel = _kernel()
        mask = _MASK[0] if _IN_KERNEL_FLAGS[0] else 0
        if mask:
            try:
                out, flags = kernel.run_query_flagged(S, F, *args, mask)
            except Exception:  # noqa: BLE001 (numba could not link <fenv.h> here: read them around the call)
                _IN_KERNEL_FLAGS[0] = False
            else:
                return None if flags else out
        fp.clear()
        out = kernel.run_query(S, F, *args)  # a genuine error raises here again
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
            self._qplan.S, self._qplan.F, kind, evs, _NO_CST, 1, empty, empty, 1.0, 1.0, np.zeros((0, 1)),
            np.empty(1), np.empty(0), empty, *self._no_gather_q, np.empty(2))
        if out is None:
            return self._numpy().log_prob_evidence(evidence)
        return float(out)

    def _pattern(self, targets: tuple, nodes: tuple, observed: tuple) -> _Pattern:
        """The layout of a query (targets, nodes, observed nodes), validated and derived once per
        pattern of evidence (cached): a query then only writes the observed states."""
        key = (targets, nodes, observed)
        got = self._patterns.get(key)
        if got is None:
            got = _Pattern(self._index, self._cards, targets, nodes, observed, self._table is not None)
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
        table = self._table
        # a small query costs a few tens of microseconds: its steps are written out here rather
        # than in helpers (each Python call counts when other work has filled the caches)
        evs = pat.evs.copy()
        for (v, card, node), s in zip(pat.ev_info, evidence.values()):
            s = int(s)
            if not 0 <= s < card:
                raise ValueError(f"State index {s} out of range for node '{node}'.")
            evs[v] = s
        if self._evtree_mode is not None:
            tree = pat.evidence_tree
            if tree is UNDECIDED:
                tree = self._evidence_tree(key, pat)
            if tree is not None:
                got = self._evidence_tree_query(tree, evs, targets, nodes)
                if got is not None:
                    return got
        # the answer's parts are views of one buffer: one allocation a query
        a, b, c, d = pat.split
        buf = np.zeros(d)
        joints, p_free, gains = buf[:a].reshape(pat.width, pat.n_conf), buf[a:b], buf[b:c]
        if table is not None:
            log_pe, flags = table[0](*table[1:], evs, pat.tmul, pat.read_vars, pat.read_off, pat.read_cards,
                                     joints, p_free, gains, buf[c:], _MASK[0])
            if flags:
                log_pe = None
        else:
            log_pe = self._run(self._qplan.S, self._qplan.F, pat.kind, evs, _NO_CST, 1, pat.read_vars,
                               pat.read_off, float(self.chunk_floats), self._keep_max, joints, p_free, gains,
                               pat.read_cards, *(self._gathered.get(pat.free) or self._gather(pat.free)), buf[c:])
        if log_pe is None:
            return self._numpy().joint_query(evidence, targets, nodes)
        if not math.isfinite(log_pe):
            raise ZeroProbabilityEvidence("P(evidence) = 0")
        total, grand = buf[c:].tolist()
        if not (abs(total - 1.0) <= 1e-9 and abs(grand - pat.n_read) <= 1e-9 * pat.n_read):  # NaN fails too
            check_totals(total, grand, pat.n_read)  # raises, naming the failure
        return CompiledJointQuery._from_kernel(
            targets, log_pe, (pat, evs, nodes, self._cards, joints, p_free, gains))

    def _evidence_tree(self, key: tuple, pat: _Pattern) -> _evidencetree.EvidenceTree | None:
        """The evidence tree of a query pattern, or None for the network's tree (decided once
        per pattern and kept on it)."""
        targets, nodes, _ = key
        observed = [v for v, _, _ in pat.ev_info]
        tree = None
        # no target or requested node observed, and some node unobserved
        if pat.all_free and pat.n_read == len(nodes) and len(observed) < len(self._cards):

            def make():
                return _evidencetree.EvidenceTree(self.arrays.nodes, self._cards, self._families, self._cpts,
                                                  observed, targets, nodes, self._evtree_heuristics)

            if self._evtree_mode == "always":
                tree = make().build()
            else:
                tree = self._weigher.tree(observed, pat.free, pat.n_conf, make)
        pat.evidence_tree = tree
        return tree

    def _evidence_tree_query(self, tree, evs, targets, nodes) -> CompiledJointQuery | None:
        """A joint query on an evidence tree; None when the network's tree should answer it (the
        evidence is impossible, or the kernel raised a float flag: that path says which, or
        widens its floats)."""
        got = tree.numbers(evs)
        if got is None:
            return None
        F, log_const = got
        pat = tree.pattern
        a, b, c, d = pat.split
        buf = np.zeros(d)
        joints, p_free, gains = buf[:a].reshape(pat.width, pat.n_conf), buf[a:b], buf[b:c]
        log_pe = self._run(tree.plan.S, F, pat.kind, pat.evs, _NO_CST, 1, pat.read_vars, pat.read_off,
                           float(self.chunk_floats), self._keep_max, joints, p_free, gains, pat.read_cards,
                           *tree.no_gather, buf[c:])
        if log_pe is None or not math.isfinite(log_pe):
            return None
        total, grand = buf[c:].tolist()
        if not (abs(total - 1.0) <= 1e-9 and abs(grand - pat.n_read) <= 1e-9 * pat.n_read):  # NaN fails too
            check_totals(total, grand, pat.n_read)  # raises, naming the failure
        self.evidence_tree_queries += 1
        return CompiledJointQuery._from_kernel(
            targets, log_pe + log_const, (pat, pat.evs, nodes, tree.cards, joints, p_free, gains))

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
            done = self._run(self._plan.S, self._plan.F, kind, evs, cst, 0, read_vars, read_off,
                             float(self.cohort_chunk_floats), float(self._keep_max), buf, flags, np.zeros(0),
                             empty, *self._no_gather, np.empty(2))
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
