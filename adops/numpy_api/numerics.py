"""Numerical routines and elementwise functions on traced arrays, as composites: ``gradient``,
``linspace``/``logspace`` with traced endpoints, ``convolve``, ``correlate``, ``interp``, the
polynomial functions, ``sinc``, ``copysign``, ``ldexp``, ``modf``, ``divmod``, ``real``/``imag``/
``conj`` of real values, and ufunc methods beyond ``sum``/``prod``/``max``/``min``
(``np.logaddexp.reduce``, ``np.maximum.accumulate``...). No derivative formula: see
:mod:`adops.numpy_api.composites` for the patterns.

Conventions: ``interp`` is linear on each segment; at a knot it takes the segment on the right.
``sinc`` at 0 uses its Taylor series, so its derivatives at 0 are exact to fourth order. A
running maximum (``np.maximum.accumulate``) gives a tie to the earlier entry, as ``maximum``
gives it to its second argument.
"""
from __future__ import annotations

import math

import numpy as np

from .composites import dtype_or_float, index_along, ndim_of, one_axis
from ..core.levels import TracedBase
from .routes import display_as, implements, route, route_method, unsupported
from .reductions import scan
from ..ops.registry import normalize_axis, shape_of


# ===================================================================== numerical
@implements(np.gradient)
def _gradient(cls, f, *varargs, axis=None, edge_order=1):
    """numpy's second-order central differences (``edge_order`` 1 or 2 at the ends), with
    scalar spacings or coordinate arrays; linear in ``f``."""
    nd = ndim_of(f)
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
        return f[index_along(ax, slice(start, stop))]

    def bshape(c):  # coefficients along ax, broadcast against f
        shape = [1] * ndim_of(f)
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
    dtype = np.result_type(dtype_or_float(a), dtype_or_float(v))
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
        seg_val = np.zeros(shape_of(x), dtype=dtype_or_float(fp)) + fp[0]
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
    y = np.zeros(shape_of(x), dtype=np.result_type(dtype_or_float(x), dtype_or_float(p)))
    for i in range(shape_of(p)[0]):
        y = y * x + p[i]
    return y


@implements(np.polyder)
def _polyder(cls, p, m=1):
    for _ in range(int(m)):
        n = shape_of(p)[0] - 1
        p = p[:-1] * np.arange(n, 0, -1.0) if n > 0 else np.zeros(1, dtype=dtype_or_float(p)) * p[:1]
    return p


@implements(np.polyint)
def _polyint(cls, p, m=1, k=None):
    k = np.zeros(int(m)) if k is None else np.atleast_1d(k)
    for i in range(int(m)):
        n = shape_of(p)[0]
        p = np.concatenate([p / np.arange(n, 0, -1.0), np.full(1, k[i] if len(k) > 1 else k[0],
                                                               dtype=dtype_or_float(p))])
    return p


def _align_polys(a, b):
    na, nb = shape_of(a)[0], shape_of(b)[0]
    if na < nb:
        a = np.concatenate([np.zeros(nb - na, dtype=dtype_or_float(a)), a])
    elif nb < na:
        b = np.concatenate([np.zeros(na - nb, dtype=dtype_or_float(b)), b])
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
    cols = [np.ones(shape_of(x), dtype=dtype_or_float(x)) if k == 0 else x ** int(k) for k in powers]
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
        rhs = rhs * (w if ndim_of(y) == 1 else w[:, None])
    if rcond is None:
        rcond = shape_of(x)[0] * np.finfo(dtype_or_float(x)).eps
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    c = np.linalg.lstsq(lhs / scale, rhs, rcond)[0]
    return (c.T / scale).T


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
    return np.zeros(shape_of(val), dtype=dtype_or_float(val))


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
def _matvec(cls, x1, x2, /, axes=None, axis=None, keepdims=False):
    _last_axes_only(cls, "matvec", axes, axis, keepdims)
    return np.matmul(x1, x2[..., None])[..., 0]


@implements(np.vecmat)
def _vecmat(cls, x1, x2, /, axes=None, axis=None, keepdims=False):
    _last_axes_only(cls, "vecmat", axes, axis, keepdims)
    return np.matmul(x1[..., None, :], x2)[..., 0, :]


def _last_axes_only(cls, name, axes, axis, keepdims):
    if axes is not None or axis is not None or keepdims:
        raise unsupported(f"numpy.{name}(..., axes=...)", cls._mode,
                          "move the core axes last with np.moveaxis first")


# ======================================================= ufunc methods beyond sum/prod/max/min
def _method(name, func):
    """A ufunc method (``np.logaddexp.reduce``...) as a routed callable with numpy's name."""
    func.__name__ = name
    return display_as(func, f"numpy.{name}")


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


route(_method("logaddexp.reduce", logaddexp_reduce),
      _logsumexp_handler("logaddexp.reduce", np.exp, np.log))
route(_method("logaddexp2.reduce", logaddexp2_reduce),
      _logsumexp_handler("logaddexp2.reduce", np.exp2, np.log2))
route_method("reduce", "logaddexp", logaddexp_reduce)
route_method("reduce", "logaddexp2", logaddexp2_reduce)


def _accumulate_handler(name, combine):
    def handler(cls, x, axis=0, dtype=None, out=None):
        _reduce_kwargs(cls, name, dtype, out)
        if axis is None:
            x, axis = np.ravel(x), 0
        return scan(x, one_axis(axis, ndim_of(x)), combine)
    return handler


for _ufunc in (np.maximum, np.minimum, np.logaddexp, np.logaddexp2):
    _fn = _method(f"{_ufunc.__name__}.accumulate",
                  lambda x, axis=0, dtype=None, out=None: None)
    route(_fn, _accumulate_handler(f"{_ufunc.__name__}.accumulate", _ufunc))
    route_method("accumulate", _ufunc.__name__, _fn)
route_method("accumulate", "multiply", np.cumprod)
