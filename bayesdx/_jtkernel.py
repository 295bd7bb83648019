"""Numba kernels that execute a :class:`bayesdx._jtplan.TreePlan` over flat float64 buffers.

This module imports numba; :mod:`bayesdx.compiled` imports it on the first engine build, so
``import bayesdx`` stays cheap. Every function is compiled once per machine (``cache=True``) and
called with one fixed set of argument types (int64 / float64, C-contiguous), so queries never
compile.

The loops over tables are in :mod:`bayesdx._jtops`; the entry points the engine calls (one query,
the constants gathered per target set, the prior pass) in :mod:`bayesdx._jtentry`.

Schedule (derived here from the query's pattern, no Python work per pattern)
    The same as the numpy engine's (:mod:`bayesdx.jtree`): evidence cliques (the clique closest
    to the root holding each observed, clamped or indicator variable), ``top`` = their lowest
    common ancestor (extended to the read-out cliques), collect over the evidence cliques'
    ancestors below ``top`` (subtrees without evidence contribute their prior upward message),
    the prior downward message at ``top``, and Hugin distribution (the parent's belief summed to
    the separator, divided by the unscaled upward message) along the paths to the read-out
    cliques only.

Numerical safety
    Every computed upward message is divided per batch element by its sum and the log of the sum
    accumulated, so tables stay near 1 whatever the number of findings and ln P(evidence) is
    exact; the top belief is renormalised when it sums to less than 1e-200 (the same guarantees
    as the numpy engine).

Memory
    Tables formed during collect are kept for distribute when every clique's table would total
    at most ``keep_floats``; otherwise no clique table outlives its step: a table is dropped
    once its message is out and formed again during distribute, a belief once its read-outs
    and its children's messages are out, and peak working memory is about the largest clique
    plus the separators. The batch is cut into chunks whose batch-dependent tables total at most ``chunk_floats``; upward messages
    that do not depend on the batch are computed once and shared by the chunks.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._jtops import (
    ACC,
    CLAMPED,
    DIV,
    FREE,
    INDICATOR,
    MUL,
    SET,
    SLICED,
    _EXT_C,
    _EXT_S,
    _NO_REFCOUNTS,
    _XS,
    _apply,
    _load_const,
    _table_ext,
    _work_strides,
)
from ._jtplan import (
    CARDS,
    CL_PTR,
    CL_VARS,
    D0_OFF,
    DEPTH,
    FAC_OFF,
    FAC_PTR,
    FAC_VARS,
    FAC_VPTR,
    INVU0_OFF,
    KID_PTR,
    KIDS,
    MISC,
    MISC_PHI0,
    PARENT,
    PHI0_OFF,
    PREORDER,
    READOUT,
    SAME_SEP,
    SEP_PTR,
    SEP_VARS,
    TOP_OF,
    U0_OFF,
    UNIT,
)

__all__ = ["FREE", "SLICED", "CLAMPED", "INDICATOR"]

#: Digest of the files compiled into this module's cached kernels (numba keys its disk cache on
#: this file's text alone, so a change there must change this line; tests/test_kernel_cache.py).
_KERNEL_SOURCES = "bb29c15d7c84da18"

#: The top belief is renormalised when it sums to less than this.
_TINY = 1e-200


@njit(cache=True, inline="always")
def _seg(S, k):
    return S[S[2 * k]:S[2 * k + 1]]


# Scalar reads and single views into S: every view costs an atomic reference count update in
# numba, so the per-clique helpers below read S directly instead of taking a view per segment.
@njit(cache=True, inline="always")
def _at(S, k, i):
    """Element ``i`` of segment ``k``."""
    return S[S[2 * k] + i]


@njit(cache=True, inline="always")
def _span(S, ptr, vals, i):
    """Entry ``i`` of a CSR list (pointer segment ``ptr``, values segment ``vals``), as a view."""
    base = S[2 * vals]
    return S[base + S[S[2 * ptr] + i]:base + S[S[2 * ptr] + i + 1]]

# ----------------------------------------------------------------------------- schedule
@njit(cache=True)
def _lca(a, b, parent, depth):
    while depth[a] > depth[b]:
        a = parent[a]
    while depth[b] > depth[a]:
        b = parent[b]
    while a != b:
        a = parent[a]
        b = parent[b]
    return a


@njit(cache=True)
def _holds(S, c, v):
    cl_ptr, cl_vars = _seg(S, CL_PTR), _seg(S, CL_VARS)
    for i in range(cl_ptr[c], cl_ptr[c + 1]):
        if cl_vars[i] == v:
            return True
    return False


@njit(cache=True)
def _schedule(S, kind, read_vars, active, down, read_from):
    """Mark the collect (``active``) and distribute (``down``) cliques and where each variable
    is read; returns ``top``."""
    parent, depth, top_of, readout = _seg(S, PARENT), _seg(S, DEPTH), _seg(S, TOP_OF), _seg(S, READOUT)
    preorder = _seg(S, PREORDER)
    n_cl = parent.size
    active[:] = 0
    down[:] = 0
    top0 = -1
    for v in range(kind.size):
        if kind[v] != FREE:
            c = top_of[v]
            top0 = c if top0 < 0 else _lca(top0, c, parent, depth)
    top = top0
    at_top = np.zeros(read_vars.size, np.bool_)
    for j in range(read_vars.size):
        r = read_vars[j]
        if top0 >= 0 and _holds(S, top0, r):
            at_top[j] = True
            continue
        c = readout[r]
        top = c if top < 0 else _lca(top, c, parent, depth)
    on_path = np.zeros(n_cl, np.bool_)
    if top >= 0:
        on_path[top] = True
    for j in range(read_vars.size):
        if not at_top[j]:
            c = readout[read_vars[j]]
            while not on_path[c]:
                on_path[c] = True
                c = parent[c]
    for j in range(read_vars.size):
        c = readout[read_vars[j]]
        read_from[j] = top0 if (at_top[j] and not on_path[c]) else c
    if top < 0:
        top = preorder[0]
    for v in range(kind.size):
        if kind[v] != FREE:
            c = top_of[v]
            while active[c] == 0:
                active[c] = 1
                if c == top:
                    break
                c = parent[c]
    for j in range(read_vars.size):
        c = read_from[j]
        while c != top and down[c] == 0:
            down[c] = 1
            c = parent[c]
    return top


@njit(cache=True)
def _widths(S, kind, active, down, top, nb, wf, wb):
    """Batch width of each clique's table when formed (``wf``) and of its belief (``wb``)."""
    cl_ptr, cl_vars, top_of = _seg(S, CL_PTR), _seg(S, CL_VARS), _seg(S, TOP_OF)
    kid_ptr, kids, preorder, parent = _seg(S, KID_PTR), _seg(S, KIDS), _seg(S, PREORDER), _seg(S, PARENT)
    for i in range(preorder.size - 1, -1, -1):
        c = preorder[i]
        wide = False
        for j in range(cl_ptr[c], cl_ptr[c + 1]):
            v = cl_vars[j]
            if kind[v] == CLAMPED or (kind[v] == INDICATOR and top_of[v] == c):
                wide = True
        for j in range(kid_ptr[c], kid_ptr[c + 1]):
            k = kids[j]
            if active[k] and wf[k] > 1:
                wide = True
        wf[c] = nb if wide else 1
    wb[top] = wf[top]
    for i in range(preorder.size):
        c = preorder[i]
        if down[c]:
            wb[c] = max(wf[c], wb[parent[c]])


# ----------------------------------------------------------------------------- clique tables
# A query's context is the tuple Q = (kind, evs, cst, G, goff, n_g): the kind of every variable
# and its observed state or row in ``cst`` (per-element states of clamped / indicator
# variables); ``G`` holds the constants pre-gathered at every clamp configuration (``n_g`` of
# them; ``goff[0, c]``: phi0 of clique c, ``goff[1, c]``: 1/U0 and ``goff[2, c]``: D0 of its
# separator; -1 when not pre-gathered).
@njit(cache=True, **_NO_REFCOUNTS)  # not inlined: unpacking Q here counts no references
def _const(mode, T, tv, ext, w, xv, off, g, S, F, Q, b0, iw, bases):
    kind, evs, cst, G, goff, n_g = Q
    _load_const(mode, T, tv, ext, w, xv, off, F, kind, evs, cst, b0, _seg(S, CARDS), iw, bases, G,
                g, n_g)


@njit(cache=True)
def _same_group(S, k, other):
    """Whether children ``k`` and ``other`` of one clique (in KIDS order, ``other`` first) share
    their separator: a run of equal separators in SAME_SEP leads back to ``other``."""
    while _at(S, SAME_SEP, k) >= 0 and k != other:
        k = _at(S, SAME_SEP, k)
    return k == other


@njit(cache=True)
def _kid_message(S, F, Q, k, raws, inv_s, wf, b0, iw, bases, use_phi0):
    """Child ``k``'s upward message, normalised (and divided by its prior in phi0 mode)."""
    raw = raws[k]
    wk = wf[k]
    tmp = np.empty(raw.size)
    # flat indices, no view per row: a view costs two atomic reference count updates
    if wk == 1:
        inv = inv_s[k, 0]
        for e in range(raw.size):
            tmp[e] = raw[e] * inv
    else:
        for e in range(raw.size // wk):
            base = e * wk
            for b in range(wk):
                tmp[base + b] = raw[base + b] * inv_s[k, b]
    if use_phi0 and _at(S, UNIT, k) == 0:
        sv = _span(S, SEP_PTR, SEP_VARS, k)
        ext = iw[_EXT_S]
        _table_ext(sv, Q[0], _seg(S, CARDS), ext)
        _const(MUL, tmp, sv, ext, wk, sv, _at(S, INVU0_OFF, k), Q[4][1, k], S, F, Q, b0, iw, bases)
    return tmp


@njit(cache=True)
def _form(S, F, Q, c, w, active, raws, inv_s, wf, b0, iw, bases, use_phi0):
    """The table of clique ``c``: its constants (sliced, gathered), the messages of its children
    (computed ones for active children, priors otherwise; messages over the same separator are
    multiplied together first) and its indicators, batch width ``w``."""
    cards = _seg(S, CARDS)
    kind, evs, cst, G, goff, n_g = Q
    tv = _span(S, CL_PTR, CL_VARS, c)
    nd = tv.size
    ext = iw[_EXT_C]
    size = _table_ext(tv, kind, cards, ext)
    T = np.empty(size * w)
    first = True
    if use_phi0:
        _const(SET, T, tv, ext, w, tv, _at(S, PHI0_OFF, c), goff[0, c], S, F, Q, b0, iw, bases)
        first = False
    else:
        for f in range(_at(S, FAC_PTR, c), _at(S, FAC_PTR, c + 1)):
            xv = _span(S, FAC_VPTR, FAC_VARS, f)
            _const(SET if first else MUL, T, tv, ext, w, xv, _at(S, FAC_OFF, f), -1, S, F, Q, b0, iw,
                   bases)
            first = False
    pending = T[:0]  # a view: no allocation (read only once a child's message is pending)
    pend_kid = -1
    j_end = _at(S, KID_PTR, c + 1)
    for j in range(_at(S, KID_PTR, c), j_end + 1):
        k = _at(S, KIDS, j) if j < j_end else -1
        if k >= 0 and active[k] == 0:
            if not use_phi0 and _at(S, UNIT, k) == 0:
                sv = _span(S, SEP_PTR, SEP_VARS, k)
                _const(SET if first else MUL, T, tv, ext, w, sv, _at(S, U0_OFF, k), -1, S, F, Q, b0, iw,
                       bases)
                first = False
            continue
        if k >= 0 and pend_kid >= 0 and wf[k] == wf[pend_kid] and _same_group(S, k, pend_kid):
            msg = _kid_message(S, F, Q, k, raws, inv_s, wf, b0, iw, bases, use_phi0)
            for e in range(msg.size):
                pending[e] *= msg[e]
            continue
        if pend_kid >= 0:  # flush the pending product into the table
            sv = _span(S, SEP_PTR, SEP_VARS, pend_kid)
            _table_ext(tv, kind, cards, ext)
            _work_strides(tv, sv, kind, cards, wf[pend_kid], iw[_XS])
            _apply(SET if first else MUL, T, pending, 0, ext, iw[_XS], nd, w,
                   1 if wf[pend_kid] > 1 else 0, iw)
            first = False
            pend_kid = -1
        if k >= 0:
            pending = _kid_message(S, F, Q, k, raws, inv_s, wf, b0, iw, bases, use_phi0)
            pend_kid = k
    if first:
        T[:] = 1.0
    for i in range(nd):
        v = tv[i]
        if kind[v] == INDICATOR and _at(S, TOP_OF, v) == c:
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
def _marg(S, T, tv, w, sv, kind, iw):
    """The working table of ``T`` (over ``tv``, width ``w``) summed onto the variables ``sv``."""
    cards = _seg(S, CARDS)
    size = _table_ext(sv, kind, cards, iw[_EXT_S])
    out = np.zeros(size * w)
    _table_ext(tv, kind, cards, iw[_EXT_C])
    _work_strides(tv, sv, kind, cards, w, iw[_XS])
    _apply(ACC, T, out, 0, iw[_EXT_C], iw[_XS], tv.size, w, 1 if w > 1 else 0, iw)
    return out


# ----------------------------------------------------------------------------- propagation
@njit(cache=True)
def _propagate(S, F, Q, b0, nb, read_vars, read_off, out, n_out, top, active, down, read_from, keep,
               log_z, z, iw, raws, inv_s, done, log_done):
    """One collect / distribute pass over batch elements ``b0 .. b0 + nb``: writes ``log_z`` and
    ``z`` (the total of every belief) for them and adds each read variable's unnormalised
    marginal into ``out`` (flat (width, n_out): rows from ``read_off``, a column per element).

    Tables formed during collect that distribute needs again are kept while they total at most
    ``keep`` floats (0 or inf from :func:`_run`; the others are formed again).

    ``raws``, ``inv_s`` (n_cl x chunk), ``done`` and ``log_done`` live across the chunks: a clique
    whose upward message does not depend on the batch (``done[c]`` = 0, 1 once computed; -1 for
    the others) sends it once for all chunks (``raws[c]``, its reciprocal sum ``inv_s[c]`` and
    log sum ``log_done[c]``)."""
    cards, cl_ptr, cl_vars, parent = _seg(S, CARDS), _seg(S, CL_PTR), _seg(S, CL_VARS), _seg(S, PARENT)
    preorder, kid_ptr, kids = _seg(S, PREORDER), _seg(S, KID_PTR), _seg(S, KIDS)
    sep_ptr, sep_vars, unit = _seg(S, SEP_PTR), _seg(S, SEP_VARS), _seg(S, UNIT)
    invu0_off, d0_off = _seg(S, INVU0_OFF), _seg(S, D0_OFF)
    use_phi0 = _seg(S, MISC)[MISC_PHI0] == 1
    kind, goff = Q[0], Q[4]
    n_cl = parent.size
    root = preorder[0]
    bases = np.empty(nb, np.int64)
    wf = np.ones(n_cl, np.int64)
    wb = np.ones(n_cl, np.int64)
    _widths(S, kind, active, down, top, nb, wf, wb)
    # one empty array stands for every released table (an allocation each time costs as much as
    # forming a small clique's table)
    none = np.empty(0)
    tables = [none for _ in range(n_cl)]
    kept = 0.0
    logs = np.zeros(nb)
    # ---- collect
    for i in range(preorder.size - 1, -1, -1):
        c = preorder[i]
        if active[c] == 0 or c == top:
            continue
        if done[c] == 1:  # sent by an earlier chunk (the same for every element)
            for bb in range(nb):
                logs[bb] += log_done[c]
            continue
        w = wf[c]
        T = _form(S, F, Q, c, w, active, raws, inv_s, wf, b0, iw, bases, use_phi0)
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
                for bb in range(inv_s.shape[1]):
                    inv_s[c, bb] = inv
                log_done[c] = ls
            else:
                logs[b] += math.log(s) if s > 0 else -math.inf
                inv_s[c, b] = 1.0 / s if s > 0 else 1.0
        raws[c] = raw
        if done[c] == 0:  # independent of the batch: shared with the later chunks
            done[c] = 1
        if down[c] and wf[c] == wb[c] and kept + T.size <= keep:
            tables[c] = T
            kept += T.size
        T = none  # released before the next table is formed
    # ---- top
    w = wf[top]
    T = _form(S, F, Q, top, w, active, raws, inv_s, wf, b0, iw, bases, use_phi0)
    tv = cl_vars[cl_ptr[top]:cl_ptr[top + 1]]
    if top != root:
        sv = sep_vars[sep_ptr[top]:sep_ptr[top + 1]]
        _table_ext(tv, kind, cards, iw[_EXT_C])
        _const(MUL, T, tv, iw[_EXT_C], w, sv, d0_off[top], goff[2, top], S, F, Q, b0, iw, bases)
    _close_top(T, w, nb, b0, logs, z, log_z)
    # ---- distribute, parents first; each belief is read, then sends its children's messages
    tables[top] = T
    deltas = [none for _ in range(n_cl)]
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
                B = _form(S, F, Q, c, w, active, raws, inv_s, wf, b0, iw, bases, use_phi0)
            sv = sep_vars[sep_ptr[c]:sep_ptr[c + 1]]
            _table_ext(tv, kind, cards, iw[_EXT_C])
            wp = wb[parent[c]]
            _work_strides(tv, sv, kind, cards, wp, iw[_XS])
            _apply(MUL, B, deltas[c], 0, iw[_EXT_C], iw[_XS], tv.size, w, 1 if wp > 1 else 0, iw)
            deltas[c] = none
        tables[c] = none
        # read-outs
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
        # messages to the children on the paths to read-outs (one marginal per separator)
        marg = none
        marg_kid = -1
        for j in range(kid_ptr[c], kid_ptr[c + 1]):
            k = kids[j]
            if down[k] == 0:
                continue
            sv = sep_vars[sep_ptr[k]:sep_ptr[k + 1]]
            if marg_kid >= 0 and _same_group(S, k, marg_kid):
                delta = marg.copy()
            else:
                marg = _marg(S, B, tv, w, sv, kind, iw)
                marg_kid = k
                # a copy only when a later sibling shares the separator
                nxt = j + 1
                while nxt < kid_ptr[c + 1] and down[kids[nxt]] == 0:
                    nxt += 1
                shared = nxt < kid_ptr[c + 1] and _same_group(S, kids[nxt], k)
                delta = marg.copy() if shared else marg
            ext = iw[_EXT_S]
            _table_ext(sv, kind, cards, ext)
            if active[k]:
                _work_strides(sv, sv, kind, cards, wf[k], iw[_XS])
                _apply(DIV, delta, raws[k], 0, ext, iw[_XS], sv.size, w, 1 if wf[k] > 1 else 0, iw)
            elif unit[k] == 0:
                _const(MUL, delta, sv, ext, w, sv, invu0_off[k], goff[1, k], S, F, Q, b0, iw, bases)
            deltas[k] = delta
        B = none


@njit(cache=True)
def _close_top(T, w, nb, b0, logs, z, log_z):
    """Write the total ``z`` and ln P(e) ``log_z`` (with the upward messages' logs ``logs``) of
    batch elements ``b0 .. b0 + nb`` from the top belief ``T`` (rows of ``w``), renormalising a
    column that sums to less than :data:`_TINY`."""
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


@njit(cache=True, fastmath={"reassoc"})  # a vectorised sum (see bayesdx._jtops._rows_acc)
def _column_sums(T, w):
    """Per batch element sums of a working table (rows of ``w``)."""
    sums = np.zeros(w)
    if w == 1:
        acc = 0.0
        for e in range(T.size):
            acc += T[e]
        sums[0] = acc
        return sums
    for e in range(T.size // w):
        base = e * w
        for b in range(w):
            sums[b] += T[base + b]
    return sums


@njit(cache=True)
def _scratch(S):
    cl_ptr = _seg(S, CL_PTR)
    most = 1
    for c in range(cl_ptr.size - 1):
        most = max(most, cl_ptr[c + 1] - cl_ptr[c])
    return np.zeros((6, most + 2), np.int64)


@njit(cache=True)
def _run(S, F, Q, n_batch, read_vars, read_off, out, chunk_floats, keep_floats, log_z, z):
    """Schedule once, choose the chunk, then propagate chunk by chunk.

    A chunk of ``chunk`` batch elements holds, for each clique whose table depends on the batch,
    ``chunk`` times its sliced size: ``chunk`` is the most whose such tables total at most
    ``chunk_floats`` (at least 1). Tables formed during collect are kept for distribute when
    every clique's table at that width would total at most ``keep_floats``; otherwise they are
    formed again, and peak working memory stays near the largest table."""
    n_cl = _seg(S, PARENT).size
    kind = Q[0]
    active = np.zeros(n_cl, np.int64)
    down = np.zeros(n_cl, np.int64)
    read_from = np.zeros(read_vars.size, np.int64)
    top = _schedule(S, kind, read_vars, active, down, read_from)
    # which tables depend on the batch (width 2 stands for any width above 1)
    wf = np.ones(n_cl, np.int64)
    wb = np.ones(n_cl, np.int64)
    _widths(S, kind, active, down, top, 2, wf, wb)
    cards, cl_ptr, cl_vars = _seg(S, CARDS), _seg(S, CL_PTR), _seg(S, CL_VARS)
    total, wide = 0.0, 0.0  # sliced sizes of every clique, of the propagated batch-wide ones
    for c in range(n_cl):
        size = 1.0
        for i in range(cl_ptr[c], cl_ptr[c + 1]):
            v = cl_vars[i]
            if kind[v] == FREE or kind[v] == INDICATOR:
                size *= cards[v]
        total += size
        if (active[c] or down[c] or c == top) and (wf[c] > 1 or wb[c] > 1):
            wide += size
    chunk = n_batch if wide == 0.0 else max(1, min(n_batch, int(chunk_floats // wide)))
    # tables are kept when every clique's table at the chunk's width would fit in keep_floats
    keep = math.inf if total * chunk <= keep_floats else 0.0
    iw = _scratch(S)
    none = np.empty(0)
    raws = [none for _ in range(n_cl)]  # one empty array in every slot until its message is sent
    inv_s = np.ones((n_cl, chunk))
    done = np.zeros(n_cl, np.int64)
    for c in range(n_cl):
        if wf[c] > 1:
            done[c] = -1
    log_done = np.zeros(n_cl)
    for b0 in range(0, n_batch, chunk):
        nb = min(chunk, n_batch - b0)
        _propagate(S, F, Q, b0, nb, read_vars, read_off, out, n_batch, top, active, down, read_from,
                   keep, log_z, z, iw, raws, inv_s, done, log_done)
