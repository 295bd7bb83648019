"""The factored ("lazy") exact engine (``engine="lazy"``): a junction tree whose cliques keep their
CPTs as a list of factors and never form their tables.

What it owns
    The same triangulation and junction tree as the other engines (:mod:`bayesdx._triangulate`);
    each CPT is assigned to the smallest clique holding its family, and each clique keeps its
    factor list. Messages are Shafer-Shenoy (no division) and are lists of factors too: the
    message from clique a to b eliminates, from a's factors (evidence entered by slicing them)
    and the factors of the messages a receives from its other neighbours, every variable not in
    the separator, greedily (the variable whose factors span the smallest table first,
    :mod:`bayesdx._lazyplan`); factors over separator variables only are passed on untouched, and
    a result of all ones (a barren part) is dropped. The unobserved targets are carried as extra
    kept variables of every message whose inputs hold them (every joint configuration of the
    targets at once), and P(targets, X | e) is read at the smallest clique holding X by
    eliminating down to (targets..., X). Only the messages towards the read-out cliques are
    computed; a message whose sending side holds no evidence and no target is the prior one,
    computed once and kept. Elimination plans and contraction paths are built once per local
    pattern (the factors' variables and the kept ones) and kept: a pairwise product is one
    ``numpy.einsum``, a larger one an ``opt_einsum.contract_expression``.

When it wins, when it loses
    It wins on networks whose triangulation has large cliques built from small CPTs (barley,
    mildew, munin): eliminating inside the factor list never forms the clique table. It loses on
    small networks, where every message costs tens of microseconds of Python around a few
    hundred multiply-adds and the compiled engine (:mod:`bayesdx.compiled`) runs the whole
    propagation in one call; and the first query of a new pattern of evidence pays its plans
    (``benchmarks/lazy.py`` measures both).

Numerical safety
    Every message is divided by its sum and the log of the sum is accumulated, so P(evidence) and
    ln P(evidence) are exact whatever the number of findings. Inside one contraction the scaling
    cannot help, and ``einsum`` does not always report an underflow (to numpy or in the
    processor's flags), so before each contraction the product of its operands' smallest
    positive entries is bounded (every entry is at most 1, so no product inside it is smaller):
    below 1e-290 the query is answered by the numpy engine
    (:class:`~bayesdx.jtree.JunctionTreeEngine`, which widens its precision), as it is when
    numpy's float errors (raising) or the processor's flags (:mod:`bayesdx._fpflags`) trip. Every
    answer is checked to be finite and normalised (:func:`bayesdx._precision.check_answer`).
    Cohorts (:meth:`LazyEngine.marginals_batch`) are answered by a compiled engine built on first
    need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from . import _fpflags as fp
from . import _triangulate as tri
from ._lazyplan import contraction, elimination_plan
from ._precision import check_answer
from .inference import Engine, ModelArrays, StackedJoints, ZeroProbabilityEvidence, request_indices
from .jtree import JTreeJointQuery, JunctionTreeEngine

__all__ = ["LazyEngine"]

_ALL = slice(None)


class _OutOfRange(Exception):
    """A contraction whose smallest product of entries may fall below float64's normal range."""


class _Query:
    """One propagation's evidence and the messages computed for it (``prior``: the evidence-free
    propagation whose messages the engine keeps)."""

    __slots__ = ("ev", "ev_mask", "free", "active", "prior", "sliced", "msgs")

    def __init__(self, ev: dict, free: tuple, prior: bool = False):
        self.ev, self.free, self.prior = ev, free, prior
        self.ev_mask = tri.bits(ev)
        #: variables whose presence on a message's sending side makes it differ from the prior one
        self.active = self.ev_mask | tri.bits(free)
        self.sliced: dict = {}
        self.msgs: dict = {}


class LazyEngine(Engine):
    """Exact inference by Shafer-Shenoy messages over each clique's list of CPTs.

    Parameters
    ----------
    arrays : ModelArrays
        The network.
    heuristics : sequence of str, optional
        Triangulation heuristics to try (see :mod:`bayesdx._triangulate`).
    optimize : str, optional
        ``opt_einsum``'s path search (default ``"greedy"``: the cheapest search, run once per local
        pattern of operands).

    Attributes
    ----------
    heuristic : str
        The triangulation heuristic kept.
    triangulation_sizes : dict of str to int
        Total clique table size reached by each heuristic tried.
    total_clique_size : int
        Sum of the clique table sizes (never formed by this engine).
    largest_clique : int
        Entries of the largest clique table.
    largest_factor : int
        Entries of the largest CPT.
    cliques : list of tuple of str
        The cliques, as node names.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesdx.inference import ModelArrays
    >>> arrays = ModelArrays(
    ...     nodes=("d", "t"), states={"d": ("no", "yes"), "t": ("neg", "pos")},
    ...     parents={"d": (), "t": ("d",)},
    ...     cpts={"d": np.array([0.99, 0.01]), "t": np.array([[0.95, 0.05], [0.1, 0.9]])})
    >>> engine = LazyEngine(arrays)
    >>> q = engine.joint_query({"t": 1}, ["d"], [])
    >>> round(float(q.target_joint[1]), 4)
    0.1538
    """

    name = "lazy"
    #: A prior message within this of 1 everywhere is all ones (a barren subtree) and is dropped.
    unit_tol = 1e-14
    #: Several read-outs in one clique are contracted together when (target configurations x
    #: their joint states) is at most this many cells, then marginalised one by one.
    joint_readout_cells = 2**16
    #: A contraction runs only when the product of its operands' smallest positive entries (every
    #: entry is at most 1, so no intermediate product can be smaller) stays above e**_log_floor,
    #: far from float64's subnormal range; otherwise the numpy engine answers.
    _log_floor = math.log(1e-290)
    #: Below this bound on a computed factor's smallest positive entry, the entry is looked up.
    _log_exact = math.log(1e-100)
    #: Most contraction expressions kept (cleared in one step when full).
    max_expressions = 2**16

    def __init__(self, arrays: ModelArrays, heuristics: Sequence[str] = tri.HEURISTICS,
                 optimize: str = "greedy"):
        super().__init__(arrays)
        nodes = arrays.nodes
        self._index = index = {n: i for i, n in enumerate(nodes)}
        self._cards = cards = [arrays.card(n) for n in nodes]
        families = [(*(index[p] for p in arrays.parents[n]), index[n]) for n in nodes]
        adj = tri.moral_graph([f[:-1] for f in families])
        cliques, self.heuristic, self.triangulation_sizes = tri.best_triangulation(adj, cards, heuristics)
        edges = tri.junction_tree_edges(cliques, cards)
        self._optimize = optimize
        self._cliques = [tuple(sorted(c)) for c in cliques]
        sizes = [tri.table_size(c, cards) for c in cliques]
        masks = [tri.bits(c) for c in cliques]
        holders: dict[int, list[int]] = {}
        for i, c in enumerate(cliques):
            for v in c:
                holders.setdefault(v, []).append(i)
        by_size = {v: sorted(cs, key=lambda i: (sizes[i], i)) for v, cs in holders.items()}
        #: the smallest clique holding each variable (where it is read)
        self._host = [by_size[v][0] for v in range(len(nodes))]
        # factors: (variables, table, bitmask); each CPT in the smallest clique holding its family
        self._factors: list[tuple] = []
        self._log_min: list[float] = []  # ln of each CPT's smallest positive entry
        self._clique_factors: list[list[int]] = [[] for _ in cliques]
        self._var_factors: list[list[int]] = [[] for _ in nodes]
        for v, fam in enumerate(families):
            fmask = tri.bits(fam)
            c = next(i for i in by_size[v] if not fmask & ~masks[i])
            f = len(self._factors)
            table = np.asarray(arrays.cpts[nodes[v]], dtype=float)
            self._factors.append((fam, table, fmask))
            self._log_min.append(math.log(float(np.min(table, where=table > 0, initial=1.0))))
            self._clique_factors[c].append(f)
            for u in fam:
                self._var_factors[u].append(f)
        self._nbrs: list[list[int]] = [[] for _ in cliques]
        for a, b in edges:
            self._nbrs[a].append(b)
            self._nbrs[b].append(a)
        self._sep = {}
        for a, b in edges:
            self._sep[(a, b)] = self._sep[(b, a)] = tuple(sorted(set(cliques[a]) & set(cliques[b])))
        self._side = self._side_masks(masks)
        self._prior = _Query({}, (), prior=True)
        self._exprs: dict = {}
        self._plans: dict = {}
        self._reference: JunctionTreeEngine | None = None
        self._cohort_engine = None
        self.total_clique_size = int(sum(sizes))
        self.largest_clique = int(max(sizes))
        self.largest_factor = int(max(t.size for _, t, _ in self._factors))
        self.cliques = [tuple(nodes[v] for v in c) for c in self._cliques]

    def _side_masks(self, masks: list[int]) -> dict:
        """For every directed edge (a, b), the variables of the cliques on a's side of it."""
        nbrs = self._nbrs
        parent = {0: -1}
        order = [0]
        for c in order:
            for k in nbrs[c]:
                if k != parent[c]:
                    parent[k] = c
                    order.append(k)
        side: dict = {}
        for c in reversed(order):  # child -> parent: the child's subtree
            m = masks[c]
            for k in nbrs[c]:
                if k != parent[c]:
                    m |= side[(k, c)]
            if parent[c] >= 0:
                side[(c, parent[c])] = m
        for c in order:  # parent -> child: everything but the child's subtree
            for k in nbrs[c]:
                if k == parent[c]:
                    continue
                m = masks[c]
                for j in nbrs[c]:
                    if j != k:
                        m |= side[(j, c)]
                side[(c, k)] = m
        return side

    # ------------------------------------------------------------------ contractions
    def _contract(self, operands: list, arrays: list, out: tuple) -> np.ndarray:
        """The contraction of ``arrays`` (over the variable tuples ``operands``) down to ``out``,
        its path searched once per (operands, out) and kept."""
        key = (tuple(operands), out)
        expr = self._exprs.get(key)
        if expr is None:
            expr = contraction(operands, out, self._cards, self._optimize)
            if len(self._exprs) >= self.max_expressions:
                self._exprs.clear()  # one atomic step: other threads may be reading it
            self._exprs[key] = expr
        if type(expr) is str:
            return np.einsum(expr, *arrays)
        return expr(*arrays)

    def _factor(self, q: _Query, f: int):
        """Factor ``f`` sliced at ``q``'s evidence: (variables, table, ln of its smallest positive
        entry), None when fully observed."""
        got = q.sliced.get(f, False)
        if got is False:
            fam, table, fmask = self._factors[f]
            if fmask & q.ev_mask:
                ev = q.ev
                table = table[tuple(ev.get(v, _ALL) for v in fam)]
                fam = tuple(v for v in fam if v not in ev)
            got = q.sliced[f] = (fam, table, self._log_min[f]) if fam else None
        return got

    def _operands(self, q: _Query, c: int, skip: int) -> tuple[list, float]:
        """Clique ``c``'s sliced factors and the factors of the messages it receives from every
        neighbour but ``skip``, with the summed log-scales of those messages."""
        factors, log_scale = [], 0.0
        for f in self._clique_factors[c]:
            got = self._factor(q, f)
            if got is not None:
                factors.append(got)
        msgs = q.msgs
        for k in self._nbrs[c]:
            if k != skip:
                m = msgs[(k, c)]
                factors.extend(m[0])
                log_scale += m[1]
        return factors, log_scale

    def _eliminate(self, factors: list, keep: tuple) -> tuple[list, float]:
        """Eliminate every variable not in ``keep`` from ``factors`` by the cached plan
        (:func:`bayesdx._lazyplan.elimination_plan`); each computed factor is divided by its sum
        (ln of the sums returned) and a factor of all ones is dropped."""
        variables = tuple(f[0] for f in factors)
        key = (variables, keep)
        plan = self._plans.get(key)
        if plan is None:
            plan = elimination_plan(variables, tri.bits(keep), self._cards)
            if len(self._plans) >= self.max_expressions:
                self._plans.clear()
            self._plans[key] = plan
        steps, remaining = plan
        work = list(factors)
        log_scale = 0.0
        floor, tol = self._log_floor, self.unit_tol
        for group, out in steps:
            ops = [work[i] for i in group]
            bound = sum(f[2] for f in ops)
            if bound < floor:
                bound = self._check_range(ops)
            arrays = [f[1] for f in ops]
            table = self._contract([f[0] for f in ops], arrays, out)
            s = float(table.sum())
            if not s > 0:
                raise ZeroProbabilityEvidence("P(evidence) = 0")
            if not out:
                log_scale += math.log(s)
                work.append(None)
            elif abs(s - table.size) <= tol * table.size and float(np.abs(table - 1.0).max()) <= tol:
                work.append((out, np.broadcast_to(1.0, table.shape), 0.0, True))  # barren: ones
            else:
                if table.flags.writeable and not any(np.may_share_memory(table, x) for x in arrays):
                    np.divide(table, s, out=table)
                else:
                    table = table / s
                log_s = math.log(s)
                log_scale += log_s
                # a positive entry is at least one product of the operands' smallest positive
                # entries, over s; only when that bound is low is the true smallest one looked up
                small = bound - log_s
                if small < self._log_exact:
                    small = math.log(float(np.min(table, where=table > 0, initial=1.0)))
                work.append((out, table, small))
        return [work[i] for i in remaining if len(work[i]) == 3], log_scale

    def _check_range(self, factors: list) -> float:
        """The sum of the factors' ln smallest positive entries, looked up (their bounds fell
        below the floor); :class:`_OutOfRange` when it is below the floor too."""
        exact = sum(math.log(float(np.min(f[1], where=f[1] > 0, initial=1.0))) for f in factors)
        if exact < self._log_floor:
            raise _OutOfRange
        return exact

    def _message(self, q: _Query, a: int, b: int):
        """The message a -> b: (its factors, ln of its scale including its inputs')."""
        factors, log_scale = self._operands(q, a, b)
        if not factors:
            return [], log_scale
        present = set().union(*(f[0] for f in factors))
        keep = tuple(v for v in self._sep[(a, b)] if v in present)
        free = [v for v in q.free if v in present and v not in keep]
        if free:
            keep = tuple(sorted((*keep, *free)))
        kept, more = self._eliminate(factors, keep)
        return kept, log_scale + more

    def _messages(self, q: _Query, wanted) -> None:
        """Compute the messages ``wanted`` (directed edges) and those they depend on into
        ``q.msgs``; a message whose sending side holds no active variable is the prior one."""
        msgs, nbrs, side = q.msgs, self._nbrs, self._side
        stack = list(wanted)
        while stack:
            a, b = edge = stack[-1]
            if edge in msgs:
                stack.pop()
                continue
            if not q.prior and not side[edge] & q.active:
                prior = self._prior
                if edge not in prior.msgs:
                    self._messages(prior, [edge])
                msgs[edge] = prior.msgs[edge]
                stack.pop()
                continue
            missing = [(k, a) for k in nbrs[a] if k != b and (k, a) not in msgs]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            msgs[edge] = self._message(q, a, b)

    def _read(self, q: _Query, c: int, out: tuple) -> tuple[np.ndarray, float]:
        """Clique ``c``'s factors and incoming messages reduced to ``out``: the table and the
        log-scale of its messages and eliminations."""
        factors, log_scale = self._operands(q, c, -1)
        factors, more = self._eliminate(factors, tuple(sorted(out)))
        log_scale += more
        if not factors and not out:
            return np.array(1.0), log_scale
        if sum(f[2] for f in factors) < self._log_floor:
            self._check_range(factors)
        variables, arrays = [f[0] for f in factors], [f[1] for f in factors]
        present = set().union(*variables)
        for v in out:
            if v not in present:  # only all-ones factors held it: uniform along it
                variables.append((v,))
                arrays.append(np.ones(self._cards[v]))
        return self._contract(variables, arrays, out), log_scale

    def _scalar_log(self, q: _Query) -> float:
        """Log of the product of the fully observed CPT entries (each enters every read-out once)."""
        total, seen = 0.0, set()
        for v in q.ev:
            for f in self._var_factors[v]:
                if f in seen or self._factors[f][2] & ~q.ev_mask:
                    continue
                seen.add(f)
                fam, table, _ = self._factors[f]
                p = float(table[tuple(q.ev[u] for u in fam)])
                if not p > 0:
                    raise ZeroProbabilityEvidence("P(evidence) = 0")
                total += math.log(p)
        return total

    # ------------------------------------------------------------------ queries
    def _numpy(self) -> JunctionTreeEngine:
        """The numpy engine over the same network, for propagations that leave float64."""
        if self._reference is None:
            self._reference = JunctionTreeEngine(self.arrays)
        return self._reference

    def _encode(self, evidence: Mapping[str, int]) -> dict[int, int]:
        out = {}
        for node, state in evidence.items():
            v = self._index[node]
            s = int(state)
            if not 0 <= s < self._cards[v]:
                raise ValueError(f"State index {s} out of range for node '{node}'.")
            out[v] = s
        return out

    def _guarded(self, run, *args):
        """``run(*args)`` with float errors raising and the processor's flags read around it;
        None when either tripped (the answer may have lost an entry)."""
        fp.clear()
        try:
            with np.errstate(under="raise", over="raise", invalid="raise"):
                out = run(*args)
        except (FloatingPointError, _OutOfRange):
            return None
        except ZeroProbabilityEvidence:
            if fp.raised():
                return None
            raise
        return None if fp.raised() else out

    def log_prob_evidence(self, evidence: Mapping[str, int]) -> float:
        """ln P(evidence); -inf when the evidence is impossible."""
        ev = self._encode(evidence)
        try:
            out = self._guarded(self._log_prob_evidence, ev)
        except ZeroProbabilityEvidence:
            return -math.inf
        return self._numpy().log_prob_evidence(evidence) if out is None else out

    def _log_prob_evidence(self, ev: dict) -> float:
        q = _Query(ev, ())
        c = self._host[next(iter(ev))] if ev else 0
        self._messages(q, [(k, c) for k in self._nbrs[c]])
        slog = self._scalar_log(q)
        table, log_scale = self._read(q, c, ())
        total = float(table)
        if not total > 0:
            raise ZeroProbabilityEvidence("P(evidence) = 0")
        return math.log(total) + log_scale + slog

    def joint_query(self, evidence, targets, nodes):
        targets, nodes = tuple(targets), tuple(nodes)
        index = self._index
        t_idx, n_idx = request_indices(index, targets, nodes)
        ev = self._encode(evidence)
        free = tuple(v for v in t_idx if v not in ev)
        read = tuple(dict.fromkeys(v for v in n_idx if v not in ev))
        got = self._guarded(self._joint, ev, free, read)
        if got is None:
            return self._numpy().joint_query(evidence, targets, nodes)
        log_pe, p_free, stacked, offsets = got
        cards = self._cards
        free_cards = [cards[v] for v in free]
        shape = tuple(cards[v] for v in t_idx)
        if len(free) == len(t_idx):
            target_joint, where = p_free.reshape(shape), None
        else:
            where = tuple(ev[v] if v in ev else _ALL for v in t_idx)
            target_joint = np.zeros(shape)
            target_joint[where] = p_free.reshape(free_cards)
        check_answer(target_joint, stacked, len(read))
        columns = {n: (offsets[v], cards[v]) for n, v in zip(nodes, n_idx) if v in offsets}
        node_joints = StackedJoints(nodes, index, cards, ev, columns, stacked, target_joint, free_cards, where)
        return JTreeJointQuery(
            prob_evidence=math.exp(log_pe), targets=targets, target_joint=target_joint,
            node_joints=node_joints, log_prob_evidence=log_pe, stacked=stacked, columns=columns,
            free_target_probs=p_free)

    def _readout_groups(self, ev: dict, free: tuple, read: tuple) -> dict:
        """Read-out clique -> tuple of read-outs contracted together (several tuples per clique
        when their joint with the targets is too large)."""
        cards = self._cards
        n_conf = math.prod(cards[v] for v in free)
        by_clique: dict[int, list] = {}
        for v in read:
            by_clique.setdefault(self._host[v], []).append(v)
        groups: dict[int, list] = {}
        for c, vs in by_clique.items():
            if len(vs) > 1 and n_conf * math.prod(cards[v] for v in vs) <= self.joint_readout_cells:
                groups[c] = [tuple(vs)]
            else:
                groups[c] = [(v,) for v in vs]
        if not groups:
            c = self._host[free[0]] if free else (self._host[next(iter(ev))] if ev else 0)
            groups[c] = [()]
        return groups

    def _joint(self, ev: dict, free: tuple, read: tuple):
        """One propagation: ln P(e), P(free targets | e) flat, P(free targets, X | e) of every
        read-out side by side (or None) and each read-out's first column."""
        cards = self._cards
        q = _Query(ev, free)
        groups = self._readout_groups(ev, free, read)
        self._messages(q, [(k, c) for c in groups for k in self._nbrs[c]])
        slog = self._scalar_log(q)
        n_conf = math.prod(cards[v] for v in free)
        nf = len(free)
        offsets, width = {}, 0
        for v in read:
            offsets[v] = width
            width += cards[v]
        stacked = np.empty((n_conf, width)) if read else None
        log_pe = p_free = None
        for c, tuples in groups.items():
            for vs in tuples:
                table, log_scale = self._read(q, c, (*free, *vs))
                total = float(table.sum())
                if not total > 0:
                    raise ZeroProbabilityEvidence("P(evidence) = 0")
                if log_pe is None:
                    log_pe = math.log(total) + log_scale + slog
                    p_free = (table.sum(axis=tuple(range(nf, table.ndim))) / total).reshape(n_conf)
                for i, v in enumerate(vs):
                    other = tuple(nf + j for j in range(len(vs)) if j != i)
                    part = table.sum(axis=other) if other else table
                    stacked[:, offsets[v]:offsets[v] + cards[v]] = part.reshape(n_conf, cards[v]) / total
        return log_pe, p_free, stacked, offsets

    def marginals_batch(self, evidence_nodes, evidence, nodes):
        """Posterior marginals of a cohort, answered by a compiled engine over the same network
        (built on first need; see :class:`~bayesdx.compiled.CompiledEngine`)."""
        if self._cohort_engine is None:
            from .compiled import CompiledEngine

            self._cohort_engine = CompiledEngine(self.arrays)
        return self._cohort_engine.marginals_batch(evidence_nodes, evidence, nodes)
