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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from ._leafbatch import LeafBatch
from .objectives import OBJECTIVES, Objective, resolve_objective
from .orders import Order, OrderCatalogue, _merge_plan, order_catalogue
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
    #: the orders' names, texts and numbers (:class:`~bayesdx.orders.OrderCatalogue`) and the
    #: position of each of :attr:`orders` in it; gathered from ``orders`` when not given
    _catalogue: OrderCatalogue | None = field(default=None, repr=False)
    _positions: np.ndarray | None = field(default=None, repr=False)
    _labels: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self._catalogue is None:
            object.__setattr__(self, "_catalogue", OrderCatalogue(self.orders))
            object.__setattr__(self, "_positions", np.arange(len(self.orders)))

    def index(self, name: str) -> int | None:
        """Position of the order called ``name``, or None."""
        if len(self._index) != len(self.orders):
            self._index.update({o.name: k for k, o in enumerate(self.orders)})
        return self._index.get(name)

    def block(self, k: int) -> np.ndarray:
        """P(targets, outcome | evidence) of order ``k``, shape (n_t, cards[k])."""
        return self.stacked[:, self.starts[k]:self.starts[k] + self.cards[k]]

    def outcome_labels(self, k: int) -> list[str]:
        """The outcomes of order ``k`` as text (see :func:`outcome_label`)."""
        return list(self._outcome_labels(k))

    def _outcome_labels(self, k: int) -> tuple[str, ...]:
        """:meth:`outcome_labels` as a tuple, made once per order."""
        got = self._labels.get(k)
        if got is None:
            single = len(self.orders[k].readouts) == 1
            got = self._labels[k] = tuple(outcome_label(o, single) for o in self.outcomes[k])
        return got

    def _column(self, name: str) -> np.ndarray:
        """The catalogue's array ``name`` (e.g. ``"cost_usd"``) for the kept orders."""
        return getattr(self._catalogue, name)[self._positions]


def build_tables(network, evidence: Mapping[str, int], query, orders: Sequence[Order]) -> OrderTables:
    """The outcome tables of every order of ``orders`` with an unobserved readout.

    One-readout orders read P(targets, readout | evidence) from ``query`` (the diagnosis' one
    engine pass). Orders whose unobserved readouts are leaves the engine did not read (or
    several leaves) are read from their parents' joints, all in one pass, compiled with the
    compiled engine (:class:`bayesdx._leafbatch.LeafBatch`); other orders of several unobserved readouts ask
    the engine for their group joint once each (:meth:`bayesdx.inference.Engine.group_joint`).
    A reflex order's reports are merged from its readouts' joint as
    :func:`bayesdx.orders.outcome_table` merges them (:func:`_merge_reports`).
    """
    states = network.arrays.states
    cards_t = _target_cards(network)
    n_t = math.prod(cards_t)
    catalogue = order_catalogue(network, orders)
    # the engine's joints side by side, when it kept them so (every target unobserved): a
    # one-readout order's block is then a range of its columns, gathered once at the end
    side = getattr(query, "stacked", None)
    columns = getattr(query, "columns", None) or {}
    if side is None or side.shape[0] != n_t:
        side, columns = None, {}
    deferred = getattr(query, "leaves", frozenset())  # leaves the engine left to be read here
    batch = LeafBatch(network, evidence, query)
    kept, outcomes, labels = [], [], {}
    widths = []
    ranges = []  # (first column in ``side``, first row of the output, width)
    arrays = []  # (first row of the output, P(targets, outcome) of shape (n_t, width))
    merges = []  # (position, first row, merge rounds, the readouts' joint or its first scratch row)
    row = scratch = 0
    for k, order in enumerate(catalogue.orders):
        r = catalogue.single[k]
        if r is not None:  # one readout, no reflex: its outcomes are its states
            if r in evidence:
                continue
        else:
            free = tuple(r for r in order.readouts if r not in evidence)
            if not free:
                continue
            r = free[0] if len(free) == 1 and free[0] not in order.reflex else None
        if r is not None:  # the joint of one readout
            if r in columns:
                at = columns[r]
                ranges.append((at[0], row, at[1]))
                width = at[1]
            else:
                width = batch.add((r,), row) if r in deferred else None
                if width is None:
                    joint = np.reshape(query.node_joints[r], (n_t, -1))
                    arrays.append((row, joint))
                    width = joint.shape[1]
            outs, labels[len(kept)] = _full_reports(catalogue, k, (r,), states)
        elif not any(r in order.reflex for r in free):  # every outcome is a full report
            width = batch.add(free, row)
            if width is None:
                joint = np.reshape(network.engine.group_joint(evidence, network.targets, free), (n_t, -1))
                arrays.append((row, joint))
                width = joint.shape[1]
            outs, labels[len(kept)] = _full_reports(catalogue, k, free, states)
        else:  # reflex readouts: each report sums the combinations of states that give it
            outs, rounds = _merge_plan(network, order, evidence)
            full = batch.add(free, scratch, scratch=True) if len(free) > 1 or free[0] in deferred else None
            if full is None:  # the readouts' joint from the query or the engine
                group = (query.node_joints[free[0]] if len(free) == 1
                         else network.engine.group_joint(evidence, network.targets, free))
                merges.append((len(kept), row, rounds, np.reshape(group, (n_t, -1)).T))
            else:
                merges.append((len(kept), row, rounds, scratch))
                scratch += full
            width = len(outs)
        outcomes.append(outs)
        widths.append(width)
        kept.append(k)
        row += width
    # one row per outcome, over the targets' states (``stacked`` is its transpose), then the
    # joints of reflex readouts read by the batch
    out = np.empty((row + scratch, n_t))
    if ranges:  # the engine's columns, in one gather
        src, dst, w = (np.array(x, dtype=np.int64) for x in zip(*ranges))
        within = np.arange(int(w.sum())) - np.repeat(np.cumsum(w) - w, w)
        out[np.repeat(dst, w) + within] = side.T[np.repeat(src, w) + within]
    for at, joint in arrays:
        out[at:at + joint.shape[1]] = joint.T
    batch.run(out, scratch_at=row)
    if merges:
        out = _merge_reports(out, row, merges, widths, outcomes)
    stacked = out[:sum(widths)].T
    cards = np.array(widths, dtype=np.int64)
    starts = np.array([0, *itertools.accumulate(widths)][:-1], dtype=np.int64)
    pt = np.reshape(query.target_joint, -1).astype(float)
    positions = np.array(kept, dtype=np.int64)
    for array in (stacked, pt, cards, starts, positions):
        array.flags.writeable = False
    orders_kept = tuple([catalogue.orders[k] for k in kept])
    readouts = tuple([catalogue.readouts[k] if catalogue.single[k] is not None
                      else tuple(r for r in catalogue.readouts[k] if r not in evidence)
                      for k in kept])
    return OrderTables(orders_kept, readouts, tuple(outcomes), cards_t, pt, stacked, starts, cards,
                       _catalogue=catalogue, _positions=positions, _labels=labels)


def _merge_reports(out: np.ndarray, m: int, merges: list, widths: list, outcomes: list) -> np.ndarray:
    """Write each reflex order's reports into its rows of ``out``: the sums of its readouts'
    state combinations (an array, or rows of ``out`` from ``m`` on), in np.add.at's order. A
    report of probability zero is dropped, as :func:`bayesdx.orders.outcome_table` drops it
    (``widths`` and ``outcomes`` are updated, and ``out`` returned without its rows)."""
    drop = []
    for i, at, rounds, joint in merges:
        if not isinstance(joint, np.ndarray):
            joint = out[m + joint:]
        block = out[at:at + widths[i]]
        block[:] = 0.0
        for into, came in rounds:
            block[into] += joint[came]
        keep = block.sum(axis=1) > 0
        if not keep.all():
            drop.append((i, at, keep))
    if not drop:
        return out
    mask = np.ones(out.shape[0], dtype=bool)
    for i, at, keep in drop:
        mask[at:at + widths[i]] = keep
        outcomes[i] = tuple(o for o, k in zip(outcomes[i], keep.tolist()) if k)
        widths[i] = int(keep.sum())
    mask[m:] = False
    return out[mask]


def _full_reports(catalogue: OrderCatalogue, k: int, free: tuple, states: Mapping[str, tuple]) -> tuple:
    """(outcomes, their labels) of order ``k`` reporting every readout of ``free``: one
    ``{readout: state}`` per combination of their states, in C order, made once per catalogue
    and readouts (treat them as read-only)."""
    key = ("full reports", k, free)
    got = catalogue.frame_parts.get(key)
    if got is None:
        outs = tuple(dict(zip(free, combo)) for combo in itertools.product(*(states[r] for r in free)))
        single = len(catalogue.readouts[k]) == 1
        got = catalogue.frame_parts[key] = (outs, tuple(outcome_label(o, single) for o in outs))
    return got


def _target_cards(network) -> tuple[int, ...]:
    """The targets' numbers of states (kept on the network)."""
    key = ("target cards", network.targets)
    cache = network._cache
    got = cache.get(key)
    if got is None:
        got = cache[key] = tuple(network.arrays.card(t) for t in network.targets)
    return got


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
    cost = tables._column("cost_usd")
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
        # DecisionModel.order_cost_utils of every order at once
        cost_utils = known / decisions.usd_per_util + tables._column("risk_utils")
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
    by_name = tables._column("name_rank")  # the same order among these orders as their names'
    tie = np.where(np.isnan(cost), np.inf, cost)
    keys = [by_name, tie, -value]
    if value.ndim > 1:  # one ranking per batch
        keys = [np.broadcast_to(k, value.shape) for k in keys]
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
    catalogue = tables._catalogue
    at = tables._positions[rank]  # the ranked orders' positions in the catalogue
    ranked = rank.tolist()
    column_sums = tables.stacked.sum(axis=0).tolist()  # one pass, not one strided pass per order
    ends = (tables.starts + tables.cards).tolist()
    readouts, outcome_probs = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for i, (k, start) in enumerate(zip(ranked, tables.starts[rank].tolist())):
        outcome_probs[i] = dict(zip(tables._outcome_labels(k), column_sums[start:ends[k]]))
        readouts[i] = tables.readouts[k]
    text = _text(catalogue, at, values.objective.kind)
    columns = [
        text[:n],
        text[2 * n:],
        values.value[rank],
        values.info_gain_bits[rank],
        values.info_per_usd[rank],
        values.decision_value_utils[rank],
        values.cost_utils[rank],
        (values.decision_value_utils - values.cost_utils)[rank],
        values.same_decision_prob[rank],
        values.cost_usd[rank],
        catalogue.turnaround_days[at],
        text[n:2 * n],
        catalogue.invasive[at],
        readouts,
        outcome_probs,
    ]
    index = _frame_parts(catalogue)["names"].take(at)
    index.name = index_name
    return _frame(columns, index)


#: pandas 3: ``pandas_dtype("str")`` (always its string dtype) resolved once, and the ranking's
#: columns as an Index; pandas 2 resolves "str" by its ``future.infer_string`` option, each time
_PANDAS3 = int(pd.__version__.split(".")[0]) >= 3
_STR = pandas_dtype("str") if _PANDAS3 else "str"
_COLUMNS = pd.Index(RANKING_COLUMNS)
#: whether DataFrame._from_arrays builds the ranking frame: None until its first frame is checked
#: against the public constructor's, then True, or False (pandas 2, or a pandas where it differs)
_FAST_FRAME = [None if _PANDAS3 and hasattr(pd.DataFrame, "_from_arrays") else False]


def _frame_parts(catalogue: OrderCatalogue) -> dict:
    """The pieces of a ranking frame kept per catalogue: ``names``, every order's name as an
    Index, and (pandas 3 with pyarrow) ``text``, a pyarrow array of the orders' labels, then
    their kinds, then the objectives' names (at ``objective``), from which :func:`_text` takes
    a ranking's text columns."""
    parts = catalogue.frame_parts
    if "names" not in parts:
        parts["names"] = pd.Index(list(catalogue.names), dtype=object)
        parts["text"] = None
        texts = [*catalogue.labels, *catalogue.kinds, *OBJECTIVES]
        if _PANDAS3 and getattr(_STR, "storage", None) == "pyarrow":
            try:
                import pyarrow as pa

                made = pd.array(texts, dtype=_STR)
                text = pa.array(texts, type=made._pa_array.type)
                pd.testing.assert_extension_array_equal(_arrow_text(text, np.arange(len(texts))),
                                                        made)
            except Exception:  # anything amiss: made from the labels each time, as before
                text = None
            parts["text"] = text
        parts["objective"] = {k: 2 * len(catalogue.orders) + i for i, k in enumerate(OBJECTIVES)}
    return parts


def _arrow_text(text, take: np.ndarray):
    """``text[take]`` as a pandas string array of dtype ``"str"``."""
    import pyarrow as pa

    return pd.arrays.ArrowStringArray(pa.chunked_array([text.take(take)]), dtype=_STR)


def _text(catalogue: OrderCatalogue, at: np.ndarray, objective: str):
    """The labels and kinds of the orders at ``at`` in ``catalogue``, then ``objective`` as many
    times, as one string array: ``pd.array([*labels, *kinds, *[objective] * n], dtype="str")``."""
    n = len(at)
    parts = _frame_parts(catalogue)
    if parts["text"] is not None and objective in parts["objective"]:
        take = np.empty(3 * n, dtype=np.int64)
        take[:n] = at
        take[n:2 * n] = at + len(catalogue.orders)
        take[2 * n:] = parts["objective"][objective]
        return _arrow_text(parts["text"], take)
    positions = at.tolist()
    labels, kinds = catalogue.labels, catalogue.kinds
    return pd.array([*(labels[k] for k in positions), *(kinds[k] for k in positions),
                     *([objective] * n)], dtype=_STR)


def _frame(columns: list, index: pd.Index) -> pd.DataFrame:
    """A DataFrame of :data:`RANKING_COLUMNS` from its column arrays, as
    ``pd.DataFrame(dict(zip(RANKING_COLUMNS, columns)), index=index, copy=False)`` makes it.

    The dict constructor checks and converts every column (100-200 us for 15 columns). Under
    pandas 3 the arrays :func:`ranking_frame` makes are already what it would store (1-D numpy
    arrays of float, bool and object, and pandas string arrays), so they are handed to the frame
    as they are, by ``DataFrame._from_arrays`` without its checks (30 us). That method is not
    public: the first frame a process makes with it is compared with the dict constructor's,
    which makes every frame from then on should they differ or the method fail. Under pandas 2
    the dict constructor makes the frame.
    """
    if _FAST_FRAME[0] is not False and isinstance(columns[0].dtype, pd.StringDtype):
        try:
            fast = pd.DataFrame._from_arrays(columns, columns=_COLUMNS.view(), index=index,
                                             verify_integrity=False)
            if _FAST_FRAME[0] is None:
                pd.testing.assert_frame_equal(fast, _frame_public(columns, index))
                _FAST_FRAME[0] = True
            return fast
        except Exception:  # noqa: BLE001 (a pandas whose private constructor differs: the public one)
            _FAST_FRAME[0] = False
    return _frame_public(columns, index)


def _frame_public(columns: list, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(dict(zip(RANKING_COLUMNS, columns)), index=index, copy=False)


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
