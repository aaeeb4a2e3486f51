"""Modes that nest (issue 10): every composition of forward and reverse mode, to any depth,
without perturbation confusion; second derivatives of every op in the registry by all four
compositions against finite differences of gradients; Hessians of composed programs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import adops
import dualad
import revad
from opspecs import SPECS
from programs import PROGRAMS
from test_random_programs import STRUCTURAL, UNARY, BINARY, apply_step, steps  # noqa: F401

#: the four compositions of a Jacobian transform over a gradient/Jacobian transform
COMPOSITIONS = {
    "fwd-over-rev": lambda f: dualad.jacfwd(revad.grad(f)),
    "rev-over-rev": lambda f: revad.jacrev(revad.grad(f)),
    "fwd-over-fwd": lambda f: dualad.jacfwd(dualad.jacfwd(f)),
    "rev-over-fwd": lambda f: revad.jacrev(dualad.jacfwd(f)),
}
DERIVATIVE = {"fwd": dualad.derivative, "rev": revad.grad}


def fd_of_gradient(f, x, h=1e-5):
    """Central differences of reverse mode's gradient: the Hessian's columns."""
    g = revad.grad(f)
    cols = [(g(x + h * e) - g(x - h * e)) / (2 * h)
            for e in np.eye(x.size).reshape((x.size,) + x.shape)]
    return np.moveaxis(np.stack(cols), 0, -1).reshape(x.shape + x.shape)


# ------------------------------------------------------------ perturbation confusion
@pytest.mark.parametrize("outer", DERIVATIVE)
@pytest.mark.parametrize("inner", DERIVATIVE)
@pytest.mark.parametrize("x", [3.0, -0.5])
def test_no_perturbation_confusion(outer, inner, x):
    """d/dx [x * d/dy (x + y)] = 1 (Siskind & Pearlmutter): an inner derivative must not take
    the outer x's perturbation for its own."""
    f = DERIVATIVE[outer](lambda x: x * DERIVATIVE[inner](lambda y: x + y)(2.0))
    assert float(f(x)) == 1.0


@pytest.mark.parametrize("outer", DERIVATIVE)
@pytest.mark.parametrize("inner", DERIVATIVE)
def test_closure_over_outer_value(outer, inner):
    # d/dx d/dy (x y^2) at y = 2 = d/dx 4x = 4
    f = DERIVATIVE[outer](lambda x: DERIVATIVE[inner](lambda y: x * y ** 2)(2.0))
    assert float(f(3.0)) == 4.0


def test_inner_jacobian_of_outer_value_is_identity():
    x = np.array([0.3, -0.7, 1.1])
    inner = lambda x: dualad.jacfwd(lambda y: np.sum(x * y))(np.ones(3))
    for jac in (dualad.jacfwd, revad.jacrev):
        np.testing.assert_allclose(jac(inner)(x), np.eye(3))


def test_third_derivative_three_deep():
    f = lambda x: np.sin(x) * x ** 3
    want = -np.cos(2.0) * 8 - 3 * np.sin(2.0) * 12 + 3 * np.cos(2.0) * 12 + np.sin(2.0) * 6
    for a in DERIVATIVE.values():
        for b in DERIVATIVE.values():
            for c in DERIVATIVE.values():
                assert float(a(b(c(f)))(2.0)) == pytest.approx(want, rel=1e-12)


def test_grad_inside_the_function_differentiated():
    def loss(w, x):
        step = revad.grad(lambda w: np.sum((w * x - 1.0) ** 2))(w)  # one gradient step
        return np.sum((w - 0.1 * step) ** 2)
    w, x = np.array([0.5, -0.3]), np.array([1.5, 2.0])
    for outer in (revad.grad, lambda f: lambda w, x: dualad.jacfwd(f)(w, x)):
        g = outer(loss)(w, x)
        h = 1e-6
        fd = [(loss(w + h * e, x) - loss(w - h * e, x)) / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(g, fd, rtol=1e-6)


# --------------------------------------------------------------- textbook second order
@pytest.mark.parametrize("name", COMPOSITIONS)
def test_textbook_second_derivatives(name):
    H = COMPOSITIONS[name]
    assert float(H(lambda x: (3 * x + 1) ** 2)(0.7)) == pytest.approx(18.0)
    rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    np.testing.assert_allclose(H(rosen)(np.array([1.0, 1.0])), [[802, -400], [-400, 200]])


def test_hessian_and_hvp_api():
    f = lambda x: np.sum(np.sin(x) * x ** 2) + np.prod(x)
    x, v = np.array([0.4, -1.3, 0.9]), np.array([1.0, -2.0, 0.5])
    H = revad.hessian(f)(x)
    assert H.shape == (3, 3)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H, fd_of_gradient(f, x), atol=1e-6)
    np.testing.assert_allclose(revad.hvp(f, (x,), (v,)), H @ v, atol=1e-12)
    # JAX's recipe
    np.testing.assert_allclose(dualad.jvp(revad.grad(f), (x,), (v,))[1], H @ v, atol=1e-12)
    # several arguments: a tuple of tuples, as jax.hessian
    g = lambda a, b: np.sum(a ** 2 * b[0]) + np.sum(b ** 3)
    a, b = np.array([1.0, 2.0]), np.array([0.5, -1.0, 2.0])
    Hab = revad.hessian(g, argnums=(0, 1))(a, b)
    assert Hab[0][0].shape == (2, 2) and Hab[0][1].shape == (2, 3) and Hab[1][1].shape == (3, 3)
    np.testing.assert_allclose(Hab[0][1], Hab[1][0].T)
    np.testing.assert_allclose(Hab[0][1], [[2 * a[0], 0, 0], [2 * a[1], 0, 0]])
    hv = revad.hvp(g, (a, b), (np.ones(2), np.zeros(3)))
    np.testing.assert_allclose(hv[0], Hab[0][0] @ np.ones(2))
    np.testing.assert_allclose(hv[1], Hab[1][0] @ np.ones(2))


# ------------------------------------------- every op of the registry, twice, four ways
def _op_cases():
    for name in sorted(SPECS):
        for i in range(len(SPECS[name])):
            yield pytest.param(name, i, id=f"{name}-{i}")


@pytest.mark.parametrize("name,i", list(_op_cases()))
def test_every_op_is_twice_differentiable_in_all_compositions(name, i):
    """Hessian of <w, op(...)> by the four compositions vs finite differences of gradients."""
    rng = np.random.default_rng(7 + i)
    args, params, diff = SPECS[name][i](rng)
    args = [np.asarray(a) for a in args]
    sizes = [args[j].size for j in diff]
    cuts = np.cumsum([0] + sizes)
    x0 = np.concatenate([args[j].ravel().astype(float) for j in diff])
    op = adops.OPS[name]
    out = op.value(*args, **params)
    w = rng.normal(size=np.shape(out))

    def f(x):
        full = list(args)
        for j, a, b in zip(diff, cuts, cuts[1:]):
            full[j] = np.reshape(x[a:b], args[j].shape)
        return np.sum(w * adops.bind(op, *full, **params))
    want = fd_of_gradient(f, x0)
    for comp, H in COMPOSITIONS.items():
        got = H(f)(x0)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5,
                                   err_msg=f"{name} spec {i}, {comp}")


# ------------------------------------------------------ composed programs, four ways
@pytest.mark.parametrize("name,f,args", [p for p in PROGRAMS], ids=[p[0] for p in PROGRAMS])
def test_hessians_of_composed_programs_agree(name, f, args):
    x0 = np.asarray(args[0], dtype=float)
    rest = args[1:]
    g = lambda x: np.sum(f(x, *rest) ** 2)
    want = fd_of_gradient(g, x0)
    for comp, H in COMPOSITIONS.items():
        got = H(g)(x0)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{name}, {comp}")
        np.testing.assert_allclose(got.reshape(x0.size, x0.size),
                                   got.reshape(x0.size, x0.size).T, rtol=1e-7, atol=1e-7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.lists(steps, min_size=1, max_size=6), seed=st.integers(0, 2 ** 16))
def test_random_programs_four_compositions_agree(program, seed):
    x0 = np.random.default_rng(seed).normal(size=(3, 3))

    def f(x):
        vals = [x, x * 0.5 + 0.1]
        for step in program:
            vals.append(apply_step(step, vals))
        return np.sum(vals[-1] * np.linspace(0.5, 1.5, np.size(vals[-1])).reshape(
            np.shape(vals[-1])))
    with np.errstate(all="ignore"):
        if not np.isfinite(f(x0)):
            return
    hs = {c: H(f)(x0) for c, H in COMPOSITIONS.items()}
    ref = hs["fwd-over-rev"]
    finite = np.isfinite(ref)
    for c, h in hs.items():
        np.testing.assert_allclose(h[finite], ref[finite], rtol=1e-7, atol=1e-7, err_msg=c)


# ------------------------------------------------------------- conventions at second order
@pytest.mark.parametrize("name", COMPOSITIONS)
def test_strong_zero_and_kinks_hold_at_second_order(name):
    H = COMPOSITIONS[name]
    # where(x > 0, sqrt(x)^3, 0) at 0: the unselected branch contributes 0, at every order
    f = lambda x: np.sum(np.where(x > 0, np.sqrt(x) ** 3, 0.0))
    np.testing.assert_array_equal(H(f)(np.array([0.0, 4.0])), [[0.0, 0.0], [0.0, 0.75 / 2.0]])
    # relu's second derivative is 0 everywhere, the kink included
    relu2 = lambda x: np.sum(np.maximum(x, 0.0) * 3.0)
    np.testing.assert_array_equal(H(relu2)(np.array([0.0, 1.0, -1.0])), np.zeros((3, 3)))
    # abs at 0: first derivative 0, second 0
    np.testing.assert_array_equal(H(lambda x: np.sum(np.abs(x)))(np.array([0.0])), [[0.0]])
    # max reduction: piecewise linear, second derivative 0 (ties split at first order)
    np.testing.assert_array_equal(H(lambda x: np.max(x) ** 1)(np.array([1.0, 3.0, 3.0])),
                                  np.zeros((3, 3)))


def test_nested_transforms_with_mutation():
    def f(x):
        y = x * 1.0
        v = y[1:]
        v *= x[:2]
        y[np.array([0, 0])] += np.sin(x[2])
        return np.sum(y ** 2)
    x = np.array([0.3, 0.8, -0.4])
    want = fd_of_gradient(f, x)
    for comp, H in COMPOSITIONS.items():
        np.testing.assert_allclose(H(f)(x), want, atol=1e-6, err_msg=comp)


@pytest.mark.parametrize("inner_chunk", [1, 2, 3, None])
@pytest.mark.parametrize("outer_chunk", [1, 2, None])
def test_nested_jacobians_for_every_chunk(inner_chunk, outer_chunk):
    """A nested Jacobian built in several chunks: each chunk's seed must stay its own (an outer
    tape keeps the inner seeds as constants)."""
    f = lambda x: np.sum(np.sin(x) * x ** 2) + np.sum(x[1:] * x[:-1])
    x = np.random.default_rng(3).normal(size=5)
    want = fd_of_gradient(f, x)
    for outer in (dualad.jacfwd, revad.jacrev):
        for inner in (dualad.jacfwd, revad.jacrev):
            inner_f = (lambda g: inner(lambda x: np.atleast_1d(f(x)), chunk=inner_chunk)(g)[0])
            got = outer(inner_f, chunk=outer_chunk)(x)
            np.testing.assert_allclose(got, want, atol=1e-6,
                                       err_msg=f"{outer.__name__} over {inner.__name__}")
