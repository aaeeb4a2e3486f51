"""Distributions of vectors: dirichlet, multivariate_normal."""
from __future__ import annotations

import numpy as np
import scipy.special as sc

from .base import LOG_2PI, as_array, quietly, Distribution


# ------------------------------------------------------------------- multivariate
def _squeeze(out):
    """scipy's ``_squeeze_output``: drop axes of length 1."""
    return np.squeeze(out)


@quietly
class Dirichlet(Distribution):
    """The Dirichlet distribution: ``dirichlet.logpdf(x, alpha)`` with ``alpha`` of shape
    ``(K,)`` and ``x`` of shape ``(K, ...)`` or ``(K - 1, ...)`` (the last component is then
    ``1 - sum``), as scipy; differentiable in ``x`` and ``alpha``.

    >>> from adops.scipy.stats import dirichlet

    >>> float(np.round(dirichlet.pdf(np.array([0.2, 0.3, 0.5]), np.ones(3)), 6))  # 2!
    2.0
    """

    name = "dirichlet"

    def logpdf(self, x, alpha):
        x, alpha = as_array(x), as_array(alpha)
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


@quietly
class MultivariateNormal(Distribution):
    """``multivariate_normal.logpdf(x, mean=None, cov=1)``: ``x`` of shape ``(..., d)``,
    ``mean`` of shape ``(d,)``, ``cov`` a ``(d, d)`` positive definite matrix, a vector (a
    diagonal) or a scalar, as scipy; the result has ``x``'s batch shape, squeezed as scipy's.
    Differentiable in ``x``, ``mean`` and ``cov`` (through ``cholesky`` and ``solve``).

    >>> from adops.scipy.stats import multivariate_normal

    >>> float(np.round(multivariate_normal.logpdf(np.zeros(2), cov=np.eye(2)), 6))  # -log 2pi
    -1.837877
    """

    name = "multivariate_normal"

    def logpdf(self, x, mean=None, cov=1.0, allow_singular=False):
        if allow_singular:
            raise NotImplementedError(
                "multivariate_normal.logpdf(allow_singular=True) is not supported: the density "
                "is computed through cholesky(cov), which needs cov positive definite")
        cov = as_array(cov)
        if mean is not None:
            mean = as_array(mean)
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
        x = as_array(x)
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
