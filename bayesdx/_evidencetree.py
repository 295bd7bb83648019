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
    read), and what :func:`choose` weighs:

    - each CPT, sliced at the observed states, is a factor over its unobserved variables (a CPT
      with none left is a number, multiplied into P(evidence));
    - the graph whose edges join the unobserved non-target variables of each factor is
      triangulated (:func:`bayesdx._triangulate.best_triangulation`, weighted min-fill by default);
    - every clique also holds the targets: they are clamped, one batch element per joint
      configuration of the targets (as in the engine's own tree), so they add no table entries
      and the targets' cliques stay connected;
    - every clique holds a private variable of one state, observed, so the kernel sends every
      clique's message: the plan needs no prior propagation (which would run with the targets
      free, at their full width).

    The plan (:class:`bayesdx._jtplan.TreePlan`) is built once per pattern; a query writes its
    sliced CPTs into a copy of the plan's numbers and runs the engine's query kernel over it.

When the engine uses it
    :func:`choose` compares table entries, times the joint configurations of the targets: the
    engine's tree sliced by the evidence against the new tree, whose kernel pass costs about
    :data:`COST_RATIO` times as much per entry (it forms and sends every clique, where the
    engine's tree takes prior messages from the parts without evidence), plus the Python work
    of building it (:data:`OVERHEAD_ENTRIES` per node). Before triangulating, the same sum is
    made with the smallest tree the evidence could leave, each clique of the engine's tree
    shrunk to its largest sliced CPT: a pattern that loses even then keeps the engine's tree
    (diabetes, whose cliques are mostly its large CPTs, and every pattern with little work).
    Networks whose tree totals fewer than :data:`MIN_ENTRIES` entries never weigh one. An engine whose last
    :data:`GIVE_UP` candidates all lost (MUNIN's, where triangulating 1,041 nodes costs more than
    the evidence saves) weighs only every :data:`GIVE_UP`-th pattern after them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import _triangulate as tri
from ._compiledquery import _Pattern
from ._jtplan import TreePlan

__all__ = ["EvidenceTree", "choose", "GIVE_UP", "MIN_ENTRIES", "COST_RATIO", "OVERHEAD_ENTRIES"]

#: after this many candidates in a row lost, an engine weighs one pattern in this many
GIVE_UP = 8
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
        # each CPT as a factor over its unobserved variables: where the observed states go
        #: per factor: (CPT, positions of its observed axes, their variables, the order that
        #: sorts its unobserved axes by variable, as the plan stores a factor)
        self._recipes = []
        factor_vars, scalars = [], []
        for v, family in enumerate(families):
            table = np.asarray(cpts[v], dtype=np.float64).reshape([cards[u] for u in family])
            left = [u for u in family if u not in obs]
            at = tuple(i for i, u in enumerate(family) if u in obs)
            if not left:
                scalars.append((table, tuple(family)))
                continue
            order = sorted(range(len(left)), key=lambda i: left[i])
            self._recipes.append((table, at, tuple(family[i] for i in at), tuple(order)))
            factor_vars.append([new[u] for u in left])
        self._scalars = scalars
        adj: list[set[int]] = [set() for _ in range(m)]
        for fv in factor_vars:
            free = [u for u in fv if u not in t_new]
            for u in free:
                adj[u].update(free)
        for u in range(m):
            adj[u].discard(u)
        for t in t_new:  # triangulated without the targets: they join every clique below
            adj[t] = set()
        cliques, _, _ = tri.best_triangulation(adj, rcards, heuristics)
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


def choose(engine_plan, observed: Sequence[int], free: Sequence[int], n_conf: int,
           make) -> tuple[EvidenceTree | None, bool]:
    """The evidence tree a pattern's queries should run on (None for the engine's own tree),
    and whether a candidate was triangulated to decide.

    ``engine_plan`` is the engine's :class:`~bayesdx._jtplan.TreePlan` (its ``cards`` name every
    node); ``make()`` triangulates the candidate :class:`EvidenceTree`, called only when the
    engine's sliced tree is large enough to lose to one."""
    fixed, floor = _sliced_and_floor(engine_plan, {*observed, *free})
    fixed, floor = fixed * n_conf, floor * n_conf
    overhead = OVERHEAD_ENTRIES * len(engine_plan.cards)
    if COST_RATIO * floor + overhead >= fixed:  # not even the smallest conceivable tree wins
        return None, False
    candidate = make()
    if COST_RATIO * candidate.entries * n_conf + overhead >= fixed:
        return None, True
    return candidate.build(), True


def _sliced_and_floor(plan, fixed: set) -> tuple[float, float]:
    """The entries of ``plan``'s cliques once the variables in ``fixed`` are sliced, and the
    entries left if each clique shrank to its largest sliced factor (about the least an evidence
    tree can hold: every factor needs a clique)."""
    cards = plan.cards
    total = floor = 0.0
    for vars_, factors in zip(plan.cliques, plan.clique_factors):
        size = 1
        for v in vars_:
            if v not in fixed:
                size *= cards[v]
        total += size
        largest = 0
        for f in factors:
            n = 1
            for v in plan.factor_vars[f]:
                if v not in fixed:
                    n *= cards[v]
            largest = max(largest, n)
        floor += largest
    return total, floor
