"""What every distribution of adops.scipy.stats shares: the frozen form, defaults, helpers."""
from __future__ import annotations

import math

import numpy as np

from ...core.levels import is_traced

LOG_2PI = math.log(2.0 * math.pi)
LOG_SQRT_2PI = 0.5 * LOG_2PI

def as_array(x):
    """A traced value as is; anything else as a float array (Python numbers, lists)."""
    if is_traced(x):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def refuse_traced(where: str, differentiable: str, **params):
    for name, value in params.items():
        if is_traced(value):
            raise TypeError(
                f"{where} is differentiable in {differentiable}, not in {name}: its derivative "
                f"in {name} needs the parameter derivative of an incomplete gamma/beta "
                f"function, which is not implemented. Pass {name} as a constant (a plain "
                f"array), or differentiate {where.split('.')[0]}.logpdf instead")


def standardize(x, loc, scale):
    x, loc, scale = as_array(x), as_array(loc), as_array(scale)
    return (x - loc) / scale, scale


def nan_unless(valid, value):
    """``value`` where the parameters are valid, nan elsewhere (scipy's convention)."""
    if not is_traced(valid) and np.all(valid):
        return value
    return np.where(valid, value, np.nan)


def quietly(cls):
    """Run every public method under ``np.errstate(divide="ignore", invalid="ignore")``: the
    log of a zero cdf is ``-inf`` and an invalid scale gives nan without a warning, as in scipy."""
    import functools
    for name, method in list(vars(cls).items()):
        if callable(method) and not name.startswith("_"):
            def quiet(*args, __method=method, **kwargs):
                with np.errstate(divide="ignore", invalid="ignore"):
                    return __method(*args, **kwargs)
            setattr(cls, name, functools.wraps(method)(quiet))
    return cls


class Frozen:
    """A distribution with its parameters fixed: ``stats.norm(loc=1.0).logpdf(x)``."""

    def __init__(self, dist, args, kwargs):
        self.dist, self.args, self.kwargs = dist, args, kwargs

    def __getattr__(self, name):
        method = getattr(self.dist, name)
        return lambda x, *more, **kw: method(x, *self.args, *more, **{**self.kwargs, **kw})

    def __repr__(self):
        return f"<frozen adops.scipy.stats.{self.dist.name}{self.args}{self.kwargs}>"


class Distribution:
    name = "?"

    def __call__(self, *args, **kwargs):
        return Frozen(self, args, kwargs)

    def __repr__(self):
        return f"<adops.scipy.stats.{self.name}>"


@quietly
class Continuous(Distribution):
    """``pdf``, ``cdf``, ``sf`` and ``logsf`` from ``logpdf`` and ``logcdf`` by default."""

    def pdf(self, x, *args, **kwargs):
        return np.exp(self.logpdf(x, *args, **kwargs))

    def cdf(self, x, *args, **kwargs):
        return np.exp(self.logcdf(x, *args, **kwargs))

    def logcdf(self, x, *args, **kwargs):
        return np.log(self.cdf(x, *args, **kwargs))

    def sf(self, x, *args, **kwargs):
        return 1.0 - self.cdf(x, *args, **kwargs)

    def logsf(self, x, *args, **kwargs):
        return np.log(self.sf(x, *args, **kwargs))


@quietly
class Discrete(Distribution):
    def pmf(self, k, *args, **kwargs):
        return np.exp(self.logpmf(k, *args, **kwargs))

    def logcdf(self, k, *args, **kwargs):
        return np.log(self.cdf(k, *args, **kwargs))

    def logsf(self, k, *args, **kwargs):
        return np.log(self.sf(k, *args, **kwargs))


@quietly
class LocScale(Continuous):
    """A location-scale family: ``x = loc + scale * z`` with ``z`` of the standard form, whose
    methods a subclass gives as functions of ``z``: ``_logpdf`` and ``_cdf`` or ``_logcdf``, and
    where it has a better form than the defaults, ``_sf``, ``_logsf``. Here they become the
    public methods of ``x, loc, scale``: nan where ``scale <= 0`` (scipy's convention), and
    ``logpdf`` less ``log(scale)``."""

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, self._logpdf(z) - np.log(scale))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, self._cdf(z))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, self._logcdf(z))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, self._sf(z))

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, self._logsf(z))

    # the standard form's defaults (a subclass overrides _cdf or _logcdf, at least)
    def _cdf(self, z):
        return np.exp(self._logcdf(z))

    def _logcdf(self, z):
        return np.log(self._cdf(z))

    def _sf(self, z):
        return 1.0 - self._cdf(z)

    def _logsf(self, z):
        return np.log(self._sf(z))

