"""Random conditional probability tables for the tests' random networks."""

from __future__ import annotations

import numpy as np


def random_cpt(rng: np.random.Generator, *shape: int, alpha: float = 0.7, zeros: float = 0.08) -> np.ndarray:
    """A table over ``shape`` whose last axis sums to 1: Gamma(alpha) draws, about ``zeros`` of
    the entries set to 0 (a row left all zero gets its first state)."""
    t = rng.gamma(alpha, size=shape)
    t[rng.random(shape) < zeros] = 0.0
    t[..., 0] += t.sum(axis=-1) == 0
    return t / t.sum(axis=-1, keepdims=True)
