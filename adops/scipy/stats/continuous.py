"""Continuous distributions of one variable: norm, t, gamma, beta, expon, laplace, logistic, cauchy, uniform."""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from .base import LOG_SQRT_2PI, as_array, refuse_traced, standardize, nan_unless, quietly, Continuous


# --------------------------------------------------------------------------------- norm
@quietly
class Norm(Continuous):
    """The normal distribution: ``norm.logpdf(x, loc=0, scale=1)`` and friends.

    >>> from adops.scipy.stats import norm

    >>> float(np.round(norm.cdf(1.0), 6))
    0.841345
    """

    name = "norm"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, -0.5 * z * z - LOG_SQRT_2PI - np.log(scale))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.ndtr(z))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.log_ndtr(z))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.ndtr(-z))

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.log_ndtr(-z))

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
class Expon(Continuous):
    """The exponential distribution: ``expon.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import expon

    >>> float(np.round(expon.cdf(1.0), 6))
    0.632121
    """

    name = "expon"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, np.where(z >= 0, -z - np.log(scale), -np.inf))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, np.where(z > 0, -np.expm1(-np.maximum(z, 0.0)), 0.0))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        inside = z > 0
        out = np.log(-np.expm1(-np.where(inside, z, 1.0)))
        return nan_unless(scale > 0, np.where(inside, out, -np.inf))

    def sf(self, x, loc=0.0, scale=1.0):
        return np.exp(self.logsf(x, loc, scale))

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, np.where(z > 0, -z, 0.0))


@quietly
class Laplace(Continuous):
    """The Laplace distribution: ``laplace.logpdf(x, loc=0, scale=1)``; its derivative in
    ``x`` at ``x == loc`` (the kink of ``|z|``) is 0, ``abs``'s convention.

    >>> from adops.scipy.stats import laplace

    >>> float(np.round(laplace.logpdf(0.0), 6))  # -log 2
    -0.693147
    """

    name = "laplace"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, -np.abs(z) - np.log(2.0 * scale))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        e = 0.5 * np.exp(-np.abs(z))
        return nan_unless(scale > 0, np.where(z > 0, 1.0 - e, e))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        e = 0.5 * np.exp(-np.abs(z))
        return nan_unless(scale > 0, np.where(z > 0, e, 1.0 - e))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        a = np.abs(z)
        out = np.where(z > 0, np.log1p(-0.5 * np.exp(-a)), -a - math.log(2.0))
        return nan_unless(scale > 0, out)

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        a = np.abs(z)
        out = np.where(z > 0, -a - math.log(2.0), np.log1p(-0.5 * np.exp(-a)))
        return nan_unless(scale > 0, out)


@quietly
class Logistic(Continuous):
    """The logistic distribution: ``logistic.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import logistic

    >>> float(np.round(logistic.cdf(0.0), 6))
    0.5
    """

    name = "logistic"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        a = np.abs(z)  # the density is even in z; this form never overflows
        return nan_unless(scale > 0, -a - 2.0 * np.log1p(np.exp(-a)) - np.log(scale))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.expit(z))

    def logcdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.log_expit(z))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.expit(-z))

    def logsf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, sc.log_expit(-z))


@quietly
class Cauchy(Continuous):
    """The Cauchy distribution: ``cauchy.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import cauchy

    >>> float(np.round(cauchy.cdf(1.0), 6))
    0.75
    """

    name = "cauchy"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, -math.log(math.pi) - np.log(scale) - np.log1p(z * z))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, 0.5 + np.arctan(z) / math.pi)

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, 0.5 - np.arctan(z) / math.pi)


@quietly
class Uniform(Continuous):
    """The uniform distribution on ``[loc, loc + scale]``: ``uniform.logpdf(x, loc=0, scale=1)``.

    >>> from adops.scipy.stats import uniform

    >>> float(uniform.cdf(0.25, scale=2.0))
    0.125
    """

    name = "uniform"

    def logpdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        inside = (z >= 0) & (z <= 1)
        return nan_unless(scale > 0, np.where(inside, -np.log(scale), -np.inf))

    def cdf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, np.clip(z, 0.0, 1.0))

    def sf(self, x, loc=0.0, scale=1.0):
        z, scale = standardize(x, loc, scale)
        return nan_unless(scale > 0, 1.0 - np.clip(z, 0.0, 1.0))
