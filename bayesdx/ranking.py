"""Valuing test orders: the outcome tables, the values under an objective, the ranking and the
stopping advice.

This module owns the outcome tables of every order a diagnosis can rank, built once per diagnosis
and stacked side by side (:class:`OrderTables`), the values of all those orders under an
objective in one vectorised pass (:class:`OrderValues`, from :mod:`bayesdx.voi` and
:func:`bayesdx.decision.decision_values`), the ranking table made from them
(:func:`ranking_frame`) and the advice on whether to stop testing (:class:`StopAdvice`). What a
ranking maximises (:class:`~bayesdx.objectives.Objective`) is defined in :mod:`bayesdx.objectives`.
:class:`bayesdx.Diagnosis` is a thin view over these; :mod:`bayesdx.explain` explains one order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .objectives import OBJECTIVES, Objective, resolve_objective
from .orders import Order, outcome_table
from .voi import mutual_information_stacked_bits

__all__ = ["Objective", "OBJECTIVES", "OrderTables", "OrderValues", "StopAdvice", "RANKING_COLUMNS",
           "resolve_objective", "build_tables", "subset_joint", "target_information_bits",
           "value_orders", "ranking_frame", "stop_advice", "threshold_frame", "outcome_label"]

#: The columns of every ranking, whatever the objective (see :attr:`bayesdx.Diagnosis.ranking`).
RANKING_COLUMNS = ["label", "objective", "value", "info_gain_bits", "info_per_usd",
                   "decision_value_utils", "cost_utils", "net_value_utils", "same_decision_prob",
                   "cost_usd", "turnaround_days", "kind", "invasive", "readouts", "outcome_probs"]


# -- outcome tables ----------------------------------------------------------------------------


def outcome_label(outcome: Mapping[str, str], single: bool) -> str:
    """How an outcome is written: the state alone for a one-readout order, else
    ``readout=state, ...`` (a reflex readout that was not triggered is absent)."""
    if single and len(outcome) == 1:
        return next(iter(outcome.values()))
    return ", ".join(f"{r}={s}" for r, s in outcome.items()) or "(nothing reported)"


@dataclass(frozen=True, eq=False)
class OrderTables:
    """P(targets, outcome | evidence) of every order with an unobserved readout, side by side.

    Built once per diagnosis by :func:`build_tables`; every column of a ranking, under any
    objective, is derived from it.

    Attributes
    ----------
    orders : tuple of Order
        The candidate orders, in the network's order.
    readouts : tuple of tuple of str
        The unobserved readouts each order is valued on.
    outcomes : tuple of tuple of dict
        Each order's possible reports ``{readout: state}``, one per column of its block.
    target_cards : tuple of int
    target_probs : numpy.ndarray, shape (n_t,)
        P(targets | evidence), flat (read-only).
    stacked : numpy.ndarray, shape (n_t, m)
        Order k owns the columns ``starts[k] : starts[k] + cards[k]`` (read-only).
    starts, cards : numpy.ndarray of int
    """

    orders: tuple[Order, ...]
    readouts: tuple[tuple[str, ...], ...]
    outcomes: tuple[tuple[dict, ...], ...]
    target_cards: tuple[int, ...]
    target_probs: np.ndarray
    stacked: np.ndarray
    starts: np.ndarray
    cards: np.ndarray
    _index: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._index.update({o.name: k for k, o in enumerate(self.orders)})

    def index(self, name: str) -> int | None:
        """Position of the order called ``name``, or None."""
        return self._index.get(name)

    def block(self, k: int) -> np.ndarray:
        """P(targets, outcome | evidence) of order ``k``, shape (n_t, cards[k])."""
        return self.stacked[:, self.starts[k]:self.starts[k] + self.cards[k]]

    def outcome_labels(self, k: int) -> list[str]:
        """The outcomes of order ``k`` as text (see :func:`outcome_label`)."""
        single = len(self.orders[k].readouts) == 1
        return [outcome_label(o, single) for o in self.outcomes[k]]



def build_tables(network, evidence: Mapping[str, int], query, orders: Sequence[Order]) -> OrderTables:
    """The outcome tables of every order of ``orders`` with an unobserved readout.

    One-readout orders read P(targets, readout | evidence) from ``query`` (the diagnosis' one
    engine pass); orders of several unobserved readouts ask the engine for their group joint
    once each (:meth:`bayesdx.inference.Engine.group_joint`) and merge reflex outcomes with
    :func:`bayesdx.orders.outcome_table`.
    """
    states = network.arrays.states
    cards_t = tuple(network.arrays.card(t) for t in network.targets)
    n_t = int(np.prod(cards_t))
    # the engine's joints side by side, when it kept them so (every target unobserved): a
    # one-readout order's block is then a range of its columns, gathered once at the end
    side = getattr(query, "stacked", None)
    columns = getattr(query, "columns", None) or {}
    if side is None or side.shape[0] != n_t:
        side, columns = None, {}
    kept, free_of, outcomes, blocks = [], [], [], []
    for order in orders:
        free = tuple(r for r in order.readouts if r not in evidence)
        if not free:
            continue
        if len(free) == 1 and free[0] not in order.reflex:
            at = columns.get(free[0])
            joint = at if at is not None else np.reshape(query.node_joints[free[0]], (n_t, -1))
            outs = tuple({free[0]: s} for s in states[free[0]])
        elif not any(r in order.reflex for r in free):  # every outcome is a full report
            group = _leaf_group_joint(network, evidence, query, free)
            if group is None:
                group = network.engine.group_joint(evidence, network.targets, free)
            joint = np.reshape(group, (n_t, -1))
            outs = tuple(dict(zip(free, combo))
                         for combo in itertools.product(*(states[r] for r in free)))
        else:
            group = (query.node_joints[free[0]] if len(free) == 1
                     else _leaf_group_joint(network, evidence, query, free))
            if group is None:
                group = network.engine.group_joint(evidence, network.targets, free)
            table = outcome_table(network, order, evidence, group_joint=group)
            joint, outs = table.joint, table.outcomes
        kept.append(order)
        free_of.append(free)
        outcomes.append(outs)
        blocks.append(joint)
    cards = np.array([b[1] if isinstance(b, tuple) else b.shape[1] for b in blocks], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64) if blocks \
        else np.zeros(0, dtype=np.int64)
    if blocks and all(isinstance(b, tuple) for b in blocks):
        stacked = side[:, np.concatenate([np.arange(o, o + c) for o, c in blocks])]
    elif blocks:
        stacked = np.concatenate([side[:, b[0]:b[0] + b[1]] if isinstance(b, tuple) else b for b in blocks],
                                 axis=1)
    else:
        stacked = np.zeros((n_t, 0))
    pt = np.reshape(query.target_joint, -1).astype(float)
    for array in (stacked, pt, cards, starts):
        array.flags.writeable = False
    return OrderTables(tuple(kept), tuple(free_of), tuple(outcomes), cards_t, pt, stacked, starts,
                       cards)


def _children(network) -> dict[str, tuple[str, ...]]:
    key = ("children",)
    cache = network._cache
    if key not in cache:
        arrays = network.arrays
        kids: dict[str, list[str]] = {n: [] for n in arrays.nodes}
        for node in arrays.nodes:
            for parent in arrays.parents[node]:
                kids[parent].append(node)
        cache[key] = {n: tuple(k) for n, k in kids.items()}
    return cache[key]


def _deterministic(network, node: str) -> bool:
    """Whether every row of ``node``'s table is a point mass (a function of its parents)."""
    key = ("deterministic", node)
    cache = network._cache
    if key not in cache:
        table = network.arrays.cpts[node]
        cache[key] = bool(np.all((table == 0.0) | (table == 1.0)))
    return cache[key]


def _readout_table(network, r: str, evidence: Mapping[str, int], known: set) -> tuple:
    """(axes, P(r | its unobserved parents, e)) with its deterministic summary parents folded in.

    A parent that is a deterministic function of known nodes (targets and observed) is summed
    out, one at a time: P(r | ..., targets) = Σ_a P(a | its parents) P(r | a, ...). Observed
    parents are sliced at their states. The table depends on the evidence only through r's
    parents and those of its deterministic parents, so it is computed once per network for each
    such pattern.
    """
    arrays = network.arrays
    parents = arrays.parents[r]
    relevant = (*parents, *(q for p in parents if _deterministic(network, p)
                            for q in arrays.parents[p]))
    key = ("readout table", r, network.targets, tuple(evidence.get(p, -1) for p in relevant))
    cache = network._cache
    if key in cache:
        return cache[key]
    folded = [a for a in parents if a not in known and _deterministic(network, a)
              and set(arrays.parents[a]) <= known]
    names = list(dict.fromkeys(p for p in parents if p not in evidence))
    for a in folded:
        names += [p for p in arrays.parents[a] if p not in evidence and p not in names]
    names = [n for n in names if n not in folded] + [r] + folded
    position = {n: k for k, n in enumerate(names)}

    def factor(node):
        index = tuple(evidence[p] if p in evidence else slice(None) for p in arrays.parents[node])
        axes = [position[p] for p in arrays.parents[node] if p not in evidence] + [position[node]]
        shape = [1] * len(names)
        for k in axes:
            shape[k] = arrays.card(names[k])
        return np.transpose(arrays.cpts[node][index], np.argsort(axes)).reshape(shape)

    table = factor(r)
    for a in folded:
        table = (table * factor(a)).sum(axis=position[a], keepdims=True)
    table = table.reshape(table.shape[:len(names) - len(folded)])
    table.flags.writeable = False
    cache[key] = (tuple(names[:len(names) - len(folded)]), table)
    return cache[key]


def _leaf_group_joint(network, evidence: Mapping[str, int], query, free: Sequence[str]):
    """P(targets, free | evidence) when every node of ``free`` is an unobserved leaf, else None.

    Unobserved leaves R factor out of the joint: P(targets, R | e) = Σ_H P(targets, H | e)
    Π_r P(r | pa(r)), with H the parents of R that are neither targets nor observed. A parent
    that is a deterministic function of targets and observed nodes (a summary such as "overt
    thyroid disease") is folded into each readout's table, since P(a | targets, e) is its own
    table; for the others, P(targets, H | e) is read from the diagnosis' query when there is at
    most one (no engine call), else asked of the engine, which is much smaller than the readouts'
    joint.
    """
    kids = _children(network)
    if any(kids[r] for r in free):
        return None
    arrays, targets = network.arrays, network.targets
    known = set(targets) | set(evidence)
    folded: list[str] = []
    hidden: list[str] = []
    for r in free:
        for parent in arrays.parents[r]:
            if parent in known or parent in folded or parent in hidden:
                continue
            if _deterministic(network, parent) and set(arrays.parents[parent]) <= known:
                folded.append(parent)
            else:
                hidden.append(parent)
    names = (*targets, *hidden, *free)
    cards = [arrays.card(n) for n in names]
    n_core = len(names)
    if float(np.prod(cards, dtype=float)) > 5e7:  # let the engine batch it instead
        return None
    if not hidden:
        joint = query.target_joint
    elif len(hidden) == 1:
        joint = query.node_joints[hidden[0]]
    else:
        joint = network.engine.group_joint(evidence, targets, hidden)
    position = {n: k for k, n in enumerate(names)}
    tables = []
    for r in free:  # each readout's table over (targets, H, free), 1 where it does not depend
        axes_names, table = _readout_table(network, r, evidence, known)
        axes = [position[n] for n in axes_names]
        shape = [1] * n_core
        for k in axes:
            shape[k] = cards[k]
        tables.append(np.transpose(table, np.argsort(axes)).reshape(shape))
    joint = np.reshape(joint, (*joint.shape, *([1] * len(free))))
    if not hidden or len(free) == 1:
        product = joint
        for table in tables:
            product = product * table
        hidden_axes = tuple(range(len(targets), len(targets) + len(hidden)))
        return product.sum(axis=hidden_axes) if hidden_axes else product
    return _contract_hidden(joint, tables, len(targets), [cards[len(targets) + k]
                                                          for k in range(len(hidden))])


def _contract_hidden(joint: np.ndarray, tables: Sequence[np.ndarray], n_t: int,
                     hidden_cards: Sequence[int]) -> np.ndarray:
    """Σ_H joint × Π tables over axes (targets, hidden H, readouts), as one batched matrix
    product: the readouts are split in two halves, each half's tables multiplied together over
    (targets, H, its readouts), and H contracted between them, so the full (targets, H, readouts)
    product is never formed."""
    n_h, n_f = len(hidden_cards), len(tables)
    f_cards = [t.shape[n_t + n_h + k] for k, t in enumerate(tables)]
    total, split, best = float(np.prod(f_cards)), 1, None
    for k in range(1, n_f):  # the split whose two halves are closest in size
        gap = abs(np.log(float(np.prod(f_cards[:k]))) - np.log(total) / 2)
        if best is None or gap < best:
            split, best = k, gap
    left, right = joint, tables[split]
    for table in tables[:split]:
        left = left * table
    for table in tables[split + 1:]:
        right = right * table
    t_axes, h_axes = list(range(n_t)), list(range(n_t, n_t + n_h))
    h_size = int(np.prod(hidden_cards))

    def matrix(half, lo, hi, hidden_last):
        """``half`` with its own readouts' axes (lo:hi) merged and H merged, H last or first."""
        f_axes = list(range(n_t + n_h + lo, n_t + n_h + hi))
        half = half.reshape(half.shape[:n_t + n_h] + tuple(half.shape[a] for a in f_axes))
        shape = list(half.shape)
        for k, a in enumerate(h_axes):
            shape[a] = hidden_cards[k]
        half = np.broadcast_to(half, shape)
        rest = list(range(n_t + n_h, half.ndim))
        order = t_axes + (rest + h_axes if hidden_last else h_axes + rest)
        f_size = int(np.prod([shape[a] for a in rest]))
        mat = (f_size, h_size) if hidden_last else (h_size, f_size)
        return np.transpose(half, order).reshape(tuple(shape[:n_t]) + mat)

    out = np.matmul(matrix(left, 0, split, True), matrix(right, split, n_f, False))
    return out.reshape(out.shape[:n_t] + tuple(f_cards))


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class OrderValues:
    """Every candidate order's value under one objective, and the ranking order.

    Arrays are aligned with :attr:`OrderTables.orders`; decision columns are NaN without a
    decision model.
    """

    objective: Objective
    value: np.ndarray
    info_gain_bits: np.ndarray
    info_per_usd: np.ndarray
    cost_usd: np.ndarray
    cost_utils: np.ndarray
    decision_value_utils: np.ndarray
    same_decision_prob: np.ndarray
    decisions: object  # DecisionValues or None
    rank: np.ndarray


def subset_joint(target_probs: np.ndarray, stacked: np.ndarray, target_cards: Sequence[int],
                 axes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(P(subset), P(subset, outcome)) for the targets on ``axes``, flat over the subset (leading
    batch axes of ``stacked`` kept)."""
    lead = stacked.shape[:-2]
    other = tuple(len(lead) + i for i in range(len(target_cards)) if i not in set(axes))
    shaped = stacked.reshape((*lead, *target_cards, stacked.shape[-1]))
    pt = np.reshape(target_probs, (*lead, *target_cards))
    if other:
        shaped, pt = shaped.sum(axis=other), pt.sum(axis=other)
    return pt.reshape(*lead, -1), shaped.reshape(*lead, -1, stacked.shape[-1])


def target_information_bits(tables: OrderTables, axes: Sequence[int]) -> np.ndarray:
    """Each order's information about the joint of the targets on ``axes`` (bits)."""
    pt, stacked = subset_joint(tables.target_probs, tables.stacked, tables.target_cards, axes)
    return mutual_information_stacked_bits(pt, stacked, tables.starts, tables.cards)


def value_orders(tables: OrderTables, objective: Objective, network, decisions,
                 indicator: np.ndarray | None = None) -> OrderValues:
    """Value every order of ``tables`` under ``objective`` in one vectorised pass.

    ``tables.stacked`` of shape (..., n_t, m) with ``target_probs`` (..., n_t) values many
    tables at once (e.g. one per parameter draw): the values, information, decision columns and
    ``rank`` (each batch ranked along the last axis) gain the leading axes; the costs do not.
    """
    n = len(tables.orders)
    info = mutual_information_stacked_bits(tables.target_probs, tables.stacked, tables.starts,
                                           tables.cards)
    cost = np.array([o.cost_usd for o in tables.orders], dtype=float)
    known = np.where(np.isnan(cost), 0.0, cost)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_usd = np.where(cost > 0, info / np.where(cost > 0, cost, 1.0),
                           np.where((cost == 0) & (info > 0), np.inf, np.nan))
    nan = np.full(info.shape, np.nan)
    cost_utils, dv, same, dvals = nan, nan, nan, None
    if decisions is not None:
        from .decision import decision_values

        if indicator is None:
            indicator = decisions.indicator(network)
        dvals = decision_values(decisions, indicator, tables.target_probs, tables.stacked,
                                tables.starts, tables.cards)
        cost_utils = np.array([decisions.order_cost_utils(o) for o in tables.orders], dtype=float)
        dv, same = dvals.value, dvals.same_decision
    kind = objective.kind
    if kind == "information":
        value = info
    elif kind == "cost":
        value = info - objective.alpha * known
    elif kind == "decision":
        value = dv - cost_utils
    elif objective.targets is not None:
        axes = [network.targets.index(t) for t in objective.targets]
        value = target_information_bits(tables, axes)
    else:
        value = np.zeros(info.shape)
        for target, weight in objective.weights.items():
            if weight > 0:
                value = value + weight * target_information_bits(
                    tables, [network.targets.index(target)])
    # ranking order: value descending, then cheaper first (unknown cost last), then name
    names = np.array([o.name for o in tables.orders], dtype=object)
    by_name = np.empty(n, dtype=np.int64)
    by_name[np.argsort(names, kind="stable")] = np.arange(n)
    tie = np.where(np.isnan(cost), np.inf, cost)
    keys = [np.broadcast_to(k, value.shape) for k in (by_name, tie, -value)]
    rank = np.lexsort(keys, axis=-1) if n else np.zeros(value.shape, dtype=np.int64)
    out = OrderValues(objective, value, info, per_usd, cost, cost_utils, dv, same, dvals, rank)
    for array in (value, info, per_usd, cost, cost_utils, dv, same, rank):
        array.flags.writeable = False
    return out


def ranking_frame(tables: OrderTables, values: OrderValues, index_name: str = "order") -> pd.DataFrame:
    """The ranking table: one row per candidate order, best first, columns
    :data:`RANKING_COLUMNS`."""
    rank = values.rank
    n = len(rank)
    orders = [tables.orders[k] for k in rank]
    column_sums = tables.stacked.sum(axis=0).tolist()  # one pass, not one strided pass per order
    readouts, outcome_probs = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for i, k in enumerate(rank.tolist()):
        start = int(tables.starts[k])
        probs = column_sums[start:start + int(tables.cards[k])]
        outcome_probs[i] = dict(zip(tables.outcome_labels(k), probs))
        readouts[i] = tables.readouts[k]
    # the three text columns as one string array, sliced (one conversion instead of three)
    text = pd.array([*(o.label for o in orders), *(o.kind for o in orders), values.objective.kind],
                    dtype="str")
    columns = {
        "label": text[:n],
        "objective": text[[2 * n] * n],
        "value": values.value[rank],
        "info_gain_bits": values.info_gain_bits[rank],
        "info_per_usd": values.info_per_usd[rank],
        "decision_value_utils": values.decision_value_utils[rank],
        "cost_utils": values.cost_utils[rank],
        "net_value_utils": (values.decision_value_utils - values.cost_utils)[rank],
        "same_decision_prob": values.same_decision_prob[rank],
        "cost_usd": values.cost_usd[rank],
        "turnaround_days": np.array([o.turnaround_days for o in orders], dtype=float),
        "kind": text[n:2 * n],
        "invasive": np.array([bool(o.invasive) for o in orders], dtype=bool),
        "readouts": readouts,
        "outcome_probs": outcome_probs,
    }
    return pd.DataFrame(columns, index=pd.Index([o.name for o in orders], name=index_name,
                                                 dtype=object), copy=False)


# -- stopping ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopAdvice:
    """Whether testing should stop, and why.

    Attributes
    ----------
    should_stop : bool
    rule : str
        ``"exhausted"`` (every order is observed), ``"no_net_value"`` (no order's decision
        value exceeds its cost, or, under *cost*, no order's information exceeds α × cost),
        ``"same_decision"`` (every order leaves every action unchanged with probability at least
        the objective's ``same_decision_level``), ``"little_information"`` (no order is worth
        ``min_gain_bits``), or ``"continue"``.
    reason : str
        The rule in words, with the numbers.
    best : str or None
        The best remaining order.
    """

    should_stop: bool
    rule: str
    reason: str
    best: str | None = None

    def __repr__(self) -> str:
        return f"{'Stop' if self.should_stop else 'Continue'}: {self.reason}"


def stop_advice(tables: OrderTables, values: OrderValues) -> StopAdvice:
    """The stopping rule of ``values.objective`` applied to the orders of ``tables``.

    *decision*: stop when no remaining order's decision value exceeds its cost (best
    ``net_value_utils`` <= 0), or when no single order can move any action across its threshold
    with probability above 1 − ``same_decision_level`` (every ``same_decision_prob`` >= the level).
    *cost*: stop when the best value (information − α × cost) is <= 0. *information* and
    *focus*: stop when the best value is below ``min_gain_bits``.
    """
    objective = values.objective
    if not len(tables.orders):
        return StopAdvice(True, "exhausted", "every order is observed: nothing is left to test.")
    top = int(values.rank[0])
    best = tables.orders[top]
    name = f"{best.label} [{best.name}]" if best.label != best.name else best.name
    if objective.kind == "decision":
        net = float(values.value[top])
        if net <= 0:
            return StopAdvice(True, "no_net_value", (
                f"no remaining order's decision value exceeds its cost (best: {name}, "
                f"{values.decision_value_utils[top]:.3g} utils of value for "
                f"{values.cost_utils[top]:.3g} utils of cost)."), best.name)
        level = objective.same_decision_level
        same = values.same_decision_prob
        low = int(np.argmin(same))
        if float(same[low]) >= level:
            return StopAdvice(True, "same_decision", (
                f"no single order is likely to change any action: each leaves every decision "
                f"as it is now with probability >= {level:g} (lowest: {tables.orders[low].name}, "
                f"{same[low]:.3f}), although {name} is worth {net:.3g} utils net."), best.name)
        return StopAdvice(False, "continue", (
            f"{name} is worth {net:.3g} utils net of its cost and changes a decision with "
            f"probability {1 - same[top]:.3f}."), best.name)
    value = float(values.value[top])
    if objective.kind == "cost":
        if value <= 0:
            return StopAdvice(True, "no_net_value", (
                f"no remaining order's information exceeds {objective.alpha:g} bits/USD \u00d7 its "
                f"cost (best: {name}, {values.info_gain_bits[top]:.3g} bits, net "
                f"{value:.3g} bits)."), best.name)
        return StopAdvice(False, "continue", f"{name} is worth {value:.3g} bits net of its cost.",
                          best.name)
    if value < objective.min_gain_bits:
        return StopAdvice(True, "little_information", (
            f"no remaining order is worth {objective.min_gain_bits:g} bits "
            f"(best: {name}, {value:.3g} bits)."), best.name)
    return StopAdvice(False, "continue", f"{name} is worth {value:.3g} bits.", best.name)


# -- thresholds --------------------------------------------------------------------------------


def threshold_frame(model, indicator: np.ndarray, target_probs: np.ndarray) -> pd.DataFrame:
    """Each action's threshold, the current probability of its states and whether it is taken.

    Columns: ``label``, ``target``, ``states``, ``benefit``, ``harm``, ``threshold``
    (C / (B + C)), ``probability`` (of the action's states now), ``taken_now`` and
    ``eu_now_utils`` (the action's expected utility if decided now).
    """
    p = np.asarray(target_probs, dtype=float) @ indicator
    b, c = model.benefits, model.harms
    eu = (b + c) * p - c
    frame = model.thresholds()
    frame["probability"] = p
    frame["taken_now"] = eu > 0
    frame["eu_now_utils"] = np.where(eu > 0, eu, 0.0)
    return frame
