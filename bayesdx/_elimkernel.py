"""Greedy triangulation compiled by numba, for the evidence trees of the compiled engine
(:mod:`bayesdx._evidencetree`), which triangulate once per pattern of evidence: the same
elimination as :func:`bayesdx._triangulate.eliminate`, over an adjacency matrix.

The scores and their tie-breaks are :mod:`bayesdx._triangulate`'s (the heuristic's score, then
the other criterion, then the variable index), and the vertices rescored after an elimination
are the same (its neighbours, and every vertex adjacent to both ends of a fill-in edge), so the
order is the pure-Python one's wherever the clique weights (products of cardinalities) are
exact in float64, below 2**53; beyond that a tie between two weights may break the other way,
which changes which valid triangulation is found, never its validity.

Python: :func:`best_triangulation` builds the matrix from adjacency sets and keeps the
heuristic whose maximal cliques total the fewest entries. This module imports numba: it is
imported by an evidence tree's first triangulation, not by ``import bayesdx``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from . import _triangulate
from ._triangulate import HEURISTICS

__all__ = ["best_triangulation"]

_CODES = {h: i for i, h in enumerate(HEURISTICS)}  # min_fill 0, min_weight 1, weighted_min_fill 2


@njit(cache=True)
def _score(v, A, nbr, cards, code, out):
    """(primary, secondary) score of ``v`` into ``out``."""
    n = A.shape[0]
    d = 0
    weight = float(cards[v])
    for u in range(n):
        if A[v, u]:
            nbr[d] = u
            d += 1
            weight *= cards[u]
    fill = 0
    wfill = 0
    for i in range(d):
        a = nbr[i]
        for j in range(i + 1, d):
            b = nbr[j]
            if not A[a, b]:
                fill += 1
                wfill += cards[a] * cards[b]
    if code == 0:
        out[0], out[1] = float(fill), weight
    elif code == 1:
        out[0], out[1] = weight, float(fill)
    else:
        out[0], out[1] = float(wfill), weight

@njit(cache=True)
def _eliminate(A, cards, code):
    """Elimination order and each eliminated vertex's clique (CSR: ptr, vars)."""
    n = A.shape[0]
    A = A.copy()
    s1 = np.empty(n)
    s2 = np.empty(n)
    nbr = np.empty(n, np.int64)
    tmp = np.empty(2)
    for v in range(n):
        _score(v, A, nbr, cards, code, tmp)
        s1[v], s2[v] = tmp[0], tmp[1]
    done = np.zeros(n, np.bool_)
    mark = np.zeros(n, np.bool_)
    order = np.empty(n, np.int64)
    ptr = np.zeros(n + 1, np.int64)
    flat = np.empty(n * 8 + 16, np.int64)
    used = 0
    for step in range(n):
        best = -1
        for v in range(n):
            if not done[v] and (best < 0 or s1[v] < s1[best]
                                or (s1[v] == s1[best] and s2[v] < s2[best])):
                best = v
        v = best
        done[v] = True
        order[step] = v
        d = 0
        for u in range(n):
            if A[v, u]:
                nbr[d] = u
                d += 1
        if used + d + 1 > flat.size:
            grown = np.empty(2 * (used + d + 1), np.int64)
            grown[:used] = flat[:used]
            flat = grown
        flat[used] = v
        for i in range(d):
            flat[used + 1 + i] = nbr[i]
        used += d + 1
        ptr[step + 1] = used
        for i in range(d):
            mark[nbr[i]] = True
        for i in range(d):
            a = nbr[i]
            for j in range(i + 1, d):
                b = nbr[j]
                if not A[a, b]:
                    A[a, b] = True
                    A[b, a] = True
                    for u in range(n):  # common neighbours of a new edge: their fill drops
                        if A[u, a] and A[u, b]:
                            mark[u] = True
        for i in range(d):
            A[nbr[i], v] = False
            A[v, nbr[i]] = False
        mark[v] = False
        for u in range(n):
            if mark[u]:
                mark[u] = False
                if not done[u]:
                    _score(u, A, nbr, cards, code, tmp)
                    s1[u], s2[u] = tmp[0], tmp[1]
    return order, ptr, flat[:used]


def eliminate(adj: Sequence[set], cards: Sequence[int], heuristic: str = "min_fill"):
    """:func:`bayesdx._triangulate.eliminate`, compiled: (order, elimination cliques)."""
    n = len(adj)
    A = np.zeros((n, n), np.bool_)
    for v, nbrs in enumerate(adj):
        if nbrs:
            A[v, list(nbrs)] = True
    order, ptr, flat = _eliminate(A, np.asarray(cards, np.int64), _CODES[heuristic])
    flat = flat.tolist()
    ptr = ptr.tolist()
    cliques = [frozenset(flat[ptr[i]:ptr[i + 1]]) for i in range(n)]
    return order.tolist(), cliques


def best_triangulation(adj: Sequence[set], cards: Sequence[int], heuristics: Sequence[str] = HEURISTICS):
    """:func:`bayesdx._triangulate.best_triangulation` with the compiled elimination: (maximal
    cliques, the heuristic kept, each heuristic's total)."""
    return _triangulate.best_triangulation(adj, cards, heuristics, eliminate=eliminate)
