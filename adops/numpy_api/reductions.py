"""Reductions and running reductions on traced arrays: ``sum``, ``prod``, ``max``/``min``,
``mean``, ``var``, ``std``, vector and Frobenius ``linalg.norm``, ``cumsum``, ``cumprod``,
``average``.

Contract: each handler normalizes numpy's arguments (``axis`` to a tuple of non-negative axes,
``dtype=`` to a cast, ``out=``/``where=`` refused) and binds the reduction op (``sum``, ``prod``,
``max``, ``min``, ``cumsum``) or composes supported calls (``mean = sum / count``), so it
carries no derivative formula.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase, bind
from ..ops.registry import OPS, normalize_axis, shape_of
from .routes import implements, no_out, route, unsupported

SUM, PROD, MAX, MIN, CUMSUM = OPS["sum"], OPS["prod"], OPS["max"], OPS["min"], OPS["cumsum"]
#: the dtypes a traced value can have
TRACED_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _ndim(x) -> int:
    return len(shape_of(x))


def with_dtype(cls, x, dtype):
    """``x`` as numpy computes a reduction with ``dtype=``: float dtypes cast (differentiably),
    integer and bool dtypes give numpy's values (derivative 0), complex is refused."""
    if dtype is None or not isinstance(x, TracedBase):
        return x if dtype is None else np.asarray(x).astype(dtype)
    dt = np.dtype(dtype)
    if dt in TRACED_FLOATS or dt == bool or np.issubdtype(dt, np.integer):
        return x.astype(dt, copy=False)
    raise unsupported(f"dtype={dt}", cls._mode, "traced values are float32 or float64")


def _count(x, axes):
    shape = shape_of(x)
    return int(np.prod([shape[a] for a in axes])) if axes else 1


# ======================================================================== reductions
@implements(np.sum)
def _sum(cls, x, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    no_out(cls, "sum", out, where)
    x = with_dtype(cls, x, dtype)
    axes = normalize_axis(axis, _ndim(x))
    res = bind(SUM, x, axis=axes, keepdims=bool(keepdims))
    return res if initial is None else res + initial


@implements(np.mean)
def _mean(cls, x, axis=None, dtype=None, out=None, keepdims=False, where=None):
    no_out(cls, "mean", out, where)
    x = with_dtype(cls, x, dtype)
    axes = normalize_axis(axis, _ndim(x))
    return np.sum(x, axis=axes, keepdims=keepdims) / _count(x, axes)


def _reduce(op):
    def handler(cls, x, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                where=None):
        no_out(cls, op.name, out, where)
        x = with_dtype(cls, x, dtype)
        if initial is not None:
            raise unsupported(f"numpy.{op.name}(..., initial=...)", cls._mode)
        axes = normalize_axis(axis, _ndim(x))
        return bind(op, x, axis=axes, keepdims=bool(keepdims))
    return handler


def _extremum(op):
    reduce = _reduce(op)

    def handler(cls, x, axis=None, out=None, keepdims=False, initial=None, where=None):
        return reduce(cls, x, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    return handler


for _fn, _op in ((np.max, MAX), (np.amax, MAX), (np.min, MIN), (np.amin, MIN)):
    route(_fn, _extremum(_op))
route(np.prod, _reduce(PROD))


@implements(np.var)
def _var(cls, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, **kw):
    no_out(cls, "var", out, where)
    x = with_dtype(cls, x, dtype)
    ddof = kw.get("correction", ddof)
    axes = normalize_axis(axis, _ndim(x))
    centered = x - np.mean(x, axis=axes, keepdims=True)
    return np.sum(centered * centered, axis=axes, keepdims=keepdims) / (_count(x, axes) - ddof)


@implements(np.std)
def _std(cls, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, **kw):
    return np.sqrt(_var(cls, x, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims,
                        where=where, **kw))


@implements(np.linalg.norm)
def vector_or_frobenius_norm(cls, x, ord=None, axis=None, keepdims=False):
    """``numpy.linalg.norm`` of vectors (every ``ord`` but 0) and the Frobenius norm of
    matrices; :mod:`adops.numpy_api.linalg` adds the other matrix norms."""
    nd = _ndim(x)
    if axis is None and ord is None:
        return np.sqrt(np.sum(x * x, keepdims=keepdims))
    vector = (axis is not None and np.ndim(axis) == 0) or (axis is None and nd == 1)
    if vector:
        ax = normalize_axis(axis, nd)
        a = np.abs(x)
        if ord is None or ord == 2:
            return np.sqrt(np.sum(x * x, axis=ax, keepdims=keepdims))
        if ord == np.inf:
            return np.max(a, axis=ax, keepdims=keepdims)
        if ord == -np.inf:
            return np.min(a, axis=ax, keepdims=keepdims)
        if ord == 1:
            return np.sum(a, axis=ax, keepdims=keepdims)
        if ord == 0:
            raise unsupported("numpy.linalg.norm(ord=0)", cls._mode, "it counts nonzeros")
        return np.sum(a ** ord, axis=ax, keepdims=keepdims) ** (1.0 / ord)
    if ord in (None, "fro"):
        ax = normalize_axis(axis, nd)
        return np.sqrt(np.sum(x * x, axis=ax, keepdims=keepdims))
    raise unsupported(f"numpy.linalg.norm(ord={ord!r}) of a matrix", cls._mode,
                      "vector norms and the Frobenius norm are supported")


# ================================================================ running reductions
def _running_axis(x, axis):
    """numpy's ``axis=None`` of a running reduction: over the flattened array."""
    if axis is None:
        return np.ravel(x), 0
    (axis,) = normalize_axis(axis, _ndim(x))
    return x, axis


def scan(x, axis, combine):
    """Inclusive scan of ``combine`` along ``axis`` in log depth (Hillis-Steele): each step
    combines the array with itself shifted, so it is a composite of ops, differentiable to any
    order.

    Example:
        >>> scan(np.array([1.0, 2.0, 3.0, 4.0]), 0, np.multiply).tolist()
        [1.0, 2.0, 6.0, 24.0]
    """
    n = shape_of(x)[axis]
    pre = (slice(None),) * axis
    step = 1
    while step < n:
        head = x[pre + (slice(0, step),)]
        tail = combine(x[pre + (slice(step, None),)], x[pre + (slice(0, n - step),)])
        x = np.concatenate([head, tail], axis=axis)
        step *= 2
    return x


@implements(np.cumsum)
def _cumsum(cls, x, axis=None, dtype=None, out=None):
    no_out(cls, "cumsum", out)
    x, axis = _running_axis(with_dtype(cls, x, dtype), axis)
    return bind(CUMSUM, x, axis=axis)


@implements(np.cumprod)
def _cumprod(cls, x, axis=None, dtype=None, out=None):
    """Running product as a log-depth scan of multiplies."""
    no_out(cls, "cumprod", out)
    x, axis = _running_axis(with_dtype(cls, x, dtype), axis)
    return scan(x, axis, np.multiply)


@implements(np.average)
def _average(cls, x, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        return np.mean(x, axis=axis, keepdims=keepdims)
    axes = normalize_axis(axis, _ndim(x))
    w = weights if _ndim(weights) == _ndim(x) else _weights_along(weights, axes, _ndim(x))
    return np.sum(x * w, axis=axes, keepdims=keepdims) / np.sum(w * np.ones(shape_of(x)),
                                                                 axis=axes, keepdims=keepdims)


def _weights_along(w, axes, nd):
    shape = [1] * nd
    shape[axes[0]] = -1
    return np.reshape(w, tuple(shape))
