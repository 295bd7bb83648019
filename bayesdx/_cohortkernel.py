"""The compiled engine's cohort propagation (numba): posterior marginals of many cases in one call.

:meth:`bayesdx.compiled.CompiledEngine.marginals_batch` runs here. The schedule, the working
tables (batch axis innermost) and the scaling are those of :mod:`bayesdx._jtkernel`; two changes
make a case cost about the cliques between its evidence and the targets, not every clique on the
way:

Evidence leaves
    A clique that receives no computed message and sends one up only (no read-out below it) is
    never formed. Its upward message is the prior clique table summed onto the separator and the
    clique's observed, clamped and indicator variables, computed once per pattern of evidence
    (:func:`bayesdx._cohortplan.cohort_plan`), read per case at the observed states and summed
    over the unobserved ones. A finding's clique of a few thousand entries then costs its
    separator per case.
Messages absorbed by siblings
    A child's message whose separator lies within a sibling's separator is multiplied into that
    sibling's message (the separator's size) instead of into the parent's table (the clique's
    size); only the messages left over enter the parent's table.

Imported by :mod:`bayesdx.compiled` when the first cohort is answered (numba loads then).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._jtkernel import _TINY, _column_sums, _const, _kid_message, _marg, _scratch, _seg, _widths
from ._jtops import _EXT_C, _EXT_S, _XS, ACC, DIV, INDICATOR, MUL, SET, SLICED, _apply, _table_ext, _work_strides
from ._jtplan import CARDS, CL_PTR, CL_VARS, D0_OFF, INVU0_OFF, KID_PTR, KIDS, PARENT, PHI0_OFF, PREORDER, \
    SEP_PTR, SEP_VARS, TOP_OF, UNIT

__all__ = ["run_cohort"]


@njit(cache=True)
def _leaf_raw(L, off, size, gvars, gstr, kind, evs, cst, cards, b0, w):
    """The upward message of an evidence leaf (``size`` separator entries, batch ``w``): its table
    ``L[off:]`` read at each case's gathered states (``gvars``, strides ``gstr``; an unobserved
    indicator reads its extra state, the sum over its states)."""
    base = np.full(w, off, np.int64)
    for i in range(gvars.size):
        v = gvars[i]
        st = gstr[i]
        if kind[v] == SLICED:
            s = evs[v]
            for b in range(w):
                base[b] += s * st
        else:
            row = cst[evs[v]]
            unobserved = cards[v]
            for b in range(w):
                s = row[b0 + b]
                base[b] += (s if s >= 0 else unobserved) * st
    raw = np.empty(size * w)
    for j in range(size):
        dst = raw[j * w:(j + 1) * w]
        for b in range(w):
            dst[b] = L[base[b] + j]
    return raw


@njit(cache=True)
def _form(S, F, Q, c, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, pend):
    """The table of clique ``c`` (phi0 plan): its prior table gathered at the clamped states, the
    messages of its active children (``korder[kptr[c]:kptr[c + 1]]``, smallest separator first;
    a child with ``host`` >= 0 is multiplied into that sibling's message) and its indicators."""
    cards = _seg(S, CARDS)
    kind, evs, cst = Q[0], Q[1], Q[2]
    goff = Q[4]
    cl_ptr, cl_vars, top_of = _seg(S, CL_PTR), _seg(S, CL_VARS), _seg(S, TOP_OF)
    sep_ptr, sep_vars = _seg(S, SEP_PTR), _seg(S, SEP_VARS)
    tv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
    nd = tv.size
    ext = iw[_EXT_C]
    size = _table_ext(tv, kind, cards, ext)
    T = np.empty(size * w)
    _const(SET, T, tv, ext, w, tv, _seg(S, PHI0_OFF)[c], goff[0, c], S, F, Q, b0, iw, bases)
    for j in range(kptr[c], kptr[c + 1]):
        k = korder[j]
        msg = pend[k] if pend[k].size > 0 else _kid_message(S, F, Q, k, raws, inv_s, wf, b0, iw, bases, True)
        pend[k] = np.empty(0)
        sk = sep_vars[sep_ptr[k]:sep_ptr[k + 1]]
        h = host[k]
        if h >= 0:
            if pend[h].size == 0:
                pend[h] = _kid_message(S, F, Q, h, raws, inv_s, wf, b0, iw, bases, True)
            sh = sep_vars[sep_ptr[h]:sep_ptr[h + 1]]
            _table_ext(sh, kind, cards, iw[_EXT_S])
            _work_strides(sh, sk, kind, cards, wf[k], iw[_XS])
            _apply(MUL, pend[h], msg, 0, iw[_EXT_S], iw[_XS], sh.size, wf[h], 1 if wf[k] > 1 else 0, iw)
        else:
            _table_ext(tv, kind, cards, ext)
            _work_strides(tv, sk, kind, cards, wf[k], iw[_XS])
            _apply(MUL, T, msg, 0, ext, iw[_XS], nd, w, 1 if wf[k] > 1 else 0, iw)
    _table_ext(tv, kind, cards, ext)
    for i in range(nd):
        v = tv[i]
        if kind[v] == INDICATOR and top_of[v] == c:
            card = cards[v]
            ind = np.empty(card * w)
            row = evs[v]
            for b in range(w):
                s = cst[row, b0 + b]
                for x in range(card):
                    ind[x * w + b] = 1.0 if (s < 0 or s == x) else 0.0
            xs = iw[_XS]
            for d in range(nd):
                xs[d] = 0
            xs[i] = w
            _apply(MUL, T, ind, 0, ext, xs, nd, w, 1, iw)
    return T


@njit(cache=True)
def _propagate(S, F, Q, b0, nb, read_vars, read_off, out, n_out, top, active, down, read_from, keep,
               log_z, z, iw, P):
    """One collect / distribute pass over cases ``b0 .. b0 + nb`` (as
    :func:`bayesdx._jtkernel._propagate`, with evidence leaves and absorbed messages)."""
    L, leaf_off, leaf_size, gptr, gvars, gstr, korder, kptr, host = P
    cards, cl_ptr, cl_vars, parent = _seg(S, CARDS), _seg(S, CL_PTR), _seg(S, CL_VARS), _seg(S, PARENT)
    preorder, kid_ptr, kids = _seg(S, PREORDER), _seg(S, KID_PTR), _seg(S, KIDS)
    sep_ptr, sep_vars, unit = _seg(S, SEP_PTR), _seg(S, SEP_VARS), _seg(S, UNIT)
    invu0_off, d0_off = _seg(S, INVU0_OFF), _seg(S, D0_OFF)
    kind, evs, cst, goff = Q[0], Q[1], Q[2], Q[4]
    n_cl = parent.size
    root = preorder[0]
    bases = np.empty(nb, np.int64)
    wf = np.ones(n_cl, np.int64)
    wb = np.ones(n_cl, np.int64)
    _widths(S, kind, active, down, top, nb, wf, wb)
    tables = [np.empty(0) for _ in range(n_cl)]
    raws = [np.empty(0) for _ in range(n_cl)]
    pend = [np.empty(0) for _ in range(n_cl)]
    inv_s = np.ones((n_cl, nb))
    logs = np.zeros(nb)
    # ---- collect
    for i in range(preorder.size - 1, -1, -1):
        c = preorder[i]
        if active[c] == 0 or c == top:
            continue
        w = wf[c]
        T = np.empty(0)
        if leaf_off[c] >= 0:
            raw = _leaf_raw(L, leaf_off[c], leaf_size[c], gvars[gptr[c]:gptr[c + 1]],
                            gstr[gptr[c]:gptr[c + 1]], kind, evs, cst, cards, b0, w)
        else:
            T = _form(S, F, Q, c, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, pend)
            tv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
            sv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
            raw = _marg(S, T, tv, w, sv, kind, iw)
        sums = _column_sums(raw, w)
        for b in range(w):
            s = sums[b]
            if w == 1:
                ls = math.log(s) if s > 0 else -math.inf
                inv = 1.0 / s if s > 0 else 1.0
                for bb in range(nb):
                    logs[bb] += ls
                    inv_s[c, bb] = inv
            else:
                logs[b] += math.log(s) if s > 0 else -math.inf
                inv_s[c, b] = 1.0 / s if s > 0 else 1.0
        raws[c] = raw
        if keep and down[c] and wf[c] == wb[c]:
            tables[c] = T
        T = np.empty(0)
    # ---- top
    w = wf[top]
    T = _form(S, F, Q, top, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, pend)
    tv = cl_vars[cl_ptr[top]:cl_ptr[top + 1]]
    if top != root:
        sv = sep_vars[sep_ptr[top]:sep_ptr[top + 1]]
        _table_ext(tv, kind, cards, iw[_EXT_C])
        _const(MUL, T, tv, iw[_EXT_C], w, sv, d0_off[top], goff[2, top], S, F, Q, b0, iw, bases)
    n_e = T.size // w
    sums = _column_sums(T, w)
    for b in range(w):
        s = sums[b]
        if 0.0 < s < _TINY:
            inv = 1.0 / s
            for e in range(n_e):
                T[e * w + b] *= inv
            lz = math.log(s)
            s = 1.0
        else:
            lz = math.log(s) if s > 0 else -math.inf
        if w == 1:
            for bb in range(nb):
                z[b0 + bb] = s
                log_z[b0 + bb] = lz + logs[bb]
        else:
            z[b0 + b] = s
            log_z[b0 + b] = lz + logs[b]
    # ---- distribute along the paths to the read-out cliques
    tables[top] = T
    deltas = [np.empty(0) for _ in range(n_cl)]
    for i in range(preorder.size):
        c = preorder[i]
        if c != top and down[c] == 0:
            continue
        tv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
        w = wb[c]
        if c == top:
            B = tables[c]
        else:
            if tables[c].size > 0:
                B = tables[c]
            else:
                B = _form(S, F, Q, c, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, pend)
            sv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
            _table_ext(tv, kind, cards, iw[_EXT_C])
            wp = wb[parent[c]]
            _work_strides(tv, sv, kind, cards, wp, iw[_XS])
            _apply(MUL, B, deltas[c], 0, iw[_EXT_C], iw[_XS], tv.size, w, 1 if wp > 1 else 0, iw)
            deltas[c] = np.empty(0)
        tables[c] = np.empty(0)
        for j in range(read_vars.size):
            if read_from[j] != c:
                continue
            r = read_vars[j]
            _table_ext(tv, kind, cards, iw[_EXT_C])
            xs = iw[_XS]
            for d in range(tv.size):
                xs[d] = n_out if tv[d] == r else 0
            base = read_off[j] * n_out + b0
            _apply(ACC, B, out, base, iw[_EXT_C], xs, tv.size, w, 1, iw)
            if w == 1 and nb > 1:
                for x in range(cards[r]):
                    row = out[base + x * n_out:base + x * n_out + nb]
                    for bb in range(1, nb):
                        row[bb] = row[0]
        for j in range(kid_ptr[c], kid_ptr[c + 1]):
            k = kids[j]
            if down[k] == 0:
                continue
            sv = sep_vars[sep_ptr[k]:sep_ptr[k + 1]]
            delta = _marg(S, B, tv, w, sv, kind, iw)
            ext = iw[_EXT_S]
            _table_ext(sv, kind, cards, ext)
            if active[k]:
                _work_strides(sv, sv, kind, cards, wf[k], iw[_XS])
                _apply(DIV, delta, raws[k], 0, ext, iw[_XS], sv.size, w, 1 if wf[k] > 1 else 0, iw)
            elif unit[k] == 0:
                _const(MUL, delta, sv, ext, w, sv, invu0_off[k], goff[1, k], S, F, Q, b0, iw, bases)
            deltas[k] = delta
        B = np.empty(0)


@njit(cache=True)
def run_cohort(S, F, kind, evs, cst, top, active, down, read_from, read_vars, read_off, chunk, keep, out,
               probs, L, leaf_off, leaf_size, gptr, gvars, gstr, korder, kptr, host):
    """Posterior marginals of every case (phi0 plans only). ``cst`` holds the per-case states of
    the CLAMPED and INDICATOR variables (row ``evs[v]``, -1 = unobserved); ``out`` (width x
    n_cases, zeros on entry) receives each case's marginals of the read variables (rows from
    ``read_off``; NaN for an impossible case) and ``probs`` 1.0 for a possible case, 0.0
    otherwise. The schedule (``top``, ``active``, ``down``, ``read_from``), the chunk size and
    the evidence leaves and absorptions (``L`` .. ``host``) come from
    :func:`bayesdx._cohortplan.cohort_plan`. A chunk never holds a single case unless the cohort
    does, so a case is computed the same way wherever it sits."""
    width, n_cases = out.shape
    n_cl = _seg(S, PARENT).size
    Q = (kind, evs, cst, np.zeros(0), np.full((3, n_cl), -1, np.int64), n_cases)
    P = (L, leaf_off, leaf_size, gptr, gvars, gstr, korder, kptr, host)
    log_z = np.empty(n_cases)
    z = np.empty(n_cases)
    iw = _scratch(S)
    flat = out.reshape(-1)
    b0 = 0
    while b0 < n_cases:
        nb = min(chunk, n_cases - b0)
        if n_cases - b0 - nb == 1:
            nb += 1  # no single-case tail
        _propagate(S, F, Q, b0, nb, read_vars, read_off, flat, n_cases, top, active, down, read_from, keep,
                   log_z, z, iw, P)
        b0 += nb
    for t in range(n_cases):
        ok = log_z[t] > -math.inf and z[t] > 0
        probs[t] = 1.0 if ok else 0.0
        scale = 1.0 / z[t] if ok else math.nan
        for j in range(width):
            out[j, t] *= scale
    return 0
