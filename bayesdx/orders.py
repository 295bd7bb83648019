"""Test orders: what a clinician places, and what it returns. (Being written.)"""
from __future__ import annotations


def check_orders(chk, spec, raw) -> None:
    spec.orders = {}
