"""Nonlinear reductions: prod, max, min. Each is numpy's reduction and one local partial rule.

Contract: for ``x: (*shape)`` reduced over ``axis`` (a tuple), :class:`ReduceOp` moves the
reduced axes last and flattens ``x`` to rows ``(s, L)`` (one row per output entry, ``L``
entries reduced); the partial rule ``rule(rows, out) -> d: (s, L)``, ``out: (s, 1)`` the
reduction, gives ``d[i, j] = d out_i / d rows[i, j]``. The op applies it: forward ``out_dot =
sum(d * x_dot, axis)``, reverse ``x_bar = d * out_bar`` (strong-zero products).

One definition, three places. A rule is written once, with a few numpy calls that mean the same
on plain arrays (the eager tier), on traced values (an outer transform differentiates the rule:
second order) and inside numba (the compiled tier's form, :class:`adops.compile.forms.Reduce`,
compiles this very function with ``numba.njit``). The one numpy call numba lacks, a running
product along rows, is :func:`cumprod_rows`: ``np.cumprod(a, axis=1)`` on arrays, with a numba
overload (a loop) for compiled code, as :func:`adops.core.kernels.select` is for branches.

Conventions:
- max/min: ties split evenly, each of the ``c`` tied entries gets ``1/c`` (so the derivative of
  ``max(x, x)`` as a reduction is 1, and a constant vector shifts the max with slope 1);
  ``nan`` entries propagate to the output as in numpy and then every ``d`` of that slice is
  ``nan``. The partial is piecewise constant, so its own derivative is 0.
- prod: ``d_j`` is the product of all other entries, the product of the exclusive running
  products from the left and from the right, so it is exact when some entries are zero (no
  division by ``x_j``), and the value is numpy's (``inf`` stays ``inf``).
"""
from __future__ import annotations

import numpy as np
from numba.extending import overload

from .kinds import defreduce


def cumprod_rows(a):
    """The running product along each row of ``a: (s, L)``: ``np.cumprod(a, axis=1)`` (a loop
    in compiled code).

    >>> cumprod_rows(np.array([[1.0, 2.0, 3.0]])).tolist()
    [[1.0, 2.0, 6.0]]
    """
    return np.cumprod(a, axis=1)


@overload(cumprod_rows)
def _cumprod_rows_numba(a):
    def impl(a):
        out = np.empty_like(a)
        one = np.ones(1, dtype=a.dtype)[0]  # accumulate in a's dtype, as numpy does
        for i in range(a.shape[0]):
            acc = one
            for j in range(a.shape[1]):
                acc = acc * a[i, j]
                out[i, j] = acc
        return out
    return impl


def extremum_rows(rows, out):
    """``1/c`` on the ``c`` entries of a row equal to its extremum, 0 elsewhere; ``nan`` on a row
    whose extremum is ``nan``.

    >>> extremum_rows(np.array([[1.0, 3.0, 3.0]]), np.array([[3.0]])).tolist()
    [[0.0, 0.5, 0.5]]
    """
    hit = rows == out
    # a nan row has no hit (nan != nan), so 0 / 0 = nan everywhere in it, with no select
    # (numba's broadcast np.where took 60 of 114 us on GMM's (1000, 25); this 38 us)
    return (hit / hit.sum(axis=1).reshape((-1, 1))).astype(rows.dtype)


def prod_rows(rows, out):
    """The product of the other entries of each row: exclusive running products from the left
    times those from the right (no division, so exact at zeros).

    >>> prod_rows(np.array([[2.0, 0.0, 5.0]]), np.array([[0.0]])).tolist()
    [[0.0, 10.0, 0.0]]
    """
    ones = np.ones((rows.shape[0], 1), dtype=rows.dtype)
    left = cumprod_rows(np.concatenate((ones, rows[:, :-1]), axis=1))
    right = cumprod_rows(np.concatenate((ones, rows[:, :0:-1]), axis=1))[:, ::-1]
    return left * right


defreduce("max", np.max, extremum_rows, numpy=[np.max, np.amax], numba="max",
          doc="Maximum over axis; ties split evenly among the tied entries.")
defreduce("min", np.min, extremum_rows, numpy=[np.min, np.amin], numba="min",
          doc="Minimum over axis; ties split evenly among the tied entries.")
defreduce("prod", np.prod, prod_rows, numpy=[np.prod], numba="prod",
          doc="Product over axis; partial = product of the other entries (exact at zeros; "
              "numpy's value, so inf entries stay inf).")
