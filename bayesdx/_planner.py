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

import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .exceptions import BayesdxError
from .orders import Order, outcome_table

__all__ = ["PlanProgress", "PlanTooLargeError", "EngineSearch"]


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
    def root(self, evidence: Mapping[str, int]):
        """The state at the start. A state is ``(key, data, p_help)``: ``key`` is hashable and
        names the evidence reached, ``p_help`` is P(each action helps | that evidence)."""
        raise NotImplementedError

    def bounds(self, state, mask: int) -> tuple[float, float]:
        """(MEU, an upper bound on the expected utility of any policy using the orders in
        ``mask``, before their costs) at ``state``."""
        return self.stop_values(state[2])

    def tables(self, state, which: Sequence[int], mask: int) -> dict[int, _Table | None]:
        """Outcome tables of orders ``which`` at ``state`` (None: nothing left to report); each
        table's ``eupi`` bounds what the orders in ``mask`` other than its own can achieve."""
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
            cost = self.cost
            cheapest = next(cost[j] for j in self.by_cost if mask >> j & 1)
            if eupi - meu - self.tol <= cheapest:
                return best  # no order can pay for itself; not memoised (cheap to repeat)
            limit = eupi - meu - self.tol  # no order costing more can pay off
            candidates = [i for i in range(len(self.orders)) if mask >> i & 1 and cost[i] < limit]
            if not candidates:
                return best  # stopping is optimal; cheap to recompute, not memoised
            tables = self.tables(state, candidates, mask)
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

    def choice(self, state, mask: int, horizon: int) -> int:
        """Index of the best first order at a state, or -1 to stop."""
        meu, eupi = self.bounds(state, mask)
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
        key = _key(evidence)
        free = self._free(evidence, range(len(self.orders)))
        singles = [i for i in free if len(free[i]) == 1]
        nodes = list(dict.fromkeys(free[i][0] for i in singles))
        query = self._query(self.engine.joint_query, evidence, self.targets, nodes)
        have = self.cache.setdefault(key, {})
        for i in singles:
            have[i] = self._table(i, evidence, query.node_joints[free[i][0]])
        return key, evidence, np.ravel(query.target_joint) @ self.ind

    def tables(self, state, which, mask):
        key, evidence, _ = state
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
            children.append((_key(child), child, p_help[len(children)]))
        return _Table(p, p_help, meu, eupi, table.outcomes, children.__getitem__)
