"""Look ahead: the testing policy that maximises expected utility over several steps.

:func:`plan` answers "which orders, in which sequence, and when to stop?" for a network with a
decision model (:class:`~bayesdx.decision.DecisionModel`). Each order costs its money (at the
model's ``usd_per_util``) plus its risk; when testing stops, every action is taken whose expected
utility is positive. With ``horizon=None`` the result is the **exact optimal policy**, found by
dynamic programming over the evidence states the orders can reach (memoised, so doing A then B and
B then A is solved once), with exact pruning only (see :mod:`bayesdx._planner`). With
``horizon=k`` it is the k-step look-ahead policy: at every step, the first order of the best
k-step plan, then plan again. Either way the policy is evaluated exactly, and the one-step
(*myopic*) policy, greedy on the net change in maximum expected utility, is evaluated beside it,
with its regret against the optimum.

This module owns :func:`plan` and the size check done before any work; the :class:`Policy` it
returns (a tree of :class:`PolicyNode`, with a table, text, HTML and JSON forms) lives in
:mod:`bayesdx._policy`. The figure is :func:`bayesdx.plotting.plot_policy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType


from ._planner import EngineSearch, PlanProgress, PlanTooLargeError
from ._planner_factored import FactoredSearch, conditioning_set
from ._policy import Policy, PolicyNode
from .decision import DecisionModel
from .exceptions import ImpossibleEvidenceError, InvalidObjectiveError, UnknownOrderError
from .inference import ZeroProbabilityEvidence
from .orders import Order, _reported, network_orders

__all__ = ["plan", "Policy", "PolicyNode", "PlanProgress", "PlanTooLargeError", "estimate_states"]

#: Policy trees larger than this are refused while they are built (a policy that deep and
#: branching is better read as a horizon-limited plan).
MAX_TREE_NODES = 500_000


# -- size -----------------------------------------------------------------------------------


def _n_outcomes(network, order: Order, evidence: Mapping[str, int]) -> int:
    """How many distinct results ``order`` can report given ``evidence`` (reflexes merged)."""
    states = network.arrays.states
    free = [r for r in order.readouts if r not in evidence]
    size = math.prod(len(states[r]) for r in free)
    if not order.reflex or size > 100_000:
        return size
    import itertools

    seen = set()
    for combo in itertools.product(*(range(len(states[r])) for r in free)):
        value = dict(zip(free, combo))
        value.update({r: evidence[r] for r in order.readouts if r in evidence})
        seen.add(tuple(value[r] if _reported(order, r, value, states) else -1 for r in free))
    return len(seen)


def estimate_states(outcome_counts: Sequence[int], horizon: int | None = None) -> int:
    """Bound on the evidence states a search can visit.

    Every order is either not done or done with one of its results, so there are
    prod(1 + n_o) states; a k-step look-ahead from the start reaches those with at most k
    orders done (the sum of the elementary symmetric polynomials of the n_o up to degree k).

    Examples
    --------
    >>> estimate_states([2, 3, 5])
    72
    >>> estimate_states([2, 3, 5], horizon=1)  # the start and one result of one order
    11
    """
    coeffs = [1]  # coefficients of prod(1 + n_o z): states by the number of orders done
    for n in outcome_counts:
        coeffs = [a + n * b for a, b in zip(coeffs + [0], [0] + coeffs)]
    k = len(coeffs) if horizon is None else horizon + 1
    return int(sum(coeffs[:k]))


# -- plan -------------------------------------------------------------------------------------


def _resolve_orders(network, orders, evidence) -> tuple[Order, ...]:
    available = network.orders
    if orders is None:
        chosen = list(available)
    else:
        if isinstance(orders, (str, Order)):
            orders = [orders]
        by_name = {o.name: o for o in available}
        chosen, given = [], []
        for item in orders:
            if isinstance(item, Order):
                given.append(item)
                chosen.append(item)
            elif isinstance(item, str):
                if item not in by_name:
                    raise UnknownOrderError(item, list(by_name))
                chosen.append(by_name[item])
            else:
                raise TypeError(f"The 'orders' parameter of plan must hold order names or Order "
                                f"objects; got {item!r} of type {type(item).__name__}.")
        if given:
            network_orders(network, given)  # checks readouts, reflex states and duplicate names
        names = [o.name for o in chosen]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"The 'orders' parameter of plan lists {', '.join(twice)} twice.")
    return tuple(o for o in chosen if any(r not in evidence for r in o.readouts))


def plan(network, *, evidence: Mapping[str, str] | None = None,
         orders: Sequence[str | Order] | None = None,
         decision_model: DecisionModel | None = None, horizon: int | None = None,
         max_states: int = 10_000_000, max_evaluations: int = 200_000,
         time_limit_s: float | None = 600.0,
         progress: Callable[[PlanProgress], None] | None = None) -> Policy:
    """The testing policy with the highest expected utility: which order next, after each result
    which order then, and when to stop and act.

    Parameters
    ----------
    network : Network or str
        A loaded network or a bundled name.
    evidence : mapping of str to str, optional
        What is already known, ``{node: state}``.
    orders : sequence of str or Order, optional
        The orders to choose among: names of :attr:`Network.orders <bayesdx.Network.orders>` or
        :class:`~bayesdx.Order` objects. Default: every order of the network (the file's orders
        and every other test as its own), which is often too many for ``horizon=None``.
        Orders whose readouts are all observed already are left out.
    decision_model : DecisionModel, optional
        Actions and utilities. Default: :attr:`Network.decisions <bayesdx.Network.decisions>`
        (the file's ``decisions:`` block).
    horizon : int, optional
        None (default): the exact optimal policy. k >= 1: the k-step look-ahead policy
        (k = 1 is the myopic policy).
    max_states : int, default 10,000,000
        Refuse, before any work, problems whose bound on evidence states (:func:`estimate_states`:
        prod(1 + results of each order), fewer with a horizon) exceeds this. The pruned search
        usually visits a small fraction of the bound.
    max_evaluations : int, default 200,000
        Stop with :class:`PlanTooLargeError` after this many posterior evaluations.
    time_limit_s : float or None, default 600
        Stop with :class:`PlanTooLargeError` after this many seconds (None: no limit).
    progress : callable, optional
        Called with a :class:`PlanProgress` (states, evaluations, seconds, estimated_states)
        about twice a second while the search runs, and once at the end.

    Returns
    -------
    Policy
        The policy tree with its expected utility, cost and number of orders, the myopic policy
        beside it and its regret (for ``horizon=None``), and the work done.

    Raises
    ------
    InvalidObjectiveError
        No decision model: the network file declares none and none was passed.
    PlanTooLargeError
        The problem exceeds ``max_states`` (before any work), ``max_evaluations`` or
        ``time_limit_s``; the message says how to make it smaller.
    UnknownOrderError, UnknownNodeError, UnknownStateError, ImpossibleEvidenceError

    Notes
    -----
    The exact search is exponential in the number of orders: every order multiplies the
    evidence states by (1 + its number of results), and the bounds prune only what provably
    cannot win. On the bundled network, whose blood tests cost little against the stakes, about
    six orders take seconds and seven already take minutes (``benchmarks/decision.py``); plan
    over fewer orders, or pass a horizon.

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> refer = bayesdx.DecisionModel(
    ...     [bayesdx.Action("refer", "als", ["present"], benefit=0.15, harm=0.005)],
    ...     usd_per_util=100_000)
    >>> orders = [bayesdx.Order("emg_fp", ["emg_fasciculation_potentials"], cost_usd=400),
    ...           bayesdx.Order("ck", ["ck"], cost_usd=7)]
    >>> policy = bayesdx.plan(net, evidence={"fasciculations_exam": "present", "atrophy": "present"},
    ...                       orders=orders, decision_model=refer)
    >>> policy.expected_utility >= policy.myopic_expected_utility >= policy.stop_utility
    True
    """
    if isinstance(network, str):
        from .io import load_network

        network = load_network(network)
    model = decision_model if decision_model is not None else network.decisions
    if model is None:
        raise InvalidObjectiveError(
            f"Network {network.name!r} declares no decision model (no 'decisions:' block), and "
            f"plan needs one to value tests. Pass decision_model=DecisionModel([Action(...), ...], "
            f"usd_per_util=...) (from bayesdx.decision), or add a 'decisions:' block to the file.")
    if not isinstance(model, DecisionModel):
        raise TypeError(f"The 'decision_model' parameter of plan must be a bayesdx DecisionModel; "
                        f"got {type(model).__name__} instead.")
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int)
                                or horizon < 1):
        raise ValueError(f"The 'horizon' parameter of plan must be None (exact) or an int >= 1; "
                         f"got {horizon!r} instead.")
    for name, value in (("max_states", max_states), ("max_evaluations", max_evaluations)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"The '{name}' parameter of plan must be an int >= 1; got {value!r} "
                             f"instead.")
    if time_limit_s is not None and (isinstance(time_limit_s, bool) or not isinstance(
            time_limit_s, (int, float)) or not time_limit_s >= 0):
        raise ValueError(f"The 'time_limit_s' parameter of plan must be None or a number >= 0; got "
                         f"{time_limit_s!r} instead.")
    labels = dict(evidence or {})
    encoded = network.encode_evidence(labels)
    chosen = _resolve_orders(network, orders, encoded)
    if len(chosen) > 62:
        raise PlanTooLargeError(f"plan takes at most 62 orders; got {len(chosen)}. Pass fewer.")
    counts = [_n_outcomes(network, o, encoded) for o in chosen]
    bound = estimate_states(counts, horizon)
    if bound > max_states:
        detail = ", ".join(f"{o.name} {n}" for o, n in sorted(zip(chosen, counts),
                                                               key=lambda p: -p[1])[:8])
        raise PlanTooLargeError(
            f"Planning over {len(chosen)} orders could visit up to {bound:,} evidence states "
            f"(more than max_states={max_states:,}): results per order: {detail}"
            f"{', ...' if len(chosen) > 8 else ''}. Pass fewer orders (orders=[...]), a horizon "
            f"(horizon=2 looks two orders ahead), or a larger max_states.")
    options = dict(max_evaluations=max_evaluations, time_limit_s=time_limit_s, progress=progress,
                   estimated_states=bound)
    conditioning = conditioning_set(network, chosen, encoded)
    if conditioning is not None:
        search = FactoredSearch(network, chosen, model, conditioning, **options)
    else:
        search = EngineSearch(network, chosen, model, **options)
    try:
        state = search.root(encoded)
    except ZeroProbabilityEvidence:
        raise ImpossibleEvidenceError(labels) from None
    meu, eupi = search.stop_values(state[2])
    common = dict(network=network, evidence=MappingProxyType(labels), orders=chosen,
                  decision_model=model, stop_utility=meu, evpi_utils=max(eupi - meu, 0.0),
                  estimated_states=bound, method=search.method)
    mask = (1 << len(chosen)) - 1
    myopic_root = _build(search, state, mask, 1, True)
    if horizon == 1:
        root, myopic = myopic_root, None
    else:
        root = _build(search, state, mask, horizon or len(chosen) + 1, horizon is not None)
        myopic = Policy(horizon=1, root=myopic_root, myopic=None, **common, **_work(search))
    search.report()
    return Policy(horizon=horizon, root=root, myopic=myopic, **common, **_work(search))


def _work(search) -> dict:
    return dict(n_evaluations=search.n_evaluations, n_queries=search.n_queries,
                n_states=search.n_states, seconds=search.seconds())


def _build(search, state, mask: int, horizon: int, rolling: bool) -> PolicyNode:
    """The policy tree from a state: the optimal one (``rolling=False``, the horizon shrinking
    with depth) or the rolling ``horizon``-step look-ahead one (re-planned at every step)."""
    names = [a.name for a in search.model.actions]
    count = 0

    def node(state, mask, horizon, depth, outcome, learnt, p_branch, p_reach):
        nonlocal count
        count += 1
        if count > MAX_TREE_NODES:
            raise PlanTooLargeError(
                f"The policy tree has more than {MAX_TREE_NODES:,} steps. Pass fewer orders or a "
                f"horizon.")
        choice = search.choice(state, mask, horizon)
        p_help = state[2]
        probs = MappingProxyType(dict(zip(names, map(float, p_help))))
        if choice < 0:
            meu, _ = search.stop_values(p_help)
            acts = tuple(names[i] for i in search.actions(p_help))
            return PolicyNode(depth, outcome, learnt, p_reach, p_branch, None, acts, probs, meu,
                              0.0, 0.0, 0.0)
        order, table = search.orders[choice], search.tables(state, [choice], mask)[choice]
        rest = mask & ~(1 << choice)
        after = horizon if rolling else horizon - 1
        kids = []
        for x, p in enumerate(table.p):
            p = float(p)
            out = MappingProxyType(dict(table.outcomes[x]))
            kids.append(node(table.child(x), rest, after, depth + 1, out,
                             MappingProxyType({**learnt, **out}), p, p_reach * p))
        usd = 0.0 if math.isnan(order.cost_usd) else order.cost_usd
        value = -float(search.cost[choice])
        cost_usd, cost_utils, tests = usd, float(search.cost[choice]), 1.0
        for k in kids:
            value += k.branch_probability * k.value_utils
            cost_usd += k.branch_probability * k.cost_usd
            cost_utils += k.branch_probability * k.cost_utils
            tests += k.branch_probability * k.tests
        return PolicyNode(depth, outcome, learnt, p_reach, p_branch, order, (), probs, value,
                          cost_usd, cost_utils, tests, tuple(kids))

    empty = MappingProxyType({})
    return node(state, mask, horizon, 0, empty, empty, 1.0, 1.0)
