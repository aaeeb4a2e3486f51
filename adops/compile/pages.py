"""Zeroed arrays made inside compiled entries, large ones advised as huge-page candidates.

A result is a fresh array the caller owns, so a gradient of 10^6 float64 entries allocates 8 MB
at every call. Where glibc hands such an array fresh pages (after numba compiled in the process
it did, here), each 4 KB page faults on its first write: Rosenbrock's gradient at n = 10^6 took
~1900 faults per call and twice its time. numpy advises the kernel that arrays of 4 MB or more
may use huge pages (``madvise(MADV_HUGEPAGE)``; ~420 faults for the same 8 MB); numba's own
``np.zeros`` does not. :func:`zeroed` gives the advice before the first write, as numpy does,
then writes the zeros.

``zeroed(np.empty(shape, dtype))`` is the array ``np.zeros(shape, dtype)``. The advice is a
call of libc's ``madvise`` by its symbol name (no address is baked into the code, so the
callers stay cached on disk); on systems other than Linux it is left out.
"""
from __future__ import annotations

import sys

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: numpy's own threshold for the advice (``npy_alloc``: 4 MB)
HUGE_BYTES = 4 << 20
PAGE = 4096
#: Linux's MADV_HUGEPAGE
_MADV_HUGEPAGE = 14
ADVISES = sys.platform.startswith("linux")


@intrinsic
def _madvise_hugepage(typingctx, start, length):
    """``madvise(start, length, MADV_HUGEPAGE)``; its result (0, or -1 where the kernel has no
    transparent huge pages) is ignored by the caller: the advice is a hint."""
    if not (isinstance(start, types.Integer) and isinstance(length, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        size_t = context.get_value_type(types.uintp)
        fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(8).as_pointer(), size_t,
                                                ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "madvise")
        a = context.cast(builder, args[0], sig.args[0], types.uintp)
        n = context.cast(builder, args[1], sig.args[1], types.uintp)
        ptr = builder.inttoptr(a, ir.IntType(8).as_pointer())
        return builder.call(fn, [ptr, n, ir.Constant(ir.IntType(32), _MADV_HUGEPAGE)])
    return types.int32(start, length), codegen


if ADVISES:
    @njit(cache=True, nogil=True)
    def zeroed(a):
        """``a`` (fresh from ``np.empty``) filled with zeros, advised first when large.

        >>> import numpy as np
        >>> zeroed(np.empty((2, 3))).tolist()
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        """
        if a.nbytes >= HUGE_BYTES:
            address = a.ctypes.data
            start = (address + (PAGE - 1)) // PAGE * PAGE
            end = (address + a.nbytes) // PAGE * PAGE
            if end > start:
                _madvise_hugepage(start, end - start)
        a.fill(0)
        return a
else:  # pragma: no cover - macOS and Windows: no MADV_HUGEPAGE
    @njit(cache=True, nogil=True)
    def zeroed(a):
        """``a`` filled with zeros."""
        a.fill(0)
        return a
