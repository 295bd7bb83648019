"""The search behind :func:`bayesdx.plan` (private): dynamic programming over evidence states.

A *state* is the evidence reached (the starting evidence plus the results of the orders done so
far) and the orders still available. Its value, in the decision model's utility units, is

    V(e, R) = max( MEU(e),  max over o in R of  -cost(o) + sum_x P(x | e) V(e + x, R - o) )

where MEU(e) is the expected utility of the best actions now. Values are memoised on the evidence
reached, so doing A then B and B then A (a transposition) is solved once. Three exact prunings,
none a probability cut-off:

* **Perfect information.** No policy can gain more than EVPI(e) = E[utility with the targets
  known] - MEU(e), so an order costing at least EVPI(e) is never started at e, and a state where
  no order is cheaper than that stops without an engine query.
* **Branch and bound.** Before recursing into an order, its value is bounded above by
  -cost(o) + sum_x P(x | e) max(MEU(e + x), EUPI(e + x) - cheapest remaining cost), read off its
  outcome table alone; orders are tried best bound first and the rest are skipped once no bound
  beats the best value found. The bound is a true upper bound, so the value stays exact.
* **Horizon.** With a k-step horizon, states k orders deep are valued at MEU.

Engine queries are batched per state: one :meth:`~bayesdx.inference.Engine.joint_query` gives the
outcome table of every single-readout order at once; an order of several readouts costs one
:meth:`~bayesdx.inference.Engine.group_joint`. Tables are cached per evidence state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .exceptions import BayesdxError
from .orders import Order, outcome_table

__all__ = ["PlanProgress", "PlanTooLargeError", "EngineSearch", "FactoredSearch", "conditioning_set"]


class PlanTooLargeError(BayesdxError, ValueError):
    """A planning problem too large for the limits given: refused before the work starts (too
    many evidence states), or stopped when an evaluation or time budget ran out."""


class PlanProgress(NamedTuple):
    """What :func:`bayesdx.plan` reports to its ``progress`` callback while it works."""

    states: int
    """Distinct evidence states searched so far."""
    evaluations: int
    """Posterior evaluations so far: states at which the outcome tables of the candidate orders
    were computed (by engine queries or from the factored tables)."""
    seconds: float
    """Wall-clock seconds since the search started."""
    estimated_states: int
    """The pre-search bound on the number of evidence states."""


class _Table:
    """One order's outcomes at one state: their probabilities and what each leads to."""

    __slots__ = ("p", "p_help", "meu", "eupi", "outcomes", "child")

    def __init__(self, p, p_help, meu, eupi, outcomes, child):
        self.p = p                  # (n_x,) P(outcome | state)
        self.p_help = p_help        # (n_x, n_a) P(action helps | state, outcome)
        self.meu = meu              # (n_x,) best expected utility after the outcome
        self.eupi = eupi            # (n_x,) expected utility were the targets known
        self.outcomes = outcomes    # tuple of {readout: state label}
        self.child = child          # x -> the state after outcome x


def _key(evidence: Mapping[str, int]) -> tuple:
    return tuple(sorted(evidence.items()))


class _Search:
    """Values and choices of one planning problem; subclasses say how outcome tables are made.

    A state is a pair ``(key, data)``: ``key`` is hashable and names the evidence reached.

    Parameters
    ----------
    network : Network
    orders : sequence of Order
        At most 62 (states remember the orders left as a bit mask).
    model : DecisionModel
    max_evaluations : int
        State evaluations allowed before :class:`PlanTooLargeError`.
    time_limit_s : float or None
        Seconds allowed before :class:`PlanTooLargeError`.
    progress : callable, optional
        Called with a :class:`PlanProgress` about twice a second, and by :meth:`report`.
    estimated_states : int
        Passed through to ``progress``.
    """

    method = "abstract"

    def __init__(self, network, orders: Sequence[Order], model, *, max_evaluations: int,
                 time_limit_s: float | None, progress: Callable[[PlanProgress], None] | None,
                 estimated_states: int):
        self.network = network
        self.targets = network.targets
        self.orders = tuple(orders)
        self.model = model
        self.ind = model.indicator(network)
        self.b, self.c = model.benefits, model.harms
        self.bc = self.b + self.c
        self.cost = np.array([model.order_cost_utils(o) for o in self.orders], dtype=float)
        self.by_cost = [int(i) for i in np.argsort(self.cost, kind="stable")]
        self.tol = 1e-12 * float(max(self.b.max(), self.c.max()))
        self.index = {n: {s: i for i, s in enumerate(network.arrays.states[n])}
                      for o in self.orders for n in o.readouts}
        self.max_evaluations = int(max_evaluations)
        self.time_limit_s = time_limit_s
        self.progress = progress
        self.estimated_states = int(estimated_states)
        self.n_queries = 0
        self.n_evaluations = 0
        self.memo: dict[tuple, tuple[float, int]] = {}
        self._start = time.monotonic()
        self._reported = self._start

    # -- bookkeeping -----------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        """Distinct states whose best first order was searched for."""
        return len({k[0] for k in self.memo})

    def seconds(self) -> float:
        return time.monotonic() - self._start

    def _query(self, call, *args):
        """One engine query, counted."""
        self.n_queries += 1
        return call(*args)

    def _evaluated(self) -> None:
        self.n_evaluations += 1
        if self.n_evaluations > self.max_evaluations:
            raise PlanTooLargeError(
                f"Planning stopped after {self.max_evaluations:,} posterior evaluations "
                f"(max_evaluations={self.max_evaluations:,}), with {len(self.orders)} orders. "
                f"Pass fewer orders, a horizon (e.g. horizon=2), or a larger max_evaluations.")
        if self.n_evaluations % 64 and self.progress is None:
            return
        now = time.monotonic()
        if self.time_limit_s is not None and now - self._start > self.time_limit_s:
            raise PlanTooLargeError(
                f"Planning stopped after {now - self._start:.1f} s (time_limit_s="
                f"{self.time_limit_s:g}) and {self.n_evaluations:,} posterior evaluations, with "
                f"{len(self.orders)} orders. Pass fewer orders, a horizon (e.g. horizon=2), or a "
                f"larger time_limit_s.")
        if self.progress is not None and now - self._reported >= 0.5:
            self._reported = now
            self.report()

    def report(self) -> None:
        """Call ``progress`` now (no-op without one)."""
        if self.progress is not None:
            self.progress(PlanProgress(self.n_states, self.n_evaluations, self.seconds(),
                                       self.estimated_states))

    # -- decisions ---------------------------------------------------------------------------
    def stop_values(self, p_help: np.ndarray) -> tuple[float, float]:
        """(MEU, expected utility with the targets known) from P(each action helps)."""
        meu = float(np.maximum(self.bc * p_help - self.c, 0.0).sum())
        return meu, float(p_help @ self.b)

    def actions(self, p_help: np.ndarray) -> tuple[int, ...]:
        """Indices of the actions taken: those whose expected utility is > 0."""
        return tuple(int(i) for i in np.flatnonzero(self.bc * p_help - self.c > 0))

    def _outcome_values(self, p: np.ndarray, helps: np.ndarray):
        """(P(action helps | outcome), MEU, EUPI) per outcome from P(outcome) and
        P(action helps, outcome) of shape (n_outcomes, n_actions)."""
        p_help = helps / p[:, None]
        meu = np.maximum(self.bc * p_help - self.c, 0.0).sum(axis=1)
        return p_help, meu, p_help @ self.b

    # -- subclasses ----------------------------------------------------------------------------
    def root(self):
        """(state, P(each action helps)) at the start."""
        raise NotImplementedError

    def tables(self, state, which: Sequence[int]) -> dict[int, _Table | None]:
        """Outcome tables of orders ``which`` at ``state`` (None: nothing left to report)."""
        raise NotImplementedError

    # -- values ------------------------------------------------------------------------------
    def value(self, state, meu: float, eupi: float, mask: int, horizon: int) -> float:
        """V(state, orders in ``mask``) looking ``horizon`` orders ahead; the best first order
        is remembered in :attr:`memo` (``-1``: stop)."""
        memo_key = (state[0], mask, horizon)
        hit = self.memo.get(memo_key)
        if hit is not None:
            return hit[0]
        best, choice = meu, -1
        if horizon > 0 and mask:
            limit = eupi - meu - self.tol  # EVPI: no order costing more can pay off
            cost = self.cost
            candidates = [i for i in range(len(self.orders)) if mask >> i & 1 and cost[i] < limit]
            if not candidates:
                return best  # stopping is optimal; cheap to recompute, not memoised
            tables = self.tables(state, candidates)
            scored = []
            for i in candidates:
                table = tables[i]
                if table is None:
                    continue
                rest = mask & ~(1 << i)
                exact = horizon == 1 or not rest
                if exact:
                    bound = float(table.p @ table.meu) - cost[i]
                else:
                    cheapest = next(cost[j] for j in self.by_cost if rest >> j & 1)
                    bound = float(table.p @ np.maximum(table.meu, table.eupi - cheapest)) - cost[i]
                scored.append((-bound, i, exact, rest))
            scored.sort()
            for neg_bound, i, exact, rest in scored:
                if -neg_bound <= best + self.tol:
                    break  # no remaining order can beat the best found
                table = tables[i]
                if exact:
                    v = -neg_bound
                else:
                    v = -cost[i]
                    for x, p in enumerate(table.p):
                        v += p * self.value(table.child(x), table.meu[x], table.eupi[x], rest,
                                            horizon - 1)
                if v > best + self.tol:
                    best, choice = v, i
        self.memo[memo_key] = (best, choice)
        return best

    def choice(self, state, p_help: np.ndarray, mask: int, horizon: int) -> int:
        """Index of the best first order at a state, or -1 to stop."""
        meu, eupi = self.stop_values(p_help)
        self.value(state, meu, eupi, mask, horizon)
        return self.memo.get((state[0], mask, horizon), (meu, -1))[1]


class EngineSearch(_Search):
    """Outcome tables from the network's engine at every state, cached per state: one
    ``joint_query`` for all single-readout orders, one ``group_joint`` per other order."""

    method = "engine"

    def __init__(self, network, orders, model, **kw):
        super().__init__(network, orders, model, **kw)
        self.engine = network.engine
        self.cache: dict[tuple, dict[int, _Table | None]] = {}

    def _free(self, evidence, which) -> dict[int, tuple[str, ...]]:
        return {i: tuple(r for r in self.orders[i].readouts if r not in evidence) for i in which}

    def root(self, evidence: Mapping[str, int]):
        evidence = dict(evidence)
        state = (_key(evidence), evidence)
        free = self._free(evidence, range(len(self.orders)))
        singles = [i for i in free if len(free[i]) == 1]
        nodes = list(dict.fromkeys(free[i][0] for i in singles))
        query = self._query(self.engine.joint_query, evidence, self.targets, nodes)
        have = self.cache.setdefault(state[0], {})
        for i in singles:
            have[i] = self._table(i, evidence, query.node_joints[free[i][0]])
        return state, np.ravel(query.target_joint) @ self.ind

    def tables(self, state, which):
        key, evidence = state
        have = self.cache.setdefault(key, {})
        missing = [i for i in which if i not in have]
        self._evaluated()
        if not missing:
            return have
        free = self._free(evidence, missing)
        singles = [i for i in missing if len(free[i]) == 1]
        if singles:
            nodes = list(dict.fromkeys(free[i][0] for i in singles))
            query = self._query(self.engine.joint_query, evidence, self.targets, nodes)
            for i in singles:
                have[i] = self._table(i, evidence, query.node_joints[free[i][0]])
        for i in missing:
            if not free[i]:
                have[i] = None
            elif len(free[i]) > 1:
                joint = self._query(self.engine.group_joint, evidence, self.targets, free[i])
                have[i] = self._table(i, evidence, joint)
        return have

    def _table(self, i: int, evidence: Mapping[str, int], joint: np.ndarray) -> _Table:
        table = outcome_table(self.network, self.orders[i], evidence, group_joint=joint)
        p = table.joint.sum(axis=0)
        p_help, meu, eupi = self._outcome_values(p, table.joint.T @ self.ind)
        children = []
        for outcome in table.outcomes:
            child = dict(evidence)
            child.update({r: self.index[r][s] for r, s in outcome.items()})
            children.append((_key(child), child))
        return _Table(p, p_help, meu, eupi, table.outcomes, children.__getitem__)


class FactoredSearch(_Search):
    """Outcome tables by numpy alone, for orders whose results are independent given a small
    set C of nodes: the targets and the hidden parents that two orders' readouts share.

    Then P(C, results of the orders done | e0) = P(C | e0) * prod over those orders of
    P(result | C, e0): a state is that weight tensor over C, and an order's outcome table at any
    state is one contraction with its likelihood. P(result | C, e0) is read from the readouts'
    tables when they are leaves whose parents lie in C or the evidence, and asked of the engine
    (one query for all single-readout orders, one per other order) otherwise.
    """

    method = "factored"

    def __init__(self, network, orders, model, conditioning: Sequence[str], **kw):
        super().__init__(network, orders, model, **kw)
        self.conditioning = tuple(conditioning)
        arrays = network.arrays
        self.axes = {n: k for k, n in enumerate(self.conditioning)}
        self.shape = tuple(arrays.card(n) for n in self.conditioning)
        # the actions read only their targets: the indicator over those axes
        acting = sorted({self.axes[a.target] for a in model.actions})
        self.acting = tuple(acting)
        ind = self.ind.reshape(*(arrays.card(t) for t in self.targets), -1)
        drop = tuple(k for k in range(len(self.targets)) if k not in acting)
        ind = ind.max(axis=drop) if drop else ind  # constant along the axes dropped
        self.ind_acting = ind.reshape(-1, ind.shape[-1])

    # -- likelihoods ---------------------------------------------------------------------------
    def root(self, evidence: Mapping[str, int]):
        evidence = dict(evidence)
        network, arrays, cond = self.network, self.network.arrays, self.conditioning
        kids: dict[str, list[str]] = {n: [] for n in arrays.nodes}
        for n in arrays.nodes:
            for q in arrays.parents[n]:
                kids[q].append(n)
        free = {i: tuple(r for r in o.readouts if r not in evidence) for i, o in enumerate(self.orders)}
        known = set(cond) | set(evidence)

        def from_tables(readouts):
            return all(not kids[r] and set(arrays.parents[r]) <= known for r in readouts)

        singles = [i for i in free if len(free[i]) == 1 and not from_tables(free[i])]
        nodes = list(dict.fromkeys(free[i][0] for i in singles))
        query = self._query(network.engine.joint_query, evidence, cond, nodes)
        w = np.asarray(query.target_joint, dtype=float)
        on_c = network.with_targets(cond, tests=())
        self.lik, self.lik_axes, self.outcomes = [], [], []
        for i in range(len(self.orders)):
            if not free[i]:
                self.lik.append(None), self.lik_axes.append(()), self.outcomes.append(())
                continue
            if from_tables(free[i]):
                axes, joint = self._readout_tables(free[i], evidence)
            else:
                joint = (query.node_joints[free[i][0]] if i in singles else
                         self._query(network.engine.group_joint, evidence, cond, free[i]))
                with np.errstate(invalid="ignore", divide="ignore"):
                    joint = np.where(w.reshape(*w.shape, *[1] * len(free[i])) > 0,
                                     joint / w.reshape(*w.shape, *[1] * len(free[i])), 0.0)
                axes = tuple(range(len(cond)))
            # merge the readouts into the order's reported outcomes (reflexes); columns are linear
            table = outcome_table(on_c, self.orders[i], evidence,
                                  group_joint=_expand(joint, axes, self.shape, len(free[i])))
            lik = table.joint.reshape(*self.shape, -1)
            lik = lik[tuple(slice(None) if k in axes else slice(0, 1) for k in range(len(cond)))]
            self.lik.append(lik)
            self.lik_axes.append(axes)
            self.outcomes.append(table.outcomes)
        key = (-1,) * len(self.orders)
        return (key, w), self._p_help(w)

    def _readout_tables(self, readouts, evidence):
        """P(readouts | their parents) over the C axes they depend on, from the CPTs."""
        arrays = self.network.arrays
        axes = sorted({self.axes[q] for r in readouts for q in arrays.parents[r] if q in self.axes})
        n = len(self.conditioning)
        operands = []
        for j, r in enumerate(readouts):
            index = tuple(evidence[q] if q in evidence else slice(None) for q in arrays.parents[r])
            operands += [arrays.cpts[r][index],
                         [self.axes[q] for q in arrays.parents[r] if q not in evidence] + [n + j]]
        joint = np.einsum(*operands, [*axes, *range(n, n + len(readouts))])
        return tuple(axes), joint

    def _p_help(self, u: np.ndarray) -> np.ndarray:
        drop = tuple(k for k in range(u.ndim) if k not in self.acting)
        flat = (u.sum(axis=drop) if drop else u).reshape(-1)
        return (flat @ self.ind_acting) / flat.sum()

    # -- tables --------------------------------------------------------------------------------
    def tables(self, state, which):
        key, u = state
        self._evaluated()
        out: dict[int, _Table | None] = {}
        n = u.ndim
        for i in which:
            lik = self.lik[i]
            if lik is None:
                out[i] = None
                continue
            keep = sorted(set(self.lik_axes[i]) | set(self.acting))
            drop = tuple(k for k in range(n) if k not in keep)
            small = u.sum(axis=drop) if drop else u
            sub = lik[tuple(slice(None) if k in self.lik_axes[i] else 0 for k in range(n))]
            joint = np.einsum(small, keep, sub, [*self.lik_axes[i], n], [*self.acting, n])
            joint = joint.reshape(-1, joint.shape[-1])          # (acting states, outcomes)
            p = joint.sum(axis=0)
            kept = np.flatnonzero(p > 0)
            p, joint = p[kept], joint[:, kept]
            p_help, meu, eupi = self._outcome_values(p, joint.T @ self.ind_acting)
            out[i] = _Table(p / p.sum(), p_help, meu, eupi, tuple(self.outcomes[i][x] for x in kept),
                            self._child_maker(key, u, i, kept))
        return out

    def _child_maker(self, key, u, i, kept):
        lik = self.lik[i]

        def child(x):
            k = list(key)
            k[i] = int(kept[x])
            return tuple(k), u * lik[..., kept[x]]
        return child


def _expand(joint: np.ndarray, axes: Sequence[int], shape: Sequence[int], n_readouts: int):
    """A table over some C axes (then the readouts) broadcast to all of C (then the readouts)."""
    full = [1] * len(shape)
    for k, a in enumerate(axes):
        full[a] = joint.shape[k]
    table = joint.reshape(*full, *joint.shape[len(axes):])
    return np.broadcast_to(table, (*shape, *joint.shape[len(axes):]))


def conditioning_set(network, orders: Sequence[Order], evidence: Mapping[str, int], *,
                     max_configurations: int = 65_536) -> tuple[str, ...] | None:
    """Nodes C given which the orders' results are independent: the targets, then the hidden
    parents (unobserved, neither targets nor readouts) that readouts of two different orders
    share. None when the results are not independent given C and the evidence (checked by
    d-separation) or when C has more than ``max_configurations`` joint states."""
    import networkx as nx

    arrays = network.arrays
    readouts = [tuple(r for r in o.readouts if r not in evidence) for o in orders]
    every = {r for group in readouts for r in group}
    targets = tuple(network.targets)
    owners: dict[str, set[int]] = {}
    for k, group in enumerate(readouts):
        for r in group:
            for q in arrays.parents[r]:
                if q not in evidence and q not in targets and q not in every:
                    owners.setdefault(q, set()).add(k)
    shared = sorted((q for q, ks in owners.items() if len(ks) > 1), key=arrays.nodes.index)
    graph = nx.DiGraph([(q, n) for n in arrays.nodes for q in arrays.parents[n]])
    graph.add_nodes_from(arrays.nodes)
    for cond in ((*targets, *shared), (*targets, *sorted(owners, key=arrays.nodes.index))):
        if math.prod(arrays.card(n) for n in cond) > max_configurations:
            return None
        given = set(cond) | set(evidence)
        if all(not group or not every.difference(group)
               or nx.is_d_separator(graph, set(group), every.difference(group), given)
               for group in readouts):
            return cond
    return None
