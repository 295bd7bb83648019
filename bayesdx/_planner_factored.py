"""The fast search behind :func:`bayesdx.plan` (private): numpy alone after a few engine queries.

When the orders' results are independent given a small set C of nodes (the targets, and a few
other unobserved nodes chosen by d-separation) and the evidence, then

    P(C, results of the orders done | e0) = P(C | e0) * prod over those orders of P(result | C, e0)

so the engine is asked once, at the start, for P(C | e0) and for each order's likelihood
P(result | C, e0) (read straight from the tables when the readouts are leaves whose parents lie in
C or the evidence). Every later state is a weight tensor over C and every outcome table one
``einsum``.

Two refinements keep the tensors small and the bounds tight, both exact:

* An order's likelihood depends only on the axes of C it is not d-separated from (its *axes*); a
  state keeps only the axes its remaining orders and the actions read, summing the others out.
* The bound on what the remaining orders R can still achieve is the expected utility with
  perfect knowledge of the axes R reads (not of every target): their joint likelihood is
  constant within each configuration of those axes, so no result of R can tell more apart.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ._planner import _Search, _Table
from .orders import Order, outcome_table

__all__ = ["FactoredSearch", "conditioning_set"]


def _graph(network):
    import networkx as nx

    arrays = network.arrays
    graph = nx.DiGraph([(q, n) for n in arrays.nodes for q in arrays.parents[n]])
    graph.add_nodes_from(arrays.nodes)
    return graph


def _determined(network, given: set, exclude: set) -> set:
    """``given`` plus every node a deterministic table (all entries 0 or 1) makes a function of
    it, recursively (e.g. an "any myositis" node below the myositis subtypes); never ``exclude``."""
    arrays = network.arrays
    out = set(given)
    for node in arrays.nodes:
        parents = arrays.parents[node]
        if node in out or node in exclude or not parents or not set(parents) <= out:
            continue
        table = arrays.cpts[node]
        if np.all((table == 0.0) | (table == 1.0)):
            out.add(node)
    return out


def _separated(graph, groups: Sequence[tuple[str, ...]], given: set) -> bool:
    """True when every group is d-separated from all the others given ``given``."""
    import networkx as nx

    every = {r for group in groups for r in group}
    return all(not group or not every.difference(group)
               or nx.is_d_separator(graph, set(group), every.difference(group), given)
               for group in groups)


def conditioning_set(network, orders: Sequence[Order], evidence: Mapping[str, int], *,
                     max_configurations: int = 65_536) -> tuple[str, ...] | None:
    """The nodes C given which the orders' results are independent: the targets, plus the
    smallest (by joint states) set of at most two other unobserved nodes that d-separates the
    orders, else every hidden parent of the readouts. Nodes that deterministic tables make
    functions of C count as known. None when no such C has at most ``max_configurations`` joint
    states."""
    import networkx as nx

    arrays = network.arrays
    groups = [tuple(r for r in o.readouts if r not in evidence) for o in orders]
    every = {r for group in groups for r in group}
    targets = tuple(network.targets)
    graph = _graph(network)
    ancestors = set().union(*(nx.ancestors(graph, r) for r in every)) if every else set()
    free = _determined(network, set(targets) | set(evidence), every)
    hidden = sorted((n for n in ancestors if n not in free and n not in every),
                    key=arrays.nodes.index)
    base = math.prod(arrays.card(t) for t in targets)
    tries = [()] + [(n,) for n in hidden] + list(itertools.combinations(hidden, 2))
    parents = tuple(n for n in hidden if any(n in arrays.parents[r] for r in every))
    tries.append(parents)
    sizes = [base * math.prod(arrays.card(n) for n in extra) for extra in tries]
    for size, extra in sorted(zip(sizes, tries), key=lambda p: p[0]):
        if size > max_configurations:
            break
        cond = (*targets, *extra)
        if _separated(graph, groups, _determined(network, set(cond) | set(evidence), every)):
            return cond
    return None


class FactoredSearch(_Search):
    """Outcome tables by numpy from the factorisation given C (see the module docstring).

    A state is ``(key, (axes, weights), p_help)``: ``key`` holds each order's result index (-1:
    not done), ``weights`` is P(the state's axes of C, results so far | e0).
    """

    method = "factored"
    #: ``"numba"``: one compiled pass per outcome table (:mod:`bayesdx._plankernel`);
    #: ``"numpy"``: the reference, array operations only.
    kernel = "numba"

    def __init__(self, network, orders, model, conditioning: Sequence[str], **kw):
        super().__init__(network, orders, model, **kw)
        self.conditioning = tuple(conditioning)
        arrays = network.arrays
        self.n_axes = len(self.conditioning)
        self.x_label, self.a_label = self.n_axes, self.n_axes + 1
        position = {n: k for k, n in enumerate(self.conditioning)}
        # the actions read their targets only: utilities and indicators over those axes
        self.acting = tuple(sorted({position[a.target] for a in model.actions}))
        ind = self.ind.reshape(*(arrays.card(t) for t in self.targets), -1)
        drop = tuple(k for k in range(len(self.targets)) if k not in self.acting)
        self.ind_acting = ind.max(axis=drop) if drop else ind  # constant along those axes
        self.w_acting = self.bc * self.ind_acting - self.c       # utility of acting, per action
        self._axes_cache: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._plans: dict[tuple, tuple] = {}
        self._indices: dict[tuple, np.ndarray] = {}
        self.w_flat = np.ascontiguousarray(self.w_acting.reshape(-1, self.w_acting.shape[-1]))
        self._scratch = np.zeros(0)
        if self.kernel == "numba":
            from . import _plankernel

            _plankernel.warm()
            self._order_table = _plankernel.order_table

    # -- set up ------------------------------------------------------------------------------
    def root(self, evidence: Mapping[str, int]):
        evidence = dict(evidence)
        network, arrays, cond = self.network, self.network.arrays, self.conditioning
        graph = _graph(network)
        known = set(cond) | set(evidence)
        free = [tuple(r for r in o.readouts if r not in evidence) for o in self.orders]

        def from_tables(readouts):
            return all(graph.out_degree(r) == 0 and set(arrays.parents[r]) <= known
                       for r in readouts)

        singles = [i for i, f in enumerate(free) if len(f) == 1 and not from_tables(f)]
        nodes = list(dict.fromkeys(free[i][0] for i in singles))
        query = self._query(network.engine.joint_query, evidence, cond, nodes)
        weights = np.asarray(query.target_joint, dtype=float)
        on_c = network.with_targets(cond, tests=())
        self.lik, self.lik_axes, self.outcomes = [], [], []
        for i, readouts in enumerate(free):
            if not readouts:
                self.lik.append(None), self.lik_axes.append(()), self.outcomes.append(())
                continue
            axes = self._depends(graph, readouts, evidence, free)
            if from_tables(readouts):
                likelihood = self._from_tables(readouts, evidence, axes)
            else:
                joint = (query.node_joints[readouts[0]] if i in singles else
                         self._query(network.engine.group_joint, evidence, cond, readouts))
                likelihood = self._from_joint(joint, weights, axes, len(readouts))
            full = _broadcast(likelihood, axes, weights.shape)
            table = outcome_table(on_c, self.orders[i], evidence, group_joint=full)
            merged = table.joint.reshape(*weights.shape, -1)
            merged = merged[tuple(slice(None) if k in axes else 0 for k in range(self.n_axes))]
            self.lik.append(np.ascontiguousarray(np.moveaxis(merged, -1, 0)))  # (outcome, axes)
            self.lik_axes.append(axes)
            self.outcomes.append(table.outcomes)
        self.lik_t = [None if lik is None else np.ascontiguousarray(lik.reshape(lik.shape[0], -1).T)
                      for lik in self.lik]  # (configuration of the order's axes, result)
        mask = (1 << len(self.orders)) - 1
        keep, _ = self._axes(mask)
        drop = tuple(k for k in range(self.n_axes) if k not in keep)
        u = weights.sum(axis=drop) if drop else weights
        u = u / u.sum()
        key = (-1,) * len(self.orders)
        return key, (keep, u), self._p_help(keep, u)

    def _depends(self, graph, readouts, evidence, free) -> tuple[int, ...]:
        """The axes of C the readouts are not d-separated from, given the rest of C and e (and
        what they determine); an axis the rest determines is kept."""
        import networkx as nx

        every = {r for group in free for r in group}
        out = []
        for k, node in enumerate(self.conditioning):
            given = _determined(self.network, (set(self.conditioning) - {node}) | set(evidence),
                                every)
            if node in given or not nx.is_d_separator(graph, set(readouts), {node}, given):
                out.append(k)
        return tuple(out)

    def _from_tables(self, readouts, evidence, axes):
        """P(readouts | their parents) over ``axes``, from the readouts' own tables."""
        arrays = self.network.arrays
        position = {n: k for k, n in enumerate(self.conditioning)}
        operands = []
        for j, r in enumerate(readouts):
            index = tuple(evidence[q] if q in evidence else slice(None) for q in arrays.parents[r])
            operands += [arrays.cpts[r][index],
                         [position[q] for q in arrays.parents[r] if q not in evidence]
                         + [self.n_axes + 2 + j]]
        out = [*axes, *range(self.n_axes + 2, self.n_axes + 2 + len(readouts))]
        return np.einsum(*operands, out)

    def _from_joint(self, joint, weights, axes, n_readouts):
        """P(readouts | C, e0) over ``axes`` from P(C, readouts | e0): constant along the other
        axes wherever P(C | e0) > 0, so summing both over them keeps it exact."""
        drop = tuple(k for k in range(self.n_axes) if k not in axes)
        num = joint.sum(axis=drop) if drop else joint
        den = weights.sum(axis=drop) if drop else weights
        den = den.reshape(*den.shape, *[1] * n_readouts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, 0.0)

    def _axes(self, mask: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(axes a state with orders ``mask`` left keeps, axes those orders read)."""
        hit = self._axes_cache.get(mask)
        if hit is None:
            read = sorted({k for i in range(len(self.orders)) if mask >> i & 1
                           for k in self.lik_axes[i]})
            hit = (tuple(sorted(set(read) | set(self.acting))), tuple(read))
            self._axes_cache[mask] = hit
        return hit

    def _p_help(self, axes, u) -> np.ndarray:
        helps = np.einsum(u, list(axes), self.ind_acting, [*self.acting, self.a_label],
                          [self.a_label])
        return helps / u.sum()

    # -- the search's questions ------------------------------------------------------------------
    def bounds(self, state, mask):
        (axes, u), p_help = state[1], state[2]
        meu, _ = self.stop_values(p_help)
        _, read = self._axes(mask)
        y = np.einsum(u, list(axes), self.w_acting, [*self.acting, self.a_label],
                      [*read, self.a_label])
        return meu, float(np.maximum(y, 0.0).sum() / u.sum())

    def _plan(self, axes: tuple[int, ...], i: int, rest: int):
        """How to contract a state over ``axes`` with order i's likelihood when ``rest`` stays:
        the state's axes to sum first, the likelihood's shape on what is left, the axes to sum
        after, and the utility tensor laid out as (blocks read by ``rest``, others, action)."""
        key = (axes, i, rest)
        hit = self._plans.get(key)
        if hit is not None:
            return hit
        keep, read = self._axes(rest)
        lik_axes = self.lik_axes[i]
        first = tuple(j for j, ax in enumerate(axes) if ax not in keep and ax not in lik_axes)
        left = [ax for ax in axes if ax in keep or ax in lik_axes]
        cards = {ax: self.network.arrays.card(self.conditioning[ax]) for ax in left}
        shape = (self.lik[i].shape[0], *(cards[ax] if ax in lik_axes else 1 for ax in left))
        after = tuple(1 + j for j, ax in enumerate(left) if ax not in keep)
        inner = [ax for ax in keep if ax not in read]
        order = [keep.index(ax) for ax in (*read, *inner)]
        full = [self.network.arrays.card(self.conditioning[ax]) for ax in keep]
        w = self.w_acting.reshape(*(c if ax in self.acting else 1 for ax, c in zip(keep, full)), -1)
        w = np.broadcast_to(w, (*full, w.shape[-1]))
        w = np.transpose(w, [*order, len(keep)])
        blocks = math.prod(cards[ax] for ax in read)
        w = np.ascontiguousarray(w.reshape(blocks, -1, w.shape[-1]))
        hit = (first, self.lik[i].reshape(shape), after, keep, [0, *(1 + j for j in order)], blocks, w)
        self._plans[key] = hit
        return hit

    def _shape(self, axes: Sequence[int]) -> tuple[int, ...]:
        return tuple(self.network.arrays.card(self.conditioning[ax]) for ax in axes)

    def _index(self, source: tuple[int, ...], target: Sequence[int]) -> np.ndarray:
        """For each configuration of the ``source`` axes (flat, C order), the flat index of its
        restriction to the ``target`` axes (a subset)."""
        key = (source, tuple(target))
        hit = self._indices.get(key)
        if hit is None:
            cards = [self.network.arrays.card(self.conditioning[ax]) for ax in source]
            index = np.zeros(cards, dtype=np.int64)
            step = 1
            for ax in reversed(key[1]):
                shape = [1] * len(source)
                shape[source.index(ax)] = cards[source.index(ax)]
                index = index + np.arange(shape[source.index(ax)]).reshape(shape) * step
                step *= cards[source.index(ax)]
            self._indices[key] = hit = np.ascontiguousarray(index.reshape(-1))
        return hit

    def tables(self, state, which, mask):
        self._evaluated()
        if self.kernel == "numba":
            return self._tables_numba(state, which, mask)
        return self._tables_numpy(state, which, mask)

    def _tables_numba(self, state, which, mask):
        key, (axes, u), _ = state
        flat = u.reshape(-1)
        n_a = len(self.b)
        out: dict[int, _Table | None] = {}
        for i in which:
            if self.lik[i] is None:
                out[i] = None
                continue
            keep, read = self._axes(mask & ~(1 << i))
            lik = self.lik_t[i]
            n_x = lik.shape[1]
            n_keep = len(self._index(keep, ()))
            blocks = self._index(keep, read)
            n_blocks = int(blocks.max()) + 1
            if len(self._scratch) < n_blocks * n_a:
                self._scratch = np.zeros(n_blocks * n_a)
            joint, p = np.empty((n_keep, n_x)), np.empty(n_x)
            act, positive = np.empty((n_x, n_a)), np.empty(n_x)
            self._order_table(flat, lik, self._index(axes, self.lik_axes[i]),
                              self._index(axes, keep), n_keep, blocks, n_blocks,
                              self._index(keep, self.acting), self.w_flat, joint, p, act,
                              positive, self._scratch)
            kept = np.flatnonzero(p > 0)
            if len(kept) < n_x:
                p, act, positive = p[kept], act[kept], positive[kept]
            meu = np.maximum(act, 0.0).sum(axis=1) / p
            p_help = (act / p[:, None] + self.c) / self.bc
            out[i] = _Table(p / p.sum(), p_help, meu, positive / p,
                            tuple(self.outcomes[i][k] for k in kept),
                            _Children(key, i, keep, joint, kept, p_help, p,
                                      columns=self._shape(keep)))
        return out

    def _tables_numpy(self, state, which, mask):
        key, (axes, u), _ = state
        out: dict[int, _Table | None] = {}
        for i in which:
            if self.lik[i] is None:
                out[i] = None
                continue
            first, lik, after, keep, order, blocks, w = self._plan(axes, i, mask & ~(1 << i))
            small = u.sum(axis=first) if first else u
            joint = small * lik                                   # (outcome, axes left)
            if after:
                joint = joint.sum(axis=after)                     # (outcome, keep)
            n_x = joint.shape[0]
            p = joint.reshape(n_x, -1).sum(axis=1)
            kept = np.flatnonzero(p > 0)
            grouped = np.transpose(joint, order).reshape(n_x, blocks, -1)
            if len(kept) < n_x:
                p, grouped = p[kept], grouped[kept]
            y = np.matmul(grouped.transpose(1, 0, 2), w)          # (block, outcome, action)
            act = y.sum(axis=0)                                   # (outcome, action)
            meu = np.maximum(act, 0.0).sum(axis=1) / p
            eupi = np.maximum(y, 0.0).sum(axis=(0, 2)) / p
            p_help = (act / p[:, None] + self.c) / self.bc
            out[i] = _Table(p / p.sum(), p_help, meu, eupi,
                            tuple(self.outcomes[i][k] for k in kept),
                            _Children(key, i, keep, joint, kept, p_help, p))
        return out


class _Children:
    """The states after each outcome of one order (made on demand)."""

    __slots__ = ("key", "i", "axes", "joint", "kept", "p_help", "p", "columns")

    def __init__(self, key, i, axes, joint, kept, p_help, p, columns=False):
        self.key, self.i, self.axes, self.joint = key, i, axes, joint
        self.kept, self.p_help, self.p, self.columns = kept, p_help, p, columns

    def __call__(self, x: int):
        k = int(self.kept[x])
        key = self.key[:self.i] + (k,) + self.key[self.i + 1:]
        if self.columns:  # (kept configuration, result) from the kernel
            weights = (self.joint[:, k] / self.p[x]).reshape(self.columns)
            return key, (self.axes, weights), self.p_help[x]
        return key, (self.axes, self.joint[k] / self.p[x]), self.p_help[x]


def _broadcast(table: np.ndarray, axes: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """A table over some axes of C (then readouts) broadcast to all of C (then readouts)."""
    full = [1] * len(shape)
    for k, axis in enumerate(axes):
        full[axis] = table.shape[k]
    rest = table.shape[len(axes):]
    return np.broadcast_to(table.reshape(*full, *rest), (*shape, *rest))
