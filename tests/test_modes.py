"""Both modes on composed numpy programs: forward vs reverse vs finite differences vs the
dot-product identity (compare.check_grads), every chunk width, worked examples, errors."""
import numpy as np
import pytest

import dualad
import revad
from compare import check_grads
from programs import PROGRAMS, rosenbrock

pytestmark = pytest.mark.usefixtures("tier")  # every test in both tiers


@pytest.mark.parametrize("name,f,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_program_three_ways(name, f, args):
    report = check_grads(f, *args)
    assert report.ok, str(report)
    assert report.jacobians is not None


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 6])
def test_every_chunk_gives_the_same_jacobian(chunk):
    x = np.linspace(-1, 1, 6)
    f = lambda x: np.tanh(np.outer(x, x[:4]).sum(axis=0) + x[:4])
    ref = dualad.jacfwd(f, chunk=1)(x)
    np.testing.assert_allclose(dualad.jacfwd(f, chunk=chunk)(x), ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(revad.jacrev(f, chunk=chunk)(x), ref, rtol=1e-13, atol=1e-14)


def test_k_directions_equal_k_single_passes():
    x = np.random.default_rng(1).normal(size=5)
    V = np.random.default_rng(2).normal(size=(4, 5))
    _, together = dualad.jvp(rosenbrock, (x,), (V,), batched=True)
    for j in range(4):
        _, single = dualad.jvp(rosenbrock, (x,), (V[j],))
        np.testing.assert_allclose(together[j], single, rtol=1e-13)


def test_m_seeds_equal_m_single_sweeps():
    x = np.random.default_rng(1).normal(size=5)
    f = lambda x: np.sin(x) * x.sum()
    U = np.random.default_rng(3).normal(size=(3, 5))
    _, vjp_fn = revad.vjp(f, x)
    (together,) = vjp_fn(U, batched=True)
    for j in range(3):
        np.testing.assert_allclose(together[j], vjp_fn(U[j])[0], rtol=1e-13)


def test_jacobian_shapes_follow_jax():
    x = np.ones((2, 3))
    assert dualad.jacfwd(lambda x: x * 2)(x).shape == (2, 3, 2, 3)
    assert revad.jacrev(lambda x: x * 2)(x).shape == (2, 3, 2, 3)
    assert dualad.jacfwd(lambda x: np.sum(x))(np.ones(4)).shape == (4,)
    assert revad.jacrev(lambda x: np.sum(x))(np.ones(4)).shape == (4,)
    assert dualad.jacfwd(lambda x: x * np.ones(3))(2.0).shape == (3,)
    ja, jb = revad.jacrev(lambda a, b: a * b, argnums=(0, 1))(np.ones(3), 2.0)
    assert ja.shape == (3, 3) and jb.shape == (3,)
    fa, fb = dualad.jacfwd(lambda a, b: a * b, argnums=(0, 1))(np.ones(3), 2.0)
    np.testing.assert_allclose(fa, ja)
    np.testing.assert_allclose(fb, jb)


# ------------------------------------------------------------------------ worked examples
def test_chain_rule_example():
    f = lambda x: (3 * x + 1) ** 2
    assert dualad.derivative(f)(2.0) == 42.0
    assert dualad.derivative(f)(1.0) == 24.0
    assert float(revad.grad(f)(2.0)) == 42.0
    assert float(revad.grad(f)(1.0)) == 24.0


def test_two_layer_net_example():
    def loss(w, x=2.0, y=1.0):
        h = w[0] * x
        yhat = w[1] * h
        return (y - yhat) ** 2
    w = np.array([0.5, 0.3])
    np.testing.assert_allclose(revad.grad(loss)(w), [-0.84, -1.4], rtol=1e-12)
    np.testing.assert_allclose(dualad.jacfwd(loss)(w), [-0.84, -1.4], rtol=1e-12)
    assert np.isclose(float(revad.value_and_grad(loss)(w)[0]), 0.49)


def test_kinetic_energy_example():
    m = 3.0
    E = lambda t: m * (2 * t) ** 2 / 2
    for t in (0.5, 1.0, 2.5):
        assert np.isclose(dualad.derivative(E)(t), 4 * m * t)
        assert np.isclose(float(revad.grad(E)(t)), 4 * m * t)


def test_sigmoid_neuron_cross_entropy():
    x, y = np.array([0.5, -1.2, 2.0]), 1.0

    def loss(w):
        yhat = 1 / (1 + np.exp(-np.dot(w, x)))
        return -(y * np.log(yhat) + (1 - y) * np.log(1 - yhat))
    w = np.array([0.1, 0.2, -0.3])
    yhat = 1 / (1 + np.exp(-w @ x))
    np.testing.assert_allclose(revad.grad(loss)(w), (yhat - y) * x, rtol=1e-12)
    np.testing.assert_allclose(dualad.jacfwd(loss)(w), (yhat - y) * x, rtol=1e-12)


# ------------------------------------------------------------------------- conventions
@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev])
def test_strong_zero_in_where(jac):
    f = lambda x: np.where(x > 0, np.sqrt(x), 0.0)
    J = jac(f)(np.array([0.0, 4.0]))
    np.testing.assert_array_equal(J, [[0.0, 0.0], [0.0, 0.25]])


@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev])
def test_kinks_identical_in_both_modes(jac):
    x = np.array([0.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.diag(jac(np.abs)(x)), [0, 0, 1])
    np.testing.assert_array_equal(np.diag(jac(lambda x: np.maximum(x, 0.0))(x)), [0, 0, 1])
    np.testing.assert_allclose(jac(np.max)(np.array([2.0, 2.0, 1.0])), [0.5, 0.5, 0.0])


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_dtypes(mode):
    jac = dualad.jacfwd if mode == "fwd" else revad.jacrev
    assert jac(lambda x: np.sin(x) * 2)(np.ones(3, np.float32)).dtype == np.float32
    assert jac(lambda x: x * 2)(np.arange(3)).dtype == np.float64
    assert jac(lambda x: x * 2)(np.array([True, False])).dtype == np.float64


def test_float32_gradient_close_to_float64():
    x = np.linspace(0.1, 1, 5)
    g64 = revad.grad(lambda x: np.sum(np.exp(np.sin(x))))(x)
    g32 = revad.grad(lambda x: np.sum(np.exp(np.sin(x))))(x.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-5)


def test_constant_output_has_zero_derivative():
    assert dualad.jacfwd(lambda x: np.ones(2))(np.ones(3)).tolist() == [[0.0] * 3] * 2
    assert revad.grad(lambda x: np.float64(1.0))(np.ones(3)).tolist() == [0.0] * 3


def test_unused_input_gets_zeros():
    ga, gb = revad.grad(lambda a, b: np.sum(a * 2), argnums=(0, 1))(np.ones(2), np.ones(3))
    assert gb.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev])
@pytest.mark.parametrize("chunk", [1, 2, None])
def test_identity_and_views_of_the_input(jac, chunk):
    x = np.arange(5.0)
    np.testing.assert_array_equal(jac(lambda x: x, chunk=chunk)(x), np.eye(5))
    np.testing.assert_array_equal(jac(lambda x: x.reshape(5, 1)[:, 0], chunk=chunk)(x), np.eye(5))


# ------------------------------------------- every elementwise op, through numpy, in both modes
def _elementwise_cases():
    import adops
    from opspecs import SPECS
    for name in sorted(SPECS):
        op = adops.OPS[name]
        if isinstance(op, adops.ElementwiseOp):
            if op.numpy:
                fn = op.numpy[0]
            elif name == "where":
                fn = np.where
            else:  # an op no numpy function routes to (smul): called by name
                fn = lambda *xs, name=name: adops.call(name, *xs)
            yield pytest.param(name, fn, id=name)


@pytest.mark.parametrize("name,fn", list(_elementwise_cases()))
def test_every_elementwise_op_through_numpy_in_both_modes(name, fn):
    """dualad.jvp vs finite differences, and <u, J v> = <J^T u, v> with revad, per op."""
    from opspecs import SPECS
    args, params, diff = SPECS[name][0](np.random.default_rng(5))
    args = [np.asarray(a) for a in args]

    def f(*xs):
        full = list(args)
        for j, x in zip(diff, xs):
            full[j] = x
        return fn(*full)
    report = check_grads(f, *[args[j] for j in diff])
    assert report.ok, f"{name}: {report}"
