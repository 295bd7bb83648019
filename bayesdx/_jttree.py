"""The numpy engine's layout of a junction tree: :class:`CompiledTree` (axis plans, the prior
propagation, query schedules) and the index helper its queries use (:func:`restrict`). The
tree itself comes from :mod:`bayesdx._triangulate`.

Everything here runs once, when a :class:`~bayesdx.jtree.JunctionTreeEngine` is compiled, except
:meth:`CompiledTree.schedule` (cached per pattern of evidence and read-out) and :func:`restrict`.
Variables are integers ``0..n-1`` (their index in :attr:`ModelArrays.nodes`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._triangulate import bits, rooted_tree, sliced_total, table_size

__all__ = ["CompiledTree", "restrict"]

_ALL = slice(None)


def insert_index(outer: Sequence[int], inner: Sequence[int]) -> tuple:
    """Index that turns an (*inner, batch) table into the (*outer, batch) layout (``None`` axes)."""
    inner_set = set(inner)
    return (*(_ALL if v in inner_set else None for v in outer), _ALL)


class CompiledTree:
    """One compiled junction tree: structure, per-message axis plans and the prior propagation.

    Variables are ints; sets of variables are also kept as int bitmasks (bit v = variable v) so
    that a query can tell in O(1) which axes of a table are sliced or clamped (length 1).
    """

    def __init__(self, cliques, edges, cards, families, cpts):
        self.cards = cards
        k = len(cliques)
        self.cliques = [tuple(sorted(c)) for c in cliques]
        self.sizes = [table_size(c, cards) for c in self.cliques]
        self.total_size = int(sum(self.sizes))
        self.root, parent, order, self.depth, self.children = rooted_tree(edges, self.sizes)
        root = self.root
        self.parent, self.preorder = parent, order
        self.rank = {c: i for i, c in enumerate(order)}
        self.mask = [bits(c) for c in self.cliques]
        self.sep = [()] * k
        self.sep_mask = [0] * k
        self.ins_up = [()] * k  # index placing c's upward message in the parent's layout
        self.ins_down = [()] * k  # index placing a separator message in c's layout
        self.up_mask = [0] * k  # variables of c summed out for the upward message
        self.down_mask = [0] * k  # variables of the parent summed out for the downward one
        self.sq_up = [()] * k  # index dropping c's (length-1) non-separator axes
        self.sq_down = [()] * k  # index dropping the parent's (length-1) non-separator axes
        for c in order[1:]:
            p = parent[c]
            pset = set(self.cliques[p])
            sep = tuple(v for v in self.cliques[c] if v in pset)
            self.sep[c] = sep
            self.sep_mask[c] = bits(sep)
            self.ins_up[c] = insert_index(self.cliques[p], sep)
            self.ins_down[c] = insert_index(self.cliques[c], sep)
            self.up_mask[c] = self.mask[c] & ~self.sep_mask[c]
            self.down_mask[c] = self.mask[p] & ~self.sep_mask[c]
            self.sq_up[c] = squeeze_index(self.cliques[c], sep)
            self.sq_down[c] = squeeze_index(self.cliques[p], sep)
        self.ins_down[root] = (Ellipsis,)
        n = len(cards)
        self.top = [-1] * n  # clique holding v closest to the root
        self.readout = [-1] * n  # smallest clique holding v
        for c in order:
            for v in self.cliques[c]:
                if self.top[v] < 0:
                    self.top[v] = c
                r = self.readout[v]
                if r < 0 or self.sizes[c] < self.sizes[r]:
                    self.readout[v] = c
        self.pos = [{v: i for i, v in enumerate(c)} for c in self.cliques]
        self.schedules: dict = {}
        self.plans: dict = {}
        self._read_entries: dict = {}
        self._sliced: dict = {}
        self._axes: dict = {}
        self._prior(self._potentials(families, cpts))

    def leaf_index(self, c: int, v: int) -> tuple:
        """Index dropping the (length-1) non-separator axes of clique ``c`` without ``v``."""
        key = ("leaf", c, v)
        got = self._axes.get(key)
        if got is None:
            sep = set(self.sep[c])
            got = self._axes[key] = (*(_ALL if u in sep else 0 for u in self.cliques[c] if u != v), _ALL)
        return got

    def axes(self, c: int, mask: int) -> tuple:
        """Axes of clique ``c``'s table (batch axis last) holding the variables in ``mask``."""
        key = (c, mask)
        got = self._axes.get(key)
        if got is None:
            got = self._axes[key] = tuple(i for i, v in enumerate(self.cliques[c]) if mask >> v & 1)
        return got

    def _potentials(self, families, cpts):
        psi = [None] * len(self.cliques)
        holders: dict[int, list[int]] = {}
        for c, vars_ in enumerate(self.cliques):
            for v in vars_:
                holders.setdefault(v, []).append(c)
        for v, family in enumerate(families):
            fam = set(family)
            home = min((c for c in holders[v] if fam <= set(self.cliques[c])),
                       key=lambda c: (self.sizes[c], c))
            table = cpts[v].reshape([self.cards[u] for u in family])
            table = np.transpose(table, sorted(range(len(family)), key=lambda i: family[i]))
            table = table[insert_index(self.cliques[home], sorted(family))[:-1]]
            psi[home] = table if psi[home] is None else psi[home] * table
        shapes = [tuple(self.cards[v] for v in c) for c in self.cliques]
        return [np.ones(s) if p is None else np.broadcast_to(p, s) for p, s in zip(psi, shapes)]

    def _prior(self, psi):
        """Collect and distribute without evidence; keep phi0, U0, 1/U0, D0 (batch axis of 1)."""
        k = len(self.cliques)
        self.phi0, self.u0, self.inv_u0, self.d0 = [None] * k, [None] * k, [None] * k, [None] * k
        self.unit = [False] * k
        for c in reversed(self.preorder):
            f = psi[c][..., None]
            for n in self.children[c]:
                f = f * self.u0[n][self.ins_up[n]]
            self.phi0[c] = np.ascontiguousarray(f)
            if c != self.root:
                u = f.sum(axis=self.axes(c, self.up_mask[c]), keepdims=True)[self.sq_up[c]]
                self.u0[c] = np.ascontiguousarray(u)
                self.inv_u0[c] = np.divide(1.0, u, out=np.zeros_like(u), where=u > 0)
                # a subtree whose CPTs sum out to exactly 1 (e.g. a finding below its parents)
                self.unit[c] = bool(np.all(np.abs(u - 1.0) <= 1e-14))
            psi[c] = None
        beta = {self.root: self.phi0[self.root]}
        for c in self.preorder[1:]:
            p = self.parent[c]
            m = beta[p].sum(axis=self.axes(p, self.down_mask[c]), keepdims=True)[self.sq_down[c]]
            self.d0[c] = m * self.inv_u0[c]
            beta[c] = self.phi0[c] * self.d0[c][self.ins_down[c]]
            if c == self.children[p][-1]:
                del beta[p]
        self.prior_total = float(self.phi0[self.root].sum())

    def lca(self, a: int, b: int) -> int:
        depth, parent = self.depth, self.parent
        while depth[a] > depth[b]:
            a = parent[a]
        while depth[b] > depth[a]:
            b = parent[b]
        while a != b:
            a, b = parent[a], parent[b]
        return a

    def schedule(self, ev_cliques: frozenset, read_vars: tuple):
        """Collect and distribute steps for evidence cliques and variables to read (cached).

        A variable is read from the lowest common ancestor of the evidence cliques when that
        clique holds it (its belief is computed anyway), else from the smallest clique holding it.

        Returns ``(top, collect, distribute, n_ops, reads)``: ``collect`` lists ``(clique,
        children with computed messages, keep its table for distribute)`` children first and
        ends with ``top``; ``distribute`` lists ``(clique, parent, has computed upward message,
        belief to free afterwards or None)`` parents first; ``reads`` lists ``(clique, mask of
        its other variables, index dropping them)`` per variable to read.
        """
        key = (ev_cliques, read_vars)
        sched = self.schedules.get(key)
        if sched is not None:
            return sched
        top0 = None
        for c in ev_cliques:
            top0 = c if top0 is None else self.lca(top0, c)
        home = self.mask[top0] if top0 is not None else 0
        # variables of top0 are read there unless their smallest clique is computed anyway
        others = {self.readout[v] for v in read_vars if not home >> v & 1}
        top = top0
        for c in others:
            top = c if top is None else self.lca(top, c)
        on_path = {top}
        for c in others:
            while c not in on_path:
                on_path.add(c)
                c = self.parent[c]
        read_from = [
            self.readout[v] if not home >> v & 1 or self.readout[v] in on_path else top0
            for v in read_vars
        ]
        readouts = frozenset(read_from)
        if top is None:
            top = self.root
        parent = self.parent
        active = set()
        for c in ev_cliques:
            while c not in active:
                active.add(c)
                if c == top:
                    break
                c = parent[c]
        down = set()
        for c in readouts:
            while c != top and c not in down:
                down.add(c)
                c = parent[c]
        rank = self.rank
        collect = []
        for c in sorted(active, key=rank.__getitem__, reverse=True):
            kids = tuple(n for n in self.children[c] if n in active)
            collect.append((c, kids, c == top or c in down))
        if top not in active:
            collect.append((top, (), True))
        distribute = [(c, parent[c], c in active) for c in sorted(down, key=rank.__getitem__)]
        last_use = {p: i for i, (c, p, _) in enumerate(distribute)}
        drop = [None] * len(distribute)
        for p, i in last_use.items():
            if p not in readouts:
                drop[i] = p
        distribute = tuple((c, p, a, d) for (c, p, a), d in zip(distribute, drop))
        n_ops = 6 * len(collect) + 5 * len(distribute)
        entries = self._read_entries
        reads = []
        for v, r in zip(read_vars, read_from):
            entry = entries.get((r, v))
            if entry is None:
                entry = entries[(r, v)] = (r, self.mask[r] & ~(1 << v), squeeze_index(self.cliques[r], (v,)))
            reads.append(entry)
        reads = tuple(reads)
        sched = (top, tuple(collect), distribute, n_ops, reads)
        if len(self.schedules) > 1024:
            self.schedules.clear()
        self.schedules[key] = sched
        return sched

    def sliced_size(self, fixed: frozenset) -> float:
        """Sum of clique sizes once the variables in ``fixed`` are sliced or clamped."""
        got = self._sliced.get(fixed)
        if got is not None:
            return got
        if len(self._sliced) > 4096:
            self._sliced.clear()
        total = sliced_total(self.cliques, self.sizes, self.cards, fixed)
        self._sliced[fixed] = total
        return total


def squeeze_index(outer: Sequence[int], keep: Sequence[int]) -> tuple:
    """Index taking element 0 of every axis of an (*outer, batch) table not in ``keep``."""
    keep_set = set(keep)
    return (*(_ALL if v in keep_set else 0 for v in outer), _ALL)


def restrict(arr, variables, mask, ev, ev_mask, clamp, clamp_mask):
    """Slice the shared evidence and gather the per-batch clamps of a constant (batch 1) table
    over ``variables`` (bitmask ``mask``)."""
    if mask & ev_mask:
        idx = [_ALL] * len(variables)
        for i, v in enumerate(variables):
            s = ev.get(v)
            if s is not None:
                idx[i] = slice(s, s + 1)
        arr = arr[tuple(idx)]
    if mask & clamp_mask:
        axes = [i for i, v in enumerate(variables) if v in clamp]
        if len(axes) == 1:
            a = axes[0]
            return arr.take(clamp[variables[a]], axis=a).swapaxes(a, -1)
        rest = [i for i in range(len(variables)) if i not in axes]
        inner = arr[..., 0].transpose(rest + axes)
        gathered = inner[(Ellipsis, *(clamp[variables[a]] for a in axes))]
        shape = [1 if i in axes else arr.shape[i] for i in range(len(variables))]
        return gathered.reshape(shape + [gathered.shape[-1]])
    return arr
