"""The rest of the numpy surface, as composites: plain numpy over other supported calls.

Contract: each handler computes numpy's value (same shapes, same conventions) from ops that are
already defined (indexing, concatenate, where, einsum, sort...), so it carries no derivative
formula, and nested transforms differentiate it like any other code.

Two patterns do most of the work:

- *gather*: a function that only moves entries (``delete``, ``insert``, ``pad`` with edge,
  reflect, symmetric or wrap, ``resize``...) is run by numpy itself on the entries' positions
  (``np.arange(x.size)``); the traced result is ``ravel(x)[positions]``, one indexing op, so the
  behaviour is numpy's by construction;
- *masks*: non-differentiable decisions (comparisons, ``argsort``, ``argpartition``,
  ``searchsorted``, ``isnan``) are evaluated on primals through the non-differentiable route
  (reverse mode records them for replay) and select or index the traced values.

Conventions: ``median``/``quantile``/``percentile`` (and their ``nan*`` forms) are piecewise
linear in the sorted values: at a tie the derivative goes to the entry ``argsort`` (stable) puts
first. ``interp`` is linear on each segment; at a knot it takes the segment on the right.
``partition`` moves entries as ``np.argpartition`` does. ``sinc`` at 0 uses its Taylor series,
so its derivatives at 0 are exact to fourth order.
"""
from __future__ import annotations

import math
import string

import numpy as np

from .levels import TracedBase, bind
from .numpy_api import (DISPLAY_NAMES, INSTEAD, ROUTES, _ACCUMULATE_METHODS, _REDUCE_METHODS,
                        implements, nondiff, unsupported)
from .registry import OPS, normalize_axis, shape_of

nondiff(np.argpartition, np.nanargmax, np.nanargmin, np.isposinf, np.isneginf, np.isreal,
        np.iscomplex, np.digitize)


def _nd(x) -> int:
    return len(shape_of(x))


def _dtype(x):
    return x.dtype if isinstance(x, TracedBase) or isinstance(x, np.ndarray) else \
        np.result_type(np.asarray(x), np.float64)


def _one_axis(axis, nd):
    return normalize_axis(axis, nd)[0]


def _index_along(axis, index):
    return (slice(None),) * axis + (index,)


# ================================================================ gather: numpy moves entries
def gather(x, move, *args, **kwargs):
    """``move(x, *args, **kwargs)`` for a numpy function ``move`` that only rearranges entries:
    numpy runs it on the entries' positions, the traced result indexes ``x`` with them."""
    shape = shape_of(x)
    positions = np.arange(int(np.prod(shape, dtype=int)), dtype=np.intp).reshape(shape)
    return np.ravel(x)[move(positions, *args, **kwargs)]


@implements(np.delete)
def _delete(cls, arr, obj, axis=None):
    return gather(arr, np.delete, obj, axis=axis)


@implements(np.insert)
def _insert(cls, arr, obj, values, axis=None):
    """Positions of ``arr`` then of ``values`` (numpy broadcasts them), inserted by numpy."""
    n = int(np.prod(shape_of(arr), dtype=int))
    if not isinstance(values, TracedBase):
        values = np.asarray(values, dtype=_dtype(arr))
    vshape = shape_of(values)
    pos = np.arange(n, dtype=np.intp).reshape(shape_of(arr))
    vpos = n + np.arange(int(np.prod(vshape, dtype=int)), dtype=np.intp).reshape(vshape)
    both = np.concatenate([np.ravel(arr), np.ravel(values)])
    return both[np.insert(pos, obj, vpos, axis=axis)]


@implements(np.resize)
def _resize(cls, a, new_shape):
    return gather(a, np.resize, new_shape)


@implements(np.pad)
def _pad(cls, array, pad_width, mode="constant", **kwargs):
    nd = _nd(array)
    if mode in ("edge", "reflect", "symmetric", "wrap"):
        return gather(array, np.pad, pad_width, mode=mode, **kwargs)
    if mode != "constant":
        raise unsupported(f"numpy.pad(mode={mode!r})", cls._mode,
                          "modes constant, edge, reflect, symmetric and wrap are supported")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (nd, 2))
    values = np.broadcast_to(np.asarray(kwargs.get("constant_values", 0), dtype=float), (nd, 2))
    out = array
    for axis in range(nd):
        parts = []
        for side, (w, v) in enumerate(zip(widths[axis], values[axis])):
            block = list(shape_of(out))
            block[axis] = int(w)
            parts.append(np.full(block, v, dtype=_dtype(array)))
        out = np.concatenate([parts[0], out, parts[1]], axis=axis)
    return out


# ================================================================ shape and structure
@implements(np.diag)
def _diag(cls, v, k=0):
    nd = _nd(v)
    if nd == 2:
        return np.diagonal(v, k)
    if nd != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = shape_of(v)[0] + abs(k)
    i = np.arange(shape_of(v)[0])
    index = (i + max(-k, 0), i + max(k, 0))
    return bind(OPS["setitem"], np.zeros((n, n), dtype=_dtype(v)), v, index=index)


@implements(np.diagflat)
def _diagflat(cls, v, k=0):
    return _diag(cls, np.ravel(v), k)


def _tri_mask(x, k, upper):
    n, m = shape_of(x)[-2:]
    return ~np.tri(n, m, k - 1, dtype=bool) if upper else np.tri(n, m, k, dtype=bool)


@implements(np.tril)
def _tril(cls, m, k=0):
    return np.where(_tri_mask(m, k, upper=False), m, np.zeros((), dtype=_dtype(m)))


@implements(np.triu)
def _triu(cls, m, k=0):
    return np.where(_tri_mask(m, k, upper=True), m, np.zeros((), dtype=_dtype(m)))


@implements(np.kron)
def _kron(cls, a, b):
    """Every product ``a[i] * b[j]`` laid out as numpy's block matrix: a broadcast product with
    the axes of ``a`` and ``b`` interleaved, then one reshape."""
    nd = max(_nd(a), _nd(b))
    sa = (1,) * (nd - _nd(a)) + tuple(shape_of(a))
    sb = (1,) * (nd - _nd(b)) + tuple(shape_of(b))
    a = np.reshape(a, tuple(s for n in sa for s in (n, 1)))
    b = np.reshape(b, tuple(s for n in sb for s in (1, n)))
    return np.reshape(a * b, tuple(x * y for x, y in zip(sa, sb)))


@implements(np.cross)
def _cross(cls, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(a, axisa, -1)
    b = np.moveaxis(b, axisb, -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product (dimension must be 2 or 3)")
    a0, a1, b0, b1 = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    if na == 2 and nb == 2:
        return a0 * b1 - a1 * b0
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb == 3 else None
    c2 = a0 * b1 - a1 * b0
    if a2 is None:
        c0, c1 = a1 * b2, -(a0 * b2)
    elif b2 is None:
        c0, c1 = -(a2 * b1), a2 * b0
    else:
        c0, c1 = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2
    c = np.stack(np.broadcast_arrays(c0, c1, c2), axis=-1)
    return np.moveaxis(c, -1, axisc)


@implements(np.flipud)
def _flipud(cls, m):
    return np.flip(m, 0)


@implements(np.fliplr)
def _fliplr(cls, m):
    if _nd(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return np.flip(m, 1)


@implements(np.rot90)
def _rot90(cls, m, k=1, axes=(0, 1)):
    nd = _nd(m)
    a0, a1 = (a % nd for a in axes)
    if a0 == a1:
        raise ValueError("Axes must be different.")
    k %= 4
    if k == 0:
        return m[...]
    if k == 2:
        return np.flip(np.flip(m, a0), a1)
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return np.transpose(np.flip(m, a1), perm)
    return np.flip(np.transpose(m, perm), a1)


@implements(np.rollaxis)
def _rollaxis(cls, a, axis, start=0):
    n = _nd(a)
    axis = _one_axis(axis, n)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(f"start={start} out of range for {n} dimensions")
    if axis < start:
        start -= 1
    if axis == start:
        return a[...]
    perm = list(range(n))
    perm.remove(axis)
    perm.insert(start, axis)
    return np.transpose(a, perm)


@implements(np.atleast_3d)
def _atleast_3d(cls, *arys):
    res = []
    for x in arys:
        nd = _nd(x)
        shape = tuple(shape_of(x))
        res.append(x if nd >= 3 else np.reshape(x, {0: (1, 1, 1), 1: (1,) + shape + (1,),
                                                    2: shape + (1,)}[nd]))
    return res[0] if len(res) == 1 else tuple(res)


@implements(np.dstack)
def _dstack(cls, tup):
    return np.concatenate([np.atleast_3d(a) for a in tup], axis=2)


@implements(np.append)
def _append(cls, arr, values, axis=None):
    if axis is None:
        return np.concatenate([np.ravel(arr), np.ravel(values)])
    return np.concatenate([arr, values], axis=axis)


def _split_along(axis_of):
    def handler(cls, ary, indices_or_sections):
        nd = _nd(ary)
        axis = axis_of(nd)
        if axis is None:
            raise ValueError("the array has too few dimensions for this split")
        return np.split(ary, indices_or_sections, axis=axis)
    return handler


ROUTES[np.vsplit] = _split_along(lambda nd: 0 if nd >= 2 else None)
ROUTES[np.hsplit] = _split_along(lambda nd: 1 if nd >= 2 else 0)
ROUTES[np.dsplit] = _split_along(lambda nd: 2 if nd >= 3 else None)


@implements(np.unstack)
def _unstack(cls, x, /, *, axis=0):
    axis = _one_axis(axis, _nd(x))
    return tuple(x[_index_along(axis, i)] for i in range(shape_of(x)[axis]))


@implements(np.block)
def _block(cls, arrays):
    def depth(a):
        return 1 + depth(a[0]) if isinstance(a, list) else 0
    total = depth(arrays)
    leaf_nd = max(_nd(a) for a in _leaves(arrays))
    nd = max(total, leaf_nd)

    def join(a, level):
        if not isinstance(a, list):
            return np.reshape(a, (1,) * (nd - _nd(a)) + tuple(shape_of(a)))
        return np.concatenate([join(b, level + 1) for b in a], axis=nd - total + level)
    return join(arrays, 0)


def _leaves(a):
    if isinstance(a, list):
        for b in a:
            yield from _leaves(b)
    else:
        yield a


@implements(np.broadcast_arrays)
def _broadcast_arrays(cls, *args, subok=False):
    shape = np.broadcast_shapes(*[tuple(shape_of(a)) for a in args])
    return tuple(np.broadcast_to(a, shape) for a in args)


@implements(np.meshgrid)
def _meshgrid(cls, *xi, copy=True, sparse=False, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    nd = len(xi)
    s0 = (1,) * nd
    out = [np.reshape(x, s0[:i] + (-1,) + s0[i + 1:]) for i, x in enumerate(xi)]
    if indexing == "xy" and nd > 1:
        out[0] = np.reshape(out[0], (1, -1) + s0[2:])
        out[1] = np.reshape(out[1], (-1, 1) + s0[2:])
    if not sparse:
        out = list(np.broadcast_arrays(*out))
    if copy:
        out = [np.copy(o) if isinstance(o, TracedBase) else o.copy() for o in out]
    return tuple(out)


@implements(np.select)
def _select(cls, condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = np.where(cond, choice, out)
    return out


@implements(np.piecewise)
def _piecewise(cls, x, condlist, funclist, *args, **kw):
    """numpy's semantics: each function sees only the entries its condition selects."""
    if isinstance(condlist, np.ndarray) and condlist.dtype == bool and condlist.ndim == _nd(x):
        condlist = [condlist]
    condlist = [np.asarray(c, dtype=bool) for c in condlist]
    if len(funclist) == len(condlist) + 1:
        condlist.append(~np.any(condlist, axis=0))
    out = np.zeros_like(x)
    for cond, func in zip(condlist, funclist):
        if not np.any(cond):
            continue
        vals = func(x[cond], *args, **kw) if callable(func) else func
        out = bind(OPS["setitem"], out, vals, index=(cond,))
    return out


@implements(np.compress)
def _compress(cls, condition, a, axis=None, out=None):
    cond = np.asarray(condition, dtype=bool)
    if axis is None:
        return np.ravel(a)[np.nonzero(cond)[0]]
    axis = _one_axis(axis, _nd(a))
    return a[_index_along(axis, np.nonzero(cond)[0])]


@implements(np.extract)
def _extract(cls, condition, arr):
    return np.ravel(arr)[np.nonzero(np.ravel(np.asarray(condition)))[0]]


@implements(np.choose)
def _choose(cls, a, choices, out=None, mode="raise"):
    a = np.asarray(a)
    out_v = None
    for i in reversed(range(len(choices))):
        out_v = choices[i] if out_v is None else np.where(a == i, choices[i], out_v)
    return out_v


@implements(np.apply_along_axis)
def _apply_along_axis(cls, func1d, axis, arr, *args, **kwargs):
    """``func1d`` on every 1-d slice along ``axis``; results stacked where the axis was."""
    nd = _nd(arr)
    axis = _one_axis(axis, nd)
    moved = np.moveaxis(arr, axis, -1)
    outer = tuple(shape_of(moved)[:-1])
    results = [func1d(moved[idx], *args, **kwargs) for idx in np.ndindex(*outer)]
    stacked = np.stack(results) if results else np.zeros((0,))
    res_shape = tuple(shape_of(stacked)[1:])
    out = np.reshape(stacked, outer + res_shape)
    if not res_shape:
        return out
    # numpy puts the result's own axes where `axis` was
    return np.moveaxis(out, tuple(range(len(outer), len(outer) + len(res_shape))),
                       tuple(range(axis, axis + len(res_shape))))


# ------------------------------------------------------------------ reshape with order='F'
_reshape_c, _ravel_c = ROUTES[np.reshape], ROUTES[np.ravel]


@implements(np.reshape)
def _reshape(cls, x, shape=None, order="C", **kw):
    """``order='F'`` is C order on the reversed axes: transpose, reshape, transpose back."""
    shape = kw.pop("newshape", shape)
    if order == "F":
        new = np.reshape(np.empty(shape_of(x), dtype=np.int8), shape).shape
        return np.transpose(_reshape_c(cls, np.transpose(x), tuple(reversed(new))))
    return _reshape_c(cls, x, shape, order, **kw)


@implements(np.ravel)
def _ravel(cls, x, order="C"):
    return _reshape(cls, x, (-1,), order)


# ===================================================================== numerical
@implements(np.gradient)
def _gradient(cls, f, *varargs, axis=None, edge_order=1):
    """numpy's second-order central differences (``edge_order`` 1 or 2 at the ends), with
    scalar spacings or coordinate arrays; linear in ``f``."""
    nd = _nd(f)
    axes = normalize_axis(axis, nd)
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    outs = []
    for ax, h in zip(axes, spacing):
        n = shape_of(f)[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, at "
                             "least (edge_order + 1) elements are required.")
        outs.append(_gradient_1d(f, ax, n, h, edge_order))
    return outs[0] if len(outs) == 1 else tuple(outs)


def _gradient_1d(f, ax, n, h, edge_order):
    def s(start, stop=None):
        return f[_index_along(ax, slice(start, stop))]

    def bshape(c):  # coefficients along ax, broadcast against f
        shape = [1] * _nd(f)
        shape[ax] = -1
        return np.reshape(c, shape)
    if np.ndim(h) == 0:
        dx = np.full(n - 1, float(h))
        uniform = True
    else:
        dx = np.diff(np.asarray(h, dtype=float))
        uniform = bool(np.all(dx == dx[0]))
    if uniform:
        inner = (s(2) - s(None, -2)) / (2.0 * dx[0])
    else:
        d1, d2 = dx[:-1], dx[1:]
        a = -d2 / (d1 * (d1 + d2))
        b = (d2 - d1) / (d1 * d2)
        c = d1 / (d2 * (d1 + d2))
        inner = bshape(a) * s(None, -2) + bshape(b) * s(1, -1) + bshape(c) * s(2)
    if edge_order == 1:
        first = (s(1, 2) - s(0, 1)) / dx[0]
        last = (s(-1) - s(-2, -1)) / dx[-1]
    else:
        if uniform:
            a, b, c = -1.5, 2.0, -0.5
            first = (a * s(0, 1) + b * s(1, 2) + c * s(2, 3)) / dx[0]
            a, b, c = 0.5, -2.0, 1.5
            last = (a * s(-3, -2) + b * s(-2, -1) + c * s(-1)) / dx[-1]
        else:
            d1, d2 = dx[0], dx[1]
            first = (-(2.0 * d1 + d2) / (d1 * (d1 + d2)) * s(0, 1) + (d1 + d2) / (d1 * d2) *
                     s(1, 2) - d1 / (d2 * (d1 + d2)) * s(2, 3))
            d1, d2 = dx[-2], dx[-1]
            last = (d2 / (d1 * (d1 + d2)) * s(-3, -2) - (d2 + d1) / (d1 * d2) * s(-2, -1) +
                    (2.0 * d2 + d1) / (d2 * (d1 + d2)) * s(-1))
    return np.concatenate([first, inner, last], axis=ax)


@implements(np.linspace)
def _linspace(cls, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
              **kw):
    """``start + arange(num) * step`` with ``stop`` itself as the last point (as numpy)."""
    num = int(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = (num - 1) if endpoint else num
    delta = stop - start
    shape = np.broadcast_shapes(tuple(shape_of(start)), tuple(shape_of(stop)))
    ramp = np.arange(num, dtype=float).reshape((-1,) + (1,) * len(shape))
    if div > 0:
        step = delta / div
        y = ramp * step + start
    else:
        step = np.nan
        y = ramp * delta + start
    if endpoint and num > 1:
        y = np.concatenate([y[:-1], np.broadcast_to(stop, (1,) + shape)], axis=0)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if dtype is not None:
        y = y.astype(dtype)
    return (y, step) if retstep else y


@implements(np.logspace)
def _logspace(cls, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    y = np.linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    out = np.power(base, y)
    return out if dtype is None else out.astype(dtype)


@implements(np.convolve)
def _convolve(cls, a, v, mode="full"):
    """Sliding windows of the zero-padded longer input (one gather) times the reversed shorter
    one: bilinear in ``(a, v)``, as numpy's ``convolve``."""
    na, nv = shape_of(a)[0], shape_of(v)[0]
    if na == 0 or nv == 0:
        raise ValueError("a cannot be empty" if na == 0 else "v cannot be empty")
    if nv > na:
        a, v, na, nv = v, a, nv, na
    dtype = np.result_type(_dtype(a), _dtype(v))
    zeros = np.zeros(nv - 1, dtype=dtype)
    padded = np.concatenate([zeros, a, zeros])
    windows = padded[np.arange(na + nv - 1)[:, None] + np.arange(nv)[None, :]]
    full = windows @ np.flip(v, 0)
    if mode == "full":
        return full
    if mode == "same":
        start = (nv - 1) // 2
        return full[start:start + na]
    if mode == "valid":
        return full[nv - 1:na]
    raise ValueError(f"mode must be one of 'full', 'same', or 'valid', got {mode!r}")


@implements(np.correlate)
def _correlate(cls, a, v, mode="valid"):
    """``c[k] = sum_n a[n + k] v[n]``: ``convolve(a, v[::-1])``, reversed when ``v`` is the
    longer input (numpy's convention)."""
    na, nv = shape_of(a)[0], shape_of(v)[0]
    if nv > na:
        return np.flip(_correlate(cls, v, a, mode), 0)
    return _convolve(cls, a, np.flip(v, 0), mode)


@implements(np.interp)
def _interp(cls, x, xp, fp, left=None, right=None, period=None):
    """Linear on the segment ``searchsorted`` finds (evaluated on primals), in ``x``, ``xp``
    and ``fp``; ``left``/``right`` (default ``fp[0]``/``fp[-1]``) outside."""
    if period is not None:
        raise unsupported("numpy.interp(period=...)", cls._mode,
                          "map x and xp into one period first (np.mod) and pad xp, fp")
    x, xp, fp = (v if isinstance(v, TracedBase) else np.asarray(v, dtype=float)
                 for v in (x, xp, fp))
    n = shape_of(xp)[0]
    if n == 0:
        raise ValueError("array of sample points is empty")
    if n == 1:
        seg_val = np.zeros(shape_of(x), dtype=_dtype(fp)) + fp[0]
    else:
        j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
        x0, x1, f0, f1 = xp[j], xp[j + 1], fp[j], fp[j + 1]
        slope = (f1 - f0) / (x1 - x0)
        seg_val = f0 + slope * (x - x0)
        seg_val = np.where(np.equal(x, x1), f1, seg_val)  # numpy returns fp exactly at knots
    lo = fp[0] if left is None else left
    hi = fp[n - 1] if right is None else right
    out = np.where(x < xp[0], lo, seg_val)
    return np.where(x > xp[n - 1], hi, out)


# ------------------------------------------------------------------------ polynomials
@implements(np.polyval)
def _polyval(cls, p, x):
    y = np.zeros(shape_of(x), dtype=np.result_type(_dtype(x), _dtype(p)))
    for i in range(shape_of(p)[0]):
        y = y * x + p[i]
    return y


@implements(np.polyder)
def _polyder(cls, p, m=1):
    for _ in range(int(m)):
        n = shape_of(p)[0] - 1
        p = p[:-1] * np.arange(n, 0, -1.0) if n > 0 else np.zeros(1, dtype=_dtype(p)) * p[:1]
    return p


@implements(np.polyint)
def _polyint(cls, p, m=1, k=None):
    k = np.zeros(int(m)) if k is None else np.atleast_1d(k)
    for i in range(int(m)):
        n = shape_of(p)[0]
        p = np.concatenate([p / np.arange(n, 0, -1.0), np.full(1, k[i] if len(k) > 1 else k[0],
                                                               dtype=_dtype(p))])
    return p


def _align_polys(a, b):
    na, nb = shape_of(a)[0], shape_of(b)[0]
    if na < nb:
        a = np.concatenate([np.zeros(nb - na, dtype=_dtype(a)), a])
    elif nb < na:
        b = np.concatenate([np.zeros(na - nb, dtype=_dtype(b)), b])
    return a, b


@implements(np.polyadd)
def _polyadd(cls, a1, a2):
    a, b = _align_polys(np.atleast_1d(a1), np.atleast_1d(a2))
    return a + b


@implements(np.polysub)
def _polysub(cls, a1, a2):
    a, b = _align_polys(np.atleast_1d(a1), np.atleast_1d(a2))
    return a - b


@implements(np.polymul)
def _polymul(cls, a1, a2):
    return np.convolve(np.atleast_1d(a1), np.atleast_1d(a2))


@implements(np.vander)
def _vander(cls, x, N=None, increasing=False):
    n = shape_of(x)[0] if N is None else int(N)
    powers = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    cols = [np.ones(shape_of(x), dtype=_dtype(x)) if k == 0 else x ** int(k) for k in powers]
    return np.stack(cols, axis=1) if cols else np.zeros((shape_of(x)[0], 0))


@implements(np.polyfit)
def _polyfit(cls, x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least squares on the Vandermonde matrix (numpy's method, columns scaled)."""
    if full or cov:
        raise unsupported("numpy.polyfit(full=True or cov=True)", cls._mode,
                          "the coefficients alone are supported")
    lhs = np.vander(x, int(deg) + 1)
    rhs = y
    if w is not None:
        lhs = lhs * w[:, None]
        rhs = rhs * (w if _nd(y) == 1 else w[:, None])
    if rcond is None:
        rcond = shape_of(x)[0] * np.finfo(_dtype(x)).eps
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    c = np.linalg.lstsq(lhs / scale, rhs, rcond)[0]
    return (c.T / scale).T


# ------------------------------------------------------------------------ statistics
@implements(np.ptp)
def _ptp(cls, a, axis=None, out=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


@implements(np.trapezoid)
def _trapezoid(cls, y, x=None, dx=1.0, axis=-1):
    axis = _one_axis(axis, _nd(y))
    hi = y[_index_along(axis, slice(1, None))]
    lo = y[_index_along(axis, slice(None, -1))]
    if x is None:
        d = dx
    else:
        d = np.diff(x, axis=axis if _nd(x) > 1 else 0)
        if _nd(x) == 1:
            shape = [1] * _nd(y)
            shape[axis] = -1
            d = np.reshape(d, shape)
    return np.sum(d * (hi + lo) / 2.0, axis=axis)


@implements(np.cov)
def _cov(cls, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
         *, dtype=None):
    if fweights is not None or aweights is not None:
        raise unsupported("numpy.cov with fweights or aweights", cls._mode,
                          "weight the centered observations yourself")
    x = np.atleast_2d(m)
    if not rowvar and _nd(x) == 2 and shape_of(x)[0] != 1:
        x = x.T
    if y is not None:
        y = np.atleast_2d(y)
        if not rowvar and shape_of(y)[0] != 1:
            y = y.T
        x = np.concatenate([x, y], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = shape_of(x)[1]
    xc = x - np.mean(x, axis=1, keepdims=True)
    return np.squeeze((xc @ xc.T) / (n - ddof))


@implements(np.corrcoef)
def _corrcoef(cls, x, y=None, rowvar=True, *, dtype=None):
    c = np.cov(x, y, rowvar)
    if _nd(c) == 0:
        return c / c
    d = np.sqrt(np.diagonal(c))
    return np.clip(c / d[:, None] / d[None, :], -1.0, 1.0)


@implements(np.ediff1d)
def _ediff1d(cls, ary, to_end=None, to_begin=None):
    d = np.diff(np.ravel(ary))
    parts = ([np.ravel(to_begin)] if to_begin is not None else []) + [d] + \
        ([np.ravel(to_end)] if to_end is not None else [])
    return np.concatenate(parts) if len(parts) > 1 else d


@implements(np.cumulative_sum)
def _cumulative_sum(cls, x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    if axis is None:
        if _nd(x) > 1:
            raise ValueError("axis must be given for arrays of more than one dimension")
        axis = 0
    c = np.cumsum(x, axis=axis, dtype=dtype)
    return _with_initial(c, axis, 0.0) if include_initial else c


@implements(np.cumulative_prod)
def _cumulative_prod(cls, x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    if axis is None:
        if _nd(x) > 1:
            raise ValueError("axis must be given for arrays of more than one dimension")
        axis = 0
    c = np.cumprod(x, axis=axis, dtype=dtype)
    return _with_initial(c, axis, 1.0) if include_initial else c


def _with_initial(c, axis, value):
    axis = _one_axis(axis, _nd(c))
    shape = list(shape_of(c))
    shape[axis] = 1
    return np.concatenate([np.full(shape, value, dtype=_dtype(c)), c], axis=axis)


# ----------------------------------------------------------------- order statistics
_METHODS = ("linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf",
            "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
            "hazen", "weibull", "median_unbiased", "normal_unbiased")


def _quantile(cls, a, q, axis, method, keepdims, skip_nan):
    """Quantiles ``q`` (fractions) of ``a`` over ``axis``: a stable sort (its order evaluated on
    primals), then numpy's index rule per slice and a linear blend of two neighbours."""
    if method not in ("linear", "lower", "higher", "nearest", "midpoint"):
        raise unsupported(f"numpy.quantile(method={method!r})", cls._mode,
                          "methods linear, lower, higher, nearest and midpoint are supported")
    nd = _nd(a)
    axes = normalize_axis(axis, nd)
    rest = tuple(i for i in range(nd) if i not in axes)
    moved = np.transpose(a, rest + axes)
    flat = np.reshape(moved, tuple(shape_of(moved)[:len(rest)]) + (-1,))
    n = shape_of(flat)[-1]
    srt = np.sort(flat, axis=-1)  # nan sort last
    nan = np.isnan(flat)
    count = np.sum(~nan, axis=-1) if skip_nan else np.full(shape_of(flat)[:-1], n)
    q = np.asarray(q, dtype=float)
    virtual = q.reshape(q.shape + (1,) * (len(shape_of(flat)) - 1)) * (count - 1)
    lo = np.floor(virtual).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    frac = virtual - lo
    if method == "lower":
        hi, frac = lo, np.zeros_like(frac)
    elif method == "higher":
        lo = hi = np.ceil(virtual).astype(np.intp)
        frac = np.zeros_like(frac)
    elif method == "nearest":  # numpy rounds half to even
        lo = hi = np.around(virtual).astype(np.intp)
        frac = np.zeros_like(frac)
    elif method == "midpoint":
        hi = np.where(frac > 0, hi, lo)
        frac = np.where(frac > 0, 0.5, 0.0)
    lo = np.clip(lo, 0, max(n - 1, 0))
    hi = np.clip(hi, 0, max(n - 1, 0))
    lead = np.broadcast_to(srt, q.shape + tuple(shape_of(srt)))
    v_lo = np.take_along_axis(lead, lo[..., None], axis=-1)[..., 0]
    v_hi = np.take_along_axis(lead, hi[..., None], axis=-1)[..., 0]
    frac = frac.astype(_dtype(a))
    # numpy's lerp: from the nearer end, so t = 1 returns v_hi exactly
    out = np.where(frac >= 0.5, v_hi - (v_hi - v_lo) * (1 - frac), v_lo + (v_hi - v_lo) * frac)
    if skip_nan:
        out = np.where(count == 0, np.nan, out)
    else:
        out = np.where(np.any(nan, axis=-1), np.nan, out)
    if keepdims:
        out = np.reshape(out, q.shape + tuple(1 if i in axes else s
                                             for i, s in enumerate(shape_of(a))))
    return out


def _quantile_handler(skip_nan, scale):
    def handler(cls, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None, interpolation=None):
        if out is not None or weights is not None:
            raise unsupported("quantile with out= or weights=", cls._mode)
        method = interpolation or method
        return _quantile(cls, a, np.asarray(q, dtype=float) / scale, axis, method, keepdims,
                         skip_nan)
    return handler


ROUTES[np.quantile] = _quantile_handler(False, 1.0)
ROUTES[np.percentile] = _quantile_handler(False, 100.0)
ROUTES[np.nanquantile] = _quantile_handler(True, 1.0)
ROUTES[np.nanpercentile] = _quantile_handler(True, 100.0)


def _median_handler(skip_nan):
    def handler(cls, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        if out is not None:
            raise unsupported("median with out=", cls._mode)
        return _quantile(cls, a, 0.5, axis, "linear", keepdims, skip_nan)
    return handler


ROUTES[np.median] = _median_handler(False)
ROUTES[np.nanmedian] = _median_handler(True)


@implements(np.partition)
def _partition(cls, a, kth, axis=-1, kind="introselect", order=None):
    if axis is None:
        a, axis = np.ravel(a), 0
    return np.take_along_axis(a, np.argpartition(a, kth, axis=axis), axis=axis)


# ------------------------------------------------------------------------ nan* reductions
def _without_nan(a, fill):
    return np.where(np.isnan(a), fill, a)


@implements(np.nan_to_num)
def _nan_to_num(cls, x, copy=True, nan=0.0, posinf=None, neginf=None):
    info = np.finfo(_dtype(x))
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = np.where(np.isnan(x), nan, x)
    out = np.where(np.isinf(x) & (x > 0), posinf, out)
    return np.where(np.isinf(x) & (x < 0), neginf, out)


@implements(np.nansum)
def _nansum(cls, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    return np.sum(_without_nan(a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims,
                  initial=initial)


@implements(np.nanprod)
def _nanprod(cls, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
             where=None):
    return np.prod(_without_nan(a, 1.0), axis=axis, dtype=dtype, keepdims=keepdims)


def _nancount(a, axis, keepdims):
    return np.sum(~np.isnan(a), axis=axis, keepdims=keepdims)


@implements(np.nanmean)
def _nanmean(cls, a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    return np.sum(_without_nan(a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims) / \
        _nancount(a, axis, keepdims)


@implements(np.nanvar)
def _nanvar(cls, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
            mean=None, correction=None):
    ddof = ddof if correction is None else correction
    mean = np.nanmean(a, axis=axis, keepdims=True)
    centered = _without_nan(a - mean, 0.0)
    return np.sum(centered * centered, axis=axis, keepdims=keepdims) / \
        (_nancount(a, axis, keepdims) - ddof)


@implements(np.nanstd)
def _nanstd(cls, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
            mean=None, correction=None):
    return np.sqrt(_nanvar(cls, a, axis=axis, ddof=ddof, keepdims=keepdims,
                           correction=correction))


@implements(np.nanmax)
def _nanmax(cls, a, axis=None, out=None, keepdims=False, initial=None, where=None):
    res = np.max(_without_nan(a, -np.inf), axis=axis, keepdims=keepdims)
    return np.where(_nancount(a, axis, keepdims) == 0, np.nan, res)


@implements(np.nanmin)
def _nanmin(cls, a, axis=None, out=None, keepdims=False, initial=None, where=None):
    res = np.min(_without_nan(a, np.inf), axis=axis, keepdims=keepdims)
    return np.where(_nancount(a, axis, keepdims) == 0, np.nan, res)


@implements(np.nancumsum)
def _nancumsum(cls, a, axis=None, dtype=None, out=None):
    return np.cumsum(_without_nan(a, 0.0), axis=axis, dtype=dtype)


@implements(np.nancumprod)
def _nancumprod(cls, a, axis=None, dtype=None, out=None):
    return np.cumprod(_without_nan(a, 1.0), axis=axis, dtype=dtype)


# ------------------------------------------------------------------------ elementwise
@implements(np.sinc)
def _sinc(cls, x):
    """``sin(pi x) / (pi x)``; near 0 its Taylor series, so every derivative at 0 is right."""
    y = math.pi * np.where(x == 0, 1.0, x)
    small = np.abs(x) < 1e-3
    t = (math.pi * x) ** 2
    series = 1.0 - t / 6.0 + t * t / 120.0
    return np.where(small, series, np.sin(y) / y)


@implements(np.real)
def _real(cls, val):
    return val


@implements(np.imag)
def _imag(cls, val):
    return np.zeros(shape_of(val), dtype=_dtype(val))


@implements(np.conjugate)
def _conjugate(cls, x, *args, **kw):
    return np.copy(x)


@implements(np.copysign)
def _copysign(cls, x1, x2):
    """``|x1|`` with the sign bit of ``x2`` (derivative in ``x1`` only)."""
    return np.where(np.signbit(x2), -np.abs(x1), np.abs(x1))


@implements(np.ldexp)
def _ldexp(cls, x1, x2):
    return x1 * np.exp2(np.asarray(x2, dtype=float))


@implements(np.modf)
def _modf(cls, x):
    whole = np.trunc(x)
    return x - whole, whole


@implements(np.divmod)
def _divmod(cls, x1, x2):
    return np.floor_divide(x1, x2), np.remainder(x1, x2)


@implements(np.astype)
def _astype(cls, x, dtype, /, *, copy=True, device=None):
    return x.astype(dtype, copy=copy)


@implements(np.matvec)
def _matvec(cls, x1, x2, /, **kw):
    return np.matmul(x1, x2[..., None])[..., 0]


@implements(np.vecmat)
def _vecmat(cls, x1, x2, /, **kw):
    return np.matmul(x1[..., None, :], x2)[..., 0, :]


# ======================================================= ufunc methods beyond sum/prod/max/min
def _method(name, func):
    """A ufunc method (``np.logaddexp.reduce``...) as a routed callable with numpy's name."""
    func.__name__ = name
    DISPLAY_NAMES[func] = f"numpy.{name}"
    return func


def _scan(x, axis, combine):
    """Inclusive scan of ``combine`` along ``axis`` in log depth (Hillis-Steele): each step
    combines the array with itself shifted, so it is a composite of ops."""
    n = shape_of(x)[axis]
    step = 1
    while step < n:
        head = x[_index_along(axis, slice(0, step))]
        tail = combine(x[_index_along(axis, slice(step, None))],
                       x[_index_along(axis, slice(0, n - step))])
        x = np.concatenate([head, tail], axis=axis)
        step *= 2
    return x


def _reduce_kwargs(cls, name, dtype=None, out=None, initial=None, where=True):
    if out is not None or initial is not None or where is not True or dtype is not None:
        raise unsupported(f"numpy.{name} with dtype=, out=, initial= or where=", cls._mode)


def logaddexp_reduce(x, axis=0, dtype=None, out=None, keepdims=False, initial=None,
                     where=True):
    """``np.logaddexp.reduce``: the stable log-sum-exp over ``axis``."""


def logaddexp2_reduce(x, axis=0, dtype=None, out=None, keepdims=False, initial=None,
                      where=True):
    """``np.logaddexp2.reduce``: log2 of the sum of powers of 2 over ``axis``."""


def _logsumexp_handler(name, exp, log):
    def handler(cls, x, axis=0, dtype=None, out=None, keepdims=False, initial=None,
                where=True):
        _reduce_kwargs(cls, name, dtype, out, initial, where)
        shift = np.max(x, axis=axis, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0.0)
        res = log(np.sum(exp(x - shift), axis=axis, keepdims=True)) + shift
        return res if keepdims else np.squeeze(res, axis=axis)
    return handler


ROUTES[_method("logaddexp.reduce", logaddexp_reduce)] = \
    _logsumexp_handler("logaddexp.reduce", np.exp, np.log)
ROUTES[_method("logaddexp2.reduce", logaddexp2_reduce)] = \
    _logsumexp_handler("logaddexp2.reduce", np.exp2, np.log2)
_REDUCE_METHODS.update(logaddexp=logaddexp_reduce, logaddexp2=logaddexp2_reduce)


def _accumulate_handler(name, combine):
    def handler(cls, x, axis=0, dtype=None, out=None):
        _reduce_kwargs(cls, name, dtype, out)
        if axis is None:
            x, axis = np.ravel(x), 0
        return _scan(x, _one_axis(axis, _nd(x)), combine)
    return handler


for _ufunc in (np.maximum, np.minimum, np.logaddexp, np.logaddexp2):
    _fn = _method(f"{_ufunc.__name__}.accumulate",
                  lambda x, axis=0, dtype=None, out=None: None)
    ROUTES[_fn] = _accumulate_handler(f"{_ufunc.__name__}.accumulate", _ufunc)
    _ACCUMULATE_METHODS[_ufunc.__name__] = _fn
_ACCUMULATE_METHODS["multiply"] = np.cumprod


# ===================================================================== einsum, extended
_einsum_strings = ROUTES[np.einsum]
_LETTERS = string.ascii_letters


def _sublist_spec(args):
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as ``('ab,bc->ac', [a, b])``."""
    args = list(args)
    out = args.pop() if len(args) % 2 == 1 else None
    operands, subs = args[0::2], args[1::2]

    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    spec = ",".join(letters(s) for s in subs)
    if out is not None:
        spec += "->" + letters(out)
    return spec, operands


@implements(np.einsum)
def _einsum(cls, *args, out=None, optimize=False, **kw):
    """Adds the sublist form and repeated indices within one operand (``'ii->'``,
    ``'ii->i'``, ``'ijk,lji,lli->lki'``): each repeat is first taken as a diagonal."""
    if not isinstance(args[0], str):
        spec, operands = _sublist_spec(args)
    else:
        spec, operands = args[0], list(args[1:])
    spec = spec.replace(" ", "")
    if "->" not in spec:
        ins = spec.split(",")
        letters = "".join(ins).replace(".", "")
        implicit = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        spec = spec + "->" + ("..." if "..." in spec else "") + implicit
    ins, res = spec.split("->")
    ins = ins.split(",")
    operands = list(operands)
    for i, sub in enumerate(ins):
        if "." in sub:
            continue
        while len(set(sub)) != len(sub):
            letter = next(c for c in sub if sub.count(c) > 1)
            p = sub.index(letter)
            q = sub.index(letter, p + 1)
            operands[i] = np.diagonal(operands[i], axis1=p, axis2=q)
            sub = sub[:p] + sub[p + 1:q] + sub[q + 1:] + letter
        ins[i] = sub
    return _einsum_strings(cls, ",".join(ins) + "->" + res, *operands, out=out,
                           optimize=optimize, **kw)


INSTEAD.update({
    np.linalg.eig: "for a symmetric matrix use numpy.linalg.eigh (general eigenvectors are "
                   "complex)",
    np.linalg.eigvals: "for a symmetric matrix use numpy.linalg.eigvalsh",
    np.fft.fft: "the FFT is complex-valued; real traced values only",
})
