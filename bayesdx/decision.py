"""Actions, utilities and decision values. (Being written.)"""
from __future__ import annotations


def check_decisions(chk, spec, raw) -> None:
    spec.decisions = None
