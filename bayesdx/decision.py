"""Actions, utilities and the value of a test for the decisions it can change.

A :class:`DecisionModel` is a set of management :class:`Action` s (refer to a neuromuscular
clinic, start levothyroxine, immunosuppress, ...). Each action concerns one target: taken in a
patient whose target is in one of the action's ``states`` it gains ``benefit`` (B), taken in any
other patient it costs ``harm`` (C), in the model's utility units; not taking it is worth 0. The
actions are separate decisions (a clinician may refer for ALS *and* replace B12), so the expected
utility of acting now is the sum over actions of max(0, p·B − (1 − p)·C), and each action is taken
above its Pauker–Kassirer threshold p* = C / (B + C).

The value of an order is the expected best utility after its result minus the best utility now
(ΔMEU), which is never negative, minus its cost (money at ``usd_per_util`` plus the order's risk).
This module owns the ``decisions:`` block of a ``bayesdx/2`` file (:func:`check_decisions`) and
those computations (:func:`decision_values`), as pure numpy over P(targets, outcome | evidence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._sources import _scalar

__all__ = ["Action", "DecisionModel", "DecisionValues", "check_decisions", "decision_values"]

_ACTION_KEYS = {"label", "target", "states", "benefit", "harm", "description"}
_DECISION_KEYS = {"utility_unit", "usd_per_util", "actions"}


@dataclass(frozen=True)
class Action:
    """One management action about one target.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"refer_neuromuscular"``.
    target : str
        The target node the action is about.
    states : sequence of str
        The target states in which the action helps.
    benefit : float
        B > 0: utility gained by acting in a patient whose target is in ``states``.
    harm : float
        C > 0: utility lost by acting in any other patient.
    label : str, optional
        What people read (default: the name).
    description : str, optional

    Examples
    --------
    >>> a = Action("refer", "als", ["present"], benefit=0.15, harm=0.005)
    >>> round(a.threshold, 4)
    0.0323
    """

    name: str
    target: str
    states: tuple[str, ...]
    benefit: float
    harm: float
    label: str = ""
    description: str = ""

    def __post_init__(self):
        if isinstance(self.states, str) or not len(self.states):
            raise ValueError(f"Action {self.name!r}: states must be a non-empty list of states of "
                             f"{self.target!r}, got {self.states!r}.")
        object.__setattr__(self, "states", tuple(self.states))
        for key in ("benefit", "harm"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                    or not math.isfinite(value) or value <= 0:
                raise ValueError(f"Action {self.name!r}: {key} must be a finite number > 0, "
                                 f"got {value!r}.")
            object.__setattr__(self, key, float(value))
        object.__setattr__(self, "label", self.label or self.name)

    @property
    def threshold(self) -> float:
        """The probability of ``states`` above which acting beats not acting: C / (B + C)."""
        return self.harm / (self.benefit + self.harm)


@dataclass(frozen=True)
class DecisionModel:
    """Actions and the exchange rate between money and utility.

    Parameters
    ----------
    actions : sequence of Action
    usd_per_util : float
        How many US dollars one utility unit is worth: an order's money cost enters its value
        as ``cost_usd / usd_per_util``.
    utility_unit : str, optional
        What one unit is (e.g. ``"QALY-equivalents"``).
    """

    actions: tuple[Action, ...]
    usd_per_util: float
    utility_unit: str = "utility units"

    def __post_init__(self):
        actions = tuple(self.actions)
        if not actions:
            raise ValueError("A decision model needs at least one action.")
        names = [a.name for a in actions]
        if len(set(names)) != len(names):
            raise ValueError(f"Two actions share a name: {names}.")
        object.__setattr__(self, "actions", actions)
        value = self.usd_per_util
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f"usd_per_util must be a finite number > 0, got {value!r}.")
        object.__setattr__(self, "usd_per_util", float(value))

    @property
    def benefits(self) -> np.ndarray:
        return np.array([a.benefit for a in self.actions])

    @property
    def harms(self) -> np.ndarray:
        return np.array([a.harm for a in self.actions])

    def indicator(self, network) -> np.ndarray:
        """A 0/1 matrix of shape (joint target states, actions): 1 where the action helps.

        Raises
        ------
        ValueError
            An action names a node that is not a target of ``network``, or a state it lacks.
        """
        targets = network.targets
        cards = [len(network.states(t)) for t in targets]
        out = np.zeros((int(np.prod(cards)), len(self.actions)))
        for k, action in enumerate(self.actions):
            if action.target not in targets:
                raise ValueError(
                    f"Action {action.name!r} is about {action.target!r}, which is not a target of "
                    f"network {network.name!r} (targets: {', '.join(targets)}).")
            states = network.states(action.target)
            helps = np.zeros(len(states))
            for state in action.states:
                helps[network.check_state(action.target, state)] = 1.0
            axis = targets.index(action.target)
            shape = [1] * len(targets)
            shape[axis] = len(states)
            out[:, k] = np.broadcast_to(helps.reshape(shape), cards).reshape(-1)
        return out

    def order_cost_utils(self, order) -> float:
        """An order's cost in utility units: money at ``usd_per_util`` plus its risk (an unknown
        money cost counts as 0)."""
        money = 0.0 if math.isnan(order.cost_usd) else order.cost_usd / self.usd_per_util
        return money + order.risk_utils

    def thresholds(self):
        """Each action's implied threshold p* = C / (B + C), as a DataFrame indexed by action."""
        import pandas as pd

        rows = [{"action": a.name, "label": a.label, "target": a.target,
                 "states": ", ".join(a.states), "benefit": a.benefit, "harm": a.harm,
                 "threshold": a.threshold} for a in self.actions]
        return pd.DataFrame(rows).set_index("action")


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionValues:
    """Decision values of several orders, from one stacked outcome table (see
    :func:`decision_values`). Batched tables put their batch axes before the shapes below.

    Attributes
    ----------
    eu_now : numpy.ndarray, shape (n_actions,)
        Each action's expected utility if decided now: max(0, p·B − (1 − p)·C).
    acts_now : numpy.ndarray of bool, shape (n_actions,)
        Whether each action is taken now.
    gain : numpy.ndarray, shape (n_orders, n_actions)
        Each action's expected utility gain from each order's result (ΔMEU per action, >= 0).
    same_decision : numpy.ndarray, shape (n_orders,)
        Probability that the order's result leaves every action as it is now.
    acts : numpy.ndarray of bool, shape (n_actions, n_columns)
        Whether each action is taken after each outcome column.
    """

    eu_now: np.ndarray
    acts_now: np.ndarray
    gain: np.ndarray
    same_decision: np.ndarray
    acts: np.ndarray

    @property
    def value(self) -> np.ndarray:
        """ΔMEU of each order before its cost, in utility units."""
        return self.gain.sum(axis=-1)


def decision_values(model: DecisionModel, indicator: np.ndarray, target_probs: np.ndarray,
                    stacked: np.ndarray, starts: Sequence[int], cards: Sequence[int]) -> DecisionValues:
    """Expected-utility gains of many orders at once.

    Parameters
    ----------
    model : DecisionModel
    indicator : numpy.ndarray, shape (n_t, n_actions)
        :meth:`DecisionModel.indicator` of the network.
    target_probs : numpy.ndarray, shape (..., n_t)
        P(targets | evidence), flat.
    stacked : numpy.ndarray, shape (..., n_t, m)
        P(targets = t, outcome | evidence) of every order side by side; order k owns the columns
        ``starts[k] : starts[k] + cards[k]``. Leading axes (e.g. one per parameter draw) are
        batch axes: the attributes of the result gain them in front.
    starts, cards : sequence of int

    Returns
    -------
    DecisionValues

    Examples
    --------
    A perfect test of a disease at the action threshold is worth the expected loss of deciding
    without it:

    >>> model = DecisionModel([Action("treat", "d", ["yes"], benefit=1.0, harm=1.0)], 1e5)
    >>> ind = np.array([[0.0], [1.0]])                    # states no, yes
    >>> pt = np.array([0.5, 0.5])
    >>> perfect = np.array([[0.5, 0.0], [0.0, 0.5]])      # P(d, result)
    >>> float(decision_values(model, ind, pt, perfect, [0], [2]).value[0])
    0.5
    """
    b, c = model.benefits, model.harms
    stacked = np.asarray(stacked, dtype=float)
    p_help = np.asarray(target_probs, dtype=float).reshape(stacked.shape[:-1]) @ indicator
    eu_act_now = (b + c) * p_help - c  # (..., n_a)
    acts_now = eu_act_now > 0
    eu_now = np.where(acts_now, eu_act_now, 0.0)
    help_joint = indicator.T @ stacked  # (..., n_a, m): P(action helps, outcome)
    p_out = stacked.sum(axis=-2)  # (..., m)
    eu_act = (b + c)[:, None] * help_joint - c[:, None] * p_out[..., None, :]
    acts = eu_act > 0
    best = np.where(acts, eu_act, 0.0)
    n = len(starts)
    lead = stacked.shape[:-2]
    if n == 0:
        return DecisionValues(eu_now, acts_now, np.zeros(lead + (0, len(b))), np.zeros(lead + (0,)),
                              acts)
    bounds = np.column_stack([starts, np.add(starts, cards)]).ravel()
    padded = np.concatenate([best, np.zeros(best.shape[:-1] + (1,))], axis=-1)
    after = np.swapaxes(np.add.reduceat(padded, bounds, axis=-1)[..., ::2], -1, -2)  # (..., n_o, n_a)
    # rounding can leave -1e-17 where a result changes nothing: the gain is >= 0 by convexity
    gain = np.maximum(after - eu_now[..., None, :], 0.0)
    gain[gain < 1e-15 * max(1.0, float(np.max(b)))] = 0.0
    same = np.all(acts == acts_now[..., :, None], axis=-2) * p_out
    same = np.concatenate([same, np.zeros(same.shape[:-1] + (1,))], axis=-1)
    same_decision = np.add.reduceat(same, bounds, axis=-1)[..., ::2]
    return DecisionValues(eu_now, acts_now, gain, np.minimum(same_decision, 1.0), acts)


# -- the decisions: block ----------------------------------------------------------------------


def check_decisions(chk, spec, raw) -> None:
    """Check the ``decisions:`` block of a network file and store a :class:`DecisionModel` on
    ``spec.decisions``. Benefits, harms and ``usd_per_util`` are sourced numbers (recorded in the
    provenance table with ``cpt_type`` ``"action"`` / ``"decisions"``)."""
    chk.node = None
    raw = chk.mapping("decisions", raw)
    if raw is None:
        return
    chk.keys("decisions", raw, _DECISION_KEYS, {"usd_per_util", "actions"})
    unit = chk.text("decisions.utility_unit", raw.get("utility_unit"), required=False) or "utility units"
    rate = None
    if "usd_per_util" in raw:
        rate = _scalar(chk, spec, None, "decisions.usd_per_util", raw["usd_per_util"],
                       value_key="value", is_prob=False, owner="decisions", kind="decisions")
    actions = []
    blocks = chk.mapping("decisions.actions", raw.get("actions", {})) or {}
    if "actions" in raw and not blocks:
        chk.err("decisions.actions: at least one action is needed")
    for name, block in blocks.items():
        if not chk.ident("decisions.actions", name):
            continue
        where = f"decisions.actions.{name}"
        block = chk.mapping(where, block)
        if block is None:
            continue
        chk.keys(where, block, _ACTION_KEYS, {"label", "target", "states", "benefit", "harm"})
        target = block.get("target")
        ok = True
        if target not in spec.nodes or spec.nodes[target].role != "target":
            targets = [n for n, s in spec.nodes.items() if s.role == "target"]
            chk.err(f"{where}.target: {target!r} is not a target node (targets: {', '.join(targets)})")
            ok = False
        states = chk.names(f"{where}.states", block.get("states"), "state", minimum=1)
        if ok:
            bad = [s for s in states if s not in spec.nodes[target].states]
            if bad:
                chk.err(f"{where}.states: {', '.join(map(repr, bad))} not a state of {target!r} "
                        f"({', '.join(spec.nodes[target].states)})")
                ok = False
        values = {}
        for key in ("benefit", "harm"):
            if key in block:
                values[key] = _scalar(chk, spec, None, f"{where}.{key}", block[key], value_key="value",
                                      is_prob=False, owner=name, kind="action")
        if not ok or not states or None in values.values() or len(values) < 2:
            continue
        actions.append(Action(name, target, states, values["benefit"], values["harm"],
                              label=chk.text(f"{where}.label", block.get("label")),
                              description=chk.text(f"{where}.description", block.get("description"),
                                                   required=False)))
    if rate is not None and actions and len(actions) == len(blocks):
        spec.decisions = DecisionModel(tuple(actions), rate, unit)
