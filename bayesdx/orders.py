"""Test orders: what a clinician places, and what one order returns.

An :class:`Order` is a named test order (the EMG/NCS study, a thyroid panel with reflex free T4, an
antibody panel, ...) that reports one or more finding nodes (its *readouts*) for one cost,
turnaround and risk. Rankings value an order by the joint distribution of all its readouts, so one
EMG study counts once, not as four weak rows.

This module owns the ``orders:`` block of a ``bayesdx/2`` file (:func:`check_orders`), the orders
a network ranks (:func:`network_orders`: the declared ones, plus every other test node as an order
of its own), and an order's outcome table (:func:`outcome_table`): P(targets, outcome | evidence)
over the outcomes the order can report, with reflex readouts reported only when triggered.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ._sources import KINDS, _describe, _scalar

__all__ = ["Order", "OrderCatalogue", "check_orders", "network_orders", "order_catalogue",
           "outcome_table", "OutcomeTable"]

_ORDER_KEYS = {"label", "readouts", "reflex", "kind", "invasive", "cost_usd", "turnaround_days",
               "risk_utils", "description"}


@dataclass(frozen=True)
class Order:
    """A test order and the findings it reports.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"emg_ncs"``.
    readouts : sequence of str
        The finding nodes the order reports, together.
    label : str, optional
        What people read, e.g. ``"EMG/NCS study"`` (default: the name).
    cost_usd : float, optional
        Price of the whole order (NaN when unknown).
    risk_utils : float, optional
        Harm of doing the test, in the decision model's utility units (default 0).
    turnaround_days : float, optional
        Days until the result (NaN when unknown).
    kind : str, optional
        ``history``, ``exam``, ``lab``, ``electrodiagnostic``, ``imaging`` or ``pathology``.
    invasive : bool, optional
    reflex : mapping, optional
        ``{readout: {trigger: (states...)}}``: ``readout`` is reported only when the readout
        ``trigger`` of the same order is in one of ``states`` (a reflex test such as free T4
        after an abnormal TSH).
    description : str, optional

    Examples
    --------
    >>> Order("thyroid_panel", ["tsh", "free_t4"], label="Thyroid panel", cost_usd=30.0,
    ...       reflex={"free_t4": {"tsh": ["low", "high"]}}).readouts
    ('tsh', 'free_t4')
    """

    name: str
    readouts: tuple[str, ...]
    label: str = ""
    cost_usd: float = math.nan
    risk_utils: float = 0.0
    turnaround_days: float = math.nan
    kind: str | None = None
    invasive: bool | None = None
    reflex: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        if isinstance(self.readouts, str) or not len(self.readouts):
            raise ValueError(f"Order {self.name!r}: readouts must be a non-empty list of node names, "
                             f"got {self.readouts!r}.")
        object.__setattr__(self, "readouts", tuple(self.readouts))
        if len(set(self.readouts)) != len(self.readouts):
            raise ValueError(f"Order {self.name!r} lists a readout twice: {self.readouts}.")
        object.__setattr__(self, "label", self.label or self.name)
        reflex = {}
        for readout, trigger in dict(self.reflex).items():
            if readout not in self.readouts:
                raise ValueError(f"Order {self.name!r}: reflex readout {readout!r} is not one of its "
                                 f"readouts ({', '.join(self.readouts)}).")
            for node in trigger:
                if node not in self.readouts or node == readout:
                    raise ValueError(f"Order {self.name!r}: reflex of {readout!r} is triggered by "
                                     f"{node!r}, which must be another readout of the order.")
            reflex[readout] = MappingProxyType({n: tuple(s) for n, s in trigger.items()})
        object.__setattr__(self, "reflex", MappingProxyType(reflex))
        for key in ("cost_usd", "risk_utils", "turnaround_days"):
            value = float(getattr(self, key))
            if math.isinf(value) or value < 0:
                raise ValueError(f"Order {self.name!r}: {key} must be a finite number >= 0 "
                                 f"(NaN for unknown), got {value!r}.")
            object.__setattr__(self, key, value)


# -- the orders: block ---------------------------------------------------------------------


def check_orders(chk, spec, raw) -> None:
    """Check the ``orders:`` block of a network file and store the orders on ``spec.orders``.

    Every readout must be a ``finding`` node; costs, turnaround and risk are sourced numbers
    (recorded in the provenance table with ``cpt_type`` ``"order"``).
    """
    chk.node = None
    orders: dict[str, Order] = {}
    raw = chk.mapping("orders", raw)
    if raw is None:
        return
    for name, block in raw.items():
        chk.node = None
        if not chk.ident("orders", name):
            continue
        where = f"orders.{name}"
        block = chk.mapping(where, block)
        if block is None:
            continue
        chk.keys(where, block, _ORDER_KEYS, {"label", "readouts", "kind", "invasive", "cost_usd"})
        readouts = chk.names(f"{where}.readouts", block.get("readouts"), "readout", minimum=1)
        ok = True
        for node in readouts:
            if node not in spec.nodes:
                from .exceptions import _suggest

                chk.err(f"{where}.readouts: unknown node {node!r}.{_suggest(node, spec.nodes)}")
                ok = False
            elif spec.nodes[node].role != "finding":
                chk.err(f"{where}.readouts: {node!r} is a {spec.nodes[node].role} node; an order "
                        f"reports finding nodes")
                ok = False
        kind = block.get("kind")
        if "kind" in block and kind not in KINDS:
            chk.err(f"{where}.kind: {_describe(kind)} is not one of {', '.join(KINDS)}")
            ok = False
        invasive = block.get("invasive")
        if "invasive" in block and not isinstance(invasive, bool):
            chk.err(f"{where}.invasive: expected true or false, got {_describe(invasive)}")
            ok = False
        numbers = {}
        for key, required in (("cost_usd", True), ("turnaround_days", False), ("risk_utils", False)):
            if key not in block:
                continue
            value = _scalar(chk, spec, None, f"{where}.{key}", block[key], value_key="value",
                            is_prob=False, owner=name, kind="order", allow_zero=True)
            if value is None:
                ok = False
            numbers[key] = value
        reflex = {}
        raw_reflex = block.get("reflex", {}) or {}
        if chk.mapping(f"{where}.reflex", raw_reflex) is None:
            ok = False
            raw_reflex = {}
        for readout, trigger in raw_reflex.items():
            if readout not in readouts:
                chk.err(f"{where}.reflex: {_describe(readout)} is not a readout of this order")
                ok = False
                continue
            trigger = chk.mapping(f"{where}.reflex.{readout}", trigger)
            if trigger is None:
                ok = False
                continue
            reflex[readout] = {}
            for node, states in trigger.items():
                if node not in readouts or node == readout:
                    chk.err(f"{where}.reflex.{readout}: the trigger {_describe(node)} must be "
                            f"another readout of this order")
                    ok = False
                    continue
                listed = chk.names(f"{where}.reflex.{readout}.{node}", states, "state", minimum=1)
                bad = [s for s in listed if node in spec.nodes and s not in spec.nodes[node].states]
                if bad:
                    chk.err(f"{where}.reflex.{readout}.{node}: {', '.join(map(repr, bad))} not a "
                            f"state of {node!r} ({', '.join(spec.nodes[node].states)})")
                    ok = False
                reflex[readout][node] = tuple(listed)
        label = chk.text(f"{where}.label", block.get("label")) if "label" in block else name
        if not ok or len(readouts) == 0:
            continue
        orders[name] = Order(
            name, readouts, label=label,
            cost_usd=numbers.get("cost_usd", math.nan),
            risk_utils=numbers.get("risk_utils", 0.0),
            turnaround_days=numbers.get("turnaround_days", math.nan),
            kind=kind, invasive=invasive, reflex=reflex,
            description=chk.text(f"{where}.description", block.get("description"), required=False),
        )
    chk.node = None
    spec.orders = orders


# -- the orders of a network -----------------------------------------------------------------


def network_orders(network, orders: Sequence[Order] | None = None) -> tuple[Order, ...]:
    """The orders ``network`` ranks: the given (or file-declared) orders whose readouts are all
    tests of the network, then every test node no order reports, as an order of its own.

    Parameters
    ----------
    network : Network
    orders : sequence of Order, optional
        Orders to use instead of those declared in the network file.

    Raises
    ------
    ValueError
        An order reads a node that is not one of the network's tests.
    """
    if orders is None:
        spec = network.spec
        orders = list(spec.orders.values()) if spec is not None else []
    else:
        orders = list(orders)
    tests = set(network.tests)
    names: set[str] = set()
    covered: set[str] = set()
    out: list[Order] = []
    for order in orders:
        if not isinstance(order, Order):
            raise TypeError(f"orders must be bayesdx Order objects; got {type(order).__name__}.")
        if order.name in names:
            raise ValueError(f"Two orders are named {order.name!r}.")
        for node in order.readouts:
            network.check_node(node)
            if node not in tests:
                raise ValueError(f"Order {order.name!r} reads {node!r}, which is not one of the "
                                 f"network's tests ({len(tests)} tests; see network.tests).")
        for readout, trigger in order.reflex.items():
            for node, states in trigger.items():
                for state in states:
                    network.check_state(node, state)
        names.add(order.name)
        covered.update(order.readouts)
        out.append(order)
    spec = network.spec
    for node in network.tests:
        if node in covered:
            continue
        if node in names:
            raise ValueError(f"An order is named {node!r} but does not read that node; the node "
                             f"needs an order of its own. Rename the order.")
        meta = spec.nodes[node] if spec is not None else None
        out.append(Order(node, (node,), label=network.label(node), cost_usd=network.cost(node),
                         kind=meta.kind if meta is not None else None,
                         invasive=meta.invasive if meta is not None else None))
    return tuple(out)


class OrderCatalogue:
    """What a ranking reads of a tuple of orders, gathered once: their names, texts, readouts and
    numbers as tuples and numpy arrays aligned with ``orders`` (read-only).

    Built by :func:`order_catalogue`, once per network for its own orders; an
    :class:`~bayesdx.ranking.OrderTables` selects the orders it keeps by position.

    Attributes
    ----------
    orders : tuple of Order
    names, labels, kinds : tuple
    readouts : tuple of tuple of str
    single : tuple of (str or None)
        The readout of an order of one readout without reflex, else None.
    cost_usd, turnaround_days, risk_utils : numpy.ndarray of float
    invasive : numpy.ndarray of bool
        ``bool(order.invasive)`` (None counts as False).
    name_rank : numpy.ndarray of int
        Each order's position when the names are sorted (ties of a ranking go by name).
    """

    def __init__(self, orders: Sequence[Order]):
        self.orders = tuple(orders)
        self.names = tuple(o.name for o in self.orders)
        self.labels = tuple(o.label for o in self.orders)
        self.kinds = tuple(o.kind for o in self.orders)
        self.readouts = tuple(o.readouts for o in self.orders)
        self.single = tuple(o.readouts[0] if len(o.readouts) == 1 and not o.reflex else None
                            for o in self.orders)
        n = len(self.orders)
        self.cost_usd = np.array([o.cost_usd for o in self.orders], dtype=float)
        self.turnaround_days = np.array([o.turnaround_days for o in self.orders], dtype=float)
        self.risk_utils = np.array([o.risk_utils for o in self.orders], dtype=float)
        self.invasive = np.array([bool(o.invasive) for o in self.orders], dtype=bool)
        self.name_rank = np.empty(n, dtype=np.int64)
        self.name_rank[np.argsort(np.array(self.names, dtype=object), kind="stable")] = np.arange(n)
        for array in (self.cost_usd, self.turnaround_days, self.risk_utils, self.invasive,
                      self.name_rank):
            array.flags.writeable = False
        #: what :mod:`bayesdx.ranking` keeps of these orders (their names as an Index, their
        #: texts as one string array, the outcomes of one-readout orders), made on first use
        self.frame_parts: dict = {}


def order_catalogue(network, orders: Sequence[Order]) -> OrderCatalogue:
    """The :class:`OrderCatalogue` of ``orders``: kept on ``network`` when they are its own
    :attr:`~bayesdx.Network.orders` (every diagnosis ranks those), built anew otherwise."""
    if network is None or orders is not network.orders:
        return OrderCatalogue(orders)
    cache = network._cache
    got = cache.get(("order catalogue",))
    if got is None or got.orders is not orders:
        got = cache[("order catalogue",)] = OrderCatalogue(orders)
    return got


# -- outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeTable:
    """What one order can report given the evidence, and how probable each report is.

    Attributes
    ----------
    order : Order
    readouts : tuple of str
        The readouts still unobserved (those already in the evidence are not reported again).
    outcomes : tuple of dict
        One ``{readout: state}`` per possible report; a reflex readout that was not triggered
        is absent from its report.
    joint : numpy.ndarray, shape (n_target_states, n_outcomes)
        P(targets = t, outcome | evidence), targets flattened in C order.
    """

    order: Order
    readouts: tuple[str, ...]
    outcomes: tuple[dict, ...]
    joint: np.ndarray

    @property
    def outcome_probs(self) -> np.ndarray:
        """P(outcome | evidence)."""
        return self.joint.sum(axis=0)


def outcome_table(network, order: Order, evidence: Mapping[str, int], *,
                  group_joint: np.ndarray | None = None) -> OutcomeTable:
    """P(targets, outcome | evidence) over the outcomes ``order`` can report.

    Parameters
    ----------
    network : Network
    order : Order
    evidence : mapping of str to int
        The evidence, as state indices (:meth:`Network.encode_evidence`).
    group_joint : numpy.ndarray, optional
        P(targets, unobserved readouts | evidence) if already computed (targets' axes first, then
        the unobserved readouts in order); computed with the network's engine otherwise.

    Returns
    -------
    OutcomeTable
        With zero-probability outcomes dropped.
    """
    free = tuple(r for r in order.readouts if r not in evidence)
    if group_joint is None:
        group_joint = network.engine.group_joint(evidence, network.targets, free)
    n_t = int(np.prod([network.arrays.card(t) for t in network.targets]))
    flat = np.reshape(group_joint, (n_t, -1))
    outcomes, rounds = _merge_plan(network, order, evidence)
    merged = np.zeros((n_t, len(outcomes)))
    for into, came in rounds:  # np.add.at(merged.T, column, flat.T), a round at a time
        merged[:, into] += flat[:, came]
    keep = merged.sum(axis=0) > 0
    outcomes = tuple(dict(o) for o, k in zip(outcomes, keep) if k)
    return OutcomeTable(order, free, outcomes, merged[:, keep])


def _merge_plan(network, order: Order, evidence: Mapping[str, int]) -> tuple:
    """(outcomes, rounds) of :func:`outcome_columns`, kept on the network per order and states
    of its observed readouts: round r holds, for every report, the column of its r-th
    combination (``into``, each report at most once) and that combination (``came``), so that
    adding round after round sums each report's combinations in np.add.at's order."""
    key = ("merge plan", order.name, tuple([evidence.get(r, -1) for r in order.readouts]))
    cache = network._cache
    got = cache.get(key)
    if got is None or got[0] is not order:
        column, outcomes = outcome_columns(network, order, evidence)
        seen = [0] * len(outcomes)
        rounds: list[tuple[list, list]] = []
        for i, j in enumerate(column.tolist()):
            if seen[j] == len(rounds):
                rounds.append(([], []))
            rounds[seen[j]][0].append(j)
            rounds[seen[j]][1].append(i)
            seen[j] += 1
        got = cache[key] = (order, outcomes, tuple((np.array(a, dtype=np.intp),
                                                    np.array(b, dtype=np.intp)) for a, b in rounds))
    return got[1], got[2]


def outcome_columns(network, order: Order, evidence: Mapping[str, int]) -> tuple[np.ndarray, tuple]:
    """Which report each combination of the unobserved readouts' states gives.

    Returns
    -------
    column : numpy.ndarray of int
        For each combination (C order over the unobserved readouts), the index of its report.
    outcomes : tuple of dict
        Every possible report ``{readout: state}``, zero-probability ones included.
    """
    states = network.arrays.states
    free = tuple(r for r in order.readouts if r not in evidence)
    cards = [len(states[r]) for r in free]
    keys: dict[tuple, int] = {}
    column = np.empty(int(np.prod(cards)), dtype=np.int64)
    for i, combo in enumerate(itertools.product(*(range(c) for c in cards))):
        value = dict(zip(free, combo))
        value.update({r: evidence[r] for r in order.readouts if r in evidence})
        key = tuple(
            value[r] if r in free and _reported(order, r, value, states) else -1 for r in free
        )
        column[i] = keys.setdefault(key, len(keys))
    outcomes = tuple({r: states[r][s] for r, s in zip(free, key) if s >= 0} for key in keys)
    return column, outcomes


def _reported(order: Order, readout: str, value: Mapping[str, int], states) -> bool:
    trigger = order.reflex.get(readout)
    if not trigger:
        return True
    return all(states[node][value[node]] in allowed for node, allowed in trigger.items())
