"""Exactness when probabilities leave the float64 range inside a clique.

The numpy junction tree (:mod:`bayesdx.jtree`) scales its messages between cliques, so P(evidence)
may fall far below 1e-308; inside one clique a product of CPT entries and messages may still
underflow (a CPT entry of 5e-324 times 0.5 is 0). This module owns what catches that: float
errors raised inside every propagation (:func:`strict`), the same tree compiled again in extended
precision when they do (:class:`WideningMixin`), and the final check that an answer is finite and
normalised (:func:`check_answer`), each failing with
:class:`~bayesdx.exceptions.NumericalRangeError` rather than returning a wrong number.
"""

from __future__ import annotations

import math

import numpy as np

from . import _jttree as jtt
from .exceptions import NumericalRangeError

__all__ = ["WIDE", "strict", "check_answer", "check_totals", "range_error", "WideningMixin", "NumericalRangeError"]

#: The float used when float64 under- or overflows inside a clique (None: no wider float here).
WIDE = np.longdouble if np.finfo(np.longdouble).minexp < -16000 else None


def strict():
    """Float errors raise inside a propagation: an underflow there may lose the answer."""
    return np.errstate(under="raise", over="raise", invalid="raise")


def _total(a: np.ndarray) -> float:
    """The sum of an array's entries (small arrays summed in Python: a numpy reduction costs
    microseconds of call overhead, which a query on a small network feels)."""
    return math.fsum(a.ravel().tolist()) if a.size <= 64 else float(a.sum())


def check_answer(target_joint: np.ndarray, stacked: np.ndarray | None, n_read: int) -> None:
    """Raise :class:`NumericalRangeError` unless the answer is finite and normalised: the
    targets' joint sums to 1 and so does P(targets, X | e) of each of the ``n_read`` nodes
    side by side in ``stacked``."""
    grand = _total(stacked) if stacked is not None and n_read else 0.0
    check_totals(_total(target_joint), grand, n_read if stacked is not None else 0)


def check_totals(total: float, grand: float, n_read: int) -> None:
    """:func:`check_answer` from the sums already taken: ``total`` of the targets' joint,
    ``grand`` of the ``n_read`` nodes' joints side by side (the compiled kernel sums them as it
    normalises)."""
    ok = math.isfinite(total) and abs(total - 1.0) <= 1e-9
    if ok and n_read:
        ok = math.isfinite(grand) and abs(grand - n_read) <= 1e-9 * n_read
    if not ok:
        raise NumericalRangeError(
            "the posterior is not finite or does not sum to 1 (a probability inside a clique fell "
            "outside the floating-point range); no answer is returned rather than a wrong one")


def range_error(exc: FloatingPointError) -> NumericalRangeError:
    """The error raised when even the widest float could not hold a propagation."""
    wide = "extended precision" if WIDE is not None else "float64 (no wider float on this platform)"
    return NumericalRangeError(
        f"a probability inside a clique fell outside the range of {wide} ({exc}); the evidence or "
        f"the CPT entries are too extreme for an exact answer")


class WideningMixin:
    """``_exact(run, *args)`` for an engine with float64 trees ``_trees``, a flag ``_narrow``
    (False when the prior propagation itself left float64), ``_wide_trees`` (None until needed)
    and the compiled parts ``_parts`` = (cliques, edges, cards, families, cpts)."""

    def _wide(self) -> list:
        """The fine tree compiled again in extended precision (built on first need)."""
        if WIDE is None:
            raise NumericalRangeError("a probability inside a clique fell below the float64 range "
                                      "and this platform has no wider float")
        if self._wide_trees is None:
            cliques, edges, cards, families, cpts = self._parts
            try:
                with strict():
                    tree = jtt.CompiledTree(cliques, edges, cards, families,
                                            [c.astype(WIDE) for c in cpts])
            except FloatingPointError as exc:
                raise range_error(exc) from None
            self._wide_trees = [tree]
        return self._wide_trees

    def _exact(self, run, *args):
        """``run(*args, trees=...)`` over the float64 trees, again in extended precision when a
        propagation under- or overflows, and :class:`NumericalRangeError` when that does too."""
        if self._narrow:
            try:
                return run(*args, trees=self._trees)
            except FloatingPointError:
                pass
        try:
            return run(*args, trees=self._wide())
        except FloatingPointError as exc:
            raise range_error(exc) from None
