"""The entry points of the compiled engine's kernels (numba): one query over a batch with its
normalisation and information gains (:func:`run_query`), the constants gathered at every
configuration of a target set (:func:`gather_constants`) and the prior propagation written into
the plan (:func:`run_prior`). The propagation itself is :mod:`bayesdx._jtkernel`.

Imported by :mod:`bayesdx.compiled` on the first engine build (numba loads then).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from ._jtkernel import _const, _form, _marg, _run, _scratch, _seg
from ._jtops import _EXT_C, CLAMPED, MUL, SET, _load_const, _table_ext
from ._jtplan import (
    CARDS,
    CL_PTR,
    CL_VARS,
    D0_OFF,
    INVU0_OFF,
    KID_PTR,
    KIDS,
    MISC,
    MISC_PHI0,
    PARENT,
    PHI0_OFF,
    PREORDER,
    SEP_PTR,
    SEP_VARS,
    U0_OFF,
    UNIT,
)

__all__ = ["run_query", "run_query_flagged", "gather_constants", "run_prior"]

#: Digest of the files compiled into this module's cached kernels (numba keys its disk cache on
#: this file's text alone, so a change there must change this line; tests/test_kernel_cache.py).
_KERNEL_SOURCES = "79c615b010aa0a91"


@njit(cache=True)
def _gains_bits(p_free, out, gains, gain_starts, gain_cards):
    """I(T ; X) = H(T) + H(X) - H(T, X) in bits per read variable, from the joints ``out``
    (width x n_conf; the formula of :func:`bayesdx.voi.mutual_information_stacked_bits`, below
    1e-13 is noise: 0)."""
    width, n_conf = out.shape
    h_t = 0.0
    for t in range(n_conf):
        p = p_free[t]
        if p > 0:
            h_t -= p * math.log2(p)
    for g in range(gains.size):
        acc = 0.0
        for j in range(gain_starts[g], gain_starts[g] + gain_cards[g]):
            row = out[j]
            px = 0.0
            for t in range(n_conf):
                p = row[t]
                if p > 0:
                    acc += p * math.log2(p)
                px += p
            if px > 0:
                acc -= px * math.log2(px)
        value = h_t + acc
        gains[g] = value if value >= 1e-13 else 0.0


@njit(cache=True)
def _unravel(S, kind, evs, n_batch):
    """Per-element states of the CLAMPED variables (rows ``evs[v]``): their joint configurations,
    C order, the first row slowest."""
    cards = _seg(S, CARDS)
    n_clamp = 0
    for v in range(kind.size):
        if kind[v] == CLAMPED:
            n_clamp += 1
    free = np.empty(n_clamp, np.int64)
    for v in range(kind.size):
        if kind[v] == CLAMPED:
            free[evs[v]] = v
    cst = np.empty((n_clamp, n_batch), np.int64)
    for t in range(n_batch):
        rem = t
        for i in range(n_clamp - 1, -1, -1):
            card = cards[free[i]]
            cst[i, t] = rem % card
            rem //= card
    return cst


@njit(cache=True)
def run_query(S, F, kind, evs, cst, joint, read_vars, read_off, chunk_floats, keep_floats, out, probs,
              gains, gain_cards, G, goff, totals):
    """Propagate over a batch and normalise; the one query entry point. Returns ln P(e).

    With ``joint`` = 1 (a joint query), ``cst`` is ignored: the CLAMPED variables, in the order
    of their ``evs`` rows, are the targets and their joint configurations (C order) the batch.
    ``probs`` receives P(targets | e), ``out`` (width x n_conf, zeros on entry) P(targets, X | e)
    for every read variable X one above the other (rows from ``read_off``) and, when ``gains`` is
    not empty, I(targets ; X | e) in bits per read variable. ``G``, ``goff``: the constants
    pre-gathered at every configuration by :func:`gather_constants` (``goff`` all -1: none).
    Returns ln P(e), -inf when the evidence is impossible. ``totals`` (2 floats) receives the
    sums of ``probs`` and of ``out`` after normalisation, which the caller checks
    (:func:`bayesdx._precision.check_totals`) instead of summing the answer again.

    With ``joint`` = 0 (a cohort), ``cst`` holds the per-case states of the CLAMPED and
    INDICATOR variables (row ``evs[v]``, -1 = unobserved) and the cases are the batch: ``out``
    (width x n_cases) receives each case's posterior marginals (NaN for an impossible case) and
    ``probs`` 1.0 for a possible case, 0.0 otherwise. Returns 0.

    ``chunk_floats`` and ``keep_floats`` bound the working tables of one chunk of the batch and
    those kept from collect to distribute (see :func:`bayesdx._jtkernel._run`).

    numba caches this function's code with the kernels it calls compiled in, keyed on this
    file's text only: ``_KERNEL_SOURCES`` above changes with the files compiled in.
    """
    width, n_batch = out.shape
    if joint:
        cst = _unravel(S, kind, evs, n_batch)
    Q = (kind, evs, cst, G, goff, n_batch)
    log_z = np.empty(n_batch)
    z = np.empty(n_batch)
    _run(S, F, Q, n_batch, read_vars, read_off, out.reshape(-1), chunk_floats, keep_floats, log_z, z)
    scale = np.empty(n_batch)
    result = 0.0
    if not joint:
        for t in range(n_batch):
            ok = log_z[t] > -math.inf and z[t] > 0
            probs[t] = 1.0 if ok else 0.0
            scale[t] = 1.0 / z[t] if ok else math.nan
    else:
        peak = -math.inf
        for t in range(n_batch):
            peak = max(peak, log_z[t])
        if peak == -math.inf:
            return -math.inf
        total = 0.0
        for t in range(n_batch):
            probs[t] = math.exp(log_z[t] - peak)
            total += probs[t]
        for t in range(n_batch):
            probs[t] /= total
            scale[t] = probs[t] / z[t] if z[t] > 0 else 0.0
        result = peak + math.log(total)
    total_p, total_out = 0.0, 0.0
    for t in range(n_batch):
        total_p += probs[t]
    for j in range(width):
        row = out[j]
        for t in range(n_batch):
            row[t] *= scale[t]
            total_out += row[t]
    totals[0], totals[1] = total_p, total_out
    if joint and gains.size:
        _gains_bits(probs, out, gains, read_off, gain_cards)
    return result


# the C library's <fenv.h> functions, linked by name (not by an address, which a cache would keep)
_fetestexcept = types.ExternalFunction("fetestexcept", types.intc(types.intc))
_feclearexcept = types.ExternalFunction("feclearexcept", types.intc(types.intc))


@njit(cache=True)
def run_query_flagged(S, F, kind, evs, cst, joint, read_vars, read_off, chunk_floats, keep_floats, out,
                      probs, gains, gain_cards, G, goff, totals, mask):
    """:func:`run_query` between ``feclearexcept(mask)`` and ``fetestexcept(mask)``: returns
    (ln P(e), the flags of ``mask`` raised by the query). Only called where
    :func:`bayesdx._fpflags.available` (the functions and the flag values are known); the flags
    are read without a Python call around the kernel, and a first call's compilation, which
    happens before the clear, cannot raise them."""
    _feclearexcept(mask)
    result = run_query(S, F, kind, evs, cst, joint, read_vars, read_off, chunk_floats, keep_floats, out,
                       probs, gains, gain_cards, G, goff, totals)
    return result, _fetestexcept(mask)


@njit(cache=True)
def gather_constants(S, F, kind, evs, max_floats):
    """The constants of the phi0 plan that hold a CLAMPED variable (``kind``: CLAMPED targets,
    every other variable FREE), gathered at every joint configuration of the clamped variables:
    ``(G, goff)`` for :func:`run_query`; ``goff`` all -1 when they would exceed ``max_floats``."""
    cards, cl_ptr, cl_vars = _seg(S, CARDS), _seg(S, CL_PTR), _seg(S, CL_VARS)
    sep_ptr, sep_vars, parent = _seg(S, SEP_PTR), _seg(S, SEP_VARS), _seg(S, PARENT)
    phi0_off, invu0_off, d0_off = _seg(S, PHI0_OFF), _seg(S, INVU0_OFF), _seg(S, D0_OFF)
    n_cl = parent.size
    n_batch = 1
    for v in range(kind.size):
        if kind[v] == CLAMPED:
            n_batch *= cards[v]
    goff = np.full((3, n_cl), -1, np.int64)
    iw = _scratch(S)
    total = 0
    for c in range(n_cl):
        for which in range(3):
            if which == 0:
                xv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
            else:
                if parent[c] < 0:
                    continue
                xv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
            size = _table_ext(xv, kind, cards, iw[_EXT_C])
            clamped = False
            for v in xv:
                clamped |= kind[v] == CLAMPED
            if clamped and (which > 0 or phi0_off[c] >= 0):
                goff[which, c] = total
                total += size * n_batch
    if total > max_floats or total == 0:
        return np.zeros(0), np.full((3, n_cl), -1, np.int64)
    G = np.empty(total)
    cst = _unravel(S, kind, evs, n_batch)
    bases = np.empty(n_batch, np.int64)
    for c in range(n_cl):
        for which in range(3):
            g = goff[which, c]
            if g < 0:
                continue
            if which == 0:
                xv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
                off = phi0_off[c]
            else:
                xv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
                off = invu0_off[c] if which == 1 else d0_off[c]
            size = _table_ext(xv, kind, cards, iw[_EXT_C])
            view = G[g:g + size * n_batch]
            _load_const(SET, view, xv, iw[_EXT_C], n_batch, xv, off, F, kind, evs, cst, 0, cards, iw,
                        bases, G, -1, n_batch)
    return G, goff


@njit(cache=True)
def run_prior(S, F):
    """The prior propagation, written into the plan: ``U0`` (exact, unscaled), ``1/U0``, the
    ``UNIT`` flags, ``D0`` and, in phi0 mode, the prior clique tables. One clique table at a time."""
    cards, cl_ptr, cl_vars, parent = _seg(S, CARDS), _seg(S, CL_PTR), _seg(S, CL_VARS), _seg(S, PARENT)
    preorder, kid_ptr, kids = _seg(S, PREORDER), _seg(S, KID_PTR), _seg(S, KIDS)
    sep_ptr, sep_vars, unit = _seg(S, SEP_PTR), _seg(S, SEP_VARS), _seg(S, UNIT)
    phi0_off, u0_off, invu0_off, d0_off = _seg(S, PHI0_OFF), _seg(S, U0_OFF), _seg(S, INVU0_OFF), _seg(S, D0_OFF)
    use_phi0 = _seg(S, MISC)[MISC_PHI0] == 1
    n_cl = parent.size
    kind = np.zeros(cards.size, np.int64)
    evs = np.zeros(cards.size, np.int64)
    Q = (kind, evs, np.zeros((1, 1), np.int64), np.zeros(0), np.full((3, n_cl), -1, np.int64), 1)
    iw = _scratch(S)
    bases = np.zeros(1, np.int64)
    active = np.zeros(n_cl, np.int64)
    raws = [np.empty(0) for _ in range(n_cl)]
    inv_s = np.ones((n_cl, 1))
    wf = np.ones(n_cl, np.int64)
    for c in range(n_cl):
        unit[c] = 0
    for i in range(preorder.size - 1, -1, -1):
        c = preorder[i]
        T = _form(S, F, Q, c, 1, active, raws, inv_s, wf, 0, iw, bases, False)
        if use_phi0:
            F[phi0_off[c]:phi0_off[c] + T.size] = T
        if c != preorder[0]:
            tv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
            sv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
            u = _marg(S, T, tv, 1, sv, kind, iw)
            is_unit = True
            for e in range(u.size):
                F[u0_off[c] + e] = u[e]
                F[invu0_off[c] + e] = 1.0 / u[e] if u[e] > 0 else 0.0
                if abs(u[e] - 1.0) > 1e-14:
                    is_unit = False
            unit[c] = 1 if is_unit else 0
        T = np.empty(0)
    for i in range(preorder.size):
        c = preorder[i]
        B = _form(S, F, Q, c, 1, active, raws, inv_s, wf, 0, iw, bases, False)
        tv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
        if c != preorder[0]:
            sv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
            _table_ext(tv, kind, cards, iw[_EXT_C])
            _const(MUL, B, tv, iw[_EXT_C], 1, sv, d0_off[c], -1, S, F, Q, 0, iw, bases)
        for j in range(kid_ptr[c], kid_ptr[c + 1]):
            k = kids[j]
            sv = sep_vars[sep_ptr[k]:sep_ptr[k + 1]]
            m = _marg(S, B, tv, 1, sv, kind, iw)
            for e in range(m.size):
                F[d0_off[k] + e] = m[e] * F[invu0_off[k] + e]
        B = np.empty(0)
    return 0
