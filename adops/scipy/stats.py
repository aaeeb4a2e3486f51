"""``adops.scipy.stats``: scipy.stats' distribution functions for traced arrays.

Same names, signatures and broadcasting as ``scipy.stats`` (as ``jax.scipy.stats``), so a
program changes one import line::

    from adops.scipy import stats      # was: from scipy import stats
    stats.norm.logpdf(x, loc=mu, scale=sigma)

Distributions: ``norm``, ``multivariate_normal``, ``t``, ``gamma``, ``beta``, ``expon``,
``laplace``, ``logistic``, ``cauchy``, ``uniform``, ``dirichlet`` (densities), ``poisson``,
``bernoulli`` (mass functions). Methods, where scipy has them: ``logpdf``, ``pdf``, ``logcdf``, ``cdf``, ``logsf``,
``sf`` (``logpmf``, ``pmf`` for the discrete ones; ``ppf`` for ``norm``). Calling a distribution
freezes its parameters, as scipy does: ``stats.norm(loc=1.0).logpdf(x)``.

Every function is a composite of supported numpy calls and of the ``scipy.special`` ops
(:mod:`adops.scipy.special`), so no derivative formula is written again: it is differentiable in
``x``, ``loc`` and ``scale`` (``mean`` and ``cov`` for ``multivariate_normal``, through
``cholesky`` and ``solve``), in both modes and to any order. Shape parameters (``t``'s ``df``,
``gamma``'s ``a``, ``beta``'s ``a`` and ``b``, ``dirichlet``'s ``alpha``, ``poisson``'s ``mu``,
``bernoulli``'s ``p``) are differentiable in the densities and mass functions (through
``gammaln``, ``betaln``, ``xlogy``); the cdfs of ``t``, ``gamma`` and ``beta`` are not
differentiable in their shape parameters (``gammainc``, ``betainc`` and ``stdtr`` have no
parameter derivative here), and a traced shape parameter there raises a ``TypeError`` naming
it. ``poisson.cdf`` is differentiable in ``mu``.

Outside the support, the values are scipy's (``-inf`` log-densities, 0 or 1 cdfs) with
derivative 0; invalid parameters (``scale <= 0``, ``df <= 0``...) give nan, as in scipy.
Not provided: ``multivariate_normal.cdf`` (scipy integrates it numerically) and singular
covariances (``allow_singular=True`` is refused; ``cholesky`` must succeed).

Example:
    >>> import numpy as np, revad
    >>> from adops.scipy import stats
    >>> float(np.round(stats.norm.logpdf(1.0, loc=0.5, scale=2.0), 6))
    -1.643336
    >>> float(revad.grad(lambda mu: stats.norm.logpdf(1.0, loc=mu, scale=2.0))(0.5))
    0.125
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from ..levels import is_traced
from . import special  # noqa: F401  (registers the ops the cdfs use)

LOG_2PI = math.log(2.0 * math.pi)
LOG_SQRT_2PI = 0.5 * LOG_2PI

__all__ = ["norm", "multivariate_normal", "t", "gamma", "beta", "expon", "laplace", "logistic",
           "cauchy", "uniform", "dirichlet", "poisson", "bernoulli"]


def _arr(x):
    """A traced value as is; anything else as a float array (Python numbers, lists)."""
    if is_traced(x):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _refuse_traced(where: str, differentiable: str, **params):
    for name, value in params.items():
        if is_traced(value):
            raise TypeError(
                f"{where} is differentiable in {differentiable}, not in {name}: its derivative "
                f"in {name} needs the parameter derivative of an incomplete gamma/beta "
                f"function, which is not implemented. Pass {name} as a constant (a plain "
                f"array), or differentiate {where.split('.')[0]}.logpdf instead")


def _standardize(x, loc, scale):
    x, loc, scale = _arr(x), _arr(loc), _arr(scale)
    return (x - loc) / scale, scale


def _nan_unless(valid, value):
    """``value`` where the parameters are valid, nan elsewhere (scipy's convention)."""
    if not is_traced(valid) and np.all(valid):
        return value
    return np.where(valid, value, np.nan)


def _quietly(cls):
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


@_quietly
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


# --------------------------------------------------------------------------------- norm
@_quietly
class Norm(Continuous):
    """The normal distribution: ``norm.logpdf(x, loc=0, scale=1)`` and friends.

    >>> float(np.round(norm.cdf(1.0), 6))
    0.841345
    """

    name = "norm"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, -0.5 * z * z - LOG_SQRT_2PI - np.log(scale))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.ndtr(z))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.log_ndtr(z))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.ndtr(-z))

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.log_ndtr(-z))

    def ppf(self, q, loc=0.0, scale=1.0):
        q, loc, scale = _arr(q), _arr(loc), _arr(scale)
        return _nan_unless(scale > 0, loc + scale * sc.ndtri(q))


# ------------------------------------------------------------------------------------- t
@_quietly
class StudentT(Continuous):
    """Student's t: ``t.logpdf(x, df, loc=0, scale=1)``; ``t.cdf`` is not differentiable in
    ``df``.

    >>> float(np.round(t.logpdf(0.0, 1.0), 6))  # Cauchy: -log(pi)
    -1.14473
    """

    name = "t"

    def logpdf(self, x, df, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        df = _arr(df)
        half = 0.5 * (df + 1.0)
        out = (sc.gammaln(half) - sc.gammaln(0.5 * df) - 0.5 * np.log(df * math.pi)
               - half * np.log1p(z * z / df) - np.log(scale))
        return _nan_unless((scale > 0) & (df > 0), out)

    def cdf(self, x, df, loc=0.0, scale=1.0):
        _refuse_traced("t.cdf", "x, loc and scale", df=df)
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.stdtr(df, z))

    def sf(self, x, df, loc=0.0, scale=1.0):
        _refuse_traced("t.sf", "x, loc and scale", df=df)
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.stdtr(df, -z))

    def logcdf(self, x, df, loc=0.0, scale=1.0):
        _refuse_traced("t.logcdf", "x, loc and scale", df=df)
        return np.log(self.cdf(x, df, loc, scale))

    def logsf(self, x, df, loc=0.0, scale=1.0):
        _refuse_traced("t.logsf", "x, loc and scale", df=df)
        return np.log(self.sf(x, df, loc, scale))


# --------------------------------------------------------------------------------- gamma
@_quietly
class Gamma(Continuous):
    """The gamma distribution: ``gamma.logpdf(x, a, loc=0, scale=1)``; ``gamma.cdf`` is not
    differentiable in ``a``.

    >>> float(np.round(gamma.cdf(1.0, 2.0), 6))  # 1 - 2/e
    0.264241
    """

    name = "gamma"

    def logpdf(self, x, a, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        a = _arr(a)
        inside = z >= 0
        zs = np.where(inside, z, 1.0)
        out = sc.xlogy(a - 1.0, zs) - zs - sc.gammaln(a) - np.log(scale)
        return _nan_unless((scale > 0) & (a > 0), np.where(inside, out, -np.inf))

    def cdf(self, x, a, loc=0.0, scale=1.0):
        _refuse_traced("gamma.cdf", "x, loc and scale", a=a)
        z, scale = _standardize(x, loc, scale)
        inside = z > 0
        out = np.where(inside, sc.gammainc(a, np.where(inside, z, 1.0)), 0.0)
        return _nan_unless(scale > 0, out)

    def sf(self, x, a, loc=0.0, scale=1.0):
        _refuse_traced("gamma.sf", "x, loc and scale", a=a)
        z, scale = _standardize(x, loc, scale)
        inside = z > 0
        out = np.where(inside, sc.gammaincc(a, np.where(inside, z, 1.0)), 1.0)
        return _nan_unless(scale > 0, out)

    def logcdf(self, x, a, loc=0.0, scale=1.0):
        _refuse_traced("gamma.logcdf", "x, loc and scale", a=a)
        return np.log(self.cdf(x, a, loc, scale))

    def logsf(self, x, a, loc=0.0, scale=1.0):
        _refuse_traced("gamma.logsf", "x, loc and scale", a=a)
        return np.log(self.sf(x, a, loc, scale))


# ---------------------------------------------------------------------------------- beta
@_quietly
class Beta(Continuous):
    """The beta distribution: ``beta.logpdf(x, a, b, loc=0, scale=1)``; ``beta.cdf`` is not
    differentiable in ``a`` or ``b``.

    >>> float(np.round(beta.pdf(0.5, 2.0, 2.0), 6))
    1.5
    """

    name = "beta"

    def logpdf(self, x, a, b, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        a, b = _arr(a), _arr(b)
        inside = (z >= 0) & (z <= 1)
        zs = np.where(inside, z, 0.5)
        out = sc.xlogy(a - 1.0, zs) + sc.xlog1py(b - 1.0, -zs) - sc.betaln(a, b) - np.log(scale)
        return _nan_unless((scale > 0) & (a > 0) & (b > 0), np.where(inside, out, -np.inf))

    def cdf(self, x, a, b, loc=0.0, scale=1.0):
        _refuse_traced("beta.cdf", "x, loc and scale", a=a, b=b)
        z, scale = _standardize(x, loc, scale)
        inside = (z > 0) & (z < 1)
        out = sc.betainc(a, b, np.where(inside, z, 0.5))
        out = np.where(inside, out, np.where(z <= 0, 0.0, 1.0))
        return _nan_unless(scale > 0, out)

    def sf(self, x, a, b, loc=0.0, scale=1.0):
        _refuse_traced("beta.sf", "x, loc and scale", a=a, b=b)
        z, scale = _standardize(x, loc, scale)
        inside = (z > 0) & (z < 1)
        out = sc.betainc(b, a, 1.0 - np.where(inside, z, 0.5))
        out = np.where(inside, out, np.where(z <= 0, 1.0, 0.0))
        return _nan_unless(scale > 0, out)

    def logcdf(self, x, a, b, loc=0.0, scale=1.0):
        _refuse_traced("beta.logcdf", "x, loc and scale", a=a, b=b)
        return np.log(self.cdf(x, a, b, loc, scale))

    def logsf(self, x, a, b, loc=0.0, scale=1.0):
        _refuse_traced("beta.logsf", "x, loc and scale", a=a, b=b)
        return np.log(self.sf(x, a, b, loc, scale))


# ---------------------------------------------------------------- expon, laplace, logistic
@_quietly
class Expon(Continuous):
    """The exponential distribution: ``expon.logpdf(x, loc=0, scale=1)``.

    >>> float(np.round(expon.cdf(1.0), 6))
    0.632121
    """

    name = "expon"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, np.where(z >= 0, -z - np.log(scale), -np.inf))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, np.where(z > 0, -np.expm1(-np.maximum(z, 0.0)), 0.0))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        inside = z > 0
        out = np.log(-np.expm1(-np.where(inside, z, 1.0)))
        return _nan_unless(scale > 0, np.where(inside, out, -np.inf))

    def sf(self, x, loc=0.0, scale=1.0):
        return np.exp(self.logsf(x, loc, scale))

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, np.where(z > 0, -z, 0.0))


@_quietly
class Laplace(Continuous):
    """The Laplace distribution: ``laplace.logpdf(x, loc=0, scale=1)``; its derivative in
    ``x`` at ``x == loc`` (the kink of ``|z|``) is 0, ``abs``'s convention.

    >>> float(np.round(laplace.logpdf(0.0), 6))  # -log 2
    -0.693147
    """

    name = "laplace"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, -np.abs(z) - np.log(2.0 * scale))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        e = 0.5 * np.exp(-np.abs(z))
        return _nan_unless(scale > 0, np.where(z > 0, 1.0 - e, e))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        e = 0.5 * np.exp(-np.abs(z))
        return _nan_unless(scale > 0, np.where(z > 0, e, 1.0 - e))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        a = np.abs(z)
        out = np.where(z > 0, np.log1p(-0.5 * np.exp(-a)), -a - math.log(2.0))
        return _nan_unless(scale > 0, out)

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        a = np.abs(z)
        out = np.where(z > 0, -a - math.log(2.0), np.log1p(-0.5 * np.exp(-a)))
        return _nan_unless(scale > 0, out)


@_quietly
class Logistic(Continuous):
    """The logistic distribution: ``logistic.logpdf(x, loc=0, scale=1)``.

    >>> float(np.round(logistic.cdf(0.0), 6))
    0.5
    """

    name = "logistic"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        a = np.abs(z)  # the density is even in z; this form never overflows
        return _nan_unless(scale > 0, -a - 2.0 * np.log1p(np.exp(-a)) - np.log(scale))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.expit(z))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.log_expit(z))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.expit(-z))

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, sc.log_expit(-z))


@_quietly
class Cauchy(Continuous):
    """The Cauchy distribution: ``cauchy.logpdf(x, loc=0, scale=1)``.

    >>> float(np.round(cauchy.cdf(1.0), 6))
    0.75
    """

    name = "cauchy"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, -math.log(math.pi) - np.log(scale) - np.log1p(z * z))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, 0.5 + np.arctan(z) / math.pi)

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, 0.5 - np.arctan(z) / math.pi)


@_quietly
class Uniform(Continuous):
    """The uniform distribution on ``[loc, loc + scale]``: ``uniform.logpdf(x, loc=0, scale=1)``.

    >>> float(uniform.cdf(0.25, scale=2.0))
    0.125
    """

    name = "uniform"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        inside = (z >= 0) & (z <= 1)
        return _nan_unless(scale > 0, np.where(inside, -np.log(scale), -np.inf))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, np.clip(z, 0.0, 1.0))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = _standardize(x, loc, scale)
        return _nan_unless(scale > 0, 1.0 - np.clip(z, 0.0, 1.0))


# ------------------------------------------------------------------------ discrete
@_quietly
class Discrete(Distribution):
    def pmf(self, k, *args, **kwargs):
        return np.exp(self.logpmf(k, *args, **kwargs))

    def logcdf(self, k, *args, **kwargs):
        return np.log(self.cdf(k, *args, **kwargs))

    def logsf(self, k, *args, **kwargs):
        return np.log(self.sf(k, *args, **kwargs))


@_quietly
class Poisson(Discrete):
    """The Poisson distribution: ``poisson.logpmf(k, mu, loc=0)``, differentiable in ``mu``
    (``cdf`` too: ``gammaincc(k + 1, mu)`` is differentiable in ``mu``).

    >>> float(np.round(poisson.pmf(2, 1.5), 6))
    0.251021
    """

    name = "poisson"

    def logpmf(self, k, mu, loc=0.0):
        k, mu = _arr(k) - _arr(loc), _arr(mu)
        inside = (k >= 0) & (k == np.floor(k))
        ks = np.where(inside, k, 0.0)
        out = sc.xlogy(ks, mu) - sc.gammaln(ks + 1.0) - mu
        return _nan_unless(mu >= 0, np.where(inside, out, -np.inf))

    def cdf(self, k, mu, loc=0.0):
        k, mu = np.floor(_arr(k) - _arr(loc)), _arr(mu)
        inside = k >= 0
        out = sc.gammaincc(np.where(inside, k, 0.0) + 1.0, mu)
        return _nan_unless(mu >= 0, np.where(inside, out, 0.0))

    def sf(self, k, mu, loc=0.0):
        k, mu = np.floor(_arr(k) - _arr(loc)), _arr(mu)
        inside = k >= 0
        out = sc.gammainc(np.where(inside, k, 0.0) + 1.0, mu)
        return _nan_unless(mu >= 0, np.where(inside, out, 1.0))


@_quietly
class Bernoulli(Discrete):
    """The Bernoulli distribution: ``bernoulli.logpmf(k, p, loc=0)``, differentiable in ``p``.

    >>> float(np.round(bernoulli.pmf(1, 0.3), 6))
    0.3
    """

    name = "bernoulli"

    def logpmf(self, k, p, loc=0.0):
        k, p = _arr(k) - _arr(loc), _arr(p)
        inside = (k == 0) | (k == 1)
        ks = np.where(inside, k, 0.0)
        out = sc.xlogy(ks, p) + sc.xlog1py(1.0 - ks, -p)
        return _nan_unless((p >= 0) & (p <= 1), np.where(inside, out, -np.inf))

    def cdf(self, k, p, loc=0.0):
        k, p = _arr(k) - _arr(loc), _arr(p)
        out = np.where(k < 0, 0.0, np.where(k < 1, 1.0 - p, 1.0))
        return _nan_unless((p >= 0) & (p <= 1), out)

    def sf(self, k, p, loc=0.0):
        k, p = _arr(k) - _arr(loc), _arr(p)
        out = np.where(k < 0, 1.0, np.where(k < 1, p, 0.0))
        return _nan_unless((p >= 0) & (p <= 1), out)


# ------------------------------------------------------------------- multivariate
def _squeeze(out):
    """scipy's ``_squeeze_output``: drop axes of length 1."""
    return np.squeeze(out)


@_quietly
class Dirichlet(Distribution):
    """The Dirichlet distribution: ``dirichlet.logpdf(x, alpha)`` with ``alpha`` of shape
    ``(K,)`` and ``x`` of shape ``(K, ...)`` or ``(K - 1, ...)`` (the last component is then
    ``1 - sum``), as scipy; differentiable in ``x`` and ``alpha``.

    >>> float(np.round(dirichlet.pdf(np.array([0.2, 0.3, 0.5]), np.ones(3)), 6))  # 2!
    2.0
    """

    name = "dirichlet"

    def logpdf(self, x, alpha):
        x, alpha = _arr(x), _arr(alpha)
        if alpha.ndim != 1:
            raise ValueError(f"dirichlet: alpha must be one-dimensional, got shape {alpha.shape}")
        n = alpha.shape[0]
        if x.shape[0] == n - 1:
            x = np.concatenate([x, 1.0 - np.sum(x, axis=0, keepdims=True)], axis=0)
        if x.shape[0] != n:
            raise ValueError(f"dirichlet: x has {x.shape[0]} components along its first axis, "
                             f"alpha has {n} (x may also leave out the last one)")
        a = np.reshape(alpha, (n,) + (1,) * (x.ndim - 1))
        lnb = np.sum(sc.gammaln(alpha)) - sc.gammaln(np.sum(alpha))
        return _squeeze(np.sum(sc.xlogy(a - 1.0, x), axis=0) - lnb)

    def pdf(self, x, alpha):
        return np.exp(self.logpdf(x, alpha))


@_quietly
class MultivariateNormal(Distribution):
    """``multivariate_normal.logpdf(x, mean=None, cov=1)``: ``x`` of shape ``(..., d)``,
    ``mean`` of shape ``(d,)``, ``cov`` a ``(d, d)`` positive definite matrix, a vector (a
    diagonal) or a scalar, as scipy; the result has ``x``'s batch shape, squeezed as scipy's.
    Differentiable in ``x``, ``mean`` and ``cov`` (through ``cholesky`` and ``solve``).

    >>> float(np.round(multivariate_normal.logpdf(np.zeros(2), cov=np.eye(2)), 6))  # -log 2pi
    -1.837877
    """

    name = "multivariate_normal"

    def logpdf(self, x, mean=None, cov=1.0, allow_singular=False):
        if allow_singular:
            raise NotImplementedError(
                "multivariate_normal.logpdf(allow_singular=True) is not supported: the density "
                "is computed through cholesky(cov), which needs cov positive definite")
        cov = _arr(cov)
        if mean is not None:
            mean = _arr(mean)
            d = int(np.prod(mean.shape))
            mean = np.reshape(mean, (d,))
        else:
            d = cov.shape[0] if cov.ndim >= 1 else 1
            mean = np.zeros(d)
        if cov.ndim == 0:
            cov = cov * np.eye(d)
        elif cov.ndim == 1:
            cov = cov * np.eye(d)  # a diagonal
        if cov.shape != (d, d):
            raise ValueError(f"multivariate_normal: cov has shape {cov.shape}, mean {d} entries")
        x = _arr(x)
        if x.ndim == 0:
            x = np.reshape(x, (1,))
        if x.ndim == 1:
            x = np.reshape(x, (-1, 1) if d == 1 else (1, -1))
        if x.shape[-1] != d:
            raise ValueError(f"multivariate_normal: x has {x.shape[-1]} components along its "
                             f"last axis, mean {d}")
        batch = x.shape[:-1]
        size = int(np.prod(batch))
        chol = np.linalg.cholesky(cov)
        dev = np.reshape(x - mean, (size, d))
        z = np.linalg.solve(chol, np.transpose(dev))            # (d, size)
        maha = np.reshape(np.sum(z * z, axis=0), batch)
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol)))
        return _squeeze(-0.5 * (d * LOG_2PI + logdet + maha))

    def pdf(self, x, mean=None, cov=1.0, allow_singular=False):
        return np.exp(self.logpdf(x, mean, cov, allow_singular))


norm = Norm()
t = StudentT()
gamma = Gamma()
beta = Beta()
expon = Expon()
laplace = Laplace()
logistic = Logistic()
cauchy = Cauchy()
uniform = Uniform()
poisson = Poisson()
bernoulli = Bernoulli()
dirichlet = Dirichlet()
multivariate_normal = MultivariateNormal()
