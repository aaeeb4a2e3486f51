"""New arrays made from a traced one: ``copy`` and the ``*_like`` constructors.

Contract: ``np.copy(x)`` is a new traced object with ``x``'s value; ``np.zeros_like(x)``,
``ones_like``, ``empty_like``, ``full_like`` are constants of ``x``'s level when their dtype is
float (so writing traced values into them works as in numpy), plain arrays otherwise.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase
from .reductions import TRACED_FLOATS
from ..ops.registry import shape_of
from .routes import implements


@implements(np.copy)
def _copy(cls, x, *a, **k):
    return x.copy() if isinstance(x, TracedBase) else np.copy(x, *a, **k)


def constant_like(x, value, dtype=None, shape=None):
    """A constant with ``x``'s shape (or ``shape``): at ``x``'s level when it is float, so that
    ``z = np.zeros_like(x); z[0] = x[1]`` works as in numpy; plain for other dtypes."""
    dt = np.dtype(dtype) if dtype is not None else x.dtype
    arr = np.full(shape_of(x) if shape is None else shape, value, dtype=dt)
    if isinstance(x, TracedBase) and dt in TRACED_FLOATS:
        return x._constant_like(arr)
    return arr


@implements(np.zeros_like, np.empty_like)
def _zeros_like(cls, x, dtype=None, order="K", subok=True, shape=None, **kw):
    return constant_like(x, 0, dtype, shape)


@implements(np.ones_like)
def _ones_like(cls, x, dtype=None, order="K", subok=True, shape=None, **kw):
    return constant_like(x, 1, dtype, shape)


@implements(np.full_like)
def _full_like(cls, x, fill_value, dtype=None, order="K", subok=True, shape=None, **kw):
    if isinstance(fill_value, TracedBase):
        return constant_like(x, 0, dtype, shape) + fill_value
    return constant_like(x, fill_value, dtype, shape)
