"""Continuous distributions of one variable: norm, t, gamma, beta, expon, laplace, logistic, cauchy, uniform."""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from .base import (LOG_SQRT_2PI, Continuous, LocScale, as_array, nan_unless, quietly,
                   refuse_traced, standardize)

LOG_2, LOG_PI = math.log(2.0), math.log(math.pi)


# --------------------------------------------------------------------------------- norm
@quietly
class Norm(LocScale):
    """The normal distribution: ``norm.logpdf(x, loc=0, scale=1)`` and friends.

    >>> from adops.scipy.stats import norm

    >>> float(np.round(norm.cdf(1.0), 6))
    0.841345
    """

    name = "norm"

    def _logpdf(self, z):
        return -0.5 * z * z - LOG_SQRT_2PI

    def _cdf(self, z):
        return sc.ndtr(z)

    def _logcdf(self, z):
        return sc.log_ndtr(z)

    def _sf(self, z):
        return sc.ndtr(-z)

    def _logsf(self, z):
        return sc.log_ndtr(-z)

    def ppf(self, q, loc=0.0, scale=1.0):
        q, loc, scale = as_array(q), as_array(loc), as_array(scale)
        return nan_unless(scale > 0, loc + scale * sc.ndtri(q))


# ------------------------------------------------------------------------------------- t
@quietly
class StudentT(Continuous):
    """Student's t: ``t.logpdf(x, df, loc=0, scale=1)``; ``t.cdf`` is not differentiable in
    ``df``.

    >>> from adops.scipy.stats import t

    >>> float(np.round(t.logpdf(0.0, 1.0), 6))  # Cauchy: -log(pi)
    -1.14473
    """

    name = "t"

    def logpdf(self, x, df, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        df = as_array(df)
        half = 0.5 * (df + 1.0)
        out = (sc.gammaln(half) - sc.gammaln(0.5 * df) - 0.5 * np.log(df * math.pi)
               - half * np.log1p(z * z / df) - np.log(scale))
        return nan_unless((scale > 0) & (df > 0), out)

    def cdf(self, x, df, loc=0.0, scale=1.0):
        refuse_traced("t.cdf", "x, loc and scale", df=df)
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.stdtr(df, z))

    def sf(self, x, df, loc=0.0, scale=1.0):
        refuse_traced("t.sf", "x, loc and scale", df=df)
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.stdtr(df, -z))

    def logcdf(self, x, df, loc=0.0, scale=1.0):
        refuse_traced("t.logcdf", "x, loc and scale", df=df)
        return np.log(self.cdf(x, df, loc, scale))

    def logsf(self, x, df, loc=0.0, scale=1.0):
        refuse_traced("t.logsf", "x, loc and scale", df=df)
        return np.log(self.sf(x, df, loc, scale))


# --------------------------------------------------------------------------------- gamma
@quietly
class Gamma(Continuous):
    """The gamma distribution: ``gamma.logpdf(x, a, loc=0, scale=1)``; ``gamma.cdf`` is not
    differentiable in ``a``.

    >>> from adops.scipy.stats import gamma

    >>> float(np.round(gamma.cdf(1.0, 2.0), 6))  # 1 - 2/e
    0.264241
    """

    name = "gamma"

    def logpdf(self, x, a, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        a = as_array(a)
        inside = z >= 0
        zs = np.where(inside, z, 1.0)
        out = sc.xlogy(a - 1.0, zs) - zs - sc.gammaln(a) - np.log(scale)
        return nan_unless((scale > 0) & (a > 0), np.where(inside, out, -np.inf))

    def cdf(self, x, a, loc=0.0, scale=1.0):
        refuse_traced("gamma.cdf", "x, loc and scale", a=a)
        z, scale = standardize(x, loc, scale)
        inside = z > 0
        out = np.where(inside, sc.gammainc(a, np.where(inside, z, 1.0)), 0.0)
        return nan_unless(scale > 0, out)

    def sf(self, x, a, loc=0.0, scale=1.0):
        refuse_traced("gamma.sf", "x, loc and scale", a=a)
        z, scale = standardize(x, loc, scale)
        inside = z > 0
        out = np.where(inside, sc.gammaincc(a, np.where(inside, z, 1.0)), 1.0)
        return nan_unless(scale > 0, out)

    def logcdf(self, x, a, loc=0.0, scale=1.0):
        refuse_traced("gamma.logcdf", "x, loc and scale", a=a)
        return np.log(self.cdf(x, a, loc, scale))

    def logsf(self, x, a, loc=0.0, scale=1.0):
        refuse_traced("gamma.logsf", "x, loc and scale", a=a)
        return np.log(self.sf(x, a, loc, scale))


# ---------------------------------------------------------------------------------- beta
@quietly
class Beta(Continuous):
    """The beta distribution: ``beta.logpdf(x, a, b, loc=0, scale=1)``; ``beta.cdf`` is not
    differentiable in ``a`` or ``b``.

    >>> from adops.scipy.stats import beta

    >>> float(np.round(beta.pdf(0.5, 2.0, 2.0), 6))
    1.5
    """

    name = "beta"

    def logpdf(self, x, a, b, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        a, b = as_array(a), as_array(b)
        inside = (z >= 0) & (z <= 1)
        zs = np.where(inside, z, 0.5)
        out = sc.xlogy(a - 1.0, zs) + sc.xlog1py(b - 1.0, -zs) - sc.betaln(a, b) - np.log(scale)
        return nan_unless((scale > 0) & (a > 0) & (b > 0), np.where(inside, out, -np.inf))

    def cdf(self, x, a, b, loc=0.0, scale=1.0):
        refuse_traced("beta.cdf", "x, loc and scale", a=a, b=b)
        z, scale = standardize(x, loc, scale)
        inside = (z > 0) & (z < 1)
        out = sc.betainc(a, b, np.where(inside, z, 0.5))
        out = np.where(inside, out, np.where(z <= 0, 0.0, 1.0))
        return nan_unless(scale > 0, out)

    def sf(self, x, a, b, loc=0.0, scale=1.0):
        refuse_traced("beta.sf", "x, loc and scale", a=a, b=b)
        z, scale = standardize(x, loc, scale)
        inside = (z > 0) & (z < 1)
        out = sc.betainc(b, a, 1.0 - np.where(inside, z, 0.5))
        out = np.where(inside, out, np.where(z <= 0, 1.0, 0.0))
        return nan_unless(scale > 0, out)

    def logcdf(self, x, a, b, loc=0.0, scale=1.0):
        refuse_traced("beta.logcdf", "x, loc and scale", a=a, b=b)
        return np.log(self.cdf(x, a, b, loc, scale))

    def logsf(self, x, a, b, loc=0.0, scale=1.0):
        refuse_traced("beta.logsf", "x, loc and scale", a=a, b=b)
        return np.log(self.sf(x, a, b, loc, scale))


# ---------------------------------------------------------------- expon, laplace, logistic
@quietly
class Expon(LocScale):
    """The exponential distribution: ``expon.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import expon

    >>> float(np.round(expon.cdf(1.0), 6))
    0.632121
    """

    name = "expon"

    def _logpdf(self, z):
        return np.where(z >= 0, -z, -np.inf)

    def _cdf(self, z):
        return np.where(z > 0, -np.expm1(-np.maximum(z, 0.0)), 0.0)

    def _logcdf(self, z):
        inside = z > 0
        return np.where(inside, np.log(-np.expm1(-np.where(inside, z, 1.0))), -np.inf)

    def _sf(self, z):
        return np.exp(self._logsf(z))

    def _logsf(self, z):
        return np.where(z > 0, -z, 0.0)


@quietly
class Laplace(LocScale):
    """The Laplace distribution: ``laplace.logpdf(x, loc=0, scale=1)``; its derivative in
    ``x`` at ``x == loc`` (the kink of ``|z|``) is 0, ``abs``'s convention.

    >>> from adops.scipy.stats import laplace

    >>> float(np.round(laplace.logpdf(0.0), 6))  # -log 2
    -0.693147
    """

    name = "laplace"

    def _logpdf(self, z):
        return -np.abs(z) - LOG_2

    def _cdf(self, z):
        e = 0.5 * np.exp(-np.abs(z))
        return np.where(z > 0, 1.0 - e, e)

    def _sf(self, z):
        e = 0.5 * np.exp(-np.abs(z))
        return np.where(z > 0, e, 1.0 - e)

    def _logcdf(self, z):
        a = np.abs(z)
        return np.where(z > 0, np.log1p(-0.5 * np.exp(-a)), -a - LOG_2)

    def _logsf(self, z):
        a = np.abs(z)
        return np.where(z > 0, -a - LOG_2, np.log1p(-0.5 * np.exp(-a)))


@quietly
class Logistic(LocScale):
    """The logistic distribution: ``logistic.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import logistic

    >>> float(np.round(logistic.cdf(0.0), 6))
    0.5
    """

    name = "logistic"

    def _logpdf(self, z):
        a = np.abs(z)  # the density is even in z; this form never overflows
        return -a - 2.0 * np.log1p(np.exp(-a))

    def _cdf(self, z):
        return sc.expit(z)

    def _logcdf(self, z):
        return sc.log_expit(z)

    def _sf(self, z):
        return sc.expit(-z)

    def _logsf(self, z):
        return sc.log_expit(-z)


@quietly
class Cauchy(LocScale):
    """The Cauchy distribution: ``cauchy.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import cauchy

    >>> float(np.round(cauchy.cdf(1.0), 6))
    0.75
    """

    name = "cauchy"

    def _logpdf(self, z):
        return -LOG_PI - np.log1p(z * z)

    def _cdf(self, z):
        return 0.5 + np.arctan(z) / math.pi

    def _sf(self, z):
        return 0.5 - np.arctan(z) / math.pi


@quietly
class Uniform(LocScale):
    """The uniform distribution on ``[loc, loc + scale]``: ``uniform.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import uniform

    >>> float(uniform.cdf(0.25, scale=2.0))
    0.125
    """

    name = "uniform"

    def _logpdf(self, z):
        return np.where((z >= 0) & (z <= 1), 0.0, -np.inf)

    def _cdf(self, z):
        return np.clip(z, 0.0, 1.0)

    def _sf(self, z):
        return 1.0 - np.clip(z, 0.0, 1.0)