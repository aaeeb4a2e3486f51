"""Indexing: numpy indices normalized for the ``getitem``/``setitem`` ops, and the numpy
functions that select entries by position (``take``, ``take_along_axis``, ``sort``, ``flip``,
``roll``, ``diff``, ``repeat``, ``tile``, ``split``, ``array_split``).

Contract: :func:`normalize_index` turns any numpy index into a tuple with ``Ellipsis`` expanded,
lists as integer or boolean arrays and numpy integers as ints; a traced value in an index is
refused (an index is not differentiable). Each function here computes the positions with numpy
and reads them with one ``getitem`` (or writes with one ``setitem``), so it carries no
derivative formula. Orderings (``sort``) are computed through the non-differentiable route, so
reverse mode records them for replay.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase, bind
from ..ops.registry import OPS, normalize_axis, shape_of
from .routes import implements, route

GETITEM, SETITEM = OPS["getitem"], OPS["setitem"]


def _ndim(x) -> int:
    return len(shape_of(x))


def _along(axis, index):
    """The index tuple selecting ``index`` along ``axis`` and everything on the axes before."""
    return (slice(None),) * axis + (index,)


def normalize_index(index, ndim: int, mode: str) -> tuple:
    """``index`` as a tuple with Ellipsis expanded, lists turned into arrays, no traced values.

    Example:
        >>> normalize_index((Ellipsis, [0, 1]), 3, "forward mode")
        (slice(None, None, None), slice(None, None, None), array([0, 1]))
    """
    if not isinstance(index, tuple):
        index = (index,)
    out, consumed, ellipsis = [], 0, None
    for i in index:
        if isinstance(i, TracedBase):
            raise TypeError(f"indexing with a traced array is not supported in {mode}: the index "
                            "is not differentiable; index with an integer or boolean numpy array")
        if i is Ellipsis:
            if ellipsis is not None:
                raise IndexError("an index can only have a single ellipsis ('...')")
            ellipsis = len(out)
            out.append(i)
            continue
        if isinstance(i, (list, np.ndarray)):
            i = np.asarray(i)
            if i.dtype == bool:
                consumed += max(i.ndim, 1)
            elif not np.issubdtype(i.dtype, np.integer):
                raise IndexError(f"arrays used as indices must be of integer or boolean type, "
                                 f"got {i.dtype}")
            else:
                consumed += 1
        elif isinstance(i, (bool, np.bool_)):
            i = np.asarray(i)
        elif isinstance(i, np.integer):
            i = int(i)
            consumed += 1
        elif i is not None:
            consumed += 1
        out.append(i)
    if ellipsis is not None:
        out[ellipsis:ellipsis + 1] = [slice(None)] * max(0, ndim - consumed)
    return tuple(out)


def getitem(cls, x, index):
    """``x[index]`` for traced class ``cls``."""
    idx = normalize_index(index, _ndim(x), cls._mode)
    return bind(GETITEM, x, index=idx)


def setitem(cls, x, index, value):
    """``x`` with ``x[index] = value`` (a new value; :mod:`adops.numpy_api.traced` makes it in place)."""
    idx = normalize_index(index, _ndim(x), cls._mode)
    return bind(SETITEM, x, value, index=idx)


# ================================================================ selecting by position
@implements(np.take)
def _take(cls, x, indices, axis=None, out=None, mode="raise"):
    if axis is None:
        return getitem(cls, np.ravel(x), np.asarray(indices))
    (axis,) = normalize_axis(axis, _ndim(x))
    return getitem(cls, x, _along(axis, np.asarray(indices)))


@implements(np.take_along_axis)
def _take_along_axis(cls, x, indices, axis):
    nd = _ndim(x)
    if axis is None:
        return getitem(cls, np.ravel(x), np.asarray(indices))
    (axis,) = normalize_axis(axis, nd)
    indices = np.asarray(indices)
    grids = np.ogrid[tuple(slice(n) for n in indices.shape)]
    idx = tuple(indices if a == axis else grids[a] for a in range(nd))
    return getitem(cls, x, idx)


@implements(np.sort)
def _sort(cls, x, axis=-1, kind=None, order=None, **kw):
    if axis is None:
        x, axis = np.ravel(x), 0
    # through the nondiff route, so reverse mode records the ordering for replay checks
    order_idx = np.argsort(x, axis=axis, kind="stable")
    return _take_along_axis(cls, x, order_idx, axis)


@implements(np.flip)
def _flip(cls, x, axis=None):
    nd = _ndim(x)
    axes = normalize_axis(axis, nd)
    return getitem(cls, x, tuple(slice(None, None, -1) if a in axes else slice(None)
                                 for a in range(nd)))


@implements(np.roll)
def _roll(cls, x, shift, axis=None):
    if axis is None:
        return np.reshape(_roll(cls, np.ravel(x), shift, 0), shape_of(x))
    (axis,) = normalize_axis(axis, _ndim(x))
    n = shape_of(x)[axis]
    idx = (np.arange(n) - shift) % n
    return getitem(cls, x, _along(axis, idx))


@implements(np.diff)
def _diff(cls, x, n=1, axis=-1):
    (axis,) = normalize_axis(axis, _ndim(x))
    for _ in range(n):
        x = getitem(cls, x, _along(axis, slice(1, None))) - \
            getitem(cls, x, _along(axis, slice(None, -1)))
    return x


@implements(np.repeat)
def _repeat(cls, x, repeats, axis=None):
    if axis is None:
        x, axis = np.ravel(x), 0
    (axis,) = normalize_axis(axis, _ndim(x))
    n = shape_of(x)[axis]
    idx = np.repeat(np.arange(n), repeats)
    return getitem(cls, x, _along(axis, idx))


@implements(np.tile)
def _tile(cls, x, reps):
    base = np.arange(int(np.prod(shape_of(x)))).reshape(shape_of(x))
    return getitem(cls, np.ravel(x), np.tile(base, reps))


def _splitter(strict):
    def handler(cls, x, indices_or_sections, axis=0):
        (axis,) = normalize_axis(axis, _ndim(x))
        positions = np.arange(shape_of(x)[axis])
        split = np.split if strict else np.array_split
        pieces = split(positions, indices_or_sections)
        return [getitem(cls, x, _along(axis, slice(int(p[0]), int(p[-1]) + 1)
                                       if len(p) else slice(0, 0)))
                for p in pieces]
    return handler


route(np.split, _splitter(strict=True))
route(np.array_split, _splitter(strict=False))
