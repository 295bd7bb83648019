"""The loop of the factored planning search (numba; private).

Imported by :mod:`bayesdx._planner_factored` on the first search, so ``import bayesdx`` does
not load numba. :func:`order_table` does, in one pass over a state's weights, what the numpy
reference in :meth:`FactoredSearch._tables_numpy <bayesdx._planner_factored.FactoredSearch>`
does with several array operations: the joint of the kept axes with an order's result, and per
result the acting utilities summed within and across the blocks the remaining orders can tell
apart.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["order_table"]


@njit(cache=True)
def order_table(u, lik, lik_index, keep_index, n_keep, block_index, n_blocks, act_index, w,
                joint, p, act, positive, scratch):  # pragma: no cover - compiled
    """Fill ``joint`` (kept configuration, result), ``p`` (result), ``act`` (result, action):
    the summed utility of taking each action, and ``positive`` (result): the sum over blocks and
    actions of the positive parts, all unnormalised.

    ``u`` is the state's flat weights; ``lik[l, x]`` P(result x | configuration l of the order's
    axes); ``lik_index[j]``, ``keep_index[j]`` map a state configuration to the order's axes and
    to the kept axes; ``block_index[k]``, ``act_index[k]`` map a kept configuration to its block
    (the axes the remaining orders read) and to the acting axes, the rows of ``w`` (utility of
    each action). ``scratch`` has at least ``n_blocks`` x n_actions entries.
    """
    n_x = lik.shape[1]
    n_a = w.shape[1]
    joint[:, :] = 0.0
    for j in range(u.shape[0]):
        uj = u[j]
        if uj == 0.0:
            continue
        row = lik[lik_index[j]]
        out = joint[keep_index[j]]
        for x in range(n_x):
            out[x] += uj * row[x]
    for x in range(n_x):
        for q in range(n_blocks * n_a):
            scratch[q] = 0.0
        total = 0.0
        for k in range(n_keep):
            v = joint[k, x]
            if v == 0.0:
                continue
            total += v
            base = block_index[k] * n_a
            wrow = w[act_index[k]]
            for a in range(n_a):
                scratch[base + a] += v * wrow[a]
        p[x] = total
        for a in range(n_a):
            act[x, a] = 0.0
        pos = 0.0
        for b in range(n_blocks):
            base = b * n_a
            for a in range(n_a):
                t = scratch[base + a]
                act[x, a] += t
                if t > 0.0:
                    pos += t
        positive[x] = pos


def warm() -> None:
    """Compile (or load from numba's cache) on tiny inputs."""
    one = np.ones(1)
    idx = np.zeros(1, np.int64)
    order_table(one, np.ones((1, 1)), idx, idx, 1, idx, 1, idx, np.ones((1, 1)),
                np.zeros((1, 1)), np.zeros(1), np.zeros((1, 1)), np.zeros(1), np.zeros(1))
