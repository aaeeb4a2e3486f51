"""Statistics on traced arrays as composites: order statistics (``median``, ``quantile``,
``percentile``, ``partition``), the ``nan*`` reductions, ``cov``, ``corrcoef``, ``ptp``,
``trapezoid``, running sums and products. No derivative formula: see :mod:`adops.numpy_api.composites`
for the patterns.

Conventions: ``median``/``quantile``/``percentile`` (and their ``nan*`` forms) are piecewise
linear in the sorted values (methods linear, lower, higher, nearest, midpoint); at a tie the
derivative goes to the entry a stable ``argsort`` puts first. ``partition`` moves entries as
``np.argpartition`` does. ``nan*`` reductions give NaN entries derivative 0; ``nanmax`` and
``nanmin`` split ties evenly, as ``max`` does.
"""
from __future__ import annotations

import numpy as np

from .composites import dtype_or_float, index_along, ndim_of, one_axis
from .routes import implements, route, unsupported
from ..ops.registry import normalize_axis, shape_of


# ------------------------------------------------------------------------ statistics
@implements(np.ptp)
def _ptp(cls, a, axis=None, out=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


@implements(np.trapezoid)
def _trapezoid(cls, y, x=None, dx=1.0, axis=-1):
    axis = one_axis(axis, ndim_of(y))
    hi = y[index_along(axis, slice(1, None))]
    lo = y[index_along(axis, slice(None, -1))]
    if x is None:
        d = dx
    else:
        d = np.diff(x, axis=axis if ndim_of(x) > 1 else 0)
        if ndim_of(x) == 1:
            shape = [1] * ndim_of(y)
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
    if not rowvar and ndim_of(x) == 2 and shape_of(x)[0] != 1:
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
    if ndim_of(c) == 0:
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
        if ndim_of(x) > 1:
            raise ValueError("axis must be given for arrays of more than one dimension")
        axis = 0
    c = np.cumsum(x, axis=axis, dtype=dtype)
    return _with_initial(c, axis, 0.0) if include_initial else c


@implements(np.cumulative_prod)
def _cumulative_prod(cls, x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    if axis is None:
        if ndim_of(x) > 1:
            raise ValueError("axis must be given for arrays of more than one dimension")
        axis = 0
    c = np.cumprod(x, axis=axis, dtype=dtype)
    return _with_initial(c, axis, 1.0) if include_initial else c


def _with_initial(c, axis, value):
    axis = one_axis(axis, ndim_of(c))
    shape = list(shape_of(c))
    shape[axis] = 1
    return np.concatenate([np.full(shape, value, dtype=dtype_or_float(c)), c], axis=axis)


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
    nd = ndim_of(a)
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
    frac = frac.astype(dtype_or_float(a))
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


route(np.quantile, _quantile_handler(False, 1.0))
route(np.percentile, _quantile_handler(False, 100.0))
route(np.nanquantile, _quantile_handler(True, 1.0))
route(np.nanpercentile, _quantile_handler(True, 100.0))


def _median_handler(skip_nan):
    def handler(cls, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        if out is not None:
            raise unsupported("median with out=", cls._mode)
        return _quantile(cls, a, 0.5, axis, "linear", keepdims, skip_nan)
    return handler


route(np.median, _median_handler(False))
route(np.nanmedian, _median_handler(True))


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
    info = np.finfo(dtype_or_float(x))
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
