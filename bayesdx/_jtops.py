"""The loops of the compiled engine: strided combinations of flat float64 tables (numba).

Imported only by :mod:`bayesdx._jtkernel` (numba is loaded on the first engine build).

A *working table* over sorted variables ``V`` is C-contiguous over the free variables of ``V``
(observed or clamped variables have extent 1: evidence is entered by slicing) followed by a batch
axis of width ``w`` (1, or the chunk's batch size when the table depends on per-element clamps or
indicators; width-1 operands broadcast). A *constant* (a CPT, a prior message, a prior clique
table) is C-ordered over all of its variables; it is read at a base offset (the observed states)
and, for clamped variables, at one base per batch element (:func:`_gather`). :func:`_apply`
combines a working table with any operand over a subset of its variables through strides, after
merging adjacent axes, so that the innermost loop runs over contiguous memory.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _no_refcounts() -> dict:
    """``{"_nrt": False}`` where this numba takes it, else ``{}``.

    Compiled with numba's runtime, a function increments and decrements the reference count of
    every array argument on each call (two atomic operations each) and of every view it takes;
    on small networks these were about 40% of a query (``perf``). Nothing here allocates or
    keeps an array beyond the call, so the loops are compiled without the runtime: the query
    kernel then runs about 15% faster on sachs and child. ``_nrt`` is a private numba option
    (numba raises on an unknown one), so it is passed only where numba declares it.

    A function compiled so must not return or keep an array it is given or makes: its caller
    would release it without the reference it never took (a crash, or worse)."""
    try:
        from numba.core.options import DefaultOptions
    except ImportError:  # pragma: no cover (a numba that moved its options)
        return {}
    return {"_nrt": False} if hasattr(DefaultOptions, "_nrt") else {}


_NO_REFCOUNTS = _no_refcounts()

SET, MUL, ACC, DIV = 0, 1, 2, 3
#: Kinds of variables in a query.
FREE, SLICED, CLAMPED, INDICATOR = 0, 1, 2, 3
# rows of the integer scratch array ``iw``
_EXT_C, _EXT_S, _XS, _ME, _MX, _IDX = 0, 1, 2, 3, 4, 5


# ----------------------------------------------------------------------------- primitives
@njit(cache=True, **_NO_REFCOUNTS)
def _merge(ext, xs, nd, w, xw, iw):
    """Merge adjacent axes (batch innermost) whose operand strides are contiguous into rows
    ``iw[_ME]`` (extents) and ``iw[_MX]`` (operand strides), innermost first; returns their
    number and the total size."""
    m = 0
    if w > 1:
        iw[_ME, 0] = w
        iw[_MX, 0] = xw
        m = 1
    total = w
    for d in range(nd - 1, -1, -1):
        e = ext[d]
        if e == 1:
            continue
        total *= e
        s = xs[d]
        if m > 0 and s == iw[_ME, m - 1] * iw[_MX, m - 1]:
            iw[_ME, m - 1] *= e
        else:
            iw[_ME, m] = e
            iw[_MX, m] = s
            m += 1
    if m == 0:
        iw[_ME, 0] = 1
        iw[_MX, 0] = 0
        m = 1
    for k in range(m):
        iw[_IDX, k] = 0
    return m, total


@njit(cache=True, **_NO_REFCOUNTS)
def _advance(iw, m, x, k=1):
    """Step the odometer over merged axes k..m-1; returns the operand offset.

    The loops below write this step out instead of calling it: a call that passes an array
    costs atomic reference count updates (inlined by numba or not), and they ran once per row,
    more than the arithmetic of short rows."""
    while k < m:
        iw[_IDX, k] += 1
        x += iw[_MX, k]
        if iw[_IDX, k] < iw[_ME, k]:
            break
        x -= iw[_MX, k] * iw[_ME, k]
        iw[_IDX, k] = 0
        k += 1
    return x


# The loops of _apply, one function per mode (no mode test inside a loop). ``T`` is walked in
# order as blocks of n1 rows of n0 elements; the operand advances by s0 along a row, by s1 from
# row to row and by the odometer over merged axes 2.. from block to block, so short rows do
# not pay an odometer step each. Unsigned indices: numba then skips its negative-index
# wraparound, and the loops vectorise.
@njit(cache=True, **_NO_REFCOUNTS)
def _rows_mul(T, X, x, n0, s0, n1, s1, n_blocks, m, iw):
    t = np.uint64(0)
    nn = np.uint64(n0)
    ss = np.uint64(s0)
    for _ in range(n_blocks):
        xr = x
        for _ in range(n1):
            xx = np.uint64(xr)
            if s0 == 1:
                for i in range(nn):
                    T[t + i] *= X[xx + i]
            elif s0 == 0:
                v = X[xx]
                for i in range(nn):
                    T[t + i] *= v
            else:
                for i in range(nn):
                    T[t + i] *= X[xx + i * ss]
            t += nn
            xr += s1
        k = 2  # the odometer over merged axes 2.. (written out: see _advance)
        while k < m:
            iw[_IDX, k] += 1
            x += iw[_MX, k]
            if iw[_IDX, k] < iw[_ME, k]:
                break
            x -= iw[_MX, k] * iw[_ME, k]
            iw[_IDX, k] = 0
            k += 1


@njit(cache=True, **_NO_REFCOUNTS)
def _rows_set(T, X, x, n0, s0, n1, s1, n_blocks, m, iw):
    t = np.uint64(0)
    nn = np.uint64(n0)
    ss = np.uint64(s0)
    for _ in range(n_blocks):
        xr = x
        for _ in range(n1):
            xx = np.uint64(xr)
            if s0 == 1:
                for i in range(nn):
                    T[t + i] = X[xx + i]
            elif s0 == 0:
                v = X[xx]
                for i in range(nn):
                    T[t + i] = v
            else:
                for i in range(nn):
                    T[t + i] = X[xx + i * ss]
            t += nn
            xr += s1
        k = 2  # the odometer over merged axes 2.. (written out: see _advance)
        while k < m:
            iw[_IDX, k] += 1
            x += iw[_MX, k]
            if iw[_IDX, k] < iw[_ME, k]:
                break
            x -= iw[_MX, k] * iw[_ME, k]
            iw[_IDX, k] = 0
            k += 1


# Sums may be reassociated (fastmath "reassoc" only: no assumption about NaN, inf or signed
# zeros, and the processor's float flags are raised as before), so that LLVM vectorises them;
# results then differ from a sequential sum by rounding only.
@njit(cache=True, fastmath={"reassoc"}, **_NO_REFCOUNTS)
def _rows_acc(T, X, x, n0, s0, n1, s1, n_blocks, m, iw):
    t = np.uint64(0)
    nn = np.uint64(n0)
    ss = np.uint64(s0)
    for _ in range(n_blocks):
        xr = x
        for _ in range(n1):
            xx = np.uint64(xr)
            if s0 == 1:
                for i in range(nn):
                    X[xx + i] += T[t + i]
            elif s0 == 0:  # a row summed onto one entry (reassociated: vectorised)
                acc = 0.0
                for i in range(nn):
                    acc += T[t + i]
                X[xx] += acc
            else:
                for i in range(nn):
                    X[xx + i * ss] += T[t + i]
            t += nn
            xr += s1
        k = 2  # the odometer over merged axes 2.. (written out: see _advance)
        while k < m:
            iw[_IDX, k] += 1
            x += iw[_MX, k]
            if iw[_IDX, k] < iw[_ME, k]:
                break
            x -= iw[_MX, k] * iw[_ME, k]
            iw[_IDX, k] = 0
            k += 1


@njit(cache=True, **_NO_REFCOUNTS)
def _rows_div(T, X, x, n0, s0, n1, s1, n_blocks, m, iw):
    t = np.uint64(0)
    nn = np.uint64(n0)
    ss = np.uint64(s0)
    for _ in range(n_blocks):
        xr = x
        for _ in range(n1):
            xx = np.uint64(xr)
            if s0 == 0:
                v = X[xx]
                if v != 0.0:
                    for i in range(nn):
                        T[t + i] = T[t + i] / v
                else:
                    for i in range(nn):
                        T[t + i] = 0.0
            else:
                for i in range(nn):
                    v = X[xx + i * ss]
                    T[t + i] = T[t + i] / v if v != 0.0 else 0.0
            t += nn
            xr += s1
        k = 2  # the odometer over merged axes 2.. (written out: see _advance)
        while k < m:
            iw[_IDX, k] += 1
            x += iw[_MX, k]
            if iw[_IDX, k] < iw[_ME, k]:
                break
            x -= iw[_MX, k] * iw[_ME, k]
            iw[_IDX, k] = 0
            k += 1


@njit(cache=True, **_NO_REFCOUNTS)
def _apply(mode, T, X, xbase, ext, xs, nd, w, xw, iw):
    """Combine working table ``T`` (axes ``ext[:nd]`` then a batch of ``w``) with ``X`` read at
    ``xbase + sum_d i_d xs[d] + b xw``: SET T = X, MUL T *= X, ACC X += T, DIV T = T / X (0
    where X is 0)."""
    m, total = _merge(ext, xs, nd, w, xw, iw)
    n0 = iw[_ME, 0]
    s0 = iw[_MX, 0]
    n1 = iw[_ME, 1] if m > 1 else 1
    s1 = iw[_MX, 1] if m > 1 else 0
    n_blocks = total // (n0 * n1)
    if mode == MUL:
        _rows_mul(T, X, xbase, n0, s0, n1, s1, n_blocks, m, iw)
    elif mode == SET:
        _rows_set(T, X, xbase, n0, s0, n1, s1, n_blocks, m, iw)
    elif mode == ACC:
        _rows_acc(T, X, xbase, n0, s0, n1, s1, n_blocks, m, iw)
    else:
        _rows_div(T, X, xbase, n0, s0, n1, s1, n_blocks, m, iw)


@njit(cache=True, **_NO_REFCOUNTS)
def _gather(mode, T, X, bases, ext, xs, nd, w, iw):
    """SET or MUL ``T[j, b]`` by ``X[bases[b] + off_j]``: a constant gathered per batch element."""
    m, total = _merge(ext, xs, nd, 1, 0, iw)
    n_in = iw[_ME, 0]
    s_in = iw[_MX, 0]
    ww = np.uint64(w)
    t = 0
    x = 0
    for _ in range(total // n_in):
        for i in range(n_in):
            off = x + i * s_in
            tt = np.uint64((t + i) * w)
            if mode == SET:
                for b in range(ww):
                    T[tt + b] = X[np.uint64(bases[b] + off)]
            else:
                for b in range(ww):
                    T[tt + b] *= X[np.uint64(bases[b] + off)]
        t += n_in
        k = 1  # the odometer (see _advance)
        while k < m:
            iw[_IDX, k] += 1
            x += iw[_MX, k]
            if iw[_IDX, k] < iw[_ME, k]:
                break
            x -= iw[_MX, k] * iw[_ME, k]
            iw[_IDX, k] = 0
            k += 1


@njit(cache=True, **_NO_REFCOUNTS)
def _table_ext(tv, kind, cards, ext):
    """Extents of a working table over ``tv`` (1 for observed or clamped variables); its size."""
    size = 1
    for i in range(tv.size):
        k = kind[tv[i]]
        e = cards[tv[i]] if (k == FREE or k == INDICATOR) else 1
        ext[i] = e
        size *= e
    return size


@njit(cache=True, **_NO_REFCOUNTS)
def _work_strides(tv, xv, kind, cards, wx, xs):
    """Strides, along the axes of a table over ``tv``, of a working table over ``xv`` (a sorted
    subset of ``tv``) with batch width ``wx``."""
    stride = wx
    j = xv.size - 1
    for i in range(tv.size - 1, -1, -1):
        v = tv[i]
        if j >= 0 and xv[j] == v:
            k = kind[v]
            if k == FREE or k == INDICATOR:
                xs[i] = stride
                stride *= cards[v]
            else:
                xs[i] = 0
            j -= 1
        else:
            xs[i] = 0


@njit(cache=True, **_NO_REFCOUNTS)
def _load_const(mode, T, tv, ext, w, xv, off, F, kind, evs, cst, b0, cards, iw, bases, G, g, n_g):
    """SET or MUL the working table ``T`` over ``tv`` by the constant over ``xv`` at ``F[off:]``,
    sliced at the observed states and gathered at the clamped ones; read from its pre-gathered
    copy ``G[g:]`` instead when ``g`` >= 0 (see :func:`_load_gathered`)."""
    if g >= 0:
        _load_gathered(mode, T, tv, ext, w, xv, g, G, n_g, kind, evs, b0, cards, iw)
        return
    xs = iw[_XS]
    nd = tv.size
    stride = 1
    base = off
    clamp = False
    j = xv.size - 1
    for i in range(nd - 1, -1, -1):
        v = tv[i]
        if j >= 0 and xv[j] == v:
            k = kind[v]
            if k == FREE or k == INDICATOR:
                xs[i] = stride
            else:
                xs[i] = 0
                if k == SLICED:
                    base += evs[v] * stride
                else:
                    clamp = True
            stride *= cards[v]
            j -= 1
        else:
            xs[i] = 0
    if not clamp:
        _apply(mode, T, F, base, ext, xs, nd, w, 0, iw)
        return
    for b in range(w):
        bases[b] = base
    stride = 1
    for j in range(xv.size - 1, -1, -1):
        v = xv[j]
        if kind[v] == CLAMPED:
            row = evs[v]
            for b in range(w):
                bases[b] += cst[row, b0 + b] * stride
        stride *= cards[v]
    _gather(mode, T, F, bases, ext, xs, nd, w, iw)




@njit(cache=True, **_NO_REFCOUNTS)
def _load_gathered(mode, T, tv, ext, w, xv, g, G, n_g, kind, evs, b0, cards, iw):
    """SET or MUL ``T`` by a constant gathered beforehand at every configuration of the clamped
    variables: ``G[g:]`` is C-ordered over the constant's other variables, then the ``n_g``
    configurations (so the batch axis is contiguous and the read is a strided copy)."""
    xs = iw[_XS]
    nd = tv.size
    stride = n_g
    base = g + b0
    j = xv.size - 1
    for i in range(nd - 1, -1, -1):
        v = tv[i]
        if j >= 0 and xv[j] == v:
            k = kind[v]
            if k == FREE or k == INDICATOR:
                xs[i] = stride
                stride *= cards[v]
            elif k == SLICED:
                xs[i] = 0
                base += evs[v] * stride
                stride *= cards[v]
            else:
                xs[i] = 0
            j -= 1
        else:
            xs[i] = 0
    _apply(mode, T, G, base, ext, xs, nd, w, 1, iw)
