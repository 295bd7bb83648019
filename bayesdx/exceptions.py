"""The exceptions bayesdx raises.

Every error is a :class:`BayesdxError` and also subclasses the built-in exception a caller would
expect (``ValueError``, ``KeyError`` or ``TypeError``), so ``except KeyError`` keeps working.
"""

from __future__ import annotations

import difflib
import reprlib
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
    "StateSpaceTooLargeError",
    "InvalidParameterError",
    "NumericalRangeError",
    "NoReferenceStateWarning",
]

#: The longest value (in characters) an error message quotes; longer ones are elided in the middle.
MAX_QUOTED = 80
#: The most problems a :class:`NetworkSpecError` message lists (all are kept in ``problems``).
MAX_LISTED = 40

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = MAX_QUOTED
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


def _elide(value: object, limit: int = MAX_QUOTED) -> str:
    """``repr(value)`` bounded in size and time: containers and strings are cut (``reprlib``)
    before they are formatted, so a huge or deeply shared value (a YAML alias bomb) costs
    nothing to quote.

    Examples
    --------
    >>> _elide("x" * 1000)[:12], len(_elide("x" * 1000)) <= 90
    ("'xxxxxxxxxxx", True)
    >>> _elide([[1, 2]] * 1000)
    '[[1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], ...]'
    """
    try:
        text = _repr.repr(value)
    except Exception:  # a hostile __repr__: never let quoting fail
        text = f"<{type(value).__name__}>"
    return _cut(text, limit)


def _cut(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` shortened to about ``limit`` characters, keeping its start and end."""
    text = str(text)
    if len(text) <= limit:
        return text
    keep = max(limit - 5, 10)
    return f"{text[:keep - keep // 3]}[...]{text[len(text) - keep // 3:]}"


class BayesdxError(Exception):
    """Base class of every error raised by bayesdx.

    Every error pickles with its message and attributes whatever its constructor takes, so it
    crosses process boundaries (a Dask worker, ``multiprocessing``) as itself.
    """

    def __reduce__(self):
        return _rebuild_error, (type(self), self.args, dict(self.__dict__))


def _rebuild_error(cls, args, state):
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


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
        for path, node, message in self.problems[:MAX_LISTED]:
            where = f"{_cut(path, 200)}: node {_elide(str(node))}" if node else f"{_cut(path, 200)}"
            lines.append(f"  {where}: {_cut(message, 400)}")
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED} more (see .problems)")
        super().__init__("\n".join(lines))


def _suggest(name: str, valid: Iterable[str]) -> str:
    name = str(name)
    if len(name) > 2 * MAX_QUOTED:  # difflib is quadratic: no suggestion for a huge name
        return ""
    matches = difflib.get_close_matches(name, [v for v in valid if len(str(v)) <= 2 * MAX_QUOTED],
                                        n=3, cutoff=0.5)
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
        self.message = f"Unknown node {_elide(node)}{where}.{_suggest(str(node), self.valid)} Valid nodes: {shown}."
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
            f"Unknown state {_elide(state)} for node '{node}'.{_suggest(str(state), self.valid)}"
            f" Valid states: {', '.join(self.valid[:30])}{', ...' if len(self.valid) > 30 else ''}."
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


class StateSpaceTooLargeError(BayesdxError, ValueError):
    """A query whose joint state space (e.g. over all its targets) would exceed the memory
    budget; refused before any work is done.

    Attributes
    ----------
    cells : int
        The number of table cells the query would hold.
    budget : int
        The most cells allowed.
    """

    def __init__(self, what: str, cells: int, budget: int, hint: str = ""):
        self.cells = int(cells)
        self.budget = int(budget)
        extra = f" {hint}" if hint else ""
        super().__init__(f"{what} needs {self.cells:,} table cells ({self.cells * 8:,} bytes as "
                         f"float64), over the budget of {self.budget:,} cells: refused.{extra}")


class InvalidParameterError(BayesdxError, ValueError):
    """A keyword argument outside its valid range, e.g. ``plot_ranking(dx, top=0)``."""


class NumericalRangeError(BayesdxError, ArithmeticError):
    """Probabilities inside one computation fell outside what floating point represents (below
    about 1e-4900 even in extended precision, or a result that is not finite or not normalised):
    raised instead of returning an inexact answer."""


class NoReferenceStateWarning(UserWarning):
    """A target without a known healthy state was left out of a "P(not healthy)" summary."""


def _check_count(value: object, name: str, owner: str, low: int = 1) -> int:
    """``value`` as an int >= ``low``, else :class:`InvalidParameterError` in sklearn's words."""
    if isinstance(value, bool) or not isinstance(value, (int, np_integer())):
        raise InvalidParameterError(f"The '{name}' parameter of {owner} must be an int >= {low}. "
                                    f"Got {_elide(value)} of type {type(value).__name__} instead.")
    if value < low:
        raise InvalidParameterError(f"The '{name}' parameter of {owner} must be an int >= {low}. "
                                    f"Got {value} instead.")
    return int(value)


def _check_seed(seed: object, owner: str):
    """``seed`` (None, an int >= 0 or a numpy Generator) as a numpy Generator, else
    :class:`InvalidParameterError` naming the parameter."""
    import numpy

    if isinstance(seed, numpy.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, numpy.integer)) and not isinstance(seed, bool)
                        and seed >= 0):
        return numpy.random.default_rng(seed)
    raise InvalidParameterError(f"The 'seed' parameter of {owner} must be None, an int >= 0 or a "
                                f"numpy Generator. Got {_elide(seed)} of type "
                                f"{type(seed).__name__} instead.")


def np_integer() -> type:
    """``numpy.integer`` (imported here so this module stays import-light)."""
    import numpy

    return numpy.integer
