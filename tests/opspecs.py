"""One spec per registered op: how to draw valid inputs (its domain) and parameters.

A spec's ``make(rng)`` returns ``(args, params, diff)``: primal arguments inside the op's valid
domain and away from its kinks, the op's parameters, and which arguments are differentiable.
``tests/test_adops.py`` fails when an op in ``adops.OPS`` has no spec here.
"""
from __future__ import annotations

import numpy as np

SHAPE = (3, 4)
BSHAPE = ((3, 1), (4,))  # a broadcasting pair for binary ops


def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def away_from_zero(lo=0.2, hi=2.0):
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def off_integers(width=0.3):
    """Reals at least ``0.5 - width`` away from the jumps of floor/ceil/trunc (integers)."""
    return lambda rng, shape: rng.integers(-3, 3, shape) + 0.5 + rng.uniform(-width, width, shape)


def off_half_integers():
    """Reals away from the jumps of rint (half-integers)."""
    return lambda rng, shape: rng.integers(-3, 3, shape) + rng.uniform(-0.3, 0.3, shape)


def elementwise(*domains, diff=None):
    def make(rng):
        shapes = (SHAPE,) if len(domains) == 1 else BSHAPE + ((SHAPE[1],),) * (len(domains) - 2)
        args = [d(rng, s) for d, s in zip(domains, shapes)]
        return args, {}, diff if diff is not None else tuple(range(len(args)))
    return make


def separated_pair(gap=0.2):
    """(a, b) with |a - b| >= gap everywhere, so max/min/fmax/fmin have no tie within FD steps."""
    def make(rng):
        a = rng.uniform(-2, 2, BSHAPE[0])
        b = rng.uniform(-2, 2, BSHAPE[1])
        b = np.where(np.abs(a - b) < gap, b + 2 * gap * np.sign(b - a + 1e-12), b)
        b = np.where(np.abs(a - b) < gap, a + 3 * gap, b)  # (3, 4) after broadcasting
        return [a, b], {}, (0, 1)
    return make


def modulo_pair():
    """a / b away from integers, so remainder and fmod have no jump within FD steps."""
    def make(rng):
        b = rng.uniform(0.7, 2.0, BSHAPE[1])
        q = rng.integers(-3, 3, (3, 4)) + 0.5 + rng.uniform(-0.3, 0.3, (3, 4))
        return [q * b, np.broadcast_to(b, (3, 4)).copy()], {}, (0, 1)
    return make


def where_args(rng):
    return [rng.random(SHAPE) > 0.5, rng.normal(size=SHAPE), rng.normal(size=(4,))], {}, (1, 2)


def arr(*shape):
    return lambda rng: rng.normal(size=shape)


def linear(make_args, **params):
    def make(rng):
        args = make_args(rng)
        args = args if isinstance(args, list) else [args]
        return args, dict(params), tuple(range(len(args)))
    return make


def reduce_no_ties(axis, keepdims=False):
    def make(rng):
        x = rng.permutation(24).reshape(2, 3, 4) * 0.37 + rng.uniform(0, 0.01, (2, 3, 4))
        return [x], {"axis": axis, "keepdims": keepdims}, (0,)
    return make


def prod_args(axis, keepdims=False):
    def make(rng):
        return [rng.uniform(0.5, 1.5, (2, 3, 4))], {"axis": axis, "keepdims": keepdims}, (0,)
    return make


R = uniform(-2, 2)
POS = uniform(0.2, 3)
UNIT = uniform(-0.9, 0.9)

SPECS = {
    # unary elementwise
    "negative": [elementwise(R)], "positive": [elementwise(R)],
    "abs": [elementwise(away_from_zero())], "sign": [elementwise(away_from_zero())],
    "sqrt": [elementwise(POS)], "cbrt": [elementwise(away_from_zero())],
    "square": [elementwise(R)], "reciprocal": [elementwise(away_from_zero(0.5))],
    "exp": [elementwise(R)], "exp2": [elementwise(R)], "expm1": [elementwise(R)],
    "log": [elementwise(POS)], "log2": [elementwise(POS)], "log10": [elementwise(POS)],
    "log1p": [elementwise(uniform(-0.8, 3))],
    "sin": [elementwise(uniform(-4, 4))], "cos": [elementwise(uniform(-4, 4))],
    "tan": [elementwise(uniform(-1.2, 1.2))],
    "arcsin": [elementwise(UNIT)], "arccos": [elementwise(UNIT)], "arctan": [elementwise(R)],
    "sinh": [elementwise(R)], "cosh": [elementwise(R)], "tanh": [elementwise(R)],
    "arcsinh": [elementwise(R)], "arccosh": [elementwise(uniform(1.2, 4))],
    "arctanh": [elementwise(UNIT)],
    "deg2rad": [elementwise(uniform(-180, 180))], "rad2deg": [elementwise(R)],
    "floor": [elementwise(off_integers())], "ceil": [elementwise(off_integers())],
    "trunc": [elementwise(off_integers())], "rint": [elementwise(off_half_integers())],
    # binary elementwise (shapes (3, 1) and (4,) broadcast)
    "add": [elementwise(R, R)], "subtract": [elementwise(R, R)],
    "multiply": [elementwise(R, R)],
    "divide": [elementwise(R, away_from_zero(0.5))],
    "power": [elementwise(POS, uniform(-2, 2))],
    "float_power": [elementwise(POS, uniform(-2, 2))],
    "maximum": [separated_pair()], "minimum": [separated_pair()],
    "fmax": [separated_pair()], "fmin": [separated_pair()],
    "arctan2": [elementwise(away_from_zero(), away_from_zero())],
    "hypot": [elementwise(away_from_zero(), away_from_zero())],
    "logaddexp": [elementwise(R, R)], "logaddexp2": [elementwise(R, R)],
    "remainder": [modulo_pair()], "fmod": [modulo_pair()],
    "where": [where_args],
    "smul": [elementwise(R, R)],
    # structural (linear) ops
    "sum": [linear(arr(2, 3, 4), axis=(1,), keepdims=False),
            linear(arr(2, 3, 4), axis=(0, 2), keepdims=True),
            linear(arr(2, 3), axis=(0, 1), keepdims=False)],
    "reshape": [linear(arr(2, 3, 4), shape=(4, 6)), linear(arr(5), shape=(1, 5, 1))],
    "transpose": [linear(arr(2, 3, 4), axes=(2, 0, 1))],
    "broadcast_to": [linear(arr(3, 1), shape=(2, 3, 5))],
    "getitem": [linear(arr(5, 4), index=(slice(1, 4), 2)),
                linear(arr(5, 4), index=(np.array([0, 2, 2, 4]),)),
                linear(arr(5, 4, 3), index=(np.array([0, 1]), slice(None), np.array([2, 0]))),
                linear(arr(3, 4), index=(np.arange(12).reshape(3, 4) % 3 == 0,)),
                linear(arr(3, 4), index=(None, slice(None, None, -1), 1))],
    "setitem": [linear(lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=(3,))],
                       index=(1,)),
                linear(lambda rng: [rng.normal(size=(5,)), rng.normal(size=(2,))],
                       index=(np.array([0, 3]),)),
                # a repeated index: numpy keeps the last write
                linear(lambda rng: [rng.normal(size=(5,)), rng.normal(size=(3,))],
                       index=(np.array([1, 1, 4]),)),
                linear(lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=(2, 1))],
                       index=(np.array([2, 0]), slice(None)))],
    "index_add": [linear(lambda rng: [rng.normal(size=(5,)), rng.normal(size=(3,))],
                         index=(np.array([1, 1, 4]),)),
                  linear(lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=(3,))],
                         index=(slice(1, 3),))],
    "cast": [linear(arr(3, 4), dtype=np.dtype(np.float64), source=np.dtype(np.float64))],
    "concatenate": [linear(lambda rng: [rng.normal(size=(2, 3)), rng.normal(size=(4, 3))],
                           axis=0)],
    "stack": [linear(lambda rng: [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))], axis=1)],
    "cumsum": [linear(arr(3, 4), axis=1), linear(arr(5), axis=0)],
    "diagonal": [linear(arr(4, 3), offset=0, axis1=0, axis2=1),
                 linear(arr(2, 4, 4), offset=1, axis1=1, axis2=2),
                 linear(arr(4, 4), offset=-2, axis1=0, axis2=1)],
    "einsum1": [linear(arr(2, 3, 4), spec="abc->ca"), linear(arr(3, 4), spec="ab->")],
    # bilinear
    "einsum": [linear(lambda rng: [rng.normal(size=(3, 4)), rng.normal(size=(4, 5))],
                      spec="ab,bc->ac"),
               linear(lambda rng: [rng.normal(size=(2, 3, 4)), rng.normal(size=(1, 4, 2))],
                      spec="abc,acd->abd"),
               linear(lambda rng: [rng.normal(size=(3, 4)), rng.normal(size=(4,))],
                      spec="ab,b->b"),
               linear(lambda rng: [rng.normal(size=(3,)), rng.normal(size=(3,))],
                      spec="a,a->")],
    # nonlinear reductions
    "max": [reduce_no_ties((1,)), reduce_no_ties((0, 2), keepdims=True),
            reduce_no_ties((0, 1, 2))],
    "min": [reduce_no_ties((2,)), reduce_no_ties((0, 1, 2), keepdims=True)],
    "prod": [prod_args((1,)), prod_args((0, 1, 2)), prod_args((2,), keepdims=True)],
}


# ------------------------------------------------------------- scipy.special (adops/special.py)
def polygamma_args(n):
    def make(rng):
        return [np.full(SHAPE, float(n)), rng.uniform(0.5, 3.0, SHAPE)], {}, (1,)
    return make


SPECS.update({
    "polygamma": [polygamma_args(1), polygamma_args(2)],
    "erf": [elementwise(R)], "erfc": [elementwise(R)],
    "erfinv": [elementwise(UNIT)], "erfcinv": [elementwise(uniform(0.1, 1.9))],
    "erfcx": [elementwise(R)],
    "expit": [elementwise(uniform(-4, 4))], "log_expit": [elementwise(uniform(-4, 4))],
    "logit": [elementwise(uniform(0.05, 0.95))],
    "ndtr": [elementwise(R)], "log_ndtr": [elementwise(uniform(-4, 4))],
    "ndtri": [elementwise(uniform(0.05, 0.95))],
    "gammaln": [elementwise(uniform(0.3, 5))], "gamma": [elementwise(uniform(0.3, 3))],
    "digamma": [elementwise(uniform(0.3, 5))],
    "entr": [elementwise(uniform(0.1, 3))],
    "xlogy": [elementwise(R, POS)], "xlog1py": [elementwise(R, uniform(-0.8, 3))],
})


# ------------------------------------------------------- scipy.special (adops/scipy/special.py)
def shape_then(*domains, diff):
    """Shape parameters (constants) then the differentiable argument(s)."""
    def make(rng):
        return [d(rng, SHAPE) for d in domains], {}, diff
    return make


SPECS.update({
    "betaln": [elementwise(uniform(0.3, 4), uniform(0.3, 4))],
    "gammainc": [shape_then(uniform(0.5, 4), uniform(0.2, 5), diff=(1,))],
    "gammaincc": [shape_then(uniform(0.5, 4), uniform(0.2, 5), diff=(1,))],
    "betainc": [shape_then(uniform(0.5, 4), uniform(0.5, 4), uniform(0.05, 0.95), diff=(2,))],
    "stdtr": [shape_then(uniform(0.5, 6), uniform(-3, 3), diff=(1,))],
})


# ------------------------------------------------------------- numpy.linalg (adops/linalg.py)
def well_conditioned(*batch, n=3):
    """Square matrices with singular values of order 1 (a diagonal shift keeps them away from 0)."""
    return lambda rng: rng.normal(size=batch + (n, n)) * 0.5 + 2.0 * np.eye(n)


def spd(*batch, n=3):
    """Symmetric positive definite with distinct, separated eigenvalues. The ops read one
    triangle; the tests perturb every entry, so the unread triangle's derivative (0) is checked."""
    def make(rng):
        q, _ = np.linalg.qr(rng.normal(size=batch + (n, n)))
        w = np.arange(1.0, n + 1.0) + rng.uniform(0, 0.3, batch + (n,))
        return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)
    return make


def distinct_singular(*shape):
    """A matrix with separated nonzero singular values."""
    def make(rng):
        *batch, m, n = shape
        k = min(m, n)
        u, _ = np.linalg.qr(rng.normal(size=tuple(batch) + (m, k)))
        v, _ = np.linalg.qr(rng.normal(size=tuple(batch) + (n, k)))
        s = np.arange(k, 0, -1.0) + rng.uniform(0, 0.3, tuple(batch) + (k,))
        return (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)
    return make


def pair(make_a, make_b):
    return lambda rng: [make_a(rng), make_b(rng)]


SPECS.update({
    "inv": [linear(well_conditioned()), linear(well_conditioned(2))],
    "solve": [linear(pair(well_conditioned(2), arr(3, 2))),
              linear(pair(well_conditioned(), arr(2, 3, 1)))],
    "det": [linear(well_conditioned()), linear(well_conditioned(2))],
    "slogdet": [linear(well_conditioned(2))],
    "cholesky": [linear(spd()), linear(spd(2))],
    "eigh": [linear(spd(), UPLO="L"), linear(spd(2), UPLO="U")],
    "eigvalsh": [linear(spd(), UPLO="L"), linear(spd(2), UPLO="U")],
    "svd": [linear(distinct_singular(4, 3)), linear(distinct_singular(2, 3, 5)),
            linear(distinct_singular(3, 3))],
    "svdvals": [linear(distinct_singular(4, 3)), linear(distinct_singular(2, 2, 3))],
    "pinv": [linear(distinct_singular(4, 3), rcond=1e-15),
             linear(distinct_singular(2, 2, 3), rcond=1e-15)],
    "qr": [linear(distinct_singular(4, 3)), linear(distinct_singular(2, 3, 3))],
})


# ------------------------------------------------------------------ switch points
#: Points where an elementwise op's partial rule switches (a ``select``, a strong-zero factor
#: vanishing, a kink, a tie), each with what its Hessian must be there:
#: ``SMOOTH`` where the op is smooth across the switch (finite differences of gradients and JAX
#: apply), or the documented convention as a matrix where the switch is a real kink or
#: singularity. ``tests/test_switch_points.py`` fails when an op whose rules select, use
#: ``strong_mul`` or carry a documented kink has no entry here.
SMOOTH = "smooth"
Z1, Z2 = [[0.0]], [[0.0, 0.0], [0.0, 0.0]]
SWITCHES = {
    # d/da = strong_mul(b, a**(b-1)) switches at b = 0, d/db at a = 0 (JAX's log(1) there)
    "power": [((2.0, 0.0), SMOOTH), ((0.5, 0.0), SMOOTH), ((0.0, 3.0), Z2),
              # a = 0, b = 1: d2/da db is infinite in truth (a**(b-1) (1 + b log a)); each order
              # keeps its first-order convention, so the two mixed entries differ (JAX: nan)
              ((0.0, 1.0), [[0.0, 1.0], [0.0, 0.0]])],
    "float_power": [((2.0, 0.0), SMOOTH), ((0.0, 3.0), Z2)],
    "xlogy": [((0.0, 2.0), SMOOTH), ((0.0, 0.5), SMOOTH)],
    "xlog1py": [((0.0, 2.0), SMOOTH), ((0.0, -0.5), SMOOTH)],
    # the origin is a real singularity: 0 in both arguments, at every order
    "arctan2": [((0.0, 1.0), SMOOTH), ((1.0, 0.0), SMOOTH), ((0.0, 0.0), Z2)],
    "hypot": [((0.0, 1.0), SMOOTH), ((0.0, 0.0), Z2)],
    # ties: the first-order derivative goes to the second argument; piecewise linear, so 0
    "maximum": [((1.0, 1.0), Z2), ((0.0, 0.0), Z2)],
    "minimum": [((1.0, 1.0), Z2)],
    "fmax": [((1.0, 1.0), Z2), ((np.nan, 1.0), Z2)],
    "fmin": [((1.0, 1.0), Z2), ((1.0, np.nan), Z2)],
    "remainder": [((3.0, 1.5), Z2), ((0.0, 2.0), Z2)],
    "fmod": [((3.0, 1.5), Z2), ((-3.0, 1.5), Z2)],
    "where": [((1.0, 2.0), Z2)],
    "abs": [((0.0,), Z1)],
    "sign": [((0.0,), Z1)],
    "floor": [((1.0,), Z1)], "ceil": [((1.0,), Z1)], "trunc": [((1.0,), Z1)],
    "rint": [((0.5,), Z1)],
    # infinite first derivative at 0: sqrt'' is the right limit -inf; cbrt'' has limits of
    # both signs, and the strong-zero product in its rule (3 out**2) gives 0
    "sqrt": [((0.0,), [[-np.inf]])],
    "cbrt": [((0.0,), Z1)],
}
