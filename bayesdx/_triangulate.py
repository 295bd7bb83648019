"""The junction tree every engine builds: moralisation, greedy triangulation, the tree's edges,
and coarser trees with small neighbouring cliques merged. The numpy engine's layout of the tree
(axis plans, prior propagation, query schedules) is :mod:`bayesdx._jttree`.

Everything here runs once, when an engine is built. Variables are integers ``0..n-1`` (their
index in :attr:`ModelArrays.nodes`).

Triangulation is greedy elimination with one of three scores, each tie-broken by the next
criterion and finally by the variable index (so the result is deterministic):

``min_fill``
    fewest fill-in edges, then smallest clique table ("min-fill with min-weight tie-break").
``min_weight``
    smallest clique table (product of the cardinalities of the variable and its neighbours),
    then fewest fill-in edges.
``weighted_min_fill``
    smallest sum over fill-in edges of the product of the two endpoint cardinalities, then
    smallest clique table.

:func:`best_triangulation` runs all of them and keeps the one whose maximal cliques have the
smallest total table size (the quantity that bounds both memory and the work of a propagation).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

__all__ = [
    "HEURISTICS",
    "best_triangulation",
    "bits",
    "choose_root",
    "rooted_tree",
    "sliced_total",
    "eliminate",
    "junction_tree_edges",
    "maximal_cliques",
    "merge_small_cliques",
    "moral_graph",
    "table_size",
]

HEURISTICS = ("min_fill", "min_weight", "weighted_min_fill")


def bits(variables) -> int:
    """The set of ``variables`` as a bit mask (bit ``v`` set for variable ``v``)."""
    out = 0
    for v in variables:
        out |= 1 << v
    return out


def table_size(clique, cards: Sequence[int]) -> int:
    """Number of entries of the table over ``clique``."""
    return math.prod(cards[v] for v in clique)


def sliced_total(cliques, sizes: Sequence[int], cards: Sequence[int], fixed) -> float:
    """Sum of the clique table sizes once the variables in ``fixed`` are sliced or clamped."""
    total = 0.0
    for c, size in zip(cliques, sizes):
        div = 1
        for v in c:
            if v in fixed:
                div *= cards[v]
        total += size / div
    return total


def moral_graph(parents: Sequence[Sequence[int]]) -> list[set[int]]:
    """Undirected moral graph: each node joined to its parents, and co-parents married."""
    adj: list[set[int]] = [set() for _ in parents]
    for child, pars in enumerate(parents):
        family = [child, *pars]
        for i, a in enumerate(family):
            for b in family[i + 1 :]:
                if a != b:
                    adj[a].add(b)
                    adj[b].add(a)
    return adj


def _fill(v: int, adj: list[set[int]]) -> int:
    """Number of missing edges among the neighbours of v (set intersections, O(edges among
    them), so a hub with many leaf neighbours stays cheap)."""
    nbrs = adj[v]
    d = len(nbrs)
    present = 0
    for a in nbrs:
        present += len(nbrs & adj[a])
    return (d * (d - 1) - present) // 2


def _weighted_fill(v: int, adj: list[set[int]], cards: Sequence[int]) -> int:
    """Sum over missing edges among the neighbours of v of the product of the cardinalities."""
    nbrs = adj[v]
    total_card = sum(cards[a] for a in nbrs)
    twice = 0
    for a in nbrs:
        linked = sum(cards[b] for b in nbrs & adj[a])
        twice += cards[a] * (total_card - cards[a] - linked)
    return twice // 2


def _score(v: int, adj, cards, heuristic: str):
    weight = cards[v]
    for u in adj[v]:
        weight *= cards[u]
    if heuristic == "min_fill":
        return (_fill(v, adj), weight)
    if heuristic == "min_weight":
        return (weight, _fill(v, adj))
    if heuristic == "weighted_min_fill":
        return (_weighted_fill(v, adj, cards), weight)
    raise ValueError(f"Unknown triangulation heuristic {heuristic!r}; one of {HEURISTICS}.")


def eliminate(adj: list[set[int]], cards: Sequence[int], heuristic: str = "min_fill"):
    """Greedy elimination.

    Returns
    -------
    order : list of int
        The elimination order.
    cliques : list of frozenset
        The elimination clique of each eliminated variable (the variable and its neighbours at
        the time it is eliminated), in elimination order. Every maximal clique of the
        triangulated graph is among them.
    """
    adj = [set(a) for a in adj]
    n = len(adj)
    version = [0] * n
    heap = [(_score(v, adj, cards, heuristic), v, 0) for v in range(n)]
    heapq.heapify(heap)
    done = [False] * n
    order: list[int] = []
    cliques: list[frozenset] = []
    while heap:
        _, v, ver = heapq.heappop(heap)
        if done[v] or ver != version[v]:
            continue
        done[v] = True
        nbrs = list(adj[v])
        order.append(v)
        cliques.append(frozenset((v, *nbrs)))
        affected = set(nbrs)
        for i, a in enumerate(nbrs):
            adj_a = adj[a]
            for b in nbrs[i + 1 :]:
                if b not in adj_a:
                    adj_a.add(b)
                    adj[b].add(a)
                    affected |= adj_a & adj[b]
        for a in nbrs:
            adj[a].discard(v)
        adj[v] = set()
        affected.discard(v)
        for u in affected:
            if not done[u]:
                version[u] += 1
                heapq.heappush(heap, (_score(u, adj, cards, heuristic), u, version[u]))
    return order, cliques


def maximal_cliques(cliques: Sequence[frozenset]) -> list[frozenset]:
    """Drop the cliques contained in another one (keeps the first of equal cliques)."""
    by_size = sorted(range(len(cliques)), key=lambda i: (-len(cliques[i]), i))
    kept: list[frozenset] = []
    containing: dict[int, list[int]] = {}
    for i in by_size:
        c = cliques[i]
        # candidates: kept cliques containing the clique's first variable
        first = next(iter(c))
        if any(c <= kept[k] for k in containing.get(first, ())):
            continue
        index = len(kept)
        kept.append(c)
        for v in c:
            containing.setdefault(v, []).append(index)
    return kept


def best_triangulation(adj, cards, heuristics: Sequence[str] = HEURISTICS, eliminate=eliminate):
    """Run every heuristic; keep the smallest total clique table size. ``eliminate`` is the
    elimination run (:func:`eliminate`, or the compiled one of :mod:`bayesdx._elimkernel`).

    Returns
    -------
    cliques : list of frozenset
        Maximal cliques of the chosen triangulation.
    chosen : str
        The winning heuristic.
    sizes : dict of str to int
        Total clique table size reached by each heuristic.
    """
    best = None
    sizes: dict[str, int] = {}
    for h in heuristics:
        _, elim = eliminate(adj, cards, h)
        cliques = maximal_cliques(elim)
        total = sum(table_size(c, cards) for c in cliques)
        sizes[h] = total
        if best is None or total < best[0]:
            best = (total, h, cliques)
    assert best is not None
    return best[2], best[1], sizes


def junction_tree_edges(cliques: Sequence[frozenset], cards: Sequence[int]) -> list[tuple[int, int]]:
    """A maximum spanning tree of the clique graph weighted by separator size (Kruskal).

    Ties prefer the separator with the smaller table. Components that share no variable are
    joined by empty separators, so the result is always a single tree.
    """
    var_cliques: dict[int, list[int]] = {}
    for i, c in enumerate(cliques):
        for v in c:
            var_cliques.setdefault(v, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in var_cliques.values():
        for x, a in enumerate(members):
            for b in members[x + 1 :]:
                pairs.add((a, b) if a < b else (b, a))
    weighted = []
    for a, b in pairs:
        sep = cliques[a] & cliques[b]
        weighted.append((-len(sep), table_size(sep, cards), a, b))
    weighted.sort()
    parent = list(range(len(cliques)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges = []
    for _, _, a, b in weighted:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            edges.append((a, b))
    roots = sorted({find(i) for i in range(len(cliques))})
    for r in roots[1:]:
        edges.append((roots[0], r))
        parent[r] = roots[0]
    return edges


def choose_root(nbrs: Sequence[Sequence[int]], sizes: Sequence[int]) -> int:
    """The centre of the tree: the clique minimising the largest distance to another one, edges
    weighted by the mean log-size of their cliques (linear time, along a longest path)."""
    k = len(nbrs)
    if k == 1:
        return 0
    weight = [math.log2(1 + s) for s in sizes]

    def farthest(start):
        dist, prev = {start: 0.0}, {start: -1}
        stack = [start]
        while stack:
            c = stack.pop()
            for n in nbrs[c]:
                if n not in dist:
                    dist[n] = dist[c] + (weight[c] + weight[n]) / 2
                    prev[n] = c
                    stack.append(n)
        return max(dist, key=lambda c: (dist[c], -c)), dist, prev

    a, _, _ = farthest(0)
    b, dist, prev = farthest(a)
    length = dist[b]
    best, best_key, c = b, None, b
    while c != -1:
        key = (max(dist[c], length - dist[c]), -sizes[c], c)
        if best_key is None or key < best_key:
            best, best_key = c, key
        c = prev[c]
    return best


def rooted_tree(edges, sizes: Sequence[int]) -> tuple[int, list[int], list[int], list[int], list[list[int]]]:
    """The junction tree with ``edges`` over cliques of table sizes ``sizes``, rooted at its
    centre (:func:`choose_root`): ``(root, parent, preorder, depth, children)``, parent -1 at the
    root, children in preorder (a depth-first walk taking neighbours in index order)."""
    k = len(sizes)
    nbrs: list[list[int]] = [[] for _ in range(k)]
    for a, b in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    root = choose_root(nbrs, sizes)
    parent, depth = [-1] * k, [0] * k
    seen = [False] * k
    seen[root] = True
    stack, order = [root], []
    while stack:
        c = stack.pop()
        order.append(c)
        for n in sorted(nbrs[c], reverse=True):
            if not seen[n]:
                seen[n] = True
                parent[n], depth[n] = c, depth[c] + 1
                stack.append(n)
    children: list[list[int]] = [[] for _ in range(k)]
    for c in order[1:]:
        children[parent[c]].append(c)
    return root, parent, order, depth, children


def merge_small_cliques(cliques, edges, cards, limit: int, max_added: float = math.inf):
    """Contract junction-tree edges while the merged clique has at most ``limit`` entries (and,
    with ``max_added``, at most that many entries more than the two cliques it replaces).

    Contracting an edge of a junction tree keeps the running intersection property, so the
    result is again a junction tree, with fewer and larger cliques. Fewer cliques means fewer
    (vectorised) operations per propagation, which wins when tables are tiny and the per-call
    overhead dominates. Greedy with a heap: always contract the edge adding the fewest entries.

    Returns
    -------
    cliques : list of frozenset
    edges : list of (int, int)
    """
    cl = {i: frozenset(c) for i, c in enumerate(cliques)}
    nbrs = {i: set() for i in cl}
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    size = {i: table_size(c, cards) for i, c in cl.items()}
    version = dict.fromkeys(cl, 0)

    def push(a, b):
        merged = table_size(cl[a] | cl[b], cards)
        if merged <= limit and merged - size[a] - size[b] <= max_added:
            a, b = min(a, b), max(a, b)
            heapq.heappush(heap, (merged - size[a] - size[b], merged, a, b, version[a], version[b]))

    heap: list = []
    for a, b in edges:
        push(a, b)
    while heap:
        _, merged, a, b, va, vb = heapq.heappop(heap)
        if a not in cl or b not in cl or version[a] != va or version[b] != vb:
            continue
        cl[a] = cl[a] | cl.pop(b)
        size[a] = merged
        del size[b]
        version[a] += 1
        for n in nbrs.pop(b):
            if n != a:
                nbrs[n].discard(b)
                nbrs[n].add(a)
                nbrs[a].add(n)
        nbrs[a].discard(b)
        for n in nbrs[a]:
            push(a, n)
    ids = sorted(cl)
    new = {old: i for i, old in enumerate(ids)}
    out_edges = sorted({(min(new[a], new[b]), max(new[a], new[b])) for a in ids for b in nbrs[a]})
    return [cl[i] for i in ids], out_edges


# ----------------------------------------------------------------------------- compiled tree
