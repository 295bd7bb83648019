"""What a ranking of test orders maximises: the :class:`Objective` (*information*, *focus*, *cost*
or *decision*), its parameters and its stopping levels, checked against a network.

The values themselves are computed in :mod:`bayesdx.ranking`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .exceptions import InvalidObjectiveError, _suggest

__all__ = ["Objective", "OBJECTIVES", "resolve_objective"]

#: The objectives a ranking can maximise.
OBJECTIVES = ("information", "focus", "cost", "decision")


# -- objectives --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """What a ranking of test orders maximises, and when testing should stop.

    Parameters
    ----------
    kind : {"information", "focus", "cost", "decision"}
        *information*: the expected information gain about the joint distribution of all targets
        (bits). *focus*: the information about the joint of some ``targets`` only, or the
        ``weights``-weighted sum of each target's own information (bits; GeNIe's pursued faults).
        *cost*: information − ``alpha`` × cost in USD (bits; an unknown cost counts as 0).
        *decision*: the expected utility gain of the order's result over deciding now (ΔMEU),
        minus its cost in utility units (money at the decision model's ``usd_per_util`` plus the
        order's risk); needs a decision model.
    targets : sequence of str, optional
        *focus* only: the targets whose joint distribution matters.
    weights : mapping of str to float, optional
        *focus* only, instead of ``targets``: a weight >= 0 per target (targets not listed weigh 0).
    alpha : float, optional
        *cost* only, required: how many bits one US dollar is worth (bits per USD).
    same_decision_level : float, default 0.95
        *decision*: stop testing when every remaining order leaves every action as it is now with
        at least this probability.
    min_gain_bits : float, default 0.01
        *information* and *focus*: stop testing when no remaining order is worth this many bits.

    Examples
    --------
    >>> Objective("focus", targets=["flu"]).describe()
    'information about flu (bits)'
    >>> Objective("cost", alpha=0.01).value_unit
    'bits'
    >>> Objective("cost")
    Traceback (most recent call last):
    ...
    bayesdx.exceptions.InvalidObjectiveError: The 'cost' objective needs alpha, the number of bits one US dollar is worth, e.g. Objective('cost', alpha=0.001).
    """

    kind: str = "information"
    targets: tuple[str, ...] | None = None
    weights: Mapping[str, float] | None = None
    alpha: float | None = None
    same_decision_level: float = 0.95
    min_gain_bits: float = 0.01

    def __post_init__(self):
        kind = self.kind
        if kind not in OBJECTIVES:
            raise InvalidObjectiveError(
                f"Unknown objective {kind!r}.{_suggest(str(kind), OBJECTIVES)} Objectives: "
                f"{', '.join(OBJECTIVES)}.")
        if kind == "focus":
            if (self.targets is None) == (self.weights is None):
                raise InvalidObjectiveError(
                    "The 'focus' objective needs either targets (information about their joint) or "
                    "weights (a weighted sum of per-target information), e.g. "
                    "Objective('focus', targets=['als']) or Objective('focus', weights={'als': 2, "
                    "'thyroid_disease': 1}).")
        elif self.targets is not None or self.weights is not None:
            raise InvalidObjectiveError(f"targets and weights belong to the 'focus' objective, not "
                                        f"to {kind!r}.")
        if self.targets is not None:
            targets = (self.targets,) if isinstance(self.targets, str) else tuple(self.targets)
            if not targets or len(set(targets)) != len(targets):
                raise InvalidObjectiveError(f"focus targets must be distinct target names, at least "
                                            f"one; got {self.targets!r}.")
            object.__setattr__(self, "targets", targets)
        if self.weights is not None:
            if not hasattr(self.weights, "items"):
                raise InvalidObjectiveError(f"focus weights must be a mapping {{target: weight}}; "
                                            f"got {type(self.weights).__name__}.")
            weights = {}
            for target, w in self.weights.items():
                if isinstance(w, bool) or not isinstance(w, (int, float, np.number)) \
                        or not math.isfinite(w) or w < 0:
                    raise InvalidObjectiveError(f"The focus weight of {target!r} must be a finite "
                                                f"number >= 0; got {w!r}.")
                weights[target] = float(w)
            if not any(weights.values()):
                raise InvalidObjectiveError("At least one focus weight must be > 0.")
            object.__setattr__(self, "weights", MappingProxyType(weights))
        if kind == "cost":
            if self.alpha is None:
                raise InvalidObjectiveError(
                    "The 'cost' objective needs alpha, the number of bits one US dollar is worth, "
                    "e.g. Objective('cost', alpha=0.001).")
        elif self.alpha is not None:
            raise InvalidObjectiveError(f"alpha belongs to the 'cost' objective, not to {kind!r}.")
        if self.alpha is not None:
            a = self.alpha
            if isinstance(a, bool) or not isinstance(a, (int, float, np.number)) \
                    or not math.isfinite(a) or a < 0:
                raise InvalidObjectiveError(f"alpha must be a finite number of bits per USD >= 0; "
                                            f"got {a!r}.")
            object.__setattr__(self, "alpha", float(a))
        level = self.same_decision_level
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level <= 1:
            raise InvalidObjectiveError(f"same_decision_level must be a probability in (0, 1]; "
                                        f"got {level!r}.")
        bits = self.min_gain_bits
        if isinstance(bits, bool) or not isinstance(bits, (int, float)) or not bits >= 0 \
                or not math.isfinite(bits):
            raise InvalidObjectiveError(f"min_gain_bits must be a finite number >= 0; got {bits!r}.")

    @property
    def value_unit(self) -> str:
        """``"utils"`` for the decision objective, ``"bits"`` for the others."""
        return "utils" if self.kind == "decision" else "bits"

    def describe(self) -> str:
        """What the ``value`` of a ranking means under this objective, in words."""
        if self.kind == "information":
            return "information about the joint of all targets (bits)"
        if self.kind == "focus":
            if self.targets is not None:
                return f"information about {_joint_of(self.targets)} (bits)"
            parts = ", ".join(f"{w:g}\u00d7{t}" for t, w in self.weights.items() if w > 0)
            return f"weighted per-target information: {parts} (bits)"
        if self.kind == "cost":
            return f"information \u2212 {self.alpha:g} bits/USD \u00d7 cost (bits)"
        return "decision value \u2212 cost (utils)"

    def check(self, network, decisions) -> Objective:
        """This objective, checked against ``network`` (focus targets) and the decision model.

        Raises
        ------
        UnknownNodeError
            A focus target the network does not have.
        InvalidObjectiveError
            A focus target that is not a target, or the decision objective without a model.
        """
        for target in self.focus_targets or ():
            network.check_node(target)
            if target not in network.targets:
                raise InvalidObjectiveError(
                    f"The focus names {target!r}, which is not a target of network "
                    f"{network.name!r}.{_suggest(target, network.targets)} Targets: "
                    f"{', '.join(network.targets)}.")
        if self.kind == "decision" and decisions is None:
            raise InvalidObjectiveError(
                f"The 'decision' objective needs a decision model (actions and utilities); network "
                f"{network.name!r} declares none. Pass decisions=bayesdx.DecisionModel(...) to "
                f"diagnose or load_network, or choose objective='information'.")
        return self

    @property
    def focus_targets(self) -> tuple[str, ...] | None:
        """The targets a focus objective looks at (with weight > 0), else None."""
        if self.kind != "focus":
            return None
        if self.targets is not None:
            return self.targets
        return tuple(t for t, w in self.weights.items() if w > 0)


def _joint_of(targets: Sequence[str]) -> str:
    return targets[0] if len(targets) == 1 else "the joint of " + ", ".join(targets)


def resolve_objective(objective, network, decisions) -> Objective:
    """The :class:`Objective` meant by ``objective`` (None, a name or an Objective), checked.

    None means *decision* when there is a decision model, else *information*. A name stands for
    an objective without parameters (``"information"``, ``"decision"``); *focus* and *cost* need
    an :class:`Objective` with their parameters.
    """
    if objective is None:
        objective = Objective("decision" if decisions is not None else "information")
    elif isinstance(objective, str):
        objective = Objective(objective)
    elif not isinstance(objective, Objective):
        raise InvalidObjectiveError(
            f"objective must be None, one of {', '.join(map(repr, OBJECTIVES))} or a "
            f"bayesdx.Objective; got {type(objective).__name__}.")
    return objective.check(network, decisions)
