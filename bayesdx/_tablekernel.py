"""The compiled engine's one-table kernel: a joint query on a network whose whole joint
distribution is a small table (a few thousand entries), read straight from that table.

On such networks a junction tree query is mostly bookkeeping: the propagation kernel derives a
schedule from the pattern of evidence, forms each clique and passes messages, for a few hundred
multiply-adds. :func:`table_query` instead walks the entries of the joint table that agree with
the evidence, once, adding each into P(targets | e) and into P(targets, X | e) of every read
variable X. Its code is a few hundred instructions, against the propagation kernel's tens of
thousands: a query that follows other work (whose code and data have filled the caches) pays far
less to bring it back. :func:`joint_table` makes the table once per network.

Imported by :mod:`bayesdx.compiled` when an engine is built on such a network (numba loads then).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._jtentry import _feclearexcept, _fetestexcept, _gains_bits

__all__ = ["joint_table", "table_query"]

#: Digest of the files compiled into this module's cached kernels (numba keys its disk cache on
#: this file's text alone, so a change there must change this line; tests/test_kernel_cache.py).
_KERNEL_SOURCES = "1d9c75ed7203c533"


def joint_table(cpts: list[np.ndarray], families: list[list[int]], cards: list[int]) -> np.ndarray | None:
    """The joint distribution of all the variables as one C-order table (axis ``v`` is variable
    ``v``): the product of the CPTs (``cpts[v]`` over ``families[v]`` = its parents then ``v``).
    None when an entry underflows the float64 range (the table could not hold the network: the
    junction tree, which scales between cliques, answers then)."""
    n = len(cards)
    table = np.ones(cards)
    with np.errstate(under="raise", over="raise", invalid="raise"):
        try:
            for cpt, family in zip(cpts, families):
                order = np.argsort(family)
                shape = [1] * n
                for v in family:
                    shape[v] = cards[v]
                table = table * np.transpose(cpt, order).reshape(shape)
        except FloatingPointError:
            return None
    return np.ascontiguousarray(table).reshape(-1)


@njit(cache=True)
def table_query(table, cards, strides, evs, tmul, read_vars, read_off, read_cards, out, probs, gains, totals,
                mask):
    """One joint query on the joint ``table`` (flat, C order, ``strides`` per variable) between
    ``feclearexcept(mask)`` and ``fetestexcept(mask)``: returns (ln P(e), the flags of ``mask``
    raised), ln P(e) = -inf when the evidence is impossible.

    ``evs[v]``: the observed state of variable ``v``, -1 when unobserved. ``tmul[v]``: the step
    of an unobserved target ``v`` in the row of its joint configuration (C order over the
    unobserved targets), 0 for any other variable. Zeros on entry, filled on return as by
    :func:`bayesdx._jtentry.run_query`: ``out`` (width x n_conf) P(targets, X | e) of every read
    variable X one above the other (rows from ``read_off``), ``probs`` P(targets | e), ``gains``
    I(targets ; X | e) in bits per read variable (when not empty), ``totals`` the sums of
    ``probs`` and ``out``.
    """
    _feclearexcept(mask)
    n = cards.size
    free = np.empty(n, np.int64)
    n_free = 0
    off = 0
    for v in range(n):
        if evs[v] >= 0:
            off += evs[v] * strides[v]
        else:
            free[n_free] = v
            n_free += 1
    state = np.zeros(n, np.int64)
    n_read = read_vars.size
    row = 0
    while True:
        x = table[off]
        if x != 0.0:
            probs[row] += x
            for k in range(n_read):
                out[read_off[k] + state[read_vars[k]], row] += x
        # the next entry agreeing with the evidence: an odometer over the unobserved variables
        i = n_free - 1
        while i >= 0:
            v = free[i]
            state[v] += 1
            off += strides[v]
            row += tmul[v]
            if state[v] < cards[v]:
                break
            state[v] = 0
            off -= cards[v] * strides[v]
            row -= cards[v] * tmul[v]
            i -= 1
        if i < 0:
            break
    width, n_conf = out.shape
    total = 0.0
    for t in range(n_conf):
        total += probs[t]
    if not total > 0.0:
        return -math.inf, _fetestexcept(mask)
    inv = 1.0 / total
    total_p, total_out = 0.0, 0.0
    for t in range(n_conf):
        probs[t] *= inv
        total_p += probs[t]
    for j in range(width):
        line = out[j]
        for t in range(n_conf):
            line[t] *= inv
            total_out += line[t]
    totals[0], totals[1] = total_p, total_out
    if gains.size:
        _gains_bits(probs, out, gains, read_off, read_cards)
    return math.log(total), _fetestexcept(mask)
