"""The compiled tier never runs a program traced for other argument values (issue 17): every kind
of argument changed between calls gives the eager tier's numbers, in both modes; static
arguments (``static_argnums`` / ``static_argnames``); objects run eagerly with one warning; a
compiled transform inside another transform runs eagerly."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import adops
import dualad
import revad
from adops.compile import EagerFallbackWarning
from adops.program import Tape

X = np.array([1.0, 2.0])

#: transforms of f(x, a, **kw) with respect to x, in both modes
TRANSFORMS = {
    "grad": revad.grad,
    "jacrev": revad.jacrev,
    "jacfwd": dualad.jacfwd,
}


class Box:
    """An object argument whose attribute changes between calls."""

    def __init__(self, k):
        self.k = k


class Key:
    """A hashable object keyed by its value (for static_argnums)."""

    def __init__(self, k):
        self.k = k

    def __eq__(self, other):
        return isinstance(other, Key) and other.k == self.k

    def __hash__(self):
        return hash(self.k)


def _replace(state, key, value):
    state[key] = value


def _set_item(container, index, value):
    container[index] = value


def _set_attr(obj, value):
    obj.k = value


# name: (f(x, a), state {"a": ...}, mutations of the state). The argument is state["a"], read
# again at every call; a mutation changes it in place or replaces it.
CASES = {
    "list": (lambda x, a: np.sum(x ** 2) * a[0], lambda: {"a": [1.0]},
             [lambda s: _set_item(s["a"], 0, 10.0)]),
    "tuple in list": (lambda x, a: np.sum(x ** 2) * a[0][1], lambda: {"a": [(1.0, 2.0)]},
                      [lambda s: _set_item(s["a"], 0, (1.0, 5.0))]),
    "dict": (lambda x, a: np.sum(x ** 3) * a["s"] + a["t"] * x[1], lambda: {"a": {"s": 1.0, "t": 0}},
             [lambda s: _set_item(s["a"], "s", 4.0), lambda s: _set_item(s["a"], "t", 2)]),
    "nested": (lambda x, a: np.sum(np.sin(x) * a["w"][1][1]) + a["w"][0] * x[0] ** 2,
               lambda: {"a": {"w": [1.0, [2.0, 3.0]]}},
               [lambda s: _set_item(s["a"]["w"][1], 1, -1.0),
                lambda s: _set_item(s["a"]["w"], 0, 5)]),
    "signed zero": (lambda x, a: np.sum(x ** 2) * np.copysign(1.0, a), lambda: {"a": 0.0},
                    [lambda s: _replace(s, "a", -0.0)]),
    "int array contents": (lambda x, a: np.sum(x[a] ** 2 * np.array([1.0, 3.0])),
                           lambda: {"a": np.array([0, 1])},
                           [lambda s: _set_item(s["a"], slice(None), [1, 1]),
                            lambda s: _set_item(s["a"], 0, 0)]),
    "bool array contents": (lambda x, a: np.sum(np.where(a, x ** 2, 5.0 * x)),
                            lambda: {"a": np.array([True, False])},
                            [lambda s: _set_item(s["a"], slice(None), [False, True])]),
    "object attribute": (lambda x, a: np.sum(x ** 2) * a.k + np.sum(x), lambda: {"a": Box(1.0)},
                         [lambda s: _set_attr(s["a"], 3.0)]),
    "callable replaced": (lambda x, a: np.sum(a(x)), lambda: {"a": lambda t: t ** 2},
                          [lambda s: _replace(s, "a", lambda t: t ** 3),
                           lambda s: _replace(s, "a", lambda t: np.sin(t))]),
}


@pytest.mark.parametrize("t", TRANSFORMS)
@pytest.mark.parametrize("case", CASES)
def test_a_changed_argument_gives_the_eager_numbers(case, t):
    f, make, mutations = CASES[case]
    transform = TRANSFORMS[t]
    state = make()
    fast, eager = transform(f, compiled=True), transform(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EagerFallbackWarning)  # the object case runs eagerly
        seen = []
        for mutate in [None, *mutations]:
            if mutate is not None:
                mutate(state)
            want = eager(X, state["a"])
            np.testing.assert_allclose(fast(X, state["a"]), want, rtol=1e-12, err_msg=case)
            seen.append(want)
    # each mutation changed the derivative (else the test could not catch a stale program)
    assert all(not np.allclose(a, b) for a, b in zip(seen, seen[1:])), case


@pytest.mark.parametrize("compiled_grad", [
    lambda f: revad.grad(f, compiled=True),
    lambda f: dualad.jacfwd(f, compiled=True),
])
def test_the_issue_reproducers_by_hand(compiled_grad):
    g = compiled_grad(lambda x, c: np.sum(x ** 2) * c[0])
    c = [1.0]
    np.testing.assert_array_equal(g(X, c), [2.0, 4.0])
    c[0] = 10.0
    np.testing.assert_array_equal(g(X, c), [20.0, 40.0])
    h = compiled_grad(lambda x, box: np.sum(x ** 2) * box.k + np.sum(x * 10.0))
    box = Box(1.0)
    with pytest.warns(EagerFallbackWarning):
        np.testing.assert_array_equal(h(X, box), [12.0, 14.0])
    box.k = 2.0
    np.testing.assert_array_equal(h(X, box), [14.0, 18.0])


@pytest.mark.parametrize("t", TRANSFORMS)
def test_a_program_keeps_its_own_copy_of_an_array_it_was_traced_with(t):
    g = TRANSFORMS[t](lambda x, idx: np.sum(x[idx] ** 2 * np.array([1.0, 3.0])), compiled=True)
    first = np.array([0, 1])
    np.testing.assert_array_equal(g(X, first), [2.0, 12.0])
    first[:] = [1, 1]  # written after the trace: a new value, traced again
    np.testing.assert_array_equal(g(X, first), [0.0, 16.0])
    np.testing.assert_array_equal(g(X, np.array([0, 1])), [2.0, 12.0])  # the first program


def test_keyword_arguments_are_keyed_by_value_too():
    f = lambda x, *, scale: np.sum(x ** 2) * scale[0]
    for transform in (revad.grad, dualad.jacfwd):
        g = transform(f, compiled=True)
        scale = [1.0]
        np.testing.assert_array_equal(g(X, scale=scale), [2.0, 4.0])
        scale[0] = -1.0
        np.testing.assert_array_equal(g(X, scale=scale), [-2.0, -4.0])


def test_derivative_of_a_changed_argument():
    d = dualad.derivative(lambda x, coeffs: coeffs[0] * x + coeffs[1] * x ** 2, compiled=True)
    coeffs = [1.0, 0.0]
    assert float(d(2.0, coeffs)) == 1.0
    coeffs[1] = 3.0
    assert float(d(2.0, coeffs)) == 13.0


def counting(f):
    calls = []

    def g(*args, **kwargs):
        calls.append(1)
        return f(*args, **kwargs)
    g.__wrapped__ = f  # f's signature, for static_argnames
    return g, calls


def test_equal_values_reuse_the_program_and_float_arrays_are_inputs():
    f, calls = counting(lambda x, w, c: np.sum(x ** 2 * w) * c["k"][0])
    g = revad.grad(f, compiled=True)
    g(X, np.ones(2), {"k": [2.0]})
    g(X, np.full(2, 3.0), {"k": [2.0]})  # a new float array and an equal dict: no new trace
    assert len(calls) == 1
    np.testing.assert_array_equal(g(X, np.full(2, 3.0), {"k": [2.0]}), [12.0, 24.0])
    assert len(calls) == 1
    g(X, np.ones(2), {"k": [2.5]})
    assert len(calls) == 2


def test_an_object_runs_eagerly_with_one_warning_naming_the_argument_and_the_way_out():
    g = revad.grad(lambda x, box: np.sum(x ** 2) * box.k, compiled=True)
    with pytest.warns(EagerFallbackWarning) as record:
        g(X, Box(1.0))
    message = str(record[0].message)
    assert "argument 1" in message and "Box" in message and "static_argnums" in message
    assert record[0].filename == __file__  # the warning points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error", EagerFallbackWarning)  # once per compiled function
        np.testing.assert_array_equal(g(X, Box(2.0)), [4.0, 8.0])


@pytest.mark.parametrize("t", TRANSFORMS)
def test_static_argnums_and_argnames_trace_per_value(t):
    f, calls = counting(lambda x, key, power=2: np.sum(x ** power) * key.k)
    transform = TRANSFORMS[t]
    by_num = transform(f, compiled=True, static_argnums=(1, 2))
    by_name = transform(f, compiled=True, static_argnames=("key", "power"))
    eager = transform(f)
    for d in (by_num, by_name):
        with warnings.catch_warnings():
            warnings.simplefilter("error", EagerFallbackWarning)  # static: no eager fallback
            for key, power in [(Key(1.0), 2), (Key(3.0), 2), (Key(3.0), 3)]:
                want = eager(X, key, power)
                np.testing.assert_allclose(d(X, key, power), want, rtol=1e-12)
                np.testing.assert_allclose(d(X, key, power=power), want, rtol=1e-12)
                np.testing.assert_allclose(d(X, key=key, power=power), want, rtol=1e-12)
    n = len(calls)
    by_num(X, Key(3.0), 3)  # an equal static value: the program is reused
    assert len(calls) == n


def test_hessian_with_a_static_argument():
    h = revad.hessian(lambda x, power: np.sum(x ** power[0]), compiled=True,
                      static_argnames="power")
    np.testing.assert_array_equal(h(X, (3,)), np.diag(6.0 * X))
    np.testing.assert_array_equal(h(X, (2,)), np.diag([2.0, 2.0]))


def test_an_unhashable_static_argument_is_a_clear_type_error():
    g = revad.grad(lambda x, c: np.sum(x) * c[0], compiled=True, static_argnums=1)
    with pytest.raises(TypeError, match=r"argument 1 is declared static.*list.*not hashable"
                                        r".*tuple instead of a list"):
        g(X, [1.0])
    np.testing.assert_array_equal(g(X, (2.0,)), [2.0, 2.0])


def test_static_options_are_checked():
    with pytest.raises(TypeError, match="static_argnums must be an int"):
        revad.grad(np.sum, static_argnums="x")
    with pytest.raises(TypeError, match="static_argnames must be a str"):
        dualad.jacfwd(np.sum, static_argnames=(1,))
    g = revad.grad(lambda x: np.sum(x), compiled=True, static_argnums=0)
    with pytest.raises(ValueError, match="both differentiated .* and static"):
        g(X)


# ---- a compiled transform inside another transform runs eagerly --------------------------
Y = np.array([1.0, 0.0])


def test_grad_of_a_compiled_grad_of_a_closure():
    for outer_compiled in (False, True):
        outer = revad.grad(lambda x: revad.grad(lambda y: np.sum(x * y), compiled=True)(Y)[0],
                           compiled=outer_compiled)
        np.testing.assert_array_equal(outer(X), [1.0, 0.0])


def test_jacfwd_of_a_compiled_jacrev_of_a_closure():
    def g(x, compiled):
        jac = revad.jacrev(lambda y: np.sin(x) * y ** 2, compiled=compiled)(X)
        return jac @ np.ones(2)  # 2 sin(x) X
    got = dualad.jacfwd(lambda x: g(x, True))(Y)
    np.testing.assert_allclose(got, np.diag(2.0 * np.cos(Y) * X), rtol=1e-12)
    np.testing.assert_allclose(got, dualad.jacfwd(lambda x: g(x, False))(Y), rtol=1e-12)


def test_forward_inside_forward_compiled():
    inner = lambda x: dualad.jvp(lambda y: x * y ** 2, (X,), (np.ones(2),), compiled=True)[1]
    _, t = dualad.jvp(inner, (Y,), (np.array([1.0, -1.0]),))
    np.testing.assert_array_equal(t, 2.0 * X * [1.0, -1.0])
    J = dualad.jacfwd(lambda x: dualad.jacfwd(lambda y: x * y, compiled=True)(X) @ np.ones(2))
    np.testing.assert_array_equal(J(Y), np.eye(2))


def test_hessian_with_an_inner_compiled_closure():
    def f(x):
        inner = revad.grad(lambda y: np.sum(np.sin(x) * y ** 2), compiled=True)(X)  # 2 sin(x) X
        return np.sum(inner * x)
    x = np.array([0.3, -0.7])
    want = np.diag(2.0 * X * (2.0 * np.cos(x) - x * np.sin(x)))
    for compiled in (False, True):
        np.testing.assert_allclose(revad.hessian(f, compiled=compiled)(x), want, rtol=1e-12,
                                   atol=1e-15)


def test_the_error_message_of_an_op_formats_traced_inputs():
    v = Tape().leaf(np.ones(2))
    with pytest.raises(TypeError, match="sin: no kernel for inputs of dtypes float64"):
        adops.OPS["sin"].value(v)
