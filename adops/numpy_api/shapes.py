"""Shape and structure functions on traced arrays: reshape, transposes, added and removed axes,
broadcasting, joining, diagonals.

Contract: each handler resolves numpy's shape arguments (``-1`` in a shape, negative axes,
``axes=None``) to the explicit parameters of a structural op (``reshape``, ``transpose``,
``broadcast_to``, ``concatenate``, ``stack``, ``diagonal``) and binds it, or composes such calls
(``hstack``, ``trace``...), so it carries no derivative formula. ``reshape``/``ravel`` with
``order='F'`` are C order on the reversed axes.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import bind
from ..ops.registry import OPS, normalize_axis, shape_of
from .routes import implements, no_out, unsupported

RESHAPE, TRANSPOSE, BROADCAST_TO = OPS["reshape"], OPS["transpose"], OPS["broadcast_to"]
CONCATENATE, STACK, DIAGONAL = OPS["concatenate"], OPS["stack"], OPS["diagonal"]


def _ndim(x) -> int:
    return len(shape_of(x))


def _dummy(x):
    """A zero-byte stand-in with ``x``'s shape, for numpy's own shape arithmetic."""
    return np.broadcast_to(np.empty((), dtype=np.int8), shape_of(x))


# ========================================================================= shapes
@implements(np.reshape)
def _reshape(cls, x, shape=None, order="C", **kw):
    """``order='F'`` is C order on the reversed axes: transpose, reshape, transpose back."""
    shape = kw.get("newshape", shape)
    if order == "F":
        new = np.reshape(_dummy(x), shape).shape
        return np.transpose(_reshape(cls, np.transpose(x), tuple(reversed(new))))
    if order != "C":
        raise unsupported(f"numpy.reshape(order={order!r})", cls._mode, "only order='C'")
    new = np.reshape(_dummy(x), shape).shape
    return bind(RESHAPE, x, shape=new)


@implements(np.ravel)
def _ravel(cls, x, order="C"):
    return _reshape(cls, x, (-1,), order)


@implements(np.transpose)
def _transpose(cls, x, axes=None):
    nd = _ndim(x)
    axes = tuple(reversed(range(nd))) if axes is None else tuple(int(a) % nd for a in axes)
    return bind(TRANSPOSE, x, axes=axes)


@implements(np.swapaxes)
def _swapaxes(cls, x, axis1, axis2):
    nd = _ndim(x)
    perm = list(range(nd))
    a, b = axis1 % nd, axis2 % nd
    perm[a], perm[b] = perm[b], perm[a]
    return bind(TRANSPOSE, x, axes=tuple(perm))


@implements(np.moveaxis)
def _moveaxis(cls, x, source, destination):
    nd = _ndim(x)
    src = [s % nd for s in np.atleast_1d(source)]
    dst = [d % nd for d in np.atleast_1d(destination)]
    rest = [a for a in range(nd) if a not in src]
    perm = [None] * nd
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(rest)
    perm = tuple(p if p is not None else next(it) for p in perm)
    return bind(TRANSPOSE, x, axes=perm)


@implements(np.expand_dims)
def _expand_dims(cls, x, axis):
    return _reshape(cls, x, np.expand_dims(_dummy(x), axis).shape)


@implements(np.squeeze)
def _squeeze(cls, x, axis=None):
    return _reshape(cls, x, np.squeeze(_dummy(x), axis).shape)


@implements(np.broadcast_to)
def _broadcast_to(cls, x, shape, subok=False):
    shape = np.broadcast_shapes(shape_of(x), tuple(np.atleast_1d(shape)))
    return bind(BROADCAST_TO, x, shape=tuple(int(s) for s in shape))


@implements(np.atleast_1d)
def _atleast_1d(cls, *xs):
    res = [x if _ndim(x) >= 1 else np.reshape(x, (1,)) for x in xs]
    return res[0] if len(res) == 1 else res


@implements(np.atleast_2d)
def _atleast_2d(cls, *xs):
    res = [x if _ndim(x) >= 2 else np.reshape(x, (1, -1)) for x in xs]
    return res[0] if len(res) == 1 else res


# ================================================================ joining
@implements(np.concatenate)
def _concatenate(cls, arrays, axis=0, out=None, **kw):
    no_out(cls, "concatenate", out)
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [np.ravel(a) for a in arrays], 0
    (axis,) = normalize_axis(axis, _ndim(arrays[0]))
    return bind(CONCATENATE, *arrays, axis=axis)


@implements(np.stack)
def _stack(cls, arrays, axis=0, out=None, **kw):
    no_out(cls, "stack", out)
    arrays = list(arrays)
    (axis,) = normalize_axis(axis, _ndim(arrays[0]) + 1)
    return bind(STACK, *arrays, axis=axis)


@implements(np.hstack)
def _hstack(cls, arrays, **kw):
    arrays = [np.atleast_1d(a) for a in arrays]
    return np.concatenate(arrays, axis=0 if _ndim(arrays[0]) == 1 else 1)


@implements(np.vstack)
def _vstack(cls, arrays, **kw):
    return np.concatenate([np.atleast_2d(a) for a in arrays], axis=0)


@implements(np.column_stack)
def _column_stack(cls, arrays):
    cols = [np.reshape(a, (-1, 1)) if _ndim(a) < 2 else a for a in arrays]
    return np.concatenate(cols, axis=1)


# ======================================================================= diagonal / trace
@implements(np.diagonal)
def _diagonal(cls, x, offset=0, axis1=0, axis2=1):
    nd = _ndim(x)
    return bind(DIAGONAL, x, offset=int(offset), axis1=axis1 % nd, axis2=axis2 % nd)


@implements(np.trace)
def _trace(cls, x, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    no_out(cls, "trace", out)
    return np.sum(_diagonal(cls, x, offset, axis1, axis2), axis=-1)
