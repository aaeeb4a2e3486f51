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

from .continuous import Norm, StudentT, Gamma, Beta, Expon, Laplace, Logistic, Cauchy, Uniform
from .discrete import Poisson, Bernoulli
from .multivariate import Dirichlet, MultivariateNormal

__all__ = ["norm", "multivariate_normal", "t", "gamma", "beta", "expon", "laplace", "logistic",
           "cauchy", "uniform", "dirichlet", "poisson", "bernoulli"]

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
