"""The exceptions bayesdx raises.

Every error is a :class:`BayesdxError` and also subclasses the built-in exception a caller would
expect (``ValueError``, ``KeyError`` or ``TypeError``), so ``except KeyError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "BayesdxError",
    "NetworkSpecError",
    "UnknownNodeError",
    "UnknownStateError",
    "ImpossibleEvidenceError",
    "TargetsRequiredError",
    "InvalidEvidenceError",
    "InvalidObjectiveError",
    "UnknownOrderError",
]


class BayesdxError(Exception):
    """Base class of every error raised by bayesdx."""


class NetworkSpecError(BayesdxError, ValueError):
    """A network file or network definition is malformed.

    Attributes
    ----------
    problems : list of tuple (path, node, message)
        Every problem found, in file order. ``node`` is ``None`` for file-level problems.
    """

    def __init__(self, problems: Sequence[tuple[str, str | None, str]]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in network definition:"]
        for path, node, message in self.problems:
            where = f"{path}: node '{node}'" if node else f"{path}"
            lines.append(f"  {where}: {message}")
        super().__init__("\n".join(lines))


def _suggest(name: str, valid: Iterable[str]) -> str:
    matches = difflib.get_close_matches(str(name), list(valid), n=3, cutoff=0.5)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


class UnknownNodeError(BayesdxError, KeyError):
    """A node name that the network does not have."""

    def __init__(self, node: object, valid: Sequence[str], *, network: str | None = None):
        self.node = node
        self.valid = list(valid)
        where = f" in network '{network}'" if network else ""
        shown = ", ".join(self.valid[:12]) + (", ..." if len(self.valid) > 12 else "")
        self.message = f"Unknown node {node!r}{where}.{_suggest(str(node), self.valid)} Valid nodes: {shown}."
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class UnknownStateError(BayesdxError, KeyError):
    """A state label that a node does not have."""

    def __init__(self, node: str, state: object, valid: Sequence[str]):
        self.node = node
        self.state = state
        self.valid = list(valid)
        self.message = (
            f"Unknown state {state!r} for node '{node}'.{_suggest(str(state), self.valid)}"
            f" Valid states: {', '.join(self.valid)}."
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidEvidenceError(BayesdxError, TypeError):
    """Evidence, targets or cases of the wrong type."""


class ImpossibleEvidenceError(BayesdxError, ValueError):
    """The evidence has probability zero under the network, so no posterior exists."""

    def __init__(self, evidence: dict[str, str], detail: str = ""):
        self.evidence = dict(evidence)
        shown = ", ".join(f"{k}={v}" for k, v in self.evidence.items())
        extra = f" {detail}" if detail else ""
        super().__init__(
            f"The evidence {{{shown}}} has probability zero under this network: "
            f"no posterior exists.{extra}"
        )


class TargetsRequiredError(BayesdxError, ValueError):
    """A network was loaded without naming its target (diagnosis) nodes."""


class InvalidObjectiveError(BayesdxError, ValueError):
    """An objective (what a ranking of tests maximises) that is malformed or that the network
    cannot serve, e.g. the *decision* objective on a network without a decision model."""


class UnknownOrderError(BayesdxError, KeyError):
    """An order name that is not among the orders a diagnosis ranks."""

    def __init__(self, order: object, valid: Sequence[str], *, detail: str = ""):
        self.order = order
        self.valid = list(valid)
        shown = ", ".join(self.valid[:15]) + (", ..." if len(self.valid) > 15 else "")
        extra = f" {detail}" if detail else ""
        self.message = (f"Unknown order {order!r}.{_suggest(str(order), self.valid)}{extra} "
                        f"Orders: {shown or 'none'}.")
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
