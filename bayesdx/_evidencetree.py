"""Junction trees made for one pattern of evidence: the compiled engine's way round the large
cliques of its network-wide tree.

What it owns
    The engine's tree (:mod:`bayesdx._triangulate`) is triangulated once, over every node. A
    query slices its observed nodes and clamps its targets inside that tree's cliques, so each
    clique keeps every unobserved variable the triangulation put in it, fill-in made by nodes
    that are now observed included. On networks with large cliques (Barley, Mildew, MUNIN) the
    cliques left by a case's evidence are often ten times smaller when the network is
    triangulated again without the observed nodes. That is what :class:`EvidenceTree` does, once
    per pattern of evidence (which nodes are observed, which are the targets and the nodes
    read), and what :class:`Weigher` weighs:

    - each CPT, sliced at the observed states, is a factor over its unobserved variables (a CPT
      with none left is a number, multiplied into P(evidence));
    - the graph whose edges join the unobserved non-target variables of each factor is
      triangulated (weighted min-fill by default, by :mod:`bayesdx._elimkernel`: the elimination
      of :mod:`bayesdx._triangulate` compiled: the step, its Python included, takes 2 to 5 times
      less time on the held-out networks' patterns);
    - every clique also holds the targets: they are clamped, one batch element per joint
      configuration of the targets (as in the engine's own tree), so they add no table entries
      and the targets' cliques stay connected;
    - every clique holds a private variable of one state, observed, so the kernel sends every
      clique's message: the plan needs no prior propagation (which would run with the targets
      free, at their full width).

    The plan (:class:`bayesdx._jtplan.TreePlan`) is built once per pattern; a query writes its
    sliced CPTs into a copy of the plan's numbers and runs the engine's query kernel over it.

When the engine uses it
    :meth:`Weigher.tree` compares table entries, times the joint configurations of the targets: the
    engine's tree sliced by the evidence against the new tree, whose kernel pass costs about
    :data:`COST_RATIO` times as much per entry (it forms and sends every clique, where the
    engine's tree takes prior messages from the parts without evidence), plus the Python work
    of building it (:data:`OVERHEAD_ENTRIES` per node). Before triangulating, the same sum is
    made with the smallest tree the evidence could leave, each clique of the engine's tree
    shrunk to its largest sliced CPT: a pattern that loses even then keeps the engine's tree
    without triangulating (most patterns with little work). Networks whose tree totals fewer
    than :data:`MIN_ENTRIES` entries never weigh one. Each engine keeps a :class:`Weigher`,
    which counts what the triangulations of the candidates cost (:data:`WEIGH_ENTRIES` per node)
    and what the chosen ones saved: once :data:`GIVE_UP` candidates have cost more than they
    saved (diabetes, whose candidates keep losing), it weighs one in :data:`GIVE_UP` of the
    patterns that pass the first sum, until the savings catch up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import _triangulate as tri
from ._compiledquery import _Pattern
from ._jtplan import TreePlan

__all__ = ["EvidenceTree", "Weigher", "GIVE_UP", "MIN_ENTRIES", "COST_RATIO", "OVERHEAD_ENTRIES",
           "WEIGH_ENTRIES"]

#: after this many candidates, an engine whose candidates cost more than they saved weighs one
#: pattern in this many
GIVE_UP = 8
#: the triangulation of a candidate, in table entries per node of the network (5 to 6 us a node
#: on barley, munin1, diabetes and MUNIN, at 2 to 3 ns an entry)
WEIGH_ENTRIES = 2.0**11
#: networks whose tree (for joint queries) totals fewer entries never weigh an evidence tree
MIN_ENTRIES = 2.0**18
#: kernel time per table entry on an evidence tree over that on the engine's tree (1.4 to 1.9
#: in queries on barley and munin1 from ``benchmarks/engines.py``'s cases)
COST_RATIO = 1.6
#: the Python work of a pattern's first query on an evidence tree (triangulation, plan, slicing
#: the CPTs: 24 to 32 us a node on barley, mildew, munin1, andes, diabetes, pigs and MUNIN, 35
#: to 1,041 nodes) beyond that of a first query on the engine's tree (its pattern and gathered
#: constants), in table entries (2 to 3 ns each) per node of the network
OVERHEAD_ENTRIES = 2.0**13


class EvidenceTree:
    """A junction tree triangulated for one pattern of evidence, and its kernel plan.

    Parameters
    ----------
    nodes : sequence of str
        The network's node names.
    cards : sequence of int
        Their cardinalities.
    families : sequence of sequence of int
        ``families[v]`` = (*parents of v, v), the axes of ``cpts[v]``.
    cpts : sequence of numpy.ndarray
        The CPTs.
    observed : sequence of int
        The observed variables.
    targets : sequence of str
        The query's targets (none observed).
    read : sequence of str
        The nodes whose joint with the targets is read (none observed).
    heuristics : sequence of str
        Triangulation heuristics to try (the smallest total is kept).

    Attributes
    ----------
    entries : int
        The tree's table entries per joint configuration of the targets.
    pattern : _Pattern
        The query layout on the tree's variables (the unobserved ones, then one private
        variable per clique).
    """

    def __init__(self, nodes: Sequence[str], cards: Sequence[int], families, cpts, observed: Sequence[int],
                 targets: Sequence[str], read: Sequence[str], heuristics: Sequence[str] = ("weighted_min_fill",)):
        n = len(cards)
        obs = set(observed)
        keep = [v for v in range(n) if v not in obs]
        new = {v: i for i, v in enumerate(keep)}
        m = len(keep)
        rcards = [cards[v] for v in keep]
        index = {nodes[v]: i for i, v in enumerate(keep)}
        t_new = {index[t] for t in targets}
        # each CPT as a factor over its unobserved variables (a CPT with none is a number)
        self._left = [[u for u in family if u not in obs] for family in families]
        factor_vars = [[new[u] for u in left] for left in self._left if left]
        self._source = (cards, families, cpts, obs)
        # triangulated without the targets (they join every clique below)
        adj: list[set[int]] = [set() for _ in range(m)]
        for fv in factor_vars:
            free = [u for u in fv if u not in t_new]
            for u in free:
                adj[u].update(free)
        for u in range(m):
            adj[u].discard(u)
        from ._elimkernel import best_triangulation  # compiled (numba), imported on first need

        cliques, _, _ = best_triangulation(adj, rcards, heuristics)
        cliques = [c for c in cliques if not c <= t_new]
        self.entries = int(sum(tri.table_size(c, rcards) for c in cliques)) or 1
        self._bare = cliques  # without the targets: the tree's edges are found among these
        self._cliques = [c | t_new for c in cliques] or [frozenset(t_new)]
        self._rcards, self._index, self._factor_vars = rcards, index, factor_vars
        self._targets, self._read = tuple(targets), tuple(read)
        self.plan = None
        self.pattern = None

    def build(self) -> EvidenceTree:
        """Make the plan and the query layout (once, when the engine chooses this tree)."""
        cards_all, families, cpts, obs = self._source
        #: per factor: (CPT, positions of its observed axes, their variables, the order that
        #: sorts its unobserved axes by variable, as the plan stores a factor)
        self._recipes, self._scalars = [], []
        for v, (family, left) in enumerate(zip(families, self._left)):
            table = np.asarray(cpts[v], dtype=np.float64).reshape([cards_all[u] for u in family])
            if not left:
                self._scalars.append((table, tuple(family)))
                continue
            at = tuple(i for i, u in enumerate(family) if u in obs)
            order = sorted(range(len(left)), key=lambda i: left[i])
            self._recipes.append((table, at, tuple(family[i] for i in at), tuple(order)))
        k = len(self._cliques)
        m = len(self._rcards)
        # a tree over the cliques without the targets stays one with them in every clique (the
        # targets would make every pair of cliques a candidate edge)
        edges = tri.junction_tree_edges(self._bare, self._rcards) if self._bare else []
        cliques = [c | {m + i} for i, c in enumerate(self._cliques)]
        cards = self._rcards + [1] * k
        shapes = [[cards[u] for u in fv] for fv in self._factor_vars]
        # zeros stand for the numbers: every query writes its own (prior pass: none)
        self.plan = TreePlan(cliques, edges, cards, self._factor_vars, [np.zeros(s) for s in shapes], 0)
        self._n_numbers = sum(math.prod(s) for s in shapes)
        private = tuple((None, i) for i in range(k))  # names no network node can have
        index = {**self._index, **{p: m + i for i, p in enumerate(private)}}
        self.pattern = _Pattern(index, cards, self._targets, self._read, private, False)
        self.no_gather = (np.zeros(0), np.full((3, k), -1, np.int64))
        self.cards = cards
        return self

    def numbers(self, evs: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The plan's numbers with the CPTs sliced at the observed states ``evs`` (indexed by
        variable), and ln of the product of the CPT entries every variable of whose family is
        observed; None when one of those is 0 (the evidence is impossible: the engine's tree
        says so, with its own error)."""
        log_const = 0.0
        for table, family in self._scalars:
            p = float(table[tuple(int(evs[u]) for u in family)])
            if not p > 0:
                return None
            log_const += math.log(p)
        blocks = []
        for cpt, at, obs_vars, order in self._recipes:
            if at:
                idx = [slice(None)] * cpt.ndim
                for i, u in zip(at, obs_vars):
                    idx[i] = int(evs[u])
                cpt = cpt[tuple(idx)]
            blocks.append(np.transpose(cpt, order).ravel())
        F = self.plan.F.copy()
        F[:self._n_numbers] = np.concatenate(blocks)
        return F, log_const


class Weigher:
    """Which tree an engine's query patterns run on: the weighing the module docstring
    describes, with its own cost kept in check.

    Costs and savings are counted in table entries, as the weighing itself is (not timed: the
    same cases make the same choices on any machine and under any load).

    Attributes
    ----------
    weighed : int
        Candidates triangulated.
    cost : float
        What triangulating them cost (:data:`WEIGH_ENTRIES` a node each).
    saved : float
        What the chosen ones saved by the weighing's own sums.
    """

    def __init__(self, engine_plan) -> None:
        self._plan = engine_plan  # the engine's TreePlan for joint queries (its cards name every node)
        self._sums = None  # made on the first pattern weighed
        self.weighed, self.cost, self.saved, self._passed = 0, 0.0, 0.0, 0

    def tree(self, observed: Sequence[int], free: Sequence[int], n_conf: int, make) -> EvidenceTree | None:
        """The evidence tree a pattern's queries should run on, or None for the engine's tree.

        ``make()`` triangulates the candidate :class:`EvidenceTree`, called only when the
        engine's sliced tree is large enough to lose to one."""
        if self._sums is None:
            self._sums = _Sums(self._plan)
        fixed, floor = self._sums({*observed, *free})
        fixed, floor = fixed * n_conf, floor * n_conf
        n_nodes = len(self._plan.cards)
        overhead = OVERHEAD_ENTRIES * n_nodes
        if COST_RATIO * floor + overhead >= fixed:  # not even the smallest conceivable tree wins
            return None
        if self.weighed >= GIVE_UP and self.cost > self.saved:  # one in GIVE_UP of these
            self._passed += 1
            if self._passed % GIVE_UP:
                return None
        candidate = make()
        self.cost += WEIGH_ENTRIES * n_nodes
        self.weighed += 1
        estimate = COST_RATIO * candidate.entries * n_conf + overhead
        if estimate >= fixed:
            return None
        self.saved += fixed - estimate
        return candidate.build()


class _Sums:
    """The two sums :meth:`Weigher.tree` makes for a pattern, over one plan's cliques, as numpy
    reductions (a pattern's first query pays for them on every network large enough to weigh)."""

    def __init__(self, plan) -> None:
        self.cards = np.asarray(plan.cards, np.int64)
        cl = plan.cliques
        self.cl_vars = np.fromiter((v for c in cl for v in c), np.int64)
        self.cl_starts = np.cumsum([0] + [len(c) for c in cl[:-1]]).astype(np.int64)
        held = [fs for fs in plan.clique_factors if fs]  # cliques holding a factor, in order
        order = [f for fs in held for f in fs]
        self.fac_vars = np.fromiter((v for f in order for v in plan.factor_vars[f]), np.int64)
        self.fac_starts = np.cumsum([0] + [len(plan.factor_vars[f]) for f in order[:-1]]).astype(np.int64)
        self.group_starts = np.cumsum([0] + [len(fs) for fs in held[:-1]]).astype(np.int64)

    def __call__(self, fixed) -> tuple[int, int]:
        """(entries of the cliques once ``fixed`` is sliced, the same with each clique shrunk to
        its largest sliced factor: about the least an evidence tree can hold, as every factor
        needs a clique)."""
        cards = self.cards.copy()
        cards[list(fixed)] = 1
        total = int(np.multiply.reduceat(cards[self.cl_vars], self.cl_starts).sum())
        if not self.fac_starts.size:
            return total, 0
        factors = np.multiply.reduceat(cards[self.fac_vars], self.fac_starts)
        return total, int(np.maximum.reduceat(factors, self.group_starts).sum())
