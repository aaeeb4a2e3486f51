"""``adops.scipy.special``: ``scipy.special`` for traced arrays (as ``jax.scipy.special``).

Everything :mod:`adops.special` holds (``erf``, ``gammaln``, ``digamma``, ``xlogy``,
``logsumexp``, ``softmax``, ``log_softmax``...), and the ops added here for the distribution
functions of :mod:`adops.scipy.stats`:

- ``betaln(a, b)``: differentiable in both (``digamma(a) - digamma(a + b)``...);
- ``gammainc(a, x)``, ``gammaincc(a, x)``, ``betainc(a, b, x)``, ``stdtr(df, t)``:
  differentiable in ``x`` (``t``) only. Their derivatives in the shape parameters ``a``, ``b``,
  ``df`` are series scipy does not expose; a tangent or cotangent reaching one of them raises a
  ``TypeError`` naming the parameter (never a silent zero).

Each op's primal is scipy's ufunc and its partials are Python functions of numpy calls and of
ops (as :mod:`adops.special`), so they nest to any order. scipy's ufuncs dispatch traced arrays,
so ``scipy.special.gammainc(a, x)`` also works unchanged.

Example:
    >>> import numpy as np, revad
    >>> from adops.scipy import special
    >>> float(np.round(special.gammainc(2.0, 1.0), 6))  # 1 - 2/e
    0.264241
    >>> float(np.round(revad.grad(lambda x: special.gammainc(2.0, x))(1.0), 6))  # x e^-x
    0.367879
"""
from __future__ import annotations

import numpy as np
import scipy.special as sc
from numba import vectorize

from ..core.kernels import lazy, numba_too, scipy_kernel
from ..core.levels import bind
from ..ops.elementwise import B, B_D
from ..ops.registry import ElementwiseLin, ElementwiseOp, Marker, as_partial, register
from ..numpy_api.routes import display_as
from ..ops.special import SCIPY_OPS as _SPECIAL_OPS, POLYGAMMA, in_dtype_of as _like
from ..ops.special import logsumexp, softmax, log_softmax  # noqa: F401  (the re-export)

# the ufuncs adops.special routes (erf, gammaln, digamma, xlogy...): scipy's own, which dispatch
# traced arrays to their ops
for _name in _SPECIAL_OPS:
    globals()[_name] = getattr(sc, _name)


def polygamma(n, x):
    """``scipy.special.polygamma(n, x)`` (scipy's is a Python function over ``zeta``, which has
    no op): the ``polygamma`` op, differentiable in ``x``.

    >>> float(np.round(polygamma(1, 1.0), 6))  # pi**2 / 6
    1.644934
    """
    return bind(POLYGAMMA, np.asarray(n, dtype=float) if not hasattr(n, "_primal") else n, x)


def not_differentiable(op: str, param: str, differentiable: str) -> Marker:
    """A partial that refuses: a tangent or cotangent for ``param`` raises a ``TypeError``."""
    def refuse(t):
        raise TypeError(
            f"{op} is differentiable in {differentiable}, not in {param}: its derivative in "
            f"{param} is not implemented (scipy exposes no function for it). Pass {param} as a "
            "constant (a plain array, outside the differentiated arguments)")
    return Marker(f"refuse_{op}_{param}", refuse, f"not differentiable ({param})", refuses=True)


class RefusingLin(ElementwiseLin):
    """A linearization whose refusing partials give no cotangent when the caller did not say
    which inputs it needs (``vjp(out_bar)`` alone); asked for explicitly (reverse mode passes
    ``needed``) or given a tangent, they raise."""

    __slots__ = ()

    def vjp(self, out_bar, needed=None):
        if needed is None:
            needed = tuple(not (isinstance(d, Marker) and d.refuses) for d in self.partials)
        return super().vjp(out_bar, needed)


class ParameterOp(ElementwiseOp):
    """An elementwise op not differentiable in some parameters (see :func:`not_differentiable`).
    ``refuses`` holds their input positions."""

    @property
    def refuses(self):
        return tuple(i for i, p in enumerate(self.partials)
                     if isinstance(p, Marker) and p.refuses)

    def linearize(self, *xs):
        out, lin = super().linearize(*xs)
        return out, RefusingLin(lin.partials, lin.out_shape)


# Each primal and partial is a numba kernel (as adops.ops.special's): on arrays the primal is
# scipy's ufunc, and the compiled tier's fused loops compile the bodies; a refused parameter
# raises its error there too (adops.compile.loops), where a tangent would reach it.
T4 = ["float32(float32, float32, float32, float32)", "float64(float64, float64, float64, float64)"]


@numba_too
def _gamma_density(a, x):
    """``x**(a-1) exp(-x) / Gamma(a)``: d gammainc(a, x) / dx."""
    return np.exp(sc.xlogy(a - 1.0, x) - x - sc.gammaln(a))


@lazy(vectorize, B)
def gammainc_value(a, x): return sc.gammainc(a, x)
@lazy(vectorize, B)
def gammaincc_value(a, x): return sc.gammaincc(a, x)
@lazy(vectorize, B_D)
def betainc_value(a, b, x): return sc.betainc(a, b, x)
@lazy(vectorize, B)
def stdtr_value(df, t): return sc.stdtr(df, t)
@lazy(vectorize, B)
def betaln_value(a, b): return sc.betaln(a, b)


@lazy(vectorize, B_D)
def gammainc_dx(a, x, out): return _like(_gamma_density(a, x), x)
@lazy(vectorize, B_D)
def gammaincc_dx(a, x, out): return -_like(_gamma_density(a, x), x)
@lazy(vectorize, T4)
def betainc_dx(a, b, x, out):
    return _like(np.exp(sc.xlogy(a - 1.0, x) + sc.xlog1py(b - 1.0, -x) - sc.betaln(a, b)), x)
@lazy(vectorize, B_D)
def stdtr_dt(df, t, out):
    half = 0.5 * (df + 1.0)
    return _like(np.exp(sc.gammaln(half) - sc.gammaln(0.5 * df) - 0.5 * np.log(np.pi * df)
                        - half * np.log1p(t * t / df)), t)
@lazy(vectorize, B_D)
def betaln_da(a, b, out): return sc.digamma(a) - sc.digamma(a + b)
@lazy(vectorize, B_D)
def betaln_db(a, b, out): return sc.digamma(b) - sc.digamma(a + b)


#            name         primal (scipy's ufunc on arrays)   partials
_TABLE = [
    ("betaln",    scipy_kernel(sc.betaln, betaln_value),       [betaln_da, betaln_db]),
    ("gammainc",  scipy_kernel(sc.gammainc, gammainc_value),   [
        not_differentiable("gammainc", "a", "x"), gammainc_dx]),
    ("gammaincc", scipy_kernel(sc.gammaincc, gammaincc_value), [
        not_differentiable("gammaincc", "a", "x"), gammaincc_dx]),
    ("betainc",   scipy_kernel(sc.betainc, betainc_value),     [
        not_differentiable("betainc", "a", "x"), not_differentiable("betainc", "b", "x"),
        betainc_dx]),
    ("stdtr",     scipy_kernel(sc.stdtr, stdtr_value),         [
        not_differentiable("stdtr", "df", "t"), stdtr_dt]),
]

DOMAINS = {
    "betaln": "a, b > 0.", "gammainc": "a > 0, x >= 0; not differentiable in a.",
    "gammaincc": "a > 0, x >= 0; not differentiable in a.",
    "betainc": "a, b > 0, 0 <= x <= 1; not differentiable in a, b.",
    "stdtr": "df > 0; not differentiable in df.",
}

OPS = {}
for _name, _primal, _partials in _TABLE:
    _rules = "; ".join(f"d/dx{j}: {as_partial(p).describe()}" for j, p in enumerate(_partials))
    _doc = f"scipy.special.{_name}: {_rules}. Domain: {DOMAINS[_name]}"
    _scipy = getattr(sc, _name)
    OPS[_name] = register(ParameterOp(_name, _primal, _partials, numpy=[_scipy], doc=_doc))
    globals()[_name] = _scipy  # scipy's ufunc dispatches traced arrays to the op


for _name in OPS:
    display_as(getattr(sc, _name), f"scipy.special.{_name}")


__all__ = sorted([*_SPECIAL_OPS, *OPS, "polygamma", "logsumexp", "softmax", "log_softmax"])
