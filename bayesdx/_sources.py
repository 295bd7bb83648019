"""Source blocks and the problem collector shared by every checker of a network file.

A network file's numbers (probabilities, odds ratios, costs, utilities) each come with a source
block: ``ref``, ``locator``, ``grade`` and ``range``. This module owns checking such a block and
recording it as a :class:`Param` (the provenance table), and :class:`_Checker`, which collects
every problem of a file with its node. :mod:`bayesdx.spec` (the file), :mod:`bayesdx._compile`
(CPTs), :mod:`bayesdx.orders` and :mod:`bayesdx.decision` all build on it; it imports none of them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .exceptions import _elide, _suggest

__all__ = ["Param", "GRADES", "KINDS", "TOLERANCE"]

GRADES = ("measured", "derived", "secondary", "expert")
#: What a finding (or an order) is: the ``kind`` of a finding node and of an order.
KINDS = ("history", "exam", "lab", "electrodiagnostic", "imaging", "pathology")
TOLERANCE = 1e-9
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Param:
    """One sourced number (or distribution) of a network file, for the provenance table."""

    node: str
    cpt_type: str
    where: str  # e.g. "leak", "cause als", "row 2 {als: present}", "multiplier age_band=age_lt_40"
    state: str | None
    value: float
    ref: tuple[str, ...]
    locator: str
    grade: str
    range_low: float | None
    range_high: float | None
    #: The file's mapping that holds this number (``block[value_key]``, or
    #: ``block[value_key][state]`` for a distribution) and its ``range``: what
    #: :meth:`bayesdx.Network.with_parameters` edits in a copy of the file before recompiling.
    block: dict | None = field(default=None, compare=False, repr=False)
    value_key: str = field(default="p", compare=False, repr=False)


def _describe(value: Any) -> str:
    """``repr(value)`` for a message, bounded: long strings and big (or alias-shared) containers
    are elided (:func:`bayesdx.exceptions._elide`), so quoting a hostile value costs nothing."""
    if isinstance(value, bool):
        return f"{value!r} (YAML read an unquoted yes/no/true/false/on/off as a boolean: quote it)"
    if isinstance(value, (int, float)):
        return f"{_elide(value)} (a number: quote it)"
    return _elide(value)


class _Checker:
    """Collects every problem of one file; ``node`` is the node being checked."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[tuple[str, str | None, str]] = []
        self.node: str | None = None

    def err(self, message: str) -> None:
        self.problems.append((self.path, self.node, message))

    # -- primitive checks -------------------------------------------------------------
    def keys(self, where: str, mapping: dict, allowed: set[str], required: set[str] = frozenset()):
        for key in mapping:
            if key not in allowed:
                self.err(f"{where}: unknown key {_describe(key)}.{_suggest(str(key), allowed)}")
        for key in sorted(required):
            if key not in mapping:
                self.err(f"{where}: missing required key '{key}'")

    def mapping(self, where: str, value: Any) -> dict | None:
        if not isinstance(value, dict):
            self.err(f"{where}: expected a mapping, got {_describe(value)}")
            return None
        return value

    def ident(self, where: str, value: Any) -> bool:
        if not isinstance(value, str):
            self.err(f"{where}: name {_describe(value)} must be a string identifier")
            return False
        if not _IDENT.match(value):
            self.err(f"{where}: name {_elide(value)} is not an identifier (a letter, then letters, digits or _)")
            return False
        return True

    def names(self, where: str, value: Any, what: str, minimum: int) -> list[str]:
        """A list of distinct identifiers (states, parents), at least ``minimum`` long."""
        if not isinstance(value, list) or len(value) < minimum:
            self.err(f"{where}: expected a list of {'at least ' + str(minimum) + ' ' if minimum else ''}"
                     f"{what} names, got {_describe(value)}")
            return []
        out: list[str] = []
        for name in value:
            if self.ident(where, name):
                if name in out:
                    self.err(f"{where}: duplicate {what} {_elide(name)}")
                out.append(name)
        return out

    def text(self, where: str, value: Any, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.err(f"{where}: expected non-empty text, got {_describe(value)}")
            return ""
        return value.strip()

    def number(self, where: str, value: Any, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if isinstance(value, str) and re.match(r"^[-+]?\d*\.?\d*e[-+]?\d+$", value.strip(), re.I):
                hint = " (YAML reads exponent numbers without a dot as text: write e.g. 1.0e-3)"
            self.err(f"{where}: {_describe(value)} is not a number{hint}")
            return None
        value = float(value)
        if not math.isfinite(value):
            self.err(f"{where}: {value} is not finite")
            return None
        if low is not None and (value < low or (low_open and value <= low)):
            self.err(f"{where}: {value} is outside {'(' if low_open else '['}{low}, {high if high is not None else 'inf'}]")
            return None
        if high is not None and value > high:
            self.err(f"{where}: {value} is outside [{low}, {high}]")
            return None
        return value

    def probability(self, where: str, value: Any) -> float | None:
        return self.number(where, value, 0.0, 1.0)


# -- source blocks ------------------------------------------------------------------------


def _record(chk, spec, node, where, values: dict[str | None, float], block: dict, *, is_prob=True,
            value_key: str, owner: str | None = None, kind: str | None = None,
            allow_zero: bool = False, raw: dict | None = None) -> bool:
    """Check the source keys of ``block`` and record one Param per value. True if sound.

    ``node`` is the NodeSpec the number belongs to; blocks outside the nodes (orders, actions)
    pass ``node=None`` with ``owner`` (e.g. the order's name) and ``kind`` (e.g. ``"order"``).
    ``raw`` is the file's own mapping when ``block`` is a filtered copy of it (a row without its
    ``when``); the Param keeps it so that a changed network can edit the file's numbers.
    """
    ok = True
    allowed = {value_key, "ref", "locator", "grade", "range"}
    for key in block:
        if key not in allowed:
            chk.err(f"{where}: unknown key {_describe(key)} (a source block has {', '.join(sorted(allowed))})")
            ok = False
    refs = block.get("ref")
    if refs is None:
        chk.err(f"{where}: missing source: 'ref' (a key of references)")
        ok = False
        refs = ()
    elif isinstance(refs, str):
        refs = (refs,)
    elif isinstance(refs, list) and refs and all(isinstance(r, str) for r in refs):
        refs = tuple(refs)
    else:
        chk.err(f"{where}: ref must be a reference key or a non-empty list of keys, got {_describe(refs)}")
        ok, refs = False, ()
    for r in refs:
        if r not in spec.references:
            chk.err(f"{where}: ref {_elide(r)} is not in references.{_suggest(r, spec.references)}")
            ok = False
    locator = block.get("locator")
    if not isinstance(locator, str) or not locator.strip():
        chk.err(f"{where}: missing source: 'locator' (where in the reference, or how it was estimated)")
        ok = False
    grade = block.get("grade")
    if grade not in GRADES:
        chk.err(f"{where}: grade {_describe(grade) if grade is not None else 'missing'}: expected one of {', '.join(GRADES)}")
        ok = False
    ranges = _ranges(chk, where, block.get("range"), values, is_prob, allow_zero)
    if ranges is None:
        ok = False
    if ok:
        for state, value in values.items():
            low, high = ranges.get(state, (None, None))
            spec.params.append(
                Param(owner if owner is not None else node.name,
                      kind if kind is not None else node.cpt["type"], where, state, float(value), refs, locator.strip(),
                      grade, low, high, raw if raw is not None else block, value_key)
            )
    return ok


def _ranges(chk, where, raw, values, is_prob, allow_zero=False):
    """Validate a range for scalar (values keyed by None) or distribution values."""
    if raw is None:
        chk.err(f"{where}: missing source: 'range' (plausible range for sensitivity analysis)")
        return None
    scalar = list(values) == [None]

    def pair(w, r, value):
        if (not isinstance(r, list) or len(r) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in r)):
            chk.err(f"{w}: range must be [low, high] numbers, got {_describe(r)}")
            return None
        low, high = float(r[0]), float(r[1])
        if (low > high or (is_prob and (low < 0 or high > 1))
                or (not is_prob and (low < 0 if allow_zero else low <= 0))):
            bound = ("0 <= low <= high <= 1" if is_prob
                     else "0 <= low <= high" if allow_zero else "0 < low <= high")
            chk.err(f"{w}: range [{low}, {high}] must satisfy {bound}")
            return None
        if value is not None and not (low - 1e-12 <= value <= high + 1e-12):
            chk.err(f"{w}: value {value} lies outside its range [{low}, {high}]")
            return None
        return low, high

    if scalar:
        p = pair(where, raw, values[None])
        return None if p is None else {None: p}
    if not isinstance(raw, dict):
        chk.err(f"{where}: range of a distribution must map states to [low, high], got {_describe(raw)}")
        return None
    out = {}
    for state, r in raw.items():
        if state not in values:
            chk.err(f"{where}: range names unknown state {_describe(state)}")
            return None
        p = pair(f"{where}: range of {state!r}", r, values[state])
        if p is None:
            return None
        out[state] = p
    missing = [s for s in values if s not in out]
    if len(missing) > 1:
        chk.err(f"{where}: range must cover every state but at most one; missing {', '.join(missing)}")
        return None
    return out


def _scalar(chk, spec, node, where, block, value_key="p", is_prob=True, allow_zero=False,
            **record_kw):
    """One sourced number ``block[value_key]``: a probability, or a number > 0 (>= 0 with
    ``allow_zero``, e.g. a cost)."""
    if not isinstance(block, dict):
        chk.err(f"{where}: expected a mapping with '{value_key}' and its source, got {_describe(block)}")
        return None
    if value_key not in block:
        chk.err(f"{where}: missing '{value_key}'")
        return None
    value = (chk.probability(f"{where}: {value_key}", block[value_key]) if is_prob
             else chk.number(f"{where}: {value_key}", block[value_key], 0.0, None,
                             low_open=not allow_zero))
    if value is None:
        return None
    if not _record(chk, spec, node, where, {None: value}, block, is_prob=is_prob, value_key=value_key,
                   allow_zero=allow_zero, **record_kw):
        return None
    return value


