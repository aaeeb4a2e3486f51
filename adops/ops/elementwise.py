"""THE table of elementwise ops: a primal and one local partial per input, nothing else.

Contract: for inputs ``xs`` broadcasting to ``out: (*shape)``, each partial rule is a numba kernel
``d_i(*xs, out)`` returning ``d out / d x_i`` elementwise (``out`` is passed so rules are cheap:
``exp -> out``, ``tanh -> 1 - out**2``). How a partial is applied to a tangent ``(k, *shape)`` or
a cotangent ``(m, *shape)`` is written once, in :mod:`adops.ops.registry` and :mod:`adops.core.kernels`.

Conventions (identical in both modes, since both modes apply these very kernels):
- strong zero: a zero tangent/cotangent times an ``inf``/``nan`` partial is 0 (kernels.smul);
- ``abs`` and ``sign`` at 0: ``d|x|/dx = 0``; ``sign``, ``floor``, ``ceil``, ``trunc``, ``rint``
  have derivative 0 everywhere they are differentiable and 0 at their jumps too;
- ``sqrt`` and ``cbrt`` at 0: ``+inf`` (so ``sqrt(x)`` alone at 0 has an infinite derivative,
  while ``where(x > 0, sqrt(x), 0)`` has 0 by strong zero);
- ``maximum``/``minimum``/``fmax``/``fmin`` at a tie: the derivative goes to the *second*
  argument. So ``np.maximum(x, 0)`` (relu) has derivative 0 at 0, and ``np.maximum(x, x)`` has 1.
  Write relu with the constant second;
- ``power(a, b)``: ``d/da = b a**(b-1)``, 0 where ``b == 0``; ``d/db = out log(a)``, 0 where
  ``a == 0`` (``log`` of 1 there, as in JAX); ``nan`` for ``a < 0``, as in JAX;
- ``arctan2`` and ``hypot`` at the origin: 0 in both arguments (a subgradient), at every order.

A partial that is 0 where one of its factors is 0 is written as the strong-zero product
``strong_mul(u, g)`` (:func:`adops.ops.registry.strong_mul`), never ``select(u == 0, 0, u * g)``: an
outer level differentiates the product (``d(u g) = g du + u dg``) where it would see only the
select's constant branch, losing mixed second derivatives. ``select`` is for real branches only.
"""
from __future__ import annotations

import math

import numpy as np
from numba import vectorize

from ..core.kernels import lazy, select

from .registry import ONE, NEG_ONE, Arg, as_partial, defop, strong_mul

U = ["float32(float32)", "float64(float64)"]
U_D = ["float32(float32, float32)", "float64(float64, float64)"]
B = U_D
B_D = ["float32(float32, float32, float32)", "float64(float64, float64, float64)"]
LN2, LN10 = math.log(2.0), math.log(10.0)


def _prim(sig):
    return lazy(vectorize, sig)


# ------------------------------------------------------------------ unary primals
@_prim(U)
def negative(x): return -x
@_prim(U)
def positive(x): return x
@_prim(U)
def absolute(x): return abs(x)
@_prim(U)
def sign(x): return np.sign(x)
@_prim(U)
def sqrt(x): return np.sqrt(x)
@_prim(U)
def cbrt(x): return np.cbrt(x)
@_prim(U)
def square(x): return x * x
@_prim(U)
def reciprocal(x): return 1.0 / x
@_prim(U)
def exp(x): return np.exp(x)
@_prim(U)
def exp2(x): return np.exp2(x)
@_prim(U)
def expm1(x): return np.expm1(x)
@_prim(U)
def log(x): return np.log(x)
@_prim(U)
def log2(x): return np.log2(x)
@_prim(U)
def log10(x): return np.log10(x)
@_prim(U)
def log1p(x): return np.log1p(x)
@_prim(U)
def sin(x): return np.sin(x)
@_prim(U)
def cos(x): return np.cos(x)
@_prim(U)
def tan(x): return np.tan(x)
@_prim(U)
def arcsin(x): return np.arcsin(x)
@_prim(U)
def arccos(x): return np.arccos(x)
@_prim(U)
def arctan(x): return np.arctan(x)
@_prim(U)
def sinh(x): return np.sinh(x)
@_prim(U)
def cosh(x): return np.cosh(x)
@_prim(U)
def tanh(x): return np.tanh(x)
@_prim(U)
def arcsinh(x): return np.arcsinh(x)
@_prim(U)
def arccosh(x): return np.arccosh(x)
@_prim(U)
def arctanh(x): return np.arctanh(x)
@_prim(U)
def deg2rad(x): return x * (math.pi / 180.0)
@_prim(U)
def rad2deg(x): return x * (180.0 / math.pi)
@_prim(U)
def floor(x): return np.floor(x)
@_prim(U)
def ceil(x): return np.ceil(x)
@_prim(U)
def trunc(x): return np.trunc(x)
@_prim(U)
def rint(x): return np.rint(x)


# ------------------------------------------------------------------ unary partials (x, out)
@_prim(U_D)
def zero_d(x, out): return 0.0
@_prim(U_D)
def abs_d(x, out): return np.sign(x)
@_prim(U_D)
def sqrt_d(x, out): return 0.5 / out
@_prim(U_D)
def cbrt_d(x, out): return 1.0 / (3.0 * out * out)
@_prim(U_D)
def reciprocal_d(x, out): return -out * out
@_prim(U_D)
def exp_d(x, out): return out
@_prim(U_D)
def exp2_d(x, out): return out * LN2
@_prim(U_D)
def expm1_d(x, out): return out + 1.0
@_prim(U_D)
def log_d(x, out): return 1.0 / x
@_prim(U_D)
def log2_d(x, out): return 1.0 / (x * LN2)
@_prim(U_D)
def log10_d(x, out): return 1.0 / (x * LN10)
@_prim(U_D)
def log1p_d(x, out): return 1.0 / (1.0 + x)
@_prim(U_D)
def sin_d(x, out): return np.cos(x)
@_prim(U_D)
def cos_d(x, out): return -np.sin(x)
@_prim(U_D)
def tan_d(x, out): return 1.0 + out * out
@_prim(U_D)
def arcsin_d(x, out): return 1.0 / np.sqrt(1.0 - x * x)
@_prim(U_D)
def arccos_d(x, out): return -1.0 / np.sqrt(1.0 - x * x)
@_prim(U_D)
def arctan_d(x, out): return 1.0 / (1.0 + x * x)
@_prim(U_D)
def sinh_d(x, out): return np.cosh(x)
@_prim(U_D)
def cosh_d(x, out): return np.sinh(x)
@_prim(U_D)
def tanh_d(x, out): return 1.0 - out * out
@_prim(U_D)
def arcsinh_d(x, out): return 1.0 / np.sqrt(x * x + 1.0)
@_prim(U_D)
def arccosh_d(x, out): return 1.0 / np.sqrt(x * x - 1.0)
@_prim(U_D)
def arctanh_d(x, out): return 1.0 / (1.0 - x * x)
@_prim(U_D)
def deg2rad_d(x, out): return math.pi / 180.0
@_prim(U_D)
def rad2deg_d(x, out): return 180.0 / math.pi


# ------------------------------------------------------------------ binary primals
@_prim(B)
def add(a, b): return a + b
@_prim(B)
def subtract(a, b): return a - b
@_prim(B)
def multiply(a, b): return a * b
@_prim(B)
def divide(a, b): return a / b
@_prim(B)
def power(a, b): return a ** b
@_prim(["float64(float64, float64)"])
def float_power(a, b): return a ** b
@_prim(B)
def maximum(a, b): return np.maximum(a, b)
@_prim(B)
def minimum(a, b): return np.minimum(a, b)
@_prim(B)
def fmax(a, b): return np.fmax(a, b)
@_prim(B)
def fmin(a, b): return np.fmin(a, b)
@_prim(B)
def arctan2(a, b): return np.arctan2(a, b)
@_prim(B)
def hypot(a, b): return np.hypot(a, b)
@_prim(B)
def logaddexp(a, b): return np.logaddexp(a, b)
@_prim(B)
def logaddexp2(a, b): return np.logaddexp2(a, b)
@_prim(B)
def remainder(a, b): return np.remainder(a, b)
@_prim(B)
def fmod(a, b): return np.fmod(a, b)


# ------------------------------------------------------------------ binary partials (a, b, out)
@_prim(B_D)
def divide_da(a, b, out): return 1.0 / b
@_prim(B_D)
def divide_db(a, b, out): return -out / b
@_prim(B_D)
def pow_dbase(a, b, out): return strong_mul(b, a ** (b - 1.0))
@_prim(B_D)
def pow_dexp(a, b, out): return strong_mul(out, np.log(select(a == 0, 1.0, a)))
@_prim(B_D)
def max_da(a, b, out): return select(a > b, 1.0, 0.0)
@_prim(B_D)
def max_db(a, b, out): return select(a > b, 0.0, 1.0)
@_prim(B_D)
def min_da(a, b, out): return select(a < b, 1.0, 0.0)
@_prim(B_D)
def min_db(a, b, out): return select(a < b, 0.0, 1.0)
@_prim(B_D)
def fmax_da(a, b, out): return select(np.logical_or(a > b, np.logical_and(np.isnan(b), np.logical_not(np.isnan(a)))), 1.0, 0.0)
@_prim(B_D)
def fmax_db(a, b, out): return select(np.logical_or(b >= a, np.logical_and(np.isnan(a), np.logical_not(np.isnan(b)))), 1.0, 0.0)
@_prim(B_D)
def fmin_da(a, b, out): return select(np.logical_or(a < b, np.logical_and(np.isnan(b), np.logical_not(np.isnan(a)))), 1.0, 0.0)
@_prim(B_D)
def fmin_db(a, b, out): return select(np.logical_or(b <= a, np.logical_and(np.isnan(a), np.logical_not(np.isnan(b)))), 1.0, 0.0)
@_prim(B_D)
def arctan2_da(a, b, out): return select(a * a + b * b == 0, 0.0, b / (a * a + b * b))
@_prim(B_D)
def arctan2_db(a, b, out): return select(a * a + b * b == 0, 0.0, -a / (a * a + b * b))
@_prim(B_D)
def hypot_da(a, b, out): return select(out == 0, 0.0, a / out)
@_prim(B_D)
def hypot_db(a, b, out): return select(out == 0, 0.0, b / out)
@_prim(B_D)
def logaddexp_da(a, b, out): return np.exp(a - out)
@_prim(B_D)
def logaddexp_db(a, b, out): return np.exp(b - out)
@_prim(B_D)
def logaddexp2_da(a, b, out): return np.exp2(a - out)
@_prim(B_D)
def logaddexp2_db(a, b, out): return np.exp2(b - out)
@_prim(B_D)
def remainder_db(a, b, out): return -np.floor(a / b)
@_prim(B_D)
def fmod_db(a, b, out): return -np.trunc(a / b)


# ------------------------------------------------------------------ where (condition not differentiable)
@_prim(["float32(boolean, float32, float32)", "float64(boolean, float64, float64)"])
def where(c, a, b): return select(c, a, b)
@_prim(["float32(boolean, float32, float32, float32)", "float64(boolean, float64, float64, float64)"])
def where_da(c, a, b, out): return select(c, 1.0, 0.0)
@_prim(["float32(boolean, float32, float32, float32)", "float64(boolean, float64, float64, float64)"])
def where_db(c, a, b, out): return select(c, 0.0, 1.0)


# ================================================================== THE TABLE
#            name          primal       partials                     numpy callables
_TABLE = [
    ("negative",    negative,    [NEG_ONE],                  [np.negative]),
    ("positive",    positive,    [ONE],                      [np.positive]),
    ("abs",         absolute,    [abs_d],                    [np.absolute, np.fabs]),
    ("sign",        sign,        [zero_d],                   [np.sign]),
    ("sqrt",        sqrt,        [sqrt_d],                   [np.sqrt]),
    ("cbrt",        cbrt,        [cbrt_d],                   [np.cbrt]),
    ("square",      square,      [Arg(0, 2.0)],              [np.square]),
    ("reciprocal",  reciprocal,  [reciprocal_d],             [np.reciprocal]),
    ("exp",         exp,         [exp_d],                    [np.exp]),
    ("exp2",        exp2,        [exp2_d],                   [np.exp2]),
    ("expm1",       expm1,       [expm1_d],                  [np.expm1]),
    ("log",         log,         [log_d],                    [np.log]),
    ("log2",        log2,        [log2_d],                   [np.log2]),
    ("log10",       log10,       [log10_d],                  [np.log10]),
    ("log1p",       log1p,       [log1p_d],                  [np.log1p]),
    ("sin",         sin,         [sin_d],                    [np.sin]),
    ("cos",         cos,         [cos_d],                    [np.cos]),
    ("tan",         tan,         [tan_d],                    [np.tan]),
    ("arcsin",      arcsin,      [arcsin_d],                 [np.arcsin]),
    ("arccos",      arccos,      [arccos_d],                 [np.arccos]),
    ("arctan",      arctan,      [arctan_d],                 [np.arctan]),
    ("sinh",        sinh,        [sinh_d],                   [np.sinh]),
    ("cosh",        cosh,        [cosh_d],                   [np.cosh]),
    ("tanh",        tanh,        [tanh_d],                   [np.tanh]),
    ("arcsinh",     arcsinh,     [arcsinh_d],                [np.arcsinh]),
    ("arccosh",     arccosh,     [arccosh_d],                [np.arccosh]),
    ("arctanh",     arctanh,     [arctanh_d],                [np.arctanh]),
    ("deg2rad",     deg2rad,     [deg2rad_d],                [np.deg2rad, np.radians]),
    ("rad2deg",     rad2deg,     [rad2deg_d],                [np.rad2deg, np.degrees]),
    ("floor",       floor,       [zero_d],                   [np.floor]),
    ("ceil",        ceil,        [zero_d],                   [np.ceil]),
    ("trunc",       trunc,       [zero_d],                   [np.trunc, np.fix]),
    ("rint",        rint,        [zero_d],                   [np.rint]),
    ("add",         add,         [ONE, ONE],                 [np.add]),
    ("subtract",    subtract,    [ONE, NEG_ONE],             [np.subtract]),
    ("multiply",    multiply,    [Arg(1), Arg(0)],           [np.multiply]),
    ("divide",      divide,      [divide_da, divide_db],     [np.divide, np.true_divide]),
    ("power",       power,       [pow_dbase, pow_dexp],      [np.power]),
    ("float_power", float_power, [pow_dbase, pow_dexp],      [np.float_power]),
    ("maximum",     maximum,     [max_da, max_db],           [np.maximum]),
    ("minimum",     minimum,     [min_da, min_db],           [np.minimum]),
    ("fmax",        fmax,        [fmax_da, fmax_db],         [np.fmax]),
    ("fmin",        fmin,        [fmin_da, fmin_db],         [np.fmin]),
    ("arctan2",     arctan2,     [arctan2_da, arctan2_db],   [np.arctan2]),
    ("hypot",       hypot,       [hypot_da, hypot_db],       [np.hypot]),
    ("logaddexp",   logaddexp,   [logaddexp_da, logaddexp_db],   [np.logaddexp]),
    ("logaddexp2",  logaddexp2,  [logaddexp2_da, logaddexp2_db], [np.logaddexp2]),
    ("remainder",   remainder,   [ONE, remainder_db],        [np.remainder, np.mod]),
    ("fmod",        fmod,        [ONE, fmod_db],             [np.fmod]),
    ("where",       where,       [None, where_da, where_db], []),
]

#: conventions at kinks and edges (DESIGN.md), shown in each op's doc
KINKS = {
    "abs": "d|x|/dx = sign(x), 0 at x = 0.",
    "sign": "derivative 0 everywhere (0 at the jump too).",
    "floor": "derivative 0 everywhere (0 at the jumps too).",
    "ceil": "derivative 0 everywhere (0 at the jumps too).",
    "trunc": "derivative 0 everywhere (0 at the jumps too).",
    "rint": "derivative 0 everywhere (0 at the jumps too).",
    "sqrt": "+inf at x = 0; a zero tangent/cotangent there still gives 0 (strong zero).",
    "cbrt": "+inf at x = 0; a zero tangent/cotangent there still gives 0 (strong zero).",
    "maximum": "at a tie the derivative goes to the second argument: relu = maximum(x, 0) "
               "has derivative 0 at 0, maximum(x, x) has 1.",
    "minimum": "at a tie the derivative goes to the second argument.",
    "fmax": "as maximum; a nan argument gets derivative 0, the other 1.",
    "fmin": "as minimum; a nan argument gets derivative 0, the other 1.",
    "power": "d/da = b a**(b-1), 0 where b == 0; d/db = out log(a), 0 where a == 0; nan for a < 0. "
             "At a = 0, b <= 1 the mixed second derivative is infinite in truth; there each "
             "order keeps its first-order convention (d/db of d/da is a**(b-1), d/da of d/db is 0).",
    "float_power": "as power, computed in float64.",
    "arctan2": "0 in both arguments at the origin (a real singularity), at every order.",
    "hypot": "0 in both arguments at the origin (a real singularity), at every order.",
    "remainder": "d/da = 1, d/db = -floor(a/b); jumps where a/b is an integer.",
    "fmod": "d/da = 1, d/db = -trunc(a/b); jumps where a/b is an integer.",
    "where": "condition not differentiable; d/da = cond, d/db = not cond (strong zero: the "
             "unselected branch contributes 0 even if its partial is inf or nan).",
}


def _rule_doc(name, partials):
    """Each input's partial as written in its rule, e.g. ``d/dx0 = np.cos(x)``."""
    parts = [f"d/dx{j}: {'not differentiable' if p is None else as_partial(p).describe()}"
             for j, p in enumerate(partials)]
    return f"{name}: " + "; ".join(parts) + (f". Convention: {KINKS[name]}" if name in KINKS else "")


for _name, _primal, _partials, _numpy in _TABLE:
    defop(_name, _primal, _partials, numpy=_numpy, doc=_rule_doc(_name, _partials))
