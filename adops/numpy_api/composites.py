"""The rest of the numpy surface, as composites: plain numpy over other supported calls.

Contract: each handler computes numpy's value (same shapes, same conventions) from ops that are
already defined (indexing, concatenate, where, einsum, sort...), so it carries no derivative
formula, and nested transforms differentiate it like any other code. This module holds the
structure and shape functions; :mod:`adops.numpy_api.statistics` and :mod:`adops.numpy_api.numerics` the others.

Two patterns do most of the work:

- *gather*: a function that only moves entries (``delete``, ``insert``, ``pad`` with edge,
  reflect, symmetric or wrap, ``resize``...) is run by numpy itself on the entries' positions
  (``np.arange(x.size)``); the traced result is ``ravel(x)[positions]``, one indexing op, so the
  behaviour is numpy's by construction;
- *masks*: non-differentiable decisions (comparisons, ``argsort``, ``argpartition``,
  ``searchsorted``, ``isnan``) are evaluated on primals through the non-differentiable route
  (reverse mode records them for replay) and select or index the traced values.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase, bind
from .routes import implements, instead, route, unsupported
from ..ops.registry import OPS, normalize_axis, shape_of

SETITEM = OPS["setitem"]


def ndim_of(x) -> int:
    """The number of axes of ``x`` (traced, ndarray or scalar)."""
    return len(shape_of(x))


def dtype_or_float(x):
    """``x``'s dtype if it is an array, else the float type numpy would give it."""
    return x.dtype if isinstance(x, TracedBase) or isinstance(x, np.ndarray) else \
        np.result_type(np.asarray(x), np.float64)


def one_axis(axis, nd):
    """One axis argument normalized to a non-negative int for ``nd`` axes."""
    return normalize_axis(axis, nd)[0]


def index_along(axis, index):
    """The index tuple selecting ``index`` along ``axis`` (all of every earlier axis)."""
    return (slice(None),) * axis + (index,)


# ================================================================ gather: numpy moves entries
def gather(x, move, *args, **kwargs):
    """``move(x, *args, **kwargs)`` for a numpy function ``move`` that only rearranges entries:
    numpy runs it on the entries' positions, the traced result indexes ``x`` with them.

    >>> gather(np.array([10.0, 20.0, 30.0]), np.delete, 1).tolist()
    [10.0, 30.0]
    """
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
        values = np.asarray(values, dtype=dtype_or_float(arr))
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
    nd = ndim_of(array)
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
            parts.append(np.full(block, v, dtype=dtype_or_float(array)))
        out = np.concatenate([parts[0], out, parts[1]], axis=axis)
    return out


# ================================================================ shape and structure
@implements(np.diag)
def _diag(cls, v, k=0):
    nd = ndim_of(v)
    if nd == 2:
        return np.diagonal(v, k)
    if nd != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = shape_of(v)[0] + abs(k)
    i = np.arange(shape_of(v)[0])
    index = (i + max(-k, 0), i + max(k, 0))
    return bind(SETITEM, np.zeros((n, n), dtype=dtype_or_float(v)), v, index=index)


@implements(np.diagflat)
def _diagflat(cls, v, k=0):
    return _diag(cls, np.ravel(v), k)


def _tri_mask(x, k, upper):
    n, m = shape_of(x)[-2:]
    return ~np.tri(n, m, k - 1, dtype=bool) if upper else np.tri(n, m, k, dtype=bool)


@implements(np.tril)
def _tril(cls, m, k=0):
    return np.where(_tri_mask(m, k, upper=False), m, np.zeros((), dtype=dtype_or_float(m)))


@implements(np.triu)
def _triu(cls, m, k=0):
    return np.where(_tri_mask(m, k, upper=True), m, np.zeros((), dtype=dtype_or_float(m)))


@implements(np.kron)
def _kron(cls, a, b):
    """Every product ``a[i] * b[j]`` laid out as numpy's block matrix: a broadcast product with
    the axes of ``a`` and ``b`` interleaved, then one reshape."""
    nd = max(ndim_of(a), ndim_of(b))
    sa = (1,) * (nd - ndim_of(a)) + tuple(shape_of(a))
    sb = (1,) * (nd - ndim_of(b)) + tuple(shape_of(b))
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
    if ndim_of(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return np.flip(m, 1)


@implements(np.rot90)
def _rot90(cls, m, k=1, axes=(0, 1)):
    nd = ndim_of(m)
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
    n = ndim_of(a)
    axis = one_axis(axis, n)
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
        nd = ndim_of(x)
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
        nd = ndim_of(ary)
        axis = axis_of(nd)
        if axis is None:
            raise ValueError("the array has too few dimensions for this split")
        return np.split(ary, indices_or_sections, axis=axis)
    return handler


route(np.vsplit, _split_along(lambda nd: 0 if nd >= 2 else None))
route(np.hsplit, _split_along(lambda nd: 1 if nd >= 2 else 0))
route(np.dsplit, _split_along(lambda nd: 2 if nd >= 3 else None))


@implements(np.unstack)
def _unstack(cls, x, /, *, axis=0):
    axis = one_axis(axis, ndim_of(x))
    return tuple(x[index_along(axis, i)] for i in range(shape_of(x)[axis]))


@implements(np.block)
def _block(cls, arrays):
    def depth(a):
        return 1 + depth(a[0]) if isinstance(a, list) else 0
    total = depth(arrays)
    leaf_nd = max(ndim_of(a) for a in _leaves(arrays))
    nd = max(total, leaf_nd)

    def join(a, level):
        if not isinstance(a, list):
            return np.reshape(a, (1,) * (nd - ndim_of(a)) + tuple(shape_of(a)))
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
    if isinstance(condlist, np.ndarray) and condlist.dtype == bool and condlist.ndim == ndim_of(x):
        condlist = [condlist]
    condlist = [np.asarray(c, dtype=bool) for c in condlist]
    if len(funclist) == len(condlist) + 1:
        condlist.append(~np.any(condlist, axis=0))
    out = np.zeros_like(x)
    for cond, func in zip(condlist, funclist):
        if not np.any(cond):
            continue
        vals = func(x[cond], *args, **kw) if callable(func) else func
        out = bind(SETITEM, out, vals, index=(cond,))
    return out


@implements(np.compress)
def _compress(cls, condition, a, axis=None, out=None):
    cond = np.asarray(condition, dtype=bool)
    if axis is None:
        return np.ravel(a)[np.nonzero(cond)[0]]
    axis = one_axis(axis, ndim_of(a))
    return a[index_along(axis, np.nonzero(cond)[0])]


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
    nd = ndim_of(arr)
    axis = one_axis(axis, nd)
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


@implements(np.row_stack)
def _row_stack(cls, tup, **kw):
    return np.vstack(tup)


instead({
    np.unique: "its values are those of np.sort(x) at np.unique(x, return_index=True)[1] "
               "(indices are not differentiable, the values taken with them are)",
    np.bincount: "with weights w: np.eye(n)[idx].T @ w (a sum of one-hot rows)",
    np.histogram: "the counts have derivative 0; compute them on the returned values",
    np.fill_diagonal: "build the result instead: a * (1 - np.eye(n)) + v * np.eye(n)",
    np.put: "write x[idx] = v (a functional update on traced arrays)",
    np.place: "use np.where(mask, values, x)",
    np.putmask: "use np.where(mask, values, x)",
    np.linalg.eig: "for a symmetric matrix use numpy.linalg.eigh (general eigenvectors are "
                   "complex)",
    np.linalg.eigvals: "for a symmetric matrix use numpy.linalg.eigvalsh",
    np.fft.fft: "the FFT is complex-valued; traced values are real (a DFT of real data is "
                "np.cos/np.sin matrices times x)",
    np.fft.rfft: "the FFT is complex-valued; traced values are real",
    np.fft.ifft: "the FFT is complex-valued; traced values are real",
})
