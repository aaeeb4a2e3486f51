"""``scipy.special``: the functions statistics code is written with, as elementwise ops.

Contract: as :mod:`adops.ops.elementwise` (a primal and one local partial ``d_i(*xs, out)`` per
input). On arrays the primal is scipy's own ufunc; its body (``sc.erf(x)``) and the partials
are numba kernels calling scipy's scalar functions (:mod:`adops.core.scipy_kernels` teaches
numba the C functions behind scipy's ufuncs), so the compiled tier's fused loops hold them. The
same bodies serve traced inputs, where scipy's ufuncs dispatch to these ops, so nested
transforms differentiate them: ``gammaln``'s partial is ``digamma(x)``, whose partial is
``polygamma(1, x)``, and so on, to any order. ``polygamma`` has no scalar in
``cython_special``: a program holding ``digamma`` keeps the compiled tier's Python driver.

float32: a compiled loop calls scipy's float specialization where scipy has one, else the
double one rounded to float32; scipy's own float32 loops of ``xlogy`` and ``xlog1py`` compute
in float, so there the compiled tier may differ from the eager one by one unit in the last
place.

scipy's ufuncs dispatch traced arrays through numpy's ``__array_ufunc__``, so
``scipy.special.erf(x)`` just works in both modes. ``logsumexp``, ``softmax`` and
``log_softmax`` are Python functions in scipy that convert their input with ``np.asarray``
before anything could dispatch, so traced arrays cannot reach them; use :func:`logsumexp`,
:func:`softmax` and :func:`log_softmax` of this module instead (same signatures, composites of
ops, plain arrays accepted too).

Conventions: ``xlogy(0, y) = 0`` with ``d/dy = 0`` there (and ``d/dx = log(y)``, ``-inf`` at
``y = 0``); ``xlog1py`` likewise; ``logit`` and ``log`` at the edges of their domains are
infinite, as their values are.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from numba import vectorize
from numba.extending import overload

from ..core import scipy_kernels  # noqa: F401  (numba learns scipy.special's functions)
from ..core.kernels import lazy, scipy_kernel
from ..core.levels import bind
from .elementwise import B, B_D, U, U_D
from .registry import as_partial, defop, strong_mul

SQRT_PI = math.sqrt(math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)


def in_dtype_of(value, x):
    """``value`` in ``x``'s float dtype (scipy computes some functions in float64 only)."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None and value.dtype != dtype and np.issubdtype(dtype, np.floating):
        return value.astype(dtype)
    return value


@overload(in_dtype_of, inline="always")
def _in_dtype_of_scalar(value, x):
    # in a compiled loop a scalar takes the loop's dtype where it is stored
    return lambda value, x: value


# ------------------------------------------------------------------------ polygamma
def polygamma_primal(n, x):
    return in_dtype_of(np.asarray(sc.polygamma(n, x)), np.asarray(x))


def polygamma_dx(n, x, out):
    return bind(POLYGAMMA, n + 1.0, x)


POLYGAMMA = defop("polygamma", polygamma_primal, [None, polygamma_dx],
                  doc="polygamma(n, x), n a non-negative integer (not differentiable): "
                      "d/dx = polygamma(n + 1, x). The partial of digamma, gammaln and itself.")


# ------------------------------------------------------------------------ the rules
# Each primal and partial is a numba kernel whose body calls scipy's functions: numba compiles
# them through :mod:`adops.core.scipy_kernels` (so the compiled tier's fused loops hold them),
# and on traced values the same bodies dispatch to these ops (nesting). A primal's kernel on
# arrays is scipy's own ufunc.
def _rule(sigs):
    return lazy(vectorize, sigs)


def _primal(ufunc, sigs):
    return lambda body: scipy_kernel(ufunc, lazy(vectorize, sigs)(body))


@_primal(sc.erf, U)
def erf_value(x): return sc.erf(x)
@_primal(sc.erfc, U)
def erfc_value(x): return sc.erfc(x)
@_primal(sc.erfinv, U)
def erfinv_value(x): return sc.erfinv(x)
@_primal(sc.erfcinv, U)
def erfcinv_value(x): return sc.erfcinv(x)
@_primal(sc.erfcx, U)
def erfcx_value(x): return sc.erfcx(x)
@_primal(sc.expit, U)
def expit_value(x): return sc.expit(x)
@_primal(sc.log_expit, U)
def log_expit_value(x): return sc.log_expit(x)
@_primal(sc.logit, U)
def logit_value(x): return sc.logit(x)
@_primal(sc.ndtr, U)
def ndtr_value(x): return sc.ndtr(x)
@_primal(sc.log_ndtr, U)
def log_ndtr_value(x): return sc.log_ndtr(x)
@_primal(sc.ndtri, U)
def ndtri_value(x): return sc.ndtri(x)
@_primal(sc.gammaln, U)
def gammaln_value(x): return sc.gammaln(x)
@_primal(sc.gamma, U)
def gamma_value(x): return sc.gamma(x)
@_primal(sc.digamma, U)
def digamma_value(x): return sc.digamma(x)
@_primal(sc.entr, U)
def entr_value(x): return sc.entr(x)
@_primal(sc.xlogy, B)
def xlogy_value(x, y): return sc.xlogy(x, y)
@_primal(sc.xlog1py, B)
def xlog1py_value(x, y): return sc.xlog1py(x, y)


@_rule(U_D)
def erf_dx(x, out): return (2.0 / SQRT_PI) * np.exp(-x * x)
@_rule(U_D)
def erfc_dx(x, out): return (-2.0 / SQRT_PI) * np.exp(-x * x)
@_rule(U_D)
def erfinv_dx(x, out): return (SQRT_PI / 2.0) * np.exp(out * out)
@_rule(U_D)
def erfcinv_dx(x, out): return (-SQRT_PI / 2.0) * np.exp(out * out)
@_rule(U_D)
def erfcx_dx(x, out): return 2.0 * x * out - 2.0 / SQRT_PI
@_rule(U_D)
def expit_dx(x, out): return out * (1.0 - out)
@_rule(U_D)
def log_expit_dx(x, out): return sc.expit(-x)
@_rule(U_D)
def logit_dx(x, out): return 1.0 / (x * (1.0 - x))
@_rule(U_D)
def ndtr_dx(x, out): return np.exp(-0.5 * x * x) / SQRT_2PI
@_rule(U_D)
def log_ndtr_dx(x, out): return np.exp(-0.5 * x * x - out) / SQRT_2PI
@_rule(U_D)
def ndtri_dx(x, out): return SQRT_2PI * np.exp(0.5 * out * out)
@_rule(U_D)
def gammaln_dx(x, out): return sc.digamma(x)
@_rule(U_D)
def gamma_dx(x, out): return out * sc.digamma(x)
@_rule(U_D)
def entr_dx(x, out): return -np.log(x) - 1.0
@_rule(B_D)
def xlogy_dx(x, y, out): return np.log(y)
@_rule(B_D)
def xlogy_dy(x, y, out): return strong_mul(x, 1.0 / y)
@_rule(B_D)
def xlog1py_dx(x, y, out): return np.log1p(y)
@_rule(B_D)
def xlog1py_dy(x, y, out): return strong_mul(x, 1.0 / (1.0 + y))


# polygamma is no ufunc and has no cython_special scalar: digamma's partial stays a Python
# function of ops (a program holding digamma keeps the compiled tier's Python driver)
def digamma_dx(x, out): return bind(POLYGAMMA, np.ones((), dtype=x.dtype), x)


#: The scipy.special ufuncs made ops: (name, scipy ufunc, primal, partials). The dispatch layer
#: names them by the ufunc (:mod:`adops.numpy_api.special`).
#            name        scipy ufunc     primal           partials
TABLE = [
    ("erf",       sc.erf,       erf_value,       [erf_dx]),
    ("erfc",      sc.erfc,      erfc_value,      [erfc_dx]),
    ("erfinv",    sc.erfinv,    erfinv_value,    [erfinv_dx]),
    ("erfcinv",   sc.erfcinv,   erfcinv_value,   [erfcinv_dx]),
    ("erfcx",     sc.erfcx,     erfcx_value,     [erfcx_dx]),
    ("expit",     sc.expit,     expit_value,     [expit_dx]),
    ("log_expit", sc.log_expit, log_expit_value, [log_expit_dx]),
    ("logit",     sc.logit,     logit_value,     [logit_dx]),
    ("ndtr",      sc.ndtr,      ndtr_value,      [ndtr_dx]),
    ("log_ndtr",  sc.log_ndtr,  log_ndtr_value,  [log_ndtr_dx]),
    ("ndtri",     sc.ndtri,     ndtri_value,     [ndtri_dx]),
    ("gammaln",   sc.gammaln,   gammaln_value,   [gammaln_dx]),
    ("gamma",     sc.gamma,     gamma_value,     [gamma_dx]),
    ("digamma",   sc.digamma,   digamma_value,   [digamma_dx]),
    ("entr",      sc.entr,      entr_value,      [entr_dx]),
    ("xlogy",     sc.xlogy,     xlogy_value,     [xlogy_dx, xlogy_dy]),
    ("xlog1py",   sc.xlog1py,   xlog1py_value,   [xlog1py_dx, xlog1py_dy]),
]

DOMAINS = {
    "erfinv": "x in (-1, 1).", "erfcinv": "x in (0, 2).", "logit": "x in (0, 1).",
    "ndtri": "x in (0, 1).", "entr": "x > 0 (entr(0) = 0 has an infinite derivative).",
    "gammaln": "log|gamma(x)|; derivative digamma(x) away from the poles 0, -1, -2...",
    "gamma": "away from the poles 0, -1, -2...", "digamma": "away from the poles.",
    "xlogy": "x log(y), 0 where x == 0 (d/dy = 0 there).",
    "xlog1py": "x log1p(y), 0 where x == 0 (d/dy = 0 there).",
}


def _doc(name, partials):
    rules = "; ".join(f"d/dx{j}: {as_partial(p).describe()}" for j, p in enumerate(partials))
    return f"scipy.special.{name}: {rules}." + (f" Domain: {DOMAINS[name]}" if name in DOMAINS
                                                else "")


#: the ops of :data:`TABLE` by name
SCIPY_OPS = {}
for _name, _ufunc, _value, _partials in TABLE:
    SCIPY_OPS[_name] = defop(_name, _value, _partials, numpy=[_ufunc], doc=_doc(_name, _partials))


# ------------------------------------------------- scipy's Python-level functions, as composites
def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a), axis))`` computed stably, as ``scipy.special.logsumexp``.

    A composite of ops, for plain and traced arrays (scipy's own converts with ``np.asarray``,
    which a traced array refuses). The shift by the maximum cancels in the derivative, which is
    ``softmax(a)`` (weighted by ``b``).

    Example:
        >>> import numpy as np, revad
        >>> float(logsumexp(np.log([1.0, 3.0])))  # log 4
        1.3862943611198906
        >>> revad.grad(logsumexp)(np.log([1.0, 3.0])).tolist()
        [0.25, 0.75]
    """
    shift = np.max(a, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    terms = np.exp(a - shift)
    if b is not None:
        terms = b * terms
    total = np.sum(terms, axis=axis, keepdims=True)
    sign = None
    if return_sign:
        sign = np.sign(total)
        total = np.abs(total)
    out = np.log(total) + shift
    if not keepdims:
        out = np.squeeze(out, axis=axis)
        sign = None if sign is None else np.squeeze(sign, axis=axis)
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    """``exp(x) / sum(exp(x), axis)``, as ``scipy.special.softmax`` (a composite of ops).

    Example:
        >>> np.round(softmax(np.log([1.0, 3.0])), 12).tolist()
        [0.25, 0.75]
    """
    return np.exp(log_softmax(x, axis=axis))


def log_softmax(x, axis=None):
    """``x - logsumexp(x, axis, keepdims=True)``, as ``scipy.special.log_softmax``.

    Example:
        >>> np.round(log_softmax(np.log([1.0, 3.0])), 6).tolist()
        [-1.386294, -0.287682]
    """
    return x - logsumexp(x, axis=axis, keepdims=True)
