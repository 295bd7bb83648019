"""The compiled kernel of :class:`bayesdx._leafbatch.LeafBatch`: every leaf block of a ranking
written in one pass (:func:`leaf_products`).

This module imports numba: :class:`~bayesdx._leafbatch.LeafBatch` imports it for a network whose
engine is the compiled one (whose kernels already import numba), never ``import bayesdx``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["leaf_products"]

#: the smallest normal float64: a product below it (or rounded to zero) has lost precision
_TINY = np.finfo(np.float64).tiny


@njit(cache=True, nogil=True)
def leaf_products(src, items, tabs, tmins, data, rows, hidx, out, flags):  # pragma: no cover (compiled)
    """Write every block of ``items`` into the rows of ``out`` (shape (m, n_t)).

    ``items[b] = (first row of its source in src, H, first table in tabs, number of tables,
    first row of out)``: the block is out[o + s, t] = Σ_h src[s0 + h, t] Π_i T_i[.., s_i, t], with
    s the outcomes' mixed-radix index, the first table's readout slowest. ``tabs[i] = (offset
    in data, row of rows (-1: the target state itself), offset in hidx, card, dep rows R)``:
    table i is laid out (its hidden states, its readout's states, its targets' R rows); target
    state t reads row ``rows[k, t]`` and the block's hidden state h its hidden index
    ``hidx[off + h]``. ``tmins[i]`` is its smallest nonzero entry. ``flags[b]`` is set when a
    product of nonzero factors fell below float64's normal range (checked only where the
    smallest factors' product could).

    Every loop runs over the targets' states, innermost, so that it vectorises: the products of
    a hidden state's readout factors grow in ``part`` (one row per outcome of the readouts but
    the last), and the last readout's factors multiply them into ``out``.
    """
    n_t = out.shape[1]
    width = 1
    for b in range(items.shape[0]):
        size = 1
        for i in range(items[b, 3] - 1):
            size *= tabs[items[b, 2] + i, 3]
        width = max(width, size)
    part = np.empty((width, n_t))
    src_low = np.full(src.shape[0], np.inf)  # each source row's smallest nonzero entry
    for j in range(src.shape[0]):
        for t in range(n_t):
            w = src[j, t]
            if 0.0 < w < src_low[j]:
                src_low[j] = w
    for b in range(items.shape[0]):
        s0, n_h, t0, n_tab, o0 = items[b, 0], items[b, 1], items[b, 2], items[b, 3], items[b, 4]
        size_b = 1
        for i in range(n_tab):
            size_b *= tabs[t0 + i, 3]
        # no product can leave the normal range when the smallest factors' cannot
        low = np.inf
        for h in range(n_h):
            low = min(low, src_low[s0 + h])
        for i in range(n_tab):
            low *= tmins[t0 + i]
        check = not low >= _TINY
        bad = False
        for s in range(size_b):
            for t in range(n_t):
                out[o0 + s, t] = 0.0
        for h in range(n_h):
            for t in range(n_t):
                part[0, t] = src[s0 + h, t]
            size = 1
            for i in range(n_tab):
                k = t0 + i
                d_off, rk, card, n_rows = tabs[k, 0], tabs[k, 1], tabs[k, 3], tabs[k, 4]
                hb = d_off + hidx[tabs[k, 2] + h] * card * n_rows
                last = i == n_tab - 1
                for a in range(size - 1, -1, -1):  # backwards: part grows in place
                    for c in range(card - 1, -1, -1):
                        tb = hb + c * n_rows
                        dst = out[o0 + a * card + c] if last else part[a * card + c]
                        if check:
                            bad |= _checked(dst, part[a], data, tb, rows, rk, last)
                        elif rk < 0:
                            _fast(dst, part[a], data[tb:tb + n_t], last)
                        else:
                            _fast_rows(dst, part[a], data, tb, rows[rk], last)
                size *= card
        flags[b] = bad


@njit(cache=True, nogil=True, inline="always")
def _fast(dst, row, coef, add):  # pragma: no cover (compiled)
    """dst (+)= row * coef, elementwise."""
    if add:
        for t in range(dst.shape[0]):
            dst[t] += row[t] * coef[t]
    else:
        for t in range(dst.shape[0]):
            dst[t] = row[t] * coef[t]


@njit(cache=True, nogil=True, inline="always")
def _fast_rows(dst, row, data, tb, rows, add):  # pragma: no cover (compiled)
    """dst (+)= row * data[tb + rows], elementwise."""
    if add:
        for t in range(dst.shape[0]):
            dst[t] += row[t] * data[tb + rows[t]]
    else:
        for t in range(dst.shape[0]):
            dst[t] = row[t] * data[tb + rows[t]]


@njit(cache=True, nogil=True)
def _checked(dst, row, data, tb, rows, rk, add):  # pragma: no cover (compiled)
    """:func:`_fast` or :func:`_fast_rows` (rk < 0: the target state is the row), returning
    whether a product of nonzero factors left float64's normal range."""
    bad = False
    for t in range(dst.shape[0]):
        p = row[t]
        x = data[tb + (t if rk < 0 else rows[rk, t])]
        v = p * x
        if v < _TINY and v != 0.0 or v == 0.0 and p != 0.0 and x != 0.0:
            bad = True
        if add:
            dst[t] += v
        else:
            dst[t] = v
    return bad
