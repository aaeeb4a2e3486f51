"""Issue 20, part 4: the smaller idioms of real programs, in both tiers.

- ``grad`` of a size-1 output of shape (1,) is refused, as in JAX, with the way out;
- ``revad.elementwise_grad`` (autograd's): the VJP with a ones cotangent;
- ``adops.optimizers`` ``sgd`` / ``adam`` / ``rmsprop`` with autograd's signatures, over trees;
- a traced value turned into a plain array or number raises the clear message itself.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import dualad
import revad
from adops.numpy_api.conversions import TracedConversionError
from adops.optimizers import adam, rmsprop, sgd

pytestmark = pytest.mark.usefixtures("tier")  # every test in both tiers


# ----------------------------------------------------------------------------- grad of (1,)
def test_grad_of_shape_1_output_is_refused_with_the_way_out():
    with pytest.raises(TypeError, match=r"returned shape \(1,\); a size-1 output is refused as "
                                        r"in JAX .*return out\[0\] or np.sum\(out\)"):
        revad.grad(lambda x: x[:1] * 2.0)(np.ones(3))
    with pytest.raises(TypeError, match=r"shape \(1, 1\); a size-1 output"):
        revad.value_and_grad(lambda x: np.reshape(np.sum(x), (1, 1)))(np.ones(3))
    # the way out the message names works
    g = revad.grad(lambda x: (x[:1] * 2.0)[0])(np.ones(3))
    np.testing.assert_array_equal(g, [2.0, 0.0, 0.0])
    # larger outputs keep the general advice
    with pytest.raises(TypeError, match=r"shape \(3,\); reduce it"):
        revad.grad(lambda x: x * 2.0)(np.ones(3))


# ----------------------------------------------------------------------------- elementwise_grad
def test_elementwise_grad_is_the_diagonal_for_elementwise_f():
    x = np.linspace(-2.0, 2.0, 7)
    d = revad.elementwise_grad(np.tanh)(x)
    np.testing.assert_allclose(d, 1 - np.tanh(x) ** 2, rtol=1e-13)
    # against the diagonal of the Jacobian by the other mode
    np.testing.assert_allclose(d, np.diagonal(dualad.jacfwd(np.tanh)(x)), rtol=1e-13)
    # second derivative, as autograd's tanh example plots
    d2 = revad.elementwise_grad(revad.elementwise_grad(np.tanh))(x)
    np.testing.assert_allclose(d2, -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), rtol=1e-12)


def test_elementwise_grad_sums_over_outputs():
    x = np.array([0.5, -1.0, 2.0])

    def mix(x):   # not elementwise: column sums of the Jacobian, not its diagonal
        return np.stack([x[0] * x[1], x[1] * x[2], x[0] ** 2])

    J = np.array([[x[1], x[0], 0.0], [0.0, x[2], x[1]], [2 * x[0], 0.0, 0.0]])
    np.testing.assert_allclose(revad.elementwise_grad(mix)(x), J.sum(axis=0), rtol=1e-13)
    assert not np.allclose(revad.elementwise_grad(mix)(x), np.diagonal(J))


def test_elementwise_grad_on_trees_and_argnum():
    p = {"a": np.array([0.1, 0.2]), "b": np.array(3.0)}
    d = revad.elementwise_grad(lambda p, c: [p["a"] * p["b"], c * p["b"]], 0)(p, 2.0)
    np.testing.assert_allclose(d["a"], [3.0, 3.0])
    np.testing.assert_allclose(d["b"], 0.1 + 0.2 + 2.0)
    dx, dy = revad.elementwise_grad(lambda x, y: np.sin(x) * y, (0, 1))(np.zeros(2), np.ones(2))
    np.testing.assert_allclose(dx, [1.0, 1.0])
    np.testing.assert_allclose(dy, [0.0, 0.0])


# ----------------------------------------------------------------------------- optimizers
TARGET = {"w": np.array([1.5, -2.0, 0.5]), "b": np.array(-0.7), "layers": [np.eye(2)]}


def quadratic(p):
    """Minimum 0 at TARGET; a different curvature per leaf."""
    return (np.sum((p["w"] - TARGET["w"]) ** 2) + 4.0 * (p["b"] - TARGET["b"]) ** 2
            + 0.5 * np.sum((p["layers"][0] - TARGET["layers"][0]) ** 2))


def _start():
    return {"w": np.zeros(3), "b": np.array(0.0), "layers": [np.zeros((2, 2))]}


@pytest.mark.parametrize("opt, options", [
    (sgd, dict(num_iters=400, step_size=0.1)),
    (adam, dict(num_iters=800, step_size=0.05)),
    (rmsprop, dict(num_iters=800, step_size=0.01)),
])
def test_optimizers_reach_the_minimum_of_a_quadratic_over_a_dict(opt, options):
    grad = revad.grad(lambda p, i: quadratic(p))
    seen = []

    def callback(x, i, g):
        seen.append((i, type(x), type(g), float(quadratic(x))))

    x0 = _start()
    p = opt(grad, x0, callback=callback, **options)
    assert set(p) == {"w", "b", "layers"} and type(p["layers"]) is list
    assert float(quadratic(_start())) > 1.0
    assert float(quadratic(p)) < 1e-4
    np.testing.assert_allclose(p["w"], TARGET["w"], atol=1e-2)
    np.testing.assert_allclose(p["layers"][0], TARGET["layers"][0], atol=1e-2)
    assert [s[0] for s in seen] == list(range(options["num_iters"]))
    assert all(s[1] is dict and s[2] is dict for s in seen)
    assert seen[-1][3] < seen[0][3]
    np.testing.assert_array_equal(x0["w"], np.zeros(3))   # the start point is not changed


def test_optimizer_signatures_match_autograd():
    import inspect
    assert list(inspect.signature(adam).parameters) == [
        "grad", "x0", "callback", "num_iters", "step_size", "b1", "b2", "eps"]
    assert inspect.signature(adam).parameters["step_size"].default == 0.001
    assert list(inspect.signature(sgd).parameters) == [
        "grad", "x0", "callback", "num_iters", "step_size", "mass"]
    assert list(inspect.signature(rmsprop).parameters) == [
        "grad", "x0", "callback", "num_iters", "step_size", "gamma", "eps"]


def test_optimizer_integer_start_is_not_truncated():
    grad = revad.grad(lambda p, i: (p["b"] - 1.5) ** 2 + np.sum((p["w"] - 1.0) ** 2))
    p = adam(grad, {"b": 0, "w": np.zeros(2, np.float32)}, num_iters=300, step_size=0.1)
    assert abs(float(p["b"]) - 1.5) < 1e-3          # an int start must not round steps away
    assert p["w"].dtype == np.float32                # float leaves keep their dtype
    np.testing.assert_allclose(p["w"], [1.0, 1.0], atol=1e-3)


def test_optimizer_refuses_a_gradient_of_another_structure():
    with pytest.raises(ValueError, match="x0's structure"):
        adam(lambda x, i: np.ones(3), {"w": np.zeros(2)}, num_iters=1)


# ----------------------------------------------------------------------------- clear messages
def _item_store(x):
    y = np.zeros(3)
    y[0] = x[0] * 2
    return np.sum(y)


def _slice_store(x):
    y = np.zeros(3)
    y[0:1] = x[0:1] * 2
    return np.sum(y)


@pytest.mark.parametrize("transform", ["grad", "jacfwd", "jvp"])
@pytest.mark.parametrize("store", [_item_store, _slice_store])
def test_storing_a_traced_value_into_a_plain_array(transform, store):
    run = {"grad": lambda: revad.grad(store)(np.ones(3)),
           "jacfwd": lambda: dualad.jacfwd(store)(np.ones(3)),
           "jvp": lambda: dualad.jvp(store, (np.ones(3),), (np.ones(3),))}[transform]
    with pytest.raises(TypeError) as info:
        run()
    e = info.value
    assert isinstance(e, TracedConversionError)      # not numpy's bare ValueError
    msg = str(e)
    assert "setting an array element" not in msg
    assert "z[i] = x" in msg and "np.zeros_like(x)" in msg and "x.copy()" in msg \
        and "np.stack" in msg


def test_item_store_message_points_at_the_users_line():
    with pytest.raises(TypeError) as info:
        revad.grad(_item_store)(np.ones(3))
    frames = [f.name for f in info.traceback]
    assert "_item_store" in frames


def test_the_fix_named_works():
    def fixed(x):
        y = np.zeros_like(x)
        y[0] = x[0] * 2
        return np.sum(y)
    np.testing.assert_array_equal(revad.grad(fixed)(np.ones(3)), [2.0, 0.0, 0.0])


@pytest.mark.parametrize("name, numpy_name", [("sin", "sin"), ("exp", "exp"),
                                               ("atan", "arctan"), ("sqrt", "sqrt")])
def test_math_function_names_the_numpy_function(name, numpy_name):
    def f(x):
        return math_call(name, x)

    with pytest.raises(TypeError, match=rf"math\.{name} cannot take a value traced by .*use "
                                        rf"np\.{numpy_name}\b"):
        revad.grad(f)(0.5)
    with pytest.raises(TypeError, match=rf"math\.{name} cannot take a value traced by .*use "
                                        rf"np\.{numpy_name}\b"):
        dualad.derivative(f)(0.5)


def math_call(name, x):
    """One source line per math function, so the message can read which one was called."""
    if name == "sin":
        return math.sin(x)
    if name == "exp":
        return math.exp(x)
    if name == "atan":
        return math.atan(x)
    return math.sqrt(x)


def test_float_of_a_traced_value_names_the_way_out():
    with pytest.raises(TypeError, match=r"float\(\) of a value traced by .*np\.sin for math\.sin.*"
                                        r"np\.where"):
        revad.grad(lambda x: float(x) * 2.0)(0.5)
