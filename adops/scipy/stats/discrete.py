"""Discrete distributions: poisson, bernoulli (logpmf, pmf, cdf...)."""
from __future__ import annotations

import numpy as np
import scipy.special as sc

from .base import as_array, nan_unless, quietly, Discrete


# ------------------------------------------------------------------------ discrete
@quietly
class Poisson(Discrete):
    """The Poisson distribution: ``poisson.logpmf(k, mu, loc=0)``, differentiable in ``mu``
    (``cdf`` too: ``gammaincc(k + 1, mu)`` is differentiable in ``mu``).

    >>> from adops.scipy.stats import poisson

    >>> float(np.round(poisson.pmf(2, 1.5), 6))
    0.251021
    """

    name = "poisson"

    def logpmf(self, k, mu, loc=0.0):
        k, mu = as_array(k) - as_array(loc), as_array(mu)
        inside = (k >= 0) & (k == np.floor(k))
        ks = np.where(inside, k, 0.0)
        out = sc.xlogy(ks, mu) - sc.gammaln(ks + 1.0) - mu
        return nan_unless(mu >= 0, np.where(inside, out, -np.inf))

    def cdf(self, k, mu, loc=0.0):
        k, mu = np.floor(as_array(k) - as_array(loc)), as_array(mu)
        inside = k >= 0
        out = sc.gammaincc(np.where(inside, k, 0.0) + 1.0, mu)
        return nan_unless(mu >= 0, np.where(inside, out, 0.0))

    def sf(self, k, mu, loc=0.0):
        k, mu = np.floor(as_array(k) - as_array(loc)), as_array(mu)
        inside = k >= 0
        out = sc.gammainc(np.where(inside, k, 0.0) + 1.0, mu)
        return nan_unless(mu >= 0, np.where(inside, out, 1.0))


@quietly
class Bernoulli(Discrete):
    """The Bernoulli distribution: ``bernoulli.logpmf(k, p, loc=0)``, differentiable in ``p``.

    >>> from adops.scipy.stats import bernoulli

    >>> float(np.round(bernoulli.pmf(1, 0.3), 6))
    0.3
    """

    name = "bernoulli"

    def logpmf(self, k, p, loc=0.0):
        k, p = as_array(k) - as_array(loc), as_array(p)
        inside = (k == 0) | (k == 1)
        ks = np.where(inside, k, 0.0)
        out = sc.xlogy(ks, p) + sc.xlog1py(1.0 - ks, -p)
        return nan_unless((p >= 0) & (p <= 1), np.where(inside, out, -np.inf))

    def cdf(self, k, p, loc=0.0):
        k, p = as_array(k) - as_array(loc), as_array(p)
        out = np.where(k < 0, 0.0, np.where(k < 1, 1.0 - p, 1.0))
        return nan_unless((p >= 0) & (p <= 1), out)

    def sf(self, k, p, loc=0.0):
        k, p = as_array(k) - as_array(loc), as_array(p)
        out = np.where(k < 0, 1.0, np.where(k < 1, p, 0.0))
        return nan_unless((p >= 0) & (p <= 1), out)
