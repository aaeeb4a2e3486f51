"""Edge inputs (issue 17, silent wrong results): arrays with a zero dimension, non-native byte
order, and seeds whose dtype differs from their primal's, in every transform of both tiers.

Expected values are written by hand (a Jacobian with no entries is ``np.zeros(out.shape +
in.shape)``; derivatives of the nonempty parts are closed forms) or computed by numpy on plain
arrays; the compiled tier is also compared with the eager one.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
import revad

TIERS = pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])


def fresh(res, like, expected):
    """``res`` is a new writable C-contiguous array of ``like``'s dtype, equal to ``expected``."""
    assert isinstance(res, np.ndarray), type(res)
    assert res.shape == np.shape(expected), (res.shape, np.shape(expected))
    assert res.dtype == like.dtype and res.dtype.isnative, res.dtype
    assert res.flags.writeable and res.flags.c_contiguous
    assert not np.shares_memory(res, like)
    np.testing.assert_allclose(res, expected, rtol=1e-6, atol=0)
    res[...] = 7.0  # a result is the caller's: writing into it changes nothing else
    return res


# ----------------------------------------------------------------- empty inputs: every transform
SHAPES = [(0,), (0, 3), (3, 0), (2, 0, 4)]


def _matrix(x):
    """A matrix to multiply ``x`` with, of its dtype: empty when x's last axis is, else
    ``x @ A`` is empty."""
    n = x.shape[-1]
    return np.linspace(-1.0, 1.0, n * 2, dtype=x.dtype).reshape(n, 2)


FUNCTIONS = {
    "elementwise": lambda x: np.exp(np.sin(x) * 2.0) * x + 1.0,
    "sum": lambda x: np.sum(np.sin(x) * x),
    "matmul": lambda x: x @ _matrix(x),
    "indexing": lambda x: x[1:][..., ::-1] * 2.0,
}


def _transforms(f, x, compiled):
    """Per transform: its result on ``x`` and the hand-written expectation. ``x`` is empty, so
    every derivative has no entries or sums none: zeros of the JAX shape."""
    out = np.asarray(f(x.copy()))  # numpy on a plain array
    s = lambda x: np.sum(f(x))  # noqa: E731 - a scalar for grad, hessian, hvp
    u, t = np.ones(out.shape, x.dtype), np.ones(x.shape, x.dtype)
    jvp = dualad.jvp(f, (x,), (t,), compiled=compiled)
    jvp2 = dualad.jvp(f, (x,), (np.ones((2,) + x.shape, x.dtype),), batched=True,
                      compiled=compiled)
    jvp0 = dualad.jvp(f, (x,), (np.ones((0,) + x.shape, x.dtype),), batched=True,
                      compiled=compiled)
    value, vjp_fn = revad.vjp(f, x, compiled=compiled)
    vg_value, vg_grad = revad.value_and_grad(s, compiled=compiled)(x)
    return {
        "jvp value": (jvp[0], out),
        "jvp": (jvp[1], np.zeros(out.shape)),
        "jvp batched": (jvp2[1], np.zeros((2,) + out.shape)),
        "jvp no directions": (jvp0[1], np.zeros((0,) + out.shape)),
        "jacfwd": (dualad.jacfwd(f, compiled=compiled)(x), np.zeros(out.shape + x.shape)),
        "vjp value": (value, out),
        "vjp": (vjp_fn(u)[0], np.zeros(x.shape)),
        "vjp batched": (vjp_fn(np.ones((3,) + out.shape, x.dtype), batched=True)[0],
                        np.zeros((3,) + x.shape)),
        "vjp no seeds": (vjp_fn(np.ones((0,) + out.shape, x.dtype), batched=True)[0],
                         np.zeros((0,) + x.shape)),
        "jacrev": (revad.jacrev(f, compiled=compiled)(x), np.zeros(out.shape + x.shape)),
        "grad": (revad.grad(s, compiled=compiled)(x), np.zeros(x.shape)),
        "value_and_grad value": (vg_value, np.sum(out)),
        "value_and_grad": (vg_grad, np.zeros(x.shape)),
        "hessian": (revad.hessian(s, compiled=compiled)(x), np.zeros(x.shape + x.shape)),
        "hvp": (revad.hvp(s, (x,), (t,), compiled=compiled), np.zeros(x.shape)),
    }


@TIERS
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fname", FUNCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_empty_inputs_in_every_transform(shape, fname, dtype, compiled):
    x = np.zeros(shape, dtype=dtype)
    got = _transforms(FUNCTIONS[fname], x, compiled)
    eager = _transforms(FUNCTIONS[fname], x, False) if compiled else None
    for name, (res, expected) in got.items():
        try:
            if compiled:
                np.testing.assert_array_equal(res, eager[name][0])
            fresh(res, x, expected)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


# a nonempty input whose outputs are (partly) empty: the empty Jacobian rows next to real ones
X = np.array([0.5, -1.2, 2.0])
EMPTY_OUTPUTS = {
    # f, its outputs' Jacobians d out_j / dx written by hand
    "slice": (lambda x: x[:0] * 2.0, lambda x: [np.zeros((0, 3))]),
    "reshape": (lambda x: np.reshape(x[1:1], (0, 5)), lambda x: [np.zeros((0, 5, 3))]),
    "with a nonempty output": (lambda x: (np.sin(x)[3:], np.sin(x) * 2.0),
                               lambda x: [np.zeros((0, 3)), np.diag(2.0 * np.cos(x))]),
}


@TIERS
@pytest.mark.parametrize("fname", EMPTY_OUTPUTS)
def test_empty_outputs_of_a_nonempty_input(fname, compiled):
    f, jac = EMPTY_OUTPUTS[fname]
    x, want = X.copy(), jac(X)
    leaves = lambda r: list(r) if isinstance(r, tuple) else [r]  # noqa: E731
    for J, w in zip(leaves(dualad.jacfwd(f, compiled=compiled)(x)), want):
        fresh(J, x, w)
    for J, w in zip(leaves(revad.jacrev(f, compiled=compiled)(x)), want):
        fresh(J, x, w)
    t = np.array([1.0, 2.0, -1.0])
    out, tan = dualad.jvp(f, (x,), (t,), compiled=compiled)
    value, vjp_fn = revad.vjp(f, x, compiled=compiled)
    for o, v, d, w, plain in zip(leaves(out), leaves(value), leaves(tan), want, leaves(f(x))):
        fresh(o, x, plain)
        fresh(v, x, plain)
        fresh(d, x, w @ t)
    us = [np.linspace(1.0, 2.0, w[..., 0].size).reshape(w.shape[:-1]) for w in want]
    cot = vjp_fn(tuple(us) if isinstance(value, tuple) else us[0])[0]
    fresh(cot, x, sum(np.tensordot(u, w, u.ndim) for u, w in zip(us, want)))
    s = lambda x: sum(np.sum(o * o) for o in leaves(f(x)))  # noqa: E731
    # d/dx sum(o^2) = 2 o J: only the nonempty output contributes
    g = sum(2.0 * np.tensordot(np.asarray(o), w, np.ndim(o)) for o, w in zip(leaves(f(x)), want))
    fresh(revad.grad(s, compiled=compiled)(x), x, g)
    fresh(revad.value_and_grad(s, compiled=compiled)(x)[1], x, g)
    H = sum(2.0 * np.tensordot(w, w, (list(range(w.ndim - 1)),) * 2) for w in want)
    if fname == "with a nonempty output":  # sum(4 sin^2 x): the second derivative term
        H = H + np.diag(-8.0 * np.sin(x) ** 2)
    fresh(revad.hessian(s, compiled=compiled)(x), x, H)
    fresh(revad.hvp(s, (x,), (t,), compiled=compiled), x, H @ t)
    fresh(dualad.derivative(lambda a: f(x * a)[0] if isinstance(f(x), tuple) else f(x * a),
                            compiled=compiled)(1.0), x, want[0] @ x)


@TIERS
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_empty_and_nonempty_arguments_together(shape, compiled):
    """argnums=(0, 1) with y empty: x's Jacobian is the real one, y's has no entries."""
    f = lambda x, y: np.sin(x) * (1.0 + np.sum(y))  # noqa: E731
    x, y = X.copy(), np.zeros(shape)
    want = (np.diag(np.cos(x)), np.zeros((3,) + shape))
    for jac in (dualad.jacfwd, revad.jacrev):
        Jx, Jy = jac(f, argnums=(0, 1), compiled=compiled)(x, y)
        fresh(Jx, x, want[0])
        fresh(Jy, y, want[1])
    gx, gy = revad.grad(lambda x, y: np.sum(f(x, y)), argnums=(0, 1), compiled=compiled)(x, y)
    fresh(gx, x, np.cos(x))
    fresh(gy, y, np.zeros(shape))
    Hyy = revad.hessian(lambda x, y: np.sum(f(x, y)), argnums=1, compiled=compiled)(x, y)
    fresh(Hyy, y, np.zeros(shape + shape))


@TIERS
def test_empty_input_with_sparsity(compiled):
    for shape in SHAPES:
        x = np.zeros(shape)
        for jac in (dualad.jacfwd, revad.jacrev):
            J = jac(FUNCTIONS["elementwise"], sparsity="auto", compiled=compiled)(x)
            assert J.shape == (0, 0) and J.nnz == 0


# ----------------------------------------------------------------------------------- byte order
def rosen(x):
    return np.sum((1.0 - x[:-1]) ** 2 + 10.0 * (x[1:] - x[:-1] ** 2) ** 2)


def rosen_grad(x):
    x = x.astype(np.float64)
    g = np.zeros_like(x)
    g[:-1] = -2.0 * (1.0 - x[:-1]) - 40.0 * x[:-1] * (x[1:] - x[:-1] ** 2)
    g[1:] += 20.0 * (x[1:] - x[:-1] ** 2)
    return g


def rosen_hessian(x):
    x = x.astype(np.float64)
    n = x.size
    H = np.zeros((n, n))
    i = np.arange(n - 1)
    H[i, i] += 2.0 - 40.0 * (x[1:] - x[:-1] ** 2) + 80.0 * x[:-1] ** 2
    H[i + 1, i + 1] += 20.0
    H[i, i + 1] = H[i + 1, i] = -40.0 * x[:-1]
    return H


def xsinx(x):
    return np.sin(x) * x


def xsinx_jacobian(x):
    return np.diag(np.cos(x) * x + np.sin(x))


BYTE_ORDER = {  # transform, function of x, the hand-written result
    "jacfwd": (dualad.jacfwd, xsinx, xsinx_jacobian),
    "jacrev": (revad.jacrev, xsinx, xsinx_jacobian),
    "grad": (revad.grad, rosen, rosen_grad),
    "hessian": (revad.hessian, rosen, rosen_hessian),
}
NON_NATIVE = ">" if np.little_endian else "<"


@TIERS
@pytest.mark.parametrize("size", [4, 8])
@pytest.mark.parametrize("tname", BYTE_ORDER)
def test_non_native_byte_order_gives_the_native_numbers(tname, size, compiled):
    transform, f, want = BYTE_ORDER[tname]
    native = np.array([0.5, -1.2, 2.0, 0.7], dtype=f"f{size}")
    swapped = native.astype(f"{NON_NATIVE}f{size}")
    assert not swapped.dtype.isnative and np.array_equal(swapped, native)
    res = transform(f, compiled=compiled)(swapped)
    np.testing.assert_allclose(res, want(native), rtol=1e-5 if size == 4 else 1e-12)
    fresh(res, native, transform(f, compiled=False)(native))  # the same numbers, native dtype


@TIERS
def test_non_native_byte_order_everywhere_else(compiled):
    """jvp/vjp/value_and_grad/hvp/derivative/record, a swapped seed and a swapped argument that
    is not differentiated: converted, never refused, results native."""
    x = np.array([0.5, -1.2, 2.0, 0.7])
    xs, ts = x.astype(f"{NON_NATIVE}f8"), np.ones(4).astype(f"{NON_NATIVE}f8")
    out, tan = dualad.jvp(np.sin, (xs,), (ts,), compiled=compiled)
    fresh(out, x, np.sin(x))
    fresh(tan, x, np.cos(x))
    value, vjp_fn = revad.vjp(np.sin, xs, compiled=compiled)
    fresh(value, x, np.sin(x))
    fresh(vjp_fn(ts)[0], x, np.cos(x))
    v, g = revad.value_and_grad(rosen, compiled=compiled)(xs)
    fresh(g, x, rosen_grad(x))
    assert v.dtype.isnative
    fresh(revad.hvp(rosen, (xs,), (ts,), compiled=compiled), x, rosen_hessian(x) @ np.ones(4))
    d = dualad.derivative(np.sin, compiled=compiled)(np.array(0.5, dtype=f"{NON_NATIVE}f8"))
    fresh(d, np.array(0.5), np.cos(0.5))
    w = lambda x, y: np.sum(np.sin(x) * y)  # noqa: E731 - y swapped, not differentiated
    fresh(revad.grad(w, compiled=compiled)(x, xs), x, np.cos(x) * x)
    fresh(dualad.jacfwd(w, compiled=compiled)(x, xs), x, np.cos(x) * x)
    rec = revad.record(rosen, xs)
    fresh(rec.grad(xs), x, rosen_grad(x))


# --------------------------------------------------------------- seeds of another dtype: refused
def _seeded(compiled):
    """Every door a user's tangent or cotangent comes in by: ``door(x, seed)``."""
    def vjp(x, u):
        return revad.vjp(np.sin, x, compiled=compiled)[1](u)

    def vjp_batched(x, u):
        return revad.vjp(np.sin, x, compiled=compiled)[1](_one_row(u), batched=True)

    def vjp_tree(x, u):  # the second output's cotangent is the wrong one
        _, vjp_fn = revad.vjp(lambda x: (np.sin(x), x * 2.0), x, compiled=compiled)
        return vjp_fn((np.ones_like(x), u))
    return {
        "jvp": lambda x, t: dualad.jvp(np.sin, (x,), (t,), compiled=compiled),
        "jvp batched": lambda x, t: dualad.jvp(np.sin, (x,), (_one_row(t),), batched=True,
                                               compiled=compiled),
        "hvp": lambda x, t: revad.hvp(lambda x: np.sum(x ** 3), (x,), (t,), compiled=compiled),
        "vjp": vjp,
        "vjp batched": vjp_batched,
        "vjp tree": vjp_tree,
        "record.vjp": lambda x, u: revad.record(lambda x: np.sin(x) * 1.0, x).vjp(u),
    }


def _one_row(seed):
    """A batch of one direction or seed."""
    return [seed] if isinstance(seed, list) else seed[None]


DOORS = list(_seeded(False))


@TIERS
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("primal,seed", [(np.float32, np.float64), (np.float64, np.float32)],
                         ids=["f64 seed for f32", "f32 seed for f64"])
def test_a_seed_of_another_dtype_is_refused(door, primal, seed, compiled):
    x = np.array([0.5, -1.2, 2.0], dtype=primal)
    name = "cotangent 1" if door == "vjp tree" else "cotangent" if "vjp" in door else "tangent 0"
    of = "output 1" if door == "vjp tree" else "its output" if "vjp" in door else "its primal"
    p, s = np.dtype(primal).name, np.dtype(seed).name
    with pytest.raises(TypeError, match=rf"^{name} has dtype {s} but {of} has dtype {p}; .*"
                                        rf"Pass {name.split()[0]}\.astype\(np\.{p}\)"):
        _seeded(compiled)[door](x, np.full(3, 1e-50, dtype=seed))


@TIERS
@pytest.mark.parametrize("door", DOORS)
def test_seeds_without_a_dtype_of_their_own_take_the_primals(door, compiled):
    """Python numbers and lists are converted (NEP 50's rule for Python scalars); a seed of the
    primal's dtype in the other byte order, or the dtype an int/float16 primal was given in, is
    accepted too. The results equal those of the seed cast by hand."""
    x = np.array([0.5, -1.2, 2.0], dtype=np.float32)
    doors = _seeded(compiled)
    want = doors[door](x, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    seeds = [np.array([1.0, 2.0, 3.0], dtype=">f4"), np.array([1.0, 2.0, 3.0], dtype="<f4")]
    if door != "vjp tree":  # there a list is a subtree of the cotangent, not a leaf
        seeds += [[1.0, 2.0, 3.0], [1, 2, 3]]
    for seed in seeds:
        got = doors[door](x, seed)
        for a, b in zip(got if isinstance(got, tuple) else [got],
                        want if isinstance(want, tuple) else [want]):
            np.testing.assert_array_equal(a, b)


@TIERS
def test_a_python_float_tangent_takes_the_primals_dtype(compiled):
    """A Python float is not an array: like numpy's ``float32_array * 1e-50``, it is converted
    to the primal's dtype (the documented rule) rather than refused."""
    x = np.float32(0.25)
    out, tan = dualad.jvp(lambda x: x * 3.0, (x,), (1e-50,), compiled=compiled)
    assert tan.dtype == np.float32 and tan == np.float32(1e-50) * 3
    out, tan = dualad.jvp(lambda x: x * 3.0, (x,), (0.5,), compiled=compiled)
    assert tan.dtype == np.float32 and tan == 1.5


@TIERS
def test_a_promoted_primal_accepts_a_seed_of_its_own_dtype(compiled):
    """int primals are computed in float64, float16 in float32: a seed of the dtype the primal
    was passed in is widened exactly, one of the computed dtype is accepted as well."""
    out, tan = dualad.jvp(np.sin, (np.arange(3),), (np.array([1, 0, 2]),), compiled=compiled)
    np.testing.assert_allclose(tan, np.cos(np.arange(3)) * [1, 0, 2])
    h = np.array([0.5, 1.0], dtype=np.float16)
    for t in (np.ones(2, np.float16), np.ones(2, np.float32)):
        out, tan = dualad.jvp(np.sin, (h,), (t,), compiled=compiled)
        assert tan.dtype == np.float32
        np.testing.assert_allclose(tan, np.cos(h.astype(np.float32)), rtol=1e-6)
    with pytest.raises(TypeError, match="tangent 0 has dtype float64 but its primal has dtype "
                                        "float32"):
        dualad.jvp(np.sin, (h,), (np.ones(2),), compiled=compiled)
