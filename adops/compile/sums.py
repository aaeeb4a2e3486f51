"""numpy's sum of a 1-d array, from numba code, with numpy's bits.

Contract. :func:`numpy_sum` ``(n,) -> scalar`` of the array's dtype equals ``np.sum(a)`` bit
for bit: for float32 and float64 it calls numpy's own add loop as numpy reduces with it
(:func:`adops.compile.simd.vsum`: ``0 +`` its SIMD pairwise sum), for other dtypes
:func:`pairwise` replays numpy's pairwise algorithm in numba. Whole programs sum rows
(:func:`adops.compile.rows.sum_rows`) and runs of a spread's transpose
(:func:`adops.compile.rows.sum_blocks`) with it.

>>> from numba import njit
>>> total = njit(lambda a: numpy_sum(a))
>>> a = np.random.default_rng(0).normal(size=1001)
>>> bool(total(a) == np.sum(a)), int(total(np.arange(5)))
(True, 10)
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

from .simd import sums_natively, vsum

_OPTS = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@njit(**_OPTS)
def _block_sum(a, lo, n):
    """numpy's sum of a block of at most 128 entries: eight accumulators from 8 entries up."""
    if n < 8:
        s = a.dtype.type(0) if n == 0 else a[lo]
        for i in range(lo + 1, lo + n):
            s += a[i]
        return s
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        s += a[lo + i]
        i += 1
    return s


def numpy_sum(a):
    """``np.sum`` of a 1-d array, called from numba code: numpy's own loop for float32 and
    float64 (:func:`adops.compile.simd.vsum`, SIMD), else :func:`pairwise`; numpy's bits."""
    return np.sum(a)


@overload(numpy_sum, jit_options=_OPTS)
def _numpy_sum(a):
    if sums_natively(a.dtype):
        return lambda a: vsum(a)
    return lambda a: pairwise(a)


@njit(**_OPTS)
def pairwise(a):
    """numpy's pairwise summation of a contiguous 1-D array (its algorithm and block size, so a
    full sum gives numpy's bits): halves split at a multiple of 8 down to blocks of 128, here
    with an explicit stack (numba's cache cannot link a recursive function into its callers)."""
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    stage = np.zeros(64, dtype=np.int64)
    left = np.empty(64, dtype=a.dtype)
    los[0], ns[0], sp = 0, a.shape[0], 1
    ret = a.dtype.type(0)
    while sp > 0:
        top = sp - 1
        n = ns[top]
        if n <= 128:
            ret = _block_sum(a, los[top], n)
            sp -= 1
            continue
        n2 = n // 2
        n2 -= n2 % 8
        if stage[top] == 0:      # sum the left half first
            stage[top] = 1
            los[sp], ns[sp], stage[sp] = los[top], n2, 0
            sp += 1
        elif stage[top] == 1:    # then the right half
            left[top] = ret
            stage[top] = 2
            los[sp], ns[sp], stage[sp] = los[top] + n2, n - n2, 0
            sp += 1
        else:
            ret = left[top] + ret
            sp -= 1
    return ret
