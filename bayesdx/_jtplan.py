"""The data plan of the compiled junction tree engine: every structure the kernel reads, as flat
arrays, built once per network (no numba here; :mod:`bayesdx._jtkernel` executes the plan).

A plan is two arrays:

``S`` (int64)
    The tree: variables' cardinalities, cliques and separators as sorted variable lists (CSR),
    parent / depth / preorder, children (siblings with equal separators adjacent, ``SAME_SEP``
    pointing to the previous one), the clique holding each variable closest to the root (``TOP_OF``,
    where its evidence is entered) and its smallest clique (``READOUT``), the constant factors
    multiplied into each clique (CSR over factors, each a sorted variable list and an offset into
    ``F``) and the offsets of the prior messages. ``S`` starts with a header of ``N_SEGMENTS``
    (start, stop) pairs; segment ``k`` is ``S[S[2k]:S[2k+1]]`` (named by the constants below).
``F`` (float64)
    The numbers, C order over each table's sorted variables: the CPTs (moved onto their sorted
    family), and, filled in by the kernel's prior pass, the prior upward messages ``U0`` of every
    separator, their reciprocals (0 where ``U0`` is 0), the prior downward messages ``D0`` and,
    for networks whose cliques total at most ``phi0_max_entries``, the prior clique tables
    ``phi0`` (the clique's CPTs times its children's ``U0``), which make loading a clique one
    gather instead of one product per factor.

Query-time data (which variables are observed, clamped per batch element or entered as
indicators, which are read) is passed beside the plan: the kernel derives the schedule from it
(see :mod:`bayesdx._jtkernel`), so no Python work depends on the pattern of evidence.
"""

from __future__ import annotations

import math

import numpy as np

from ._triangulate import rooted_tree, sliced_total

__all__ = ["TreePlan", "N_SEGMENTS"]

(CARDS, CL_PTR, CL_VARS, PARENT, DEPTH, PREORDER, KID_PTR, KIDS, SEP_PTR, SEP_VARS, TOP_OF,
 READOUT, UNIT, FAC_PTR, FAC_OFF, FAC_VPTR, FAC_VARS, PHI0_OFF, U0_OFF, INVU0_OFF, D0_OFF,
 MISC, SAME_SEP) = range(23)
N_SEGMENTS = 23
#: MISC[MISC_PHI0]: 1 when clique tables are loaded from stored ``phi0``, 0 when formed from CPTs.
MISC_PHI0 = 0


def _csr(lists) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    flat = np.fromiter((v for x in lists for v in x), dtype=np.int64, count=int(ptr[-1]))
    return ptr, flat


class TreePlan:
    """The flat plan of one junction tree (see the module docstring).

    Parameters
    ----------
    cliques : sequence of frozenset of int
        The maximal cliques.
    edges : sequence of (int, int)
        The junction tree's edges.
    cards : sequence of int
        Cardinality of each variable.
    families : sequence of sequence of int
        ``families[v]`` = (*parents of v, v), the axes of ``cpts[v]`` (any factor will do: it
        goes to the smallest clique holding its variables).
    cpts : sequence of numpy.ndarray
        The conditional probability tables (or factors).
    phi0_max_entries : float
        Store the prior clique tables when the cliques total at most this many entries.

    Attributes
    ----------
    S : numpy.ndarray of int64
    F : numpy.ndarray of float64
        The plan (``F``'s prior messages are zero until the kernel's prior pass fills them).
    cliques : list of tuple of int
        Sorted variables of each clique.
    sizes : list of int
        Table size of each clique.
    total_size : int
        Sum of the clique table sizes.
    phi0_mode : bool
        Whether prior clique tables are stored.
    factor_vars : list of tuple of int
        Sorted variables of each factor (``families`` order).
    clique_factors : list of list of int
        The factors multiplied into each clique.
    """

    def __init__(self, cliques, edges, cards, families, cpts, phi0_max_entries: float = 2**23):
        self.cards = [int(c) for c in cards]
        k = len(cliques)
        self.cliques = [tuple(sorted(c)) for c in cliques]
        self.sizes = [math.prod(self.cards[v] for v in c) for c in self.cliques]
        self.total_size = int(sum(self.sizes))
        self.phi0_mode = self.total_size <= phi0_max_entries
        root, parent, order, depth, children = rooted_tree(edges, self.sizes)
        self.root = root
        seps = [()] * k
        for c in order[1:]:
            pset = set(self.cliques[parent[c]])
            seps[c] = tuple(v for v in self.cliques[c] if v in pset)
        n = len(self.cards)
        top_of, readout = [-1] * n, [-1] * n
        for c in order:
            for v in self.cliques[c]:
                if top_of[v] < 0:
                    top_of[v] = c
                if readout[v] < 0 or self.sizes[c] < self.sizes[readout[v]]:
                    readout[v] = c
        # siblings over the same separator are adjacent: their messages are multiplied together
        # before entering the parent, and the parent's belief is summed onto it once
        children = [sorted(kids, key=lambda c: (seps[c], c)) for kids in children]
        same_sep = [-1] * k
        for kids in children:
            for a, b in zip(kids, kids[1:]):
                if seps[a] == seps[b]:
                    same_sep[b] = a
        self.parent, self.preorder, self.children, self.seps = parent, order, children, seps
        # each CPT goes to the smallest clique holding its family, moved to sorted axes
        holders: dict[int, list[int]] = {}
        for c, vars_ in enumerate(self.cliques):
            for v in vars_:
                holders.setdefault(v, []).append(c)
        factors: list[list[int]] = [[] for _ in range(k)]
        fac_vars: list[tuple] = []
        blocks: list[np.ndarray] = []
        offset = 0
        for v, family in enumerate(families):
            fam = set(family)
            home = min((c for c in holders[family[-1]] if fam <= set(self.cliques[c])),
                       key=lambda c: (self.sizes[c], c))
            table = np.asarray(cpts[v], dtype=np.float64).reshape([self.cards[u] for u in family])
            axes = sorted(range(len(family)), key=lambda i: family[i])
            table = np.ascontiguousarray(np.transpose(table, axes)).ravel()
            factors[home].append(len(fac_vars))
            fac_vars.append(tuple(sorted(family)))
            blocks.append(table)
            offset += table.size
        fac_off = np.concatenate([[0], np.cumsum([b.size for b in blocks])[:-1]]).astype(np.int64) \
            if blocks else np.zeros(0, np.int64)
        # prior messages, then phi0, after the CPTs in F
        sep_sizes = [math.prod(self.cards[v] for v in s) if c != root else 0 for c, s in enumerate(seps)]
        u0_off = np.full(k, -1, np.int64)
        inv_off = np.full(k, -1, np.int64)
        d0_off = np.full(k, -1, np.int64)
        phi0_off = np.full(k, -1, np.int64)
        for c in range(k):
            if c != root:
                u0_off[c] = offset
                inv_off[c] = offset + sep_sizes[c]
                d0_off[c] = offset + 2 * sep_sizes[c]
                offset += 3 * sep_sizes[c]
        if self.phi0_mode:
            for c in range(k):
                phi0_off[c] = offset
                offset += self.sizes[c]
        F = np.zeros(offset, dtype=np.float64)
        if blocks:
            F[: int(fac_off[-1]) + blocks[-1].size] = np.concatenate(blocks)
        self.F = F
        # order factors within a clique: largest scope first (it is copied, the others multiplied)
        factors = [sorted(fs, key=lambda f: (-len(fac_vars[f]), f)) for fs in factors]
        fac_order = [f for fs in factors for f in fs]
        fac_ptr = np.zeros(k + 1, np.int64)
        fac_ptr[1:] = np.cumsum([len(fs) for fs in factors])
        fvptr, fvars = _csr([fac_vars[f] for f in fac_order])
        cl_ptr, cl_vars = _csr(self.cliques)
        kid_ptr, kids = _csr(children)
        sep_ptr, sep_vars = _csr(seps)
        segments = [
            np.asarray(self.cards, np.int64), cl_ptr, cl_vars, np.asarray(parent, np.int64),
            np.asarray(depth, np.int64), np.asarray(order, np.int64), kid_ptr, kids, sep_ptr,
            sep_vars, np.asarray(top_of, np.int64), np.asarray(readout, np.int64),
            np.zeros(k, np.int64), fac_ptr, fac_off[fac_order] if fac_order else np.zeros(0, np.int64),
            fvptr, fvars, phi0_off, u0_off, inv_off, d0_off,
            np.array([1 if self.phi0_mode else 0], np.int64), np.asarray(same_sep, np.int64),
        ]
        assert len(segments) == N_SEGMENTS
        header = np.zeros(2 * N_SEGMENTS, np.int64)
        pos = 2 * N_SEGMENTS
        for i, seg in enumerate(segments):
            header[2 * i], header[2 * i + 1] = pos, pos + seg.size
            pos += seg.size
        self.S = np.concatenate([header, *segments]).astype(np.int64)
        self.top_of, self.readout = top_of, readout
        self.factor_vars, self.clique_factors = fac_vars, factors

    def segment(self, k: int) -> np.ndarray:
        """Segment ``k`` of ``S`` (a view)."""
        return self.S[self.S[2 * k]: self.S[2 * k + 1]]

    def sliced_size(self, fixed) -> float:
        """Sum of clique sizes once the variables in ``fixed`` are sliced or clamped."""
        return sliced_total(self.cliques, self.sizes, self.cards, fixed)

    @property
    def nbytes(self) -> int:
        """Memory held by the plan."""
        return int(self.S.nbytes + self.F.nbytes)
