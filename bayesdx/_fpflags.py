"""The processor's floating-point status flags, read around a compiled kernel call.

numpy reports an underflow, overflow or invalid operation of its own ufuncs (``numpy.errstate``);
numba kernels do not. The C library's ``feclearexcept``/``fetestexcept`` read the same flags, so the
compiled engine clears them before a kernel call and tests them after it: a raised flag means a
table may have lost an entry, and the query is answered again by the numpy engine, which checks
every step. Where the C functions or the flag values are unknown (e.g. Windows), :func:`available`
is False and the compiled engine falls back to a static test of the network's tables.

A call through ``ctypes`` costs a microsecond, and ten or more when other work has just evicted
the caches, so the query kernel clears and tests the same flags itself
(:func:`bayesdx._jtentry.run_query_flagged`, given :func:`mask`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

__all__ = ["available", "clear", "raised", "mask"]

# FE_INVALID | FE_OVERFLOW | FE_UNDERFLOW of <fenv.h>, per architecture
_MASKS = {"x86_64": 0x01 | 0x08 | 0x10, "amd64": 0x01 | 0x08 | 0x10, "i386": 0x01 | 0x08 | 0x10,
          "i686": 0x01 | 0x08 | 0x10, "aarch64": 0x01 | 0x04 | 0x08, "arm64": 0x01 | 0x04 | 0x08}
_LIB = None
_MASK = 0


def _load():
    global _LIB, _MASK
    if _LIB is not None:
        return _LIB or None
    _LIB = False
    mask = _MASKS.get(platform.machine().lower())
    if mask is None or sys.platform == "win32":
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("m") or ("libSystem.dylib" if sys.platform == "darwin" else "libm.so.6"))
        test, clear_ = lib.fetestexcept, lib.feclearexcept
    except (OSError, AttributeError):
        return None
    test.argtypes = clear_.argtypes = [ctypes.c_int]
    test.restype = clear_.restype = ctypes.c_int
    # check that the flags really are seen: 5e-324 * 0.5 underflows
    clear_(mask)
    tiny = float.fromhex("0x0.0000000000001p-1022")
    _ = tiny * float(len(sys.argv) + 0.5) / 3.0  # not folded away: the operands are run-time values
    if not test(mask):
        return None
    clear_(mask)
    _LIB, _MASK = (test, clear_), mask
    return _LIB


def available() -> bool:
    """True when the flags can be read on this platform."""
    return _load() is not None


def mask() -> int:
    """FE_INVALID | FE_OVERFLOW | FE_UNDERFLOW on this platform (0 where the flags cannot be
    read): what a kernel that clears and tests the flags itself
    (:func:`bayesdx._jtentry.run_query_flagged`) is given."""
    return _MASK if _load() is not None else 0


def clear() -> None:
    """Clear the underflow, overflow and invalid flags."""
    lib = _load()
    if lib is not None:
        lib[1](_MASK)


def raised() -> bool:
    """True when an underflow, overflow or invalid operation happened since :func:`clear`."""
    lib = _load()
    return lib is not None and bool(lib[0](_MASK))
