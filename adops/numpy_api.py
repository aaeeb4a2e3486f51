"""How numpy functions map onto ops: the one dispatch both modes share.

A traced array (``dualad.Dual``, ``revad.Var``) sends every numpy call here through numpy's
protocols (``__array_ufunc__``, ``__array_function__``) and its operator dunders. A call becomes:

- an op of the registry, bound by the mode: ``cls._bind(op, args, params)``;
- a *composite*: a plain-numpy function of other supported calls (``mean = sum / count``,
  ``var``, ``linalg.norm``, ``matmul -> einsum``...), so it carries no derivative formula;
- a *non-differentiable* call (comparisons, ``argmax``, ``isnan``, ``shape``...), evaluated on the
  primals and returned as a plain array (``cls._nondiff`` lets reverse mode record branch outcomes);
- otherwise a ``TypeError`` that names the function, the mode and :func:`supported_functions`.

Axis arguments are normalized here (non-negative tuples), so ops never see ``-1`` or ``None``.
"""
from __future__ import annotations

import string
from typing import Callable

import numpy as np

from . import registry
from .levels import TracedBase, bind, top_tracer
from .registry import OPS, normalize_axis, shape_of

#: numpy callable -> handler(cls, *args, **kwargs); handler returns traced or plain results
ROUTES: dict = {}
#: numpy callables evaluated on primals only (no derivative flows through them)
NONDIFF: set = set()


def implements(*funcs):
    """Route numpy callables ``funcs`` to the decorated handler ``handler(cls, *args, **kw)``."""
    def deco(handler):
        for f in funcs:
            ROUTES[f] = handler
        return handler
    return deco


def _route_op(op, strict=True):
    """Route ``op.numpy`` to ``op``. A user op may not take over a numpy function another op
    already handles (refused, with the way out), so no route changes silently."""
    if strict:
        for f in op.numpy:
            if f in ROUTES or f in NONDIFF:
                owner = getattr(ROUTES.get(f), "op", None)
                what = f"the op {owner.name!r}" if owner is not None else "a built-in handler"
                raise ValueError(
                    f"{_name(f)} already routes to {what}; op {op.name!r} cannot take it over. "
                    f"Call your op directly with adops.call({op.name!r}, ...), or unregister the "
                    "user op that holds the route first")
    for f in op.numpy:
        if f not in ROUTES:
            ROUTES[f] = _direct_handler(op)


def _direct_handler(op):
    def handler(cls, *args):
        return bind(op, *args)
    handler.op = op
    return handler


def _unroute_op(op):
    for f in op.numpy:
        if getattr(ROUTES.get(f), "op", None) is op:
            del ROUTES[f]


registry._listeners.append(_route_op)
registry._unlisteners.append(_unroute_op)
for _op in list(OPS.values()):
    _route_op(_op, strict=False)


# ----------------------------------------------------------------------------- binding
def primal(x):
    """The value of a traced array one level down (itself traced when levels nest), or ``x``."""
    return x._primal if isinstance(x, TracedBase) else x


def _shape(x) -> tuple:
    return shape_of(x)


def _ndim(x) -> int:
    return len(shape_of(x))


def _dummy(x):
    """A zero-byte stand-in with ``x``'s shape, for numpy's own shape arithmetic."""
    return np.broadcast_to(np.empty((), dtype=np.int8), shape_of(x))


def call(name: str, *args, **params):
    """Apply the registered op ``name``: ``adops.call('sin', x)`` works on Dual, Var or arrays."""
    return bind(OPS[name], *args, **params)


def unsupported(what: str, mode: str, why: str = "") -> TypeError:
    return TypeError(
        f"{what} is not supported in {mode}{': ' + why if why else ''}. The supported numpy "
        "functions are listed by adops.supported_functions() and in docs/SUPPORTED.md; "
        "register a new op with adops.defop or adops.deflinear.")


#: names for callables that do not carry their own (scipy's ufuncs have no ``__module__``)
DISPLAY_NAMES: dict = {}
#: what to use instead of an unsupported callable, for its error message
INSTEAD: dict = {}


def _name(f) -> str:
    if f in DISPLAY_NAMES:
        return DISPLAY_NAMES[f]
    mod = getattr(f, "__module__", None) or "numpy"
    if mod.startswith("numpy"):
        mod = "numpy.linalg" if "linalg" in mod else "numpy"
    return f"{mod}.{getattr(f, '__name__', repr(f))}"


# ----------------------------------------------------------------------- protocol entry
_REDUCE_METHODS = {"add": np.sum, "multiply": np.prod, "maximum": np.max, "minimum": np.min}
_ACCUMULATE_METHODS = {"add": np.cumsum}


def handle_ufunc(cls, ufunc, method, inputs, kwargs):
    """``__array_ufunc__`` for traced class ``cls``."""
    if kwargs.get("out") is not None:
        raise TypeError(
            f"in-place numpy.{ufunc.__name__}(..., out=...) on a traced array is not supported in "
            f"{cls._mode}: it would overwrite a value the derivative needs; write "
            f"y = np.{ufunc.__name__}(...) instead")
    extra = {k: v for k, v in kwargs.items() if k != "out"}
    if method in ("reduce", "accumulate"):
        extra.setdefault("axis", 0)  # ufunc methods reduce axis 0 unless told otherwise
    if method == "reduce" and ufunc.__name__ in _REDUCE_METHODS:
        return handle_function(cls, _REDUCE_METHODS[ufunc.__name__], inputs, extra)
    if method == "accumulate" and ufunc.__name__ in _ACCUMULATE_METHODS:
        return handle_function(cls, _ACCUMULATE_METHODS[ufunc.__name__], inputs, extra)
    if method != "__call__":
        raise unsupported(f"numpy.{ufunc.__name__}.{method}", cls._mode)
    if extra.get("dtype") is not None or extra.get("where", True) is not True:
        raise unsupported(f"numpy.{ufunc.__name__} with dtype= or where=", cls._mode,
                          "cast the result instead")
    return handle_function(cls, ufunc, inputs,
                           {k: extra[k] for k in ("axis", "axes", "keepdims") if k in extra})


def handle_function(cls, func, args, kwargs):
    """``__array_function__`` (and ufunc calls) for traced class ``cls``."""
    if func in NONDIFF:
        return nondiff_call(func, args, kwargs)
    handler = ROUTES.get(func)
    if handler is None:
        raise unsupported(_name(func), cls._mode, INSTEAD.get(func, ""))
    return handler(cls, *args, **kwargs)


def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def nondiff_call(func, args, kwargs):
    """A non-differentiable call: evaluated on primals, level by level (reverse mode records its
    result as a replay guard)."""
    top = top_tracer(list(_flat(args)) + list(_flat(kwargs.values())))
    if top is None:
        return func(*args, **kwargs)
    return type(top)._nondiff(func, args, kwargs, top.level)


def astype_values(x, dtype):
    """``x.astype(dtype)`` to an integer or bool type: values only (derivative 0)."""
    return np.asarray(x).astype(dtype)


def nondiff(*funcs):
    NONDIFF.update(funcs)


nondiff(np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
        np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.isnan, np.isinf,
        np.isfinite, np.signbit, np.heaviside, np.floor_divide, np.argmax, np.argmin,
        np.argsort, np.argwhere, np.nonzero, np.flatnonzero, np.shape, np.ndim, np.size,
        np.isclose, np.allclose,
        np.array_equal, np.any, np.all, np.count_nonzero, np.searchsorted, np.result_type,
        np.iscomplexobj, np.isrealobj, np.isscalar, astype_values)


# ============================================================ elementwise special cases
@implements(np.power)
def _power(cls, a, b):
    # x**2 is the most common power: the square op is exact and one kernel cheaper
    if not isinstance(b, TracedBase) and np.ndim(b) == 0 and float(b) == 2.0:
        return bind(OPS["square"], a)
    return bind(OPS["power"], a, b)


@implements(np.where)
def _where(cls, cond, a=None, b=None):
    if isinstance(cond, Traced):
        # through the non-differentiable route, so reverse mode records the mask for replay
        cond = np.not_equal(cond, 0)
    if a is None and b is None:
        return np.nonzero(cond)
    return bind(OPS["where"], np.asarray(cond).astype(bool), a, b)


@implements(np.clip)
def _clip(cls, x, a_min=None, a_max=None, **kw):
    a_min = kw.pop("min", a_min)
    a_max = kw.pop("max", a_max)
    if a_min is not None:
        x = np.maximum(x, a_min)
    if a_max is not None:
        x = np.minimum(x, a_max)
    return x


@implements(np.round, np.around)
def _round(cls, x, decimals=0):
    if decimals == 0:
        return np.rint(x)
    scale = 10.0 ** decimals
    return np.rint(x * scale) / scale


# ======================================================================== reductions
@implements(np.sum)
def _sum(cls, x, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_out(cls, "sum", out, where)
    x = with_dtype(cls, x, dtype)
    axes = normalize_axis(axis, _ndim(x))
    res = bind(OPS["sum"], x, axis=axes, keepdims=bool(keepdims))
    return res if initial is None else res + initial


def _no_out(cls, name, out=None, where=None):
    if out is not None:
        raise TypeError(f"numpy.{name}(..., out=...) is not supported in {cls._mode}: "
                        "assign the result instead")
    if where is not None and where is not True:
        raise unsupported(f"numpy.{name}(..., where=...)", cls._mode, "mask with np.where first")


def _count(x, axes):
    shape = _shape(x)
    return int(np.prod([shape[a] for a in axes])) if axes else 1


@implements(np.mean)
def _mean(cls, x, axis=None, dtype=None, out=None, keepdims=False, where=None):
    _no_out(cls, "mean", out, where)
    x = with_dtype(cls, x, dtype)
    axes = normalize_axis(axis, _ndim(x))
    return np.sum(x, axis=axes, keepdims=keepdims) / _count(x, axes)


def _reduce(name):
    def handler(cls, x, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                where=None):
        _no_out(cls, name, out, where)
        x = with_dtype(cls, x, dtype)
        if initial is not None:
            raise unsupported(f"numpy.{name}(..., initial=...)", cls._mode)
        axes = normalize_axis(axis, _ndim(x))
        return bind(OPS[name], x, axis=axes, keepdims=bool(keepdims))
    return handler


def _extremum(name):
    reduce = _reduce(name)

    def handler(cls, x, axis=None, out=None, keepdims=False, initial=None, where=None):
        return reduce(cls, x, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    return handler


for _fn, _n in ((np.max, "max"), (np.amax, "max"), (np.min, "min"), (np.amin, "min")):
    ROUTES[_fn] = _extremum(_n)
ROUTES[np.prod] = _reduce("prod")


@implements(np.var)
def _var(cls, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, **kw):
    _no_out(cls, "var", out, where)
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
def _norm(cls, x, ord=None, axis=None, keepdims=False):
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


@implements(np.cumsum)
def _cumsum(cls, x, axis=None, dtype=None, out=None):
    _no_out(cls, "cumsum", out)
    x = with_dtype(cls, x, dtype)
    if axis is None:
        x, axis = np.ravel(x), 0
    (axis,) = normalize_axis(axis, _ndim(x))
    return bind(OPS["cumsum"], x, axis=axis)


@implements(np.cumprod)
def _cumprod(cls, x, axis=None, dtype=None, out=None):
    """Running product as a log-depth scan of multiplies (Hillis-Steele): each step multiplies
    the array by itself shifted, so it is a composite of ops, differentiable to any order."""
    _no_out(cls, "cumprod", out)
    x = with_dtype(cls, x, dtype)
    if axis is None:
        x, axis = np.ravel(x), 0
    (axis,) = normalize_axis(axis, _ndim(x))
    n = _shape(x)[axis]
    pre = (slice(None),) * axis
    step = 1
    while step < n:
        head = x[pre + (slice(0, step),)]
        tail = x[pre + (slice(step, None),)] * x[pre + (slice(0, n - step),)]
        x = np.concatenate([head, tail], axis=axis)
        step *= 2
    return x


@implements(np.average)
def _average(cls, x, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        return np.mean(x, axis=axis, keepdims=keepdims)
    axes = normalize_axis(axis, _ndim(x))
    w = weights if _ndim(weights) == _ndim(x) else _weights_along(weights, axes, _ndim(x))
    return np.sum(x * w, axis=axes, keepdims=keepdims) / np.sum(w * np.ones(_shape(x)),
                                                                 axis=axes, keepdims=keepdims)


def _weights_along(w, axes, nd):
    shape = [1] * nd
    shape[axes[0]] = -1
    return np.reshape(w, tuple(shape))


# ========================================================================= shapes
@implements(np.reshape)
def _reshape(cls, x, shape=None, order="C", **kw):
    shape = kw.get("newshape", shape)
    if order != "C":
        raise unsupported(f"numpy.reshape(order={order!r})", cls._mode, "only order='C'")
    new = np.reshape(_dummy(x), shape).shape
    return bind(OPS["reshape"], x, shape=new)


@implements(np.ravel)
def _ravel(cls, x, order="C"):
    return _reshape(cls, x, (-1,), order)


@implements(np.transpose)
def _transpose(cls, x, axes=None):
    nd = _ndim(x)
    axes = tuple(reversed(range(nd))) if axes is None else tuple(int(a) % nd for a in axes)
    return bind(OPS["transpose"], x, axes=axes)


@implements(np.swapaxes)
def _swapaxes(cls, x, axis1, axis2):
    nd = _ndim(x)
    perm = list(range(nd))
    a, b = axis1 % nd, axis2 % nd
    perm[a], perm[b] = perm[b], perm[a]
    return bind(OPS["transpose"], x, axes=tuple(perm))


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
    return bind(OPS["transpose"], x, axes=perm)


@implements(np.expand_dims)
def _expand_dims(cls, x, axis):
    return _reshape(cls, x, np.expand_dims(_dummy(x), axis).shape)


@implements(np.squeeze)
def _squeeze(cls, x, axis=None):
    return _reshape(cls, x, np.squeeze(_dummy(x), axis).shape)


@implements(np.broadcast_to)
def _broadcast_to(cls, x, shape, subok=False):
    shape = np.broadcast_shapes(_shape(x), tuple(np.atleast_1d(shape)))
    return bind(OPS["broadcast_to"], x, shape=tuple(int(s) for s in shape))


@implements(np.atleast_1d)
def _atleast_1d(cls, *xs):
    res = [x if _ndim(x) >= 1 else np.reshape(x, (1,)) for x in xs]
    return res[0] if len(res) == 1 else res


@implements(np.atleast_2d)
def _atleast_2d(cls, *xs):
    res = [x if _ndim(x) >= 2 else np.reshape(x, (1, -1)) for x in xs]
    return res[0] if len(res) == 1 else res


@implements(np.copy)
def _copy(cls, x, *a, **k):
    return x.copy() if isinstance(x, TracedBase) else np.copy(x, *a, **k)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def constant_like(x, value, dtype=None, shape=None):
    """A constant with ``x``'s shape (or ``shape``): at ``x``'s level when it is float, so that
    ``z = np.zeros_like(x); z[0] = x[1]`` works as in numpy; plain for other dtypes."""
    dt = np.dtype(dtype) if dtype is not None else x.dtype
    arr = np.full(_shape(x) if shape is None else shape, value, dtype=dt)
    if isinstance(x, TracedBase) and dt in _FLOATS:
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


def with_dtype(cls, x, dtype):
    """``x`` as numpy computes a reduction with ``dtype=``: float dtypes cast (differentiably),
    integer and bool dtypes give numpy's values (derivative 0), complex is refused."""
    if dtype is None or not isinstance(x, TracedBase):
        return x if dtype is None else np.asarray(x).astype(dtype)
    dt = np.dtype(dtype)
    if dt in _FLOATS or dt == bool or np.issubdtype(dt, np.integer):
        return x.astype(dt, copy=False)
    raise unsupported(f"dtype={dt}", cls._mode, "traced values are float32 or float64")


# ======================================================================= indexing
def normalize_index(index, ndim: int, mode: str) -> tuple:
    """``index`` as a tuple with Ellipsis expanded, lists turned into arrays, no traced values."""
    if not isinstance(index, tuple):
        index = (index,)
    out, consumed, ellipsis = [], 0, None
    for i in index:
        if isinstance(i, Traced):
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
    idx = normalize_index(index, _ndim(x), cls._mode)
    return bind(OPS["getitem"], x, index=idx)


def setitem(cls, x, index, value):
    idx = normalize_index(index, _ndim(x), cls._mode)
    return bind(OPS["setitem"], x, value, index=idx)


@implements(np.take)
def _take(cls, x, indices, axis=None, out=None, mode="raise"):
    if axis is None:
        return getitem(cls, np.ravel(x), np.asarray(indices))
    (axis,) = normalize_axis(axis, _ndim(x))
    return getitem(cls, x, (slice(None),) * axis + (np.asarray(indices),))


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
        return np.reshape(_roll(cls, np.ravel(x), shift, 0), _shape(x))
    (axis,) = normalize_axis(axis, _ndim(x))
    n = _shape(x)[axis]
    idx = (np.arange(n) - shift) % n
    return getitem(cls, x, (slice(None),) * axis + (idx,))


@implements(np.diff)
def _diff(cls, x, n=1, axis=-1):
    (axis,) = normalize_axis(axis, _ndim(x))
    for _ in range(n):
        hi = (slice(None),) * axis + (slice(1, None),)
        lo = (slice(None),) * axis + (slice(None, -1),)
        x = getitem(cls, x, hi) - getitem(cls, x, lo)
    return x


@implements(np.repeat)
def _repeat(cls, x, repeats, axis=None):
    if axis is None:
        x, axis = np.ravel(x), 0
    (axis,) = normalize_axis(axis, _ndim(x))
    n = _shape(x)[axis]
    idx = np.repeat(np.arange(n), repeats)
    return getitem(cls, x, (slice(None),) * axis + (idx,))


@implements(np.tile)
def _tile(cls, x, reps):
    base = np.arange(int(np.prod(_shape(x)))).reshape(_shape(x))
    return getitem(cls, np.ravel(x), np.tile(base, reps))


# ================================================================ joining / splitting
@implements(np.concatenate)
def _concatenate(cls, arrays, axis=0, out=None, **kw):
    _no_out(cls, "concatenate", out)
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [np.ravel(a) for a in arrays], 0
    (axis,) = normalize_axis(axis, _ndim(arrays[0]))
    return bind(OPS["concatenate"], *arrays, axis=axis)


@implements(np.stack)
def _stack(cls, arrays, axis=0, out=None, **kw):
    _no_out(cls, "stack", out)
    arrays = list(arrays)
    (axis,) = normalize_axis(axis, _ndim(arrays[0]) + 1)
    return bind(OPS["stack"], *arrays, axis=axis)


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


def _splitter(strict):
    def handler(cls, x, indices_or_sections, axis=0):
        (axis,) = normalize_axis(axis, _ndim(x))
        positions = np.arange(_shape(x)[axis])
        split = np.split if strict else np.array_split
        pieces = split(positions, indices_or_sections)
        return [getitem(cls, x, (slice(None),) * axis + (slice(int(p[0]), int(p[-1]) + 1)
                                                         if len(p) else slice(0, 0),))
                for p in pieces]
    return handler


ROUTES[np.split] = _splitter(strict=True)
ROUTES[np.array_split] = _splitter(strict=False)


# ======================================================================= diagonal / trace
@implements(np.diagonal)
def _diagonal(cls, x, offset=0, axis1=0, axis2=1):
    nd = _ndim(x)
    return bind(OPS["diagonal"], x, offset=int(offset), axis1=axis1 % nd, axis2=axis2 % nd)


@implements(np.trace)
def _trace(cls, x, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out(cls, "trace", out)
    return np.sum(_diagonal(cls, x, offset, axis1, axis2), axis=-1)


# ============================================================ products: all onto einsum
_LETTERS = string.ascii_lowercase


def _einsum_bind(spec, a, b):
    (la, lb), lo = spec.split("->")[0].split(","), spec.split("->")[1]
    if len(set(la)) != len(la) or len(set(lb)) != len(lb):
        cls = type(top_tracer([a, b]))
        raise unsupported(f"numpy.einsum('{spec}') with a repeated index in one operand",
                          cls._mode, "take np.diagonal or np.trace first")
    return bind(OPS["einsum"], a, b, spec=spec)


def matmul_spec(nd_a: int, nd_b: int) -> str:
    """Einsum spec of ``a @ b`` for operands of ``nd_a`` and ``nd_b`` dimensions."""
    if nd_a == 0 or nd_b == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (0-d)")
    batch = _LETTERS[:max(nd_a, nd_b, 2) - 2]
    i, j, k = "xyw"
    a = j if nd_a == 1 else batch[len(batch) - (nd_a - 2):] + i + j
    b = j if nd_b == 1 else batch[len(batch) - (nd_b - 2):] + j + k
    out = batch if (nd_a > 1 or nd_b > 1) else ""
    if nd_a == 1 and nd_b > 1:
        out = batch[len(batch) - (nd_b - 2):] + k
    elif nd_b == 1 and nd_a > 1:
        out = batch[len(batch) - (nd_a - 2):] + i
    elif nd_a > 1 and nd_b > 1:
        out = batch + i + k
    return f"{a},{b}->{out}"


def _check_matmul(cls, a, b):
    sa, sb = _shape(a), _shape(b)
    ka = sa[-1] if len(sa) else None
    kb = sb[-2] if len(sb) > 1 else (sb[0] if len(sb) else None)
    if ka != kb:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align: the last axis of the "
                         f"first ({ka}) must equal the {'second-to-last' if len(sb) > 1 else 'only'}"
                         f" axis of the second ({kb})")


@implements(np.matmul)
def _matmul(cls, a, b, **kw):
    _check_matmul(cls, a, b)
    return _einsum_bind(matmul_spec(_ndim(a), _ndim(b)), a, b)


@implements(np.dot)
def _dot(cls, a, b, out=None):
    _no_out(cls, "dot", out)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    if nb == 1 or na == 1 and nb <= 2:
        return _matmul(cls, a, b)
    sa, sb = _shape(a), _shape(b)
    if sa[-1] != sb[-2]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (dim {na - 1}) != "
                         f"{sb[-2]} (dim {nb - 2})")
    la = _LETTERS[:na - 1] + "z"
    lb = _LETTERS[na - 1:na - 1 + nb - 2] + "z" + "y"
    return _einsum_bind(f"{la},{lb}->{la[:-1] + lb[:-2] + 'y'}", a, b)


@implements(np.inner)
def _inner(cls, a, b):
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    la = _LETTERS[:na - 1] + "z"
    lb = _LETTERS[na - 1:na - 1 + nb - 1] + "z"
    return _einsum_bind(f"{la},{lb}->{la[:-1] + lb[:-1]}", a, b)


@implements(np.outer)
def _outer(cls, a, b, out=None):
    _no_out(cls, "outer", out)
    return _einsum_bind("i,j->ij", np.ravel(a), np.ravel(b))


@implements(np.vdot)
def _vdot(cls, a, b):
    return _einsum_bind("i,i->", np.ravel(a), np.ravel(b))


@implements(np.tensordot)
def _tensordot(cls, a, b, axes=2):
    na, nb = _ndim(a), _ndim(b)
    if np.ndim(axes) == 0:
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = [np.atleast_1d(v).tolist() for v in axes]
    ax_a, ax_b = [x % na for x in ax_a], [x % nb for x in ax_b]
    la, lb = list(_LETTERS[:na]), list(_LETTERS[na:na + nb])
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [l for i, l in enumerate(la) if i not in ax_a] + \
          [l for j, l in enumerate(lb) if j not in ax_b]
    return _einsum_bind(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def _canonical_spec(spec: str, operands) -> str:
    """Rename letters to a-y, expand '...' and add an implicit output."""
    spec = spec.replace(" ", "")
    if "->" not in spec:
        ins = spec.split(",")
        letters = "".join(ins).replace(".", "")
        implicit = "".join(sorted(l for l in set(letters) if letters.count(l) == 1))
        spec = spec + "->" + ("..." if "..." in spec else "") + implicit
    ins, out = spec.split("->")
    ins = ins.split(",")
    used = set("".join(ins).replace(".", ""))
    free = [l for l in _LETTERS if l not in used and l != "z"]
    if "..." in spec:
        ell_nd = max(_ndim(x) - (len(s) - 3) for s, x in zip(ins, operands) if "..." in s)
        ell = "".join(free[:ell_nd])
        ins = [s.replace("...", ell[len(ell) - (_ndim(x) - (len(s) - 3)):]) for s, x in
               zip(ins, operands)]
        out = out.replace("...", ell)
    mapping = {}
    pool = iter(_LETTERS)
    for l in "".join(ins) + out:
        if l not in mapping:
            mapping[l] = next(pool)
    return ",".join("".join(mapping[c] for c in s) for s in ins) + "->" + \
        "".join(mapping[c] for c in out)


@implements(np.einsum)
def _einsum(cls, spec, *operands, out=None, optimize=False, **kw):
    _no_out(cls, "einsum", out)
    if not isinstance(spec, str):
        raise unsupported("numpy.einsum in sublist form", cls._mode, "pass a subscript string")
    spec = _canonical_spec(spec, operands)
    ins, res = spec.split("->")
    ins = ins.split(",")
    if len(operands) == 1:
        if len(set(ins[0])) != len(ins[0]):
            raise unsupported(f"numpy.einsum('{spec}') with a repeated index", cls._mode,
                              "take np.diagonal or np.trace first")
        return bind(OPS["einsum1"], operands[0], spec=spec)
    if len(operands) == 2:
        return _einsum_bind(spec, *operands)
    # more operands: contract left to right, keeping every letter still needed later
    acc, acc_l = operands[0], ins[0]
    for i in range(1, len(operands)):
        later = set("".join(ins[i + 1:]) + res)
        keep = "".join(dict.fromkeys(l for l in acc_l + ins[i] if l in later))
        acc = _einsum_bind(f"{acc_l},{ins[i]}->{keep}", acc, operands[i])
        acc_l = keep
    return _einsum1_out(cls, acc, acc_l, res)


def _einsum1_out(cls, x, have, want):
    if have == want:
        return x
    return bind(OPS["einsum1"], x, spec=f"{have}->{want}")


# ========================================================================== listing
def supported_functions() -> dict:
    """Every numpy callable a traced array accepts, by kind.

    Returns:
        ``{"op": {numpy name: op name}, "composite": [names], "non-differentiable": [names]}``.

    Example:
        >>> import adops
        >>> "numpy.sin" in adops.supported_functions()["op"]
        True
    """
    ops, composite = {}, []
    for f, h in ROUTES.items():
        op = getattr(h, "op", None)
        if op is not None:
            ops[_name(f)] = op.name
        else:
            composite.append(_name(f))
    return {"op": dict(sorted(ops.items())), "composite": sorted(set(composite)),
            "non-differentiable": sorted({_name(f) for f in NONDIFF})}


def supported_table() -> str:
    """The supported-functions list as a Markdown table (docs/SUPPORTED.md is generated from it)."""
    s = supported_functions()
    lines = ["| numpy function | kind | op |", "|---|---|---|"]
    lines += [f"| `{k}` | op | `{v}` |" for k, v in s["op"].items()]
    lines += [f"| `{k}` | composite of ops | |" for k in s["composite"]]
    lines += [f"| `{k}` | not differentiable (evaluated on primals) | |"
              for k in s["non-differentiable"]]
    lines += ["", "## The ops and their rules", "", "| op | kind | rule |", "|---|---|---|"]
    lines += [f"| `{name}` | {type(op).__name__} | {op.doc.replace('|', '/')} |"
              for name, op in sorted(OPS.items()) if getattr(op, "builtin", False)]
    return "\n".join(lines) + "\n"


from .traced import Traced  # noqa: E402  (traced.py imports this module; bound once both exist)
