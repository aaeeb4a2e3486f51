"""Nonlinear reductions: prod, max, min. Each is numpy's reduction and one local partial rule.

Contract: for ``x: (*shape)`` reduced over ``axis`` (a tuple), the partial rule returns
``d: (*shape)`` with ``d[j] = d out / d x[j]`` (within each reduced slice). :class:`ReduceOp`
applies it: forward ``out_dot = sum(d * x_dot, axis)``, reverse ``x_bar = d * out_bar``. Rules
are numpy calls on ``x`` and the output with its axes kept, so they run on traced values too, and
an outer transform differentiates them (second order) with no formula written again.

Conventions:
- max/min: ties split evenly, each of the ``c`` tied entries gets ``1/c`` (so the derivative of
  ``max(x, x)`` as a reduction is 1, and a constant vector shifts the max with slope 1);
  ``nan`` entries propagate to the output as in numpy and then every ``d`` is ``nan``. The
  partial is piecewise constant, so its own derivative is 0.
- prod: ``d_j`` is the product of all other entries, the product of the exclusive running
  products from the left and from the right, so it is exact when some entries are zero (no
  division by ``x_j``), and the value is numpy's (``inf`` stays ``inf``).
"""
from __future__ import annotations

import numpy as np

from .kinds import defreduce


def extremum_partial(x, out_kept, axis):
    """``1/c`` on the ``c`` entries equal to the extremum of their slice, 0 elsewhere."""
    hit = x == out_kept
    d = hit / np.sum(hit, axis=axis, keepdims=True)
    d = d.astype(x.dtype, copy=False)
    if np.isnan(out_kept).any():
        d = np.where(np.isnan(out_kept), np.nan, d).astype(x.dtype, copy=False)
    return d


def prod_partial(x, out_kept, axis):
    """The product of the other entries of each reduced slice."""
    nd = len(x.shape)
    kept = tuple(a for a in range(nd) if a not in axis)
    moved = np.transpose(x, kept + axis)
    lead = moved.shape[:len(kept)]
    rows = np.reshape(moved, lead + (-1,))
    ones = np.ones(lead + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(rows, -1)[..., :-1]], axis=-1),
                               axis=-1), -1)
    d = np.reshape(left * right, moved.shape)
    return np.transpose(d, tuple(np.argsort(kept + axis)))


defreduce("max", np.max, extremum_partial, numpy=[np.max, np.amax],
          doc="Maximum over axis; ties split evenly among the tied entries.")
defreduce("min", np.min, extremum_partial, numpy=[np.min, np.amin],
          doc="Minimum over axis; ties split evenly among the tied entries.")
defreduce("prod", np.prod, prod_partial, numpy=[np.prod],
          doc="Product over axis; partial = product of the other entries (exact at zeros; "
              "numpy's value, so inf entries stay inf).")
