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

from ._jtkernel import _at, _close_top, _column_sums, _const, _marg, _scratch, _seg, _span, _widths
from ._jtops import (_EXT_C, _EXT_S, _IDX, _ME, _MX, _XS, ACC, CLAMPED, DIV, FREE, INDICATOR, MUL, SET, SLICED,
                     _apply, _table_ext, _work_strides)
from ._jtplan import CARDS, CL_PTR, CL_VARS, D0_OFF, INVU0_OFF, KID_PTR, KIDS, PARENT, PHI0_OFF, PREORDER, \
    SEP_PTR, SEP_VARS, TOP_OF, UNIT

__all__ = ["run_cohort"]

#: Digest of the files compiled into this module's cached kernels (numba keys its disk cache on
#: this file's text alone, so a change there must change this line; tests/test_kernel_cache.py).
_KERNEL_SOURCES = "79c615b010aa0a91"

#: ``host`` of a child whose message goes into its parent's upward message (its separator lies
#: in the parent's) rather than into the parent's table.
_LATE = -2


@njit(cache=True)
def _leaf_message(L, LS, off, size, ls_off, gvars, gstr, kind, evs, cst, cards, b0, w, logs, buf):
    """The upward message of an evidence leaf (``size`` separator entries, batch ``w``): the row
    of its table ``L[off:]`` at each case's gathered states (``gvars``, row strides ``gstr``; an
    unobserved indicator reads its extra state, the sum over its states), the log of the row's
    scale ``LS[ls_off + row]`` added to the case's ``logs``."""
    row = np.zeros(w, np.int64)
    for i in range(gvars.size):
        v = gvars[i]
        st = gstr[i]
        if kind[v] == SLICED:
            s = evs[v]
            for b in range(w):
                row[b] += s * st
        else:
            states = cst[evs[v]]
            unobserved = cards[v]
            for b in range(w):
                s = states[b0 + b]
                row[b] += (s if s >= 0 else unobserved) * st
    if w == 1:
        for b in range(logs.size):
            logs[b] += LS[ls_off + row[0]]
    else:
        for b in range(w):
            logs[b] += LS[ls_off + row[b]]
    base = np.empty(w, np.int64)
    for b in range(w):
        base[b] = off + row[b] * size
    msg = buf[:size * w]
    for j in range(size):
        dst = msg[j * w:(j + 1) * w]
        for b in range(w):
            dst[b] = L[base[b] + j]
    return msg


@njit(cache=True)
def _kid_message(S, F, Q, k, raws, inv_s, wf, b0, iw, bases, buf):
    """Child ``k``'s upward message into ``buf``: normalised and divided by its prior."""
    raw = raws[k]
    wk = wf[k]
    tmp = buf[:raw.size]
    inv = inv_s[k, :wk]
    for e in range(raw.size // wk):
        src = raw[e * wk:(e + 1) * wk]
        dst = tmp[e * wk:(e + 1) * wk]
        for b in range(wk):
            dst[b] = src[b] * inv[b]
    if _at(S, UNIT, k) == 0:
        sv = _span(S, SEP_PTR, SEP_VARS, k)
        ext = iw[_EXT_S]
        _table_ext(sv, Q[0], _seg(S, CARDS), ext)
        _const(MUL, tmp, sv, ext, wk, sv, _at(S, INVU0_OFF, k), Q[4][1, k], S, F, Q, b0, iw, bases)
    return tmp


@njit(cache=True)
def _marg_into(S, T, tv, w, sv, kind, iw, buf):
    """The working table ``T`` (over ``tv``, width ``w``) summed onto ``sv``, into ``buf``."""
    cards = _seg(S, CARDS)
    size = _table_ext(sv, kind, cards, iw[_EXT_S])
    out = buf[:size * w]
    out[:] = 0.0
    _table_ext(tv, kind, cards, iw[_EXT_C])
    _work_strides(tv, sv, kind, cards, w, iw[_XS])
    _apply(ACC, T, out, 0, iw[_EXT_C], iw[_XS], tv.size, w, 1 if w > 1 else 0, iw)
    return out


@njit(cache=True)
def _form(S, F, Q, c, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, ind_kid, leaf_off, consume,
          pend, mbuf, buf, defer):
    """The table of clique ``c`` (phi0 plan): its prior table gathered at the clamped states, the
    messages of its active children (``korder[kptr[c]:kptr[c + 1]]``, smallest separator first;
    a child with ``host`` >= 0 is multiplied into that sibling's message) and its indicators
    (into the message of child ``ind_kid[v]`` when there is one, else into the table). With
    ``defer``, the last child message due for the table is left out and its child returned (else
    -1), for :func:`_mul_marg_into`."""
    cards = _seg(S, CARDS)
    kind, evs, cst = Q[0], Q[1], Q[2]
    goff = Q[4]
    cl_ptr, cl_vars, top_of = _seg(S, CL_PTR), _seg(S, CL_VARS), _seg(S, TOP_OF)
    sep_ptr, sep_vars = _seg(S, SEP_PTR), _seg(S, SEP_VARS)
    tv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
    nd = tv.size
    ext = iw[_EXT_C]
    size = _table_ext(tv, kind, cards, ext)
    T = buf[:size * w] if buf.size >= size * w else np.empty(size * w)
    # the prior table is set together with the first message entering the table (one pass
    # instead of two) when no variable of the clique is clamped
    phi0 = _seg(S, PHI0_OFF)[c]
    unset = True
    for i in range(nd):
        if kind[tv[i]] == CLAMPED:
            unset = False
    if not unset:
        _const(SET, T, tv, ext, w, tv, phi0, goff[0, c], S, F, Q, b0, iw, bases)
    last = -1
    for j in range(kptr[c], kptr[c + 1]):
        k = korder[j]
        if pend[k].size > 0:
            msg = pend[k]
        elif leaf_off[k] >= 0:  # an evidence leaf's message is final: used as it is, or copied
            msg = raws[k] if consume else _copy_into(raws[k], mbuf[k])
        else:
            msg = _kid_message(S, F, Q, k, raws, inv_s, wf, b0, iw, bases, mbuf[k])
        pend[k] = np.empty(0)
        sk = sep_vars[sep_ptr[k]:sep_ptr[k + 1]]
        h = host[k]
        if h >= 0:
            if pend[h].size == 0:
                if leaf_off[h] >= 0:
                    pend[h] = raws[h] if consume else _copy_into(raws[h], mbuf[h])
                else:
                    pend[h] = _kid_message(S, F, Q, h, raws, inv_s, wf, b0, iw, bases, mbuf[h])
            sh = sep_vars[sep_ptr[h]:sep_ptr[h + 1]]
            _table_ext(sh, kind, cards, iw[_EXT_S])
            _work_strides(sh, sk, kind, cards, wf[k], iw[_XS])
            _apply(MUL, pend[h], msg, 0, iw[_EXT_S], iw[_XS], sh.size, wf[h], 1 if wf[k] > 1 else 0, iw)
        else:
            for i in range(sk.size):
                if kind[sk[i]] == INDICATOR and ind_kid[sk[i]] == k:
                    _table_ext(sk, kind, cards, iw[_EXT_S])
                    _indicator(msg, sk, i, iw[_EXT_S], wf[k], cst, evs[sk[i]], cards[sk[i]], b0, iw)
            if h == _LATE:
                pend[k] = msg  # multiplied into c's upward message instead (see _propagate)
                continue
            _table_ext(tv, kind, cards, ext)
            if unset:
                xbase = _phi0_strides(phi0, tv, kind, evs, cards, iw[_ME])
                _work_strides(tv, sk, kind, cards, wf[k], iw[_MX])
                _set_product(T, F, xbase, iw[_ME], msg, iw[_MX], 1 if wf[k] > 1 else 0, ext, nd, w, iw[_IDX])
                unset = False
                continue
            if defer:  # the last one is multiplied in while summing onto the separator
                if last >= 0:
                    _mul_in(S, T, tv, w, pend[last], last, wf[last], kind, iw)
                    pend[last] = np.empty(0)
                pend[k] = msg
                last = k
                continue
            _mul_in(S, T, tv, w, msg, k, wf[k], kind, iw)
    if unset:
        _table_ext(tv, kind, cards, ext)
        _const(SET, T, tv, ext, w, tv, phi0, goff[0, c], S, F, Q, b0, iw, bases)
    for i in range(nd):
        v = tv[i]
        if kind[v] == INDICATOR and top_of[v] == c and ind_kid[v] < 0:
            if last >= 0:
                _mul_in(S, T, tv, w, pend[last], last, wf[last], kind, iw)
                pend[last] = np.empty(0)
                last = -1
            _table_ext(tv, kind, cards, ext)
            _indicator(T, tv, i, ext, w, cst, evs[v], cards[v], b0, iw)
    return T, last


@njit(cache=True)
def _mul_in(S, T, tv, w, msg, k, wk, kind, iw):
    """Multiply the working table ``T`` (over ``tv``, width ``w``) by child ``k``'s message."""
    cards = _seg(S, CARDS)
    sk = _span(S, SEP_PTR, SEP_VARS, k)
    _table_ext(tv, kind, cards, iw[_EXT_C])
    _work_strides(tv, sk, kind, cards, wk, iw[_XS])
    _apply(MUL, T, msg, 0, iw[_EXT_C], iw[_XS], tv.size, w, 1 if wk > 1 else 0, iw)


@njit(cache=True)
def _mul_marg_into(S, T, tv, w, msg, k, wk, sv, kind, iw, buf):
    """``T`` times child ``k``'s message, summed onto ``sv``, into ``buf`` (``T`` is left as it
    is; ``w`` > 1). The same sums, in the same order, as a multiplication then
    :func:`_marg_into`."""
    cards = _seg(S, CARDS)
    size = _table_ext(sv, kind, cards, iw[_EXT_S])
    out = buf[:size * w]
    out[:] = 0.0
    ext = iw[_EXT_C]
    total = _table_ext(tv, kind, cards, ext)
    ys, os, idx = iw[_ME], iw[_MX], iw[_IDX]
    _work_strides(tv, _span(S, SEP_PTR, SEP_VARS, k), kind, cards, wk, ys)
    _work_strides(tv, sv, kind, cards, w, os)
    nd = tv.size
    for d in range(nd):
        idx[d] = 0
    ww = np.uint64(w)
    y = 0
    o = 0
    t = np.uint64(0)
    for _ in range(total):
        yy = np.uint64(y)
        oo = np.uint64(o)
        if wk > 1:
            for b in range(ww):
                out[oo + b] += T[t + b] * msg[yy + b]
        else:
            v = msg[yy]
            for b in range(ww):
                out[oo + b] += T[t + b] * v
        t += ww
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            y += ys[d]
            o += os[d]
            if idx[d] < ext[d]:
                break
            y -= ys[d] * ext[d]
            o -= os[d] * ext[d]
            idx[d] = 0
            d -= 1
    return out


@njit(cache=True)
def _phi0_strides(phi0, tv, kind, evs, cards, xs):
    """Strides of a clique's prior table (C order over ``tv``, at ``phi0``) along its working
    table's axes (0 for observed variables); returns the base offset at the observed states."""
    base = phi0
    stride = 1
    for i in range(tv.size - 1, -1, -1):
        v = tv[i]
        xs[i] = stride if (kind[v] == FREE or kind[v] == INDICATOR) else 0
        if kind[v] == SLICED:
            base += evs[v] * stride
        stride *= cards[v]
    return base


@njit(cache=True)
def _set_product(T, X, xbase, xs, Y, ys, yw, ext, nd, w, idx):
    """``T = X * Y`` over a working table (axes ``ext[:nd]``, then the batch of ``w``): ``X`` (no
    batch axis) read at ``xbase + sum_d i_d xs[d]``, ``Y`` at ``sum_d i_d ys[d] + b yw``."""
    total = 1
    for d in range(nd):
        idx[d] = 0
        total *= ext[d]
    ww = np.uint64(w)
    x = xbase
    y = 0
    t = np.uint64(0)
    for _ in range(total):
        xv = X[x]
        yy = np.uint64(y)
        if yw == 1:
            for b in range(ww):
                T[t + b] = xv * Y[yy + b]
        else:
            v = xv * Y[yy]
            for b in range(ww):
                T[t + b] = v
        t += ww
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            x += xs[d]
            y += ys[d]
            if idx[d] < ext[d]:
                break
            x -= xs[d] * ext[d]
            y -= ys[d] * ext[d]
            idx[d] = 0
            d -= 1


@njit(cache=True)
def _copy_into(src, buf):
    dst = buf[:src.size]
    dst[:] = src
    return dst


@njit(cache=True)
def _indicator(T, tv, i, ext, w, cst, row, card, b0, iw):
    """Multiply the working table ``T`` (over ``tv``, width ``w``) by the indicator of each
    case's state of ``tv[i]`` (row ``row`` of ``cst``; all ones where unobserved)."""
    ind = np.empty(card * w)
    for b in range(w):
        s = cst[row, b0 + b]
        for x in range(card):
            ind[x * w + b] = 1.0 if (s < 0 or s == x) else 0.0
    xs = iw[_XS]
    for d in range(tv.size):
        xs[d] = 0
    xs[i] = w
    _apply(MUL, T, ind, 0, ext, xs, tv.size, w, 1, iw)


@njit(cache=True)
def _read(B, tv, w, r, base, out, n_out, nb, kind, cards, iw):
    """Add the marginal of ``r`` in the working table ``B`` (over ``tv``) into ``out[base:]``."""
    _table_ext(tv, kind, cards, iw[_EXT_C])
    xs = iw[_XS]
    for d in range(tv.size):
        xs[d] = n_out if tv[d] == r else 0
    _apply(ACC, B, out, base, iw[_EXT_C], xs, tv.size, w, 1, iw)
    if w == 1 and nb > 1:
        for x in range(cards[r]):
            row = out[base + x * n_out:base + x * n_out + nb]
            for bb in range(1, nb):
                row[bb] = row[0]


@njit(cache=True)
def _read_outs(S, B, tv, w, c, kind, read_vars, read_from, read_off, out, n_out, b0, nb, iw):
    """The marginals of the variables read from clique ``c``; with three or more, each half of
    the clique's variables holding two or more of them is summed out first (two passes over the
    table instead of one per variable)."""
    cards = _seg(S, CARDS)
    n_here = 0
    for j in range(read_vars.size):
        n_here += read_from[j] == c
    half = tv.size // 2
    for part in range(2):
        hv = tv[:half] if part == 0 else tv[half:]
        n_part = 0
        for j in range(read_vars.size):
            if read_from[j] == c and (read_vars[j] < tv[half]) == (part == 0):
                n_part += 1
        staged = n_here >= 3 and n_part >= 2 and w > 1
        A = _marg(S, B, tv, w, hv, kind, iw) if staged else B
        av = hv if staged else tv
        for j in range(read_vars.size):
            if read_from[j] == c and (read_vars[j] < tv[half]) == (part == 0):
                _read(A, av, w, read_vars[j], read_off[j] * n_out + b0, out, n_out, nb, kind, cards, iw)


@njit(cache=True)
def _propagate(S, F, Q, b0, nb, read_vars, read_off, out, n_out, top, active, down, read_from, keep,
               log_z, z, iw, P, W):
    """One collect / distribute pass over cases ``b0 .. b0 + nb`` (as
    :func:`bayesdx._jtkernel._propagate`, with evidence leaves and absorbed messages)."""
    L, LS, leaf_off, leaf_size, ls_off, gptr, gvars, gstr, korder, kptr, host, ind_kid = P
    scratch, rbuf, mbuf = W
    none = np.empty(0)
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
            raws[c] = _leaf_message(L, LS, leaf_off[c], leaf_size[c], ls_off[c], gvars[gptr[c]:gptr[c + 1]],
                                    gstr[gptr[c]:gptr[c + 1]], kind, evs, cst, cards, b0, w, logs, rbuf[c])
            continue
        kept = keep and down[c] and wf[c] == wb[c]
        T, last = _form(S, F, Q, c, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, ind_kid, leaf_off,
                        down[c] == 0, pend, mbuf, none if kept else scratch, w > 1 and not kept)
        tv = cl_vars[cl_ptr[c]:cl_ptr[c + 1]]
        sv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
        if last >= 0:
            raw = _mul_marg_into(S, T, tv, w, pend[last], last, wf[last], sv, kind, iw, rbuf[c])
            pend[last] = np.empty(0)
        else:
            raw = _marg_into(S, T, tv, w, sv, kind, iw, rbuf[c])
        for j in range(kptr[c], kptr[c + 1]):
            k = korder[j]
            if host[k] == _LATE:
                sk = sep_vars[sep_ptr[k]:sep_ptr[k + 1]]
                _table_ext(sv, kind, cards, iw[_EXT_S])
                _work_strides(sv, sk, kind, cards, wf[k], iw[_XS])
                _apply(MUL, raw, pend[k], 0, iw[_EXT_S], iw[_XS], sv.size, w, 1 if wf[k] > 1 else 0, iw)
                pend[k] = np.empty(0)
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
        if kept:
            tables[c] = T
        T = np.empty(0)
    # ---- top
    w = wf[top]
    T = _form(S, F, Q, top, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, ind_kid, leaf_off, True,
              pend, mbuf, scratch, False)[0]
    tv = cl_vars[cl_ptr[top]:cl_ptr[top + 1]]
    if top != root:
        sv = sep_vars[sep_ptr[top]:sep_ptr[top + 1]]
        _table_ext(tv, kind, cards, iw[_EXT_C])
        _const(MUL, T, tv, iw[_EXT_C], w, sv, d0_off[top], goff[2, top], S, F, Q, b0, iw, bases)
    _close_top(T, w, nb, b0, logs, z, log_z)
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
                B = _form(S, F, Q, c, w, raws, inv_s, wf, b0, iw, bases, korder, kptr, host, ind_kid,
                          leaf_off, True, pend, mbuf, none, False)[0]
            sv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
            _table_ext(tv, kind, cards, iw[_EXT_C])
            wp = wb[parent[c]]
            _work_strides(tv, sv, kind, cards, wp, iw[_XS])
            _apply(MUL, B, deltas[c], 0, iw[_EXT_C], iw[_XS], tv.size, w, 1 if wp > 1 else 0, iw)
            deltas[c] = np.empty(0)
        tables[c] = np.empty(0)
        _read_outs(S, B, tv, w, c, kind, read_vars, read_from, read_off, out, n_out, b0, nb, iw)
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
def _workspace(S, kind, active, down, top, leaf_off, nb, iw):
    """Buffers reused by every chunk (fresh pages cost more than the arithmetic on them): one
    for the clique table formed during collect, and per clique one for its upward message and
    one for the message as its parent uses it."""
    cards, cl_ptr, cl_vars = _seg(S, CARDS), _seg(S, CL_PTR), _seg(S, CL_VARS)
    sep_ptr, sep_vars = _seg(S, SEP_PTR), _seg(S, SEP_VARS)
    n_cl = active.size
    most = 0
    rbuf = [np.empty(0) for _ in range(n_cl)]
    mbuf = [np.empty(0) for _ in range(n_cl)]
    for c in range(n_cl):
        if active[c] == 0 and c != top:
            continue
        if leaf_off[c] < 0:
            most = max(most, _table_ext(cl_vars[cl_ptr[c]:cl_ptr[c + 1]], kind, cards, iw[_EXT_C]))
        if c != top:
            size = _table_ext(sep_vars[sep_ptr[c]:sep_ptr[c + 1]], kind, cards, iw[_EXT_S]) * nb
            rbuf[c] = np.empty(size)
            mbuf[c] = np.empty(size)
    return np.empty(most * nb), rbuf, mbuf


@njit(cache=True)
def run_cohort(S, F, kind, evs, cst, top, active, down, read_from, read_vars, read_off, chunk, keep, out,
               probs, L, LS, leaf_off, leaf_size, ls_off, gptr, gvars, gstr, korder, kptr, host, ind_kid):
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
    P = (L, LS, leaf_off, leaf_size, ls_off, gptr, gvars, gstr, korder, kptr, host, ind_kid)
    log_z = np.empty(n_cases)
    z = np.empty(n_cases)
    iw = _scratch(S)
    flat = out.reshape(-1)
    W = _workspace(S, kind, active, down, top, leaf_off, min(n_cases, chunk + 1), iw)
    b0 = 0
    while b0 < n_cases:
        nb = min(chunk, n_cases - b0)
        if n_cases - b0 - nb == 1:
            nb += 1  # no single-case tail
        _propagate(S, F, Q, b0, nb, read_vars, read_off, flat, n_cases, top, active, down, read_from, keep,
                   log_z, z, iw, P, W)
        b0 += nb
    scale = np.empty(n_cases)
    for t in range(n_cases):
        ok = log_z[t] > -math.inf and z[t] > 0
        probs[t] = 1.0 if ok else 0.0
        scale[t] = 1.0 / z[t] if ok else math.nan
    for j in range(width):
        row = out[j]
        for t in range(n_cases):
            row[t] *= scale[t]
    return 0
