"""Nonlinear reductions: prod, max, min. Each is one numba kernel giving value and local partial.

Contract: a kernel takes ``rows: (r, L)`` (the reduced axes flattened last) and returns
``out: (r,)`` and ``d: (r, L)`` with ``d[i, j] = d out[i] / d rows[i, j]``. :class:`ReduceOp`
applies ``d``: forward ``out_dot = sum(d * x_dot, axis)``, reverse ``x_bar = d * out_bar``.

Conventions:
- max/min: ties split evenly, each of the ``c`` tied entries gets ``1/c`` (so the derivative of
  ``max(x, x)`` as a reduction is 1, and a constant vector shifts the max with slope 1);
  ``nan`` entries propagate to the output as in numpy and then every ``d`` is ``nan``.
- prod: ``d_j`` is the product of all other entries, computed from prefix and suffix products,
  so it is exact when some entries are zero (no division by ``x_j``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import lazy

from .registry import defreduce

R_SIG = ["Tuple((float32[:], float32[:, :]))(float32[:, :])",
         "Tuple((float64[:], float64[:, :]))(float64[:, :])"]


@lazy(njit, R_SIG)
def max_partial(rows):
    r, n = rows.shape
    out = np.empty(r, dtype=rows.dtype)
    d = np.zeros((r, n), dtype=rows.dtype)
    for i in range(r):
        best = rows[i, 0]
        has_nan = np.isnan(best)
        for j in range(1, n):
            v = rows[i, j]
            if np.isnan(v):
                has_nan = True
            elif v > best:
                best = v
        if has_nan:
            out[i] = np.nan
            d[i, :] = np.nan
            continue
        out[i] = best
        count = 0
        for j in range(n):
            if rows[i, j] == best:
                count += 1
        for j in range(n):
            if rows[i, j] == best:
                d[i, j] = 1.0 / count
    return out, d


def min_partial(rows):
    out, d = max_partial(-rows)
    return -out, d


@lazy(njit, R_SIG)
def prod_partial(rows):
    r, n = rows.shape
    out = np.empty(r, dtype=rows.dtype)
    d = np.empty((r, n), dtype=rows.dtype)
    for i in range(r):
        acc = rows[i, 0] * 0 + 1
        for j in range(n):
            d[i, j] = acc
            acc *= rows[i, j]
        out[i] = acc
        acc = rows[i, 0] * 0 + 1
        for j in range(n - 1, -1, -1):
            d[i, j] *= acc
            acc *= rows[i, j]
    return out, d


defreduce("max", max_partial, numpy=[np.max, np.amax],
          doc="Maximum over axis; ties split evenly among the tied entries.")
defreduce("min", min_partial, numpy=[np.min, np.amin],
          doc="Minimum over axis; ties split evenly among the tied entries.")
defreduce("prod", prod_partial, numpy=[np.prod],
          doc="Product over axis; partial = product of the other entries (exact at zeros).")
