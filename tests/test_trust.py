"""No silent wrong results (issue 9): numpy's values under mutation, modes that agree with numpy
on repeated indices, results the caller owns, recordings without hidden state, process state
that stays the user's, and clear errors at every door. Each contract is tested as a class."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import adops
import dualad
import revad
from adops.program.tree import tree_leaves
from compare import check_grads

pytestmark = pytest.mark.usefixtures("tier")  # every test in both tiers

JACOBIANS = {"forward": lambda f: dualad.jacfwd(f), "reverse": lambda f: revad.jacrev(f)}


def agree_with_numpy(f, x, atol=1e-6):
    """f's value by numpy, both modes' Jacobians, and central differences all agree."""
    x = np.asarray(x, dtype=float)
    want = np.asarray(f(x.copy()))
    jf, jr = dualad.jacfwd(f)(x), revad.jacrev(f)(x)
    np.testing.assert_allclose(jf, jr, atol=1e-12)
    h = 1e-6
    cols = [(np.asarray(f(x + h * e)) - np.asarray(f(x - h * e))) / (2 * h)
            for e in np.eye(x.size).reshape((x.size,) + x.shape)]
    fd = np.moveaxis(np.stack(cols), 0, -1).reshape(want.shape + x.shape)
    np.testing.assert_allclose(jf, fd, atol=atol, rtol=1e-5)
    value, _ = revad.vjp(f, x)
    np.testing.assert_allclose(value, want, atol=1e-12)
    value_f, _ = dualad.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_allclose(value_f, want, atol=1e-12)
    return jf


X = np.array([0.5, -1.2, 2.0, 0.7])


# ------------------------------------------------------- contract 1: numpy's values under mutation
def copy_then_write(x):
    y = x * 1.0
    z = y.copy()
    z[0] = 100.0
    return y


def np_copy_then_write(x):
    y = np.sin(x)
    z = np.copy(y)
    z[1:] = 0.0
    return y + z


def write_through_slice(x):
    x = x * 1.0
    v = x[:2]
    v[0] = 0.0
    return np.sum(x * x)


def alias_inplace(x):
    y = x * 1.0
    z = y
    z *= 2.0
    z += x
    return y


def view_sees_later_write(x):
    y = np.tanh(x)
    v = y[1:]
    y[1] = 7.0 * y[0]
    return v * 1.0


def view_of_view(x):
    y = x * 1.0
    v = y[1:]
    w = v[::2]
    w[0] = x[0] ** 2
    return np.concatenate([y, v, w])


def reshape_and_transpose_views(x):
    y = x.reshape(2, 2) * 1.0
    t = y.T
    t[0, 1] = 5.0 * x[0]
    r = y.ravel()
    r[3] = r[3] * 3.0
    return y.ravel()


def inplace_through_view(x):
    y = x * 1.0
    y[1:3] *= x[:2]
    y[::2] -= 1.0
    return y


def argument_written(x):
    x[0] = x[1] ** 2  # writes into the traced argument: f's value is numpy's
    return np.sum(x * x)


def inplace_ops(x):
    y = x * 1.0
    y **= 2
    y /= 3.0
    y -= x
    y.sort()
    return y


def scalar_is_immutable(x):
    s = x[0]
    t = s
    s += 1.0  # numpy scalars rebind: t keeps the old value
    return np.stack([s, t])


def zeros_like_filled(x):
    z = np.zeros_like(x)
    z[0] = x[1] * x[2]
    z[1:3] = np.sin(x[:2])
    return z


MUTATION_PROGRAMS = [copy_then_write, np_copy_then_write, write_through_slice, alias_inplace,
                     view_sees_later_write, view_of_view, reshape_and_transpose_views,
                     inplace_through_view, argument_written, inplace_ops, scalar_is_immutable,
                     zeros_like_filled]


@pytest.mark.parametrize("f", MUTATION_PROGRAMS, ids=lambda f: f.__name__)
def test_mutation_gives_numpy_values_and_derivatives(f):
    agree_with_numpy(f, X)


def test_copy_is_a_new_object_in_both_modes():
    np.testing.assert_allclose(dualad.jacfwd(copy_then_write)(X), np.eye(4))
    np.testing.assert_allclose(revad.jacrev(copy_then_write)(X), np.eye(4))


@pytest.mark.parametrize("mode", JACOBIANS)
@pytest.mark.parametrize("make", [lambda y: np.broadcast_to(y, (2, 4)),
                                  lambda y: np.diagonal(y.reshape(2, 2))],
                         ids=["broadcast_to", "diagonal"])
def test_read_only_views_refuse_writes_as_numpy_does(mode, make):
    with pytest.raises(ValueError):
        make(X.copy())[0] = 1.0  # numpy's behaviour

    def f(x):
        v = make(x * 1.0)
        v[0] = 1.0
        return x
    with pytest.raises(ValueError, match="read-only"):
        JACOBIANS[mode](f)(X)


def test_prod_with_inf_is_numpys_value_and_derivative():
    x = np.array([1.0, np.inf, 2.0])
    assert np.prod(x) == np.inf
    for value, g in (revad.value_and_grad(np.prod)(x),
                     (dualad.jvp(np.prod, (x,), (np.ones(3),))[0], dualad.jacfwd(np.prod)(x))):
        assert value == np.inf
        np.testing.assert_array_equal(g, [np.inf, 2.0, np.inf])


@pytest.mark.parametrize("mode", JACOBIANS)
def test_reductions_honour_dtype(mode):
    x = np.array([1.5, 2.5, -0.5])
    f = lambda x: np.sum(x, dtype=int) * x  # int sum: numpy's value, derivative 0
    assert np.allclose(f(x), 3 * x)
    np.testing.assert_allclose(JACOBIANS[mode](f)(x), 3 * np.eye(3))
    g = lambda x: np.sum(x, dtype=np.float32) + np.mean(x.astype(np.float32))
    np.testing.assert_allclose(JACOBIANS[mode](g)(x), [4 / 3] * 3, rtol=1e-6)


@pytest.mark.parametrize("mode", JACOBIANS)
@pytest.mark.parametrize("bad,match", [
    (np.ma.array([1.0, 2.0], mask=[0, 1]), "masked"),
    (np.array([1.0, 2.0], dtype=np.longdouble), "float32 or float64"),
    (np.array([1.0 + 1j, 2.0]), "complex")])
def test_inputs_that_would_lose_information_are_refused(mode, bad, match):
    if bad.dtype == np.longdouble and np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match=match):
        JACOBIANS[mode](lambda x: x * 2.0)(bad)


def test_complex_seeds_are_refused():
    with pytest.raises(TypeError, match="complex"):
        dualad.jvp(np.sin, (X,), (X * 1j,))
    _, vjp_fn = revad.vjp(np.sin, X)
    with pytest.raises(TypeError, match="complex"):
        vjp_fn(X * 1j)


# ----------------------------------------- contract 2: the modes agree with numpy's semantics
@pytest.mark.parametrize("f", [
    lambda x: _set(x, np.array([0, 0]), lambda y: y[np.array([0, 0])] + 1.0),
    lambda x: _set(x, np.array([0, 0]), lambda y: x[1:3]),
    lambda x: _set(x, np.array([3, 1, 3, 3]), lambda y: x ** 2),
    lambda x: _iadd(x, np.array([2, 2, 0])),
    lambda x: _set2d(x)], ids=["+= repeated", "= repeated", "= repeated x3", "+= via iadd",
                               "2-d repeated rows"])
def test_repeated_advanced_indices_agree_with_numpy(f):
    agree_with_numpy(f, X)


def _set(x, idx, value):
    y = x * 1.0
    y[idx] = value(y)
    return y


def _iadd(x, idx):
    y = x * 1.0
    y[idx] += x[:3] * 2.0
    return y


def _set2d(x):
    y = np.outer(x, x[:3])
    y[np.array([1, 1, 0])] = x[:3] * 5.0
    return y


# ------------------------------------------------------------ contract 3: results are the caller's
def _transforms(dtype):
    x = np.array([0.5, -1.0, 2.0], dtype=dtype)
    u = np.ones(3, dtype=dtype)
    cases = {
        "grad": lambda f, x: revad.grad(lambda x: np.sum(f(x)))(x),
        "value_and_grad": lambda f, x: revad.value_and_grad(lambda x: np.sum(f(x)))(x)[1],
        "jacrev": lambda f, x: revad.jacrev(f)(x),
        "jacfwd": lambda f, x: dualad.jacfwd(f)(x),
        "jvp": lambda f, x: dualad.jvp(f, (x,), (np.ones_like(x),))[1],
        "vjp": lambda f, x: revad.vjp(f, x)[1](np.ones(np.shape(f(x.copy())), x.dtype))[0],
        "record.grad": lambda f, x: revad.record(lambda x: np.sum(f(x)), x).grad(x),
        "record.vjp": lambda f, x: revad.record(lambda x: np.sum(f(x)), x).vjp(
            np.ones((), x.dtype))[0],
        "hessian": lambda f, x: revad.hessian(lambda x: np.sum(f(x) ** 2))(x),
    }
    return x, u, cases


FUNCTIONS = {
    "identity": lambda x: x,
    "sum-broadcast": lambda x: np.broadcast_to(np.sum(x), (3,)) * 1.0,
    "constant output": lambda x: np.ones(3, dtype=x.dtype),
    "unused input part": lambda x: x[:1] * 0.0 + 1.0,
    "slice": lambda x: x[::2],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fname", FUNCTIONS)
@pytest.mark.parametrize("tname", list(_transforms(np.float64)[2]))
def test_results_are_fresh_writable_contiguous_and_of_the_input_dtype(tname, fname, dtype):
    x, _, cases = _transforms(dtype)
    before = x.copy()
    res = cases[tname](FUNCTIONS[fname], x)
    assert isinstance(res, np.ndarray)
    assert res.dtype == dtype, (tname, fname, res.dtype)
    assert res.flags.writeable and res.flags.c_contiguous
    assert not np.shares_memory(res, x)
    res[...] = 123.0  # writing into a result changes nothing of the caller's
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_input_keeps_dtype(dtype):
    x = np.zeros(0, dtype=dtype)
    for J in (dualad.jacfwd(lambda x: x * 2.0)(x), revad.jacrev(lambda x: x * 2.0)(x),
              revad.grad(np.sum)(x)):
        assert J.dtype == dtype and J.size == 0


def test_vjp_result_does_not_follow_the_callers_seed():
    _, vjp_fn = revad.vjp(lambda x: x, X)
    u = np.ones(4)
    g = vjp_fn(u)[0]
    u[:] = 5.0
    np.testing.assert_array_equal(g, np.ones(4))


def test_vjp_value_is_not_the_tapes_residual():
    """The primal output handed back by vjp is a copy: writing into it leaves later sweeps right."""
    value, vjp_fn = revad.vjp(lambda x: [np.exp(x), np.exp(x) * x][::-1], X)
    value[1][...] = 0.0  # exp(x), also a residual of the product
    np.testing.assert_allclose(vjp_fn([np.ones(4), np.zeros(4)])[0], np.exp(X) * (1 + X))



@pytest.mark.parametrize("params", ["array", "tree"])
def test_vjp_fn_keeps_the_primals_it_was_made_at(params):
    """vjp_fn is the pullback at the primals given: writing into the caller's arrays afterwards
    changes nothing (before, a sweep read them through the tape's and the compiled program's
    residuals: sin(x) * x pulled back at the new x)."""
    x = X.copy() if params == "array" else {"w": X.copy(), "b": [X[:2].copy()]}

    def f(p):
        p = p if params == "array" else p["w"] * np.sum(p["b"][0])
        return np.sin(p) * p
    want = revad.vjp(f, x)[1](np.ones(4))[0]
    with adops.compile.whole_after(1):  # the compiled tier: its whole program
        _, vjp_fn = revad.vjp(f, x)
        for leaf in ([x] if params == "array" else [x["w"], x["b"][0]]):
            leaf[...] = 0.0
        got = vjp_fn(np.ones(4))[0]
    for a, b in zip(tree_leaves(got), tree_leaves(want)):
        np.testing.assert_array_equal(a, b)

# ----------------------------------------------------- contract 4: recordings have no hidden state
def test_recording_vjp_stays_at_the_recorded_point_after_a_replay():
    rec = revad.record(lambda x: np.sum(np.sin(x)), X)
    rec.grad(X + 1.0)
    np.testing.assert_allclose(rec.vjp(np.array(1.0))[0], np.cos(X))
    np.testing.assert_allclose(rec.grad(X + 1.0), np.cos(X + 1.0))


def test_a_failed_replay_changes_nothing():
    f = lambda x: np.sum(np.where(x > 0, x ** 2, -x))
    rec = revad.record(f, X)
    with pytest.raises(revad.BranchChanged):
        rec.grad(-X)
    np.testing.assert_allclose(rec.grad(X), np.where(X > 0, 2 * X, -1.0))
    np.testing.assert_allclose(rec.vjp(np.array(1.0))[0], np.where(X > 0, 2 * X, -1.0))


@pytest.mark.parametrize("rerecord", [False, True])
def test_one_recording_from_eight_threads(rerecord):
    f = lambda x: np.sum(np.sin(x) * x + np.where(x > 1.0, x, 0.0))
    rec = revad.record(f, X, rerecord=rerecord)
    wrong, barrier = [], threading.Barrier(8)

    def work(i):
        barrier.wait()
        for j in range(40):
            # with rerecord, threads also cross the branch and re-record concurrently
            xi = X + 0.01 * (i + j) + (1.5 if rerecord and (i + j) % 3 == 0 else 0.0)
            try:
                g = rec.grad(xi)
            except revad.BranchChanged:
                continue
            want = np.cos(xi) * xi + np.sin(xi) + (xi > 1.0)
            if not np.allclose(g, want):
                wrong.append((i, j))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


def test_recording_refuses_a_lossy_input_dtype():
    rec = revad.record(np.sum, np.ones(2, dtype=np.float32))
    with pytest.raises(TypeError, match="float32"):
        rec.grad(np.array([1e300, 1.0]))
    assert rec.grad(np.ones(2, np.float32)).dtype == np.float32
    rec64 = revad.record(lambda x: np.sum(x * x), np.ones(2))
    np.testing.assert_allclose(rec64.grad(np.ones(2, np.float32) * 3), [6.0, 6.0])


# --------------------------------------------------------- contract 5: process state is the user's
def test_garbage_collector_is_left_alone():
    seen = []

    def f(x):
        seen.append(gc.isenabled())
        return np.sum(x * x)
    revad.grad(f)(X)
    dualad.jacfwd(f)(X)
    # the compiled tier traces f once for both transforms
    assert seen and all(seen) and gc.isenabled()


@pytest.mark.parametrize("mode", JACOBIANS)
def test_users_errstate_raise_sees_no_kernel_flags(mode):
    def f(x):
        with np.errstate(all="raise"):
            # sqrt's partial at 0 is inf and maximum's strong zero meets it: kernel flags only
            return np.sqrt(np.maximum(x, 0.0)) + np.where(x > 0, np.log(np.abs(x) + 1), 0.0)
    J = JACOBIANS[mode](f)(np.array([0.0, 1.0, -1.0]))
    assert J[1, 1] == pytest.approx(0.5 / 1.0 + 0.5)


@pytest.mark.parametrize("mode", JACOBIANS)
def test_users_errstate_raise_applies_to_the_primal_as_in_numpy(mode):
    def f(x):
        with np.errstate(invalid="raise"):
            return np.log(x)
    with pytest.raises(FloatingPointError):
        f(np.array([-1.0]))
    with pytest.raises(FloatingPointError):
        JACOBIANS[mode](f)(np.array([-1.0]))


def test_errstate_outside_the_transform_is_restored():
    before = np.geterr()
    with np.errstate(divide="raise"):
        revad.grad(lambda x: np.sum(np.sqrt(x)))(np.array([0.0, 1.0]))
        assert np.geterr()["divide"] == "raise"
    assert np.geterr() == before


# ------------------------------------------------------------- contract 6: clear errors at every door
def test_keyword_arguments_are_passed_through():
    f = lambda x, scale=1.0, shift=0.0: np.sum(x * scale + shift) * scale
    assert np.allclose(revad.grad(f)(X, scale=2.0), 4.0)
    assert np.allclose(revad.value_and_grad(f)(X, scale=2.0, shift=1.0)[0], f(X, 2.0, 1.0))
    assert np.allclose(revad.jacrev(lambda x, s=1.0: x * s)(X, s=3.0), 3 * np.eye(4))
    assert np.allclose(dualad.jacfwd(lambda x, s=1.0: x * s)(X, s=3.0), 3 * np.eye(4))
    assert float(dualad.derivative(lambda x, s=1.0: x ** 2 * s)(2.0, s=3.0)) == 12.0
    assert np.allclose(revad.hessian(lambda x, s=1.0: np.sum(x ** 3) * s)(X, s=2.0),
                       np.diag(12 * X))


@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev])
@pytest.mark.parametrize("chunk,err", [("a", TypeError), (2.7, TypeError), (True, TypeError),
                                       (0, ValueError), (-3, ValueError)])
def test_bad_chunk_is_named(jac, chunk, err):
    with pytest.raises(err, match="chunk must be a positive integer"):
        jac(np.sin, chunk=chunk)(X)


@pytest.mark.parametrize("transform", [dualad.jacfwd, revad.jacrev, revad.grad,
                                       revad.value_and_grad])
@pytest.mark.parametrize("argnums,err,match", [("a", TypeError, "must be an int"),
                                               (1.0, TypeError, "must be an int"),
                                               ((0, 0), ValueError, "twice"),
                                               (3, ValueError, "out of range"),
                                               ((), ValueError, "empty")])
def test_bad_argnums_is_named(transform, argnums, err, match):
    with pytest.raises(err, match=match):
        transform(lambda x, y: np.sum(x * y), argnums=argnums)(X, X)


@pytest.mark.parametrize("mode", JACOBIANS)
def test_ndarray_methods_behave_as_numpy(mode):
    def f(x):
        y = x * 1.0
        y.sort()
        flag = 1.0 if x.any() and x.all() else 0.0
        return y * flag + round(x[0] * 10.0) * x.real + x.conj()
    agree_with_numpy(f, X)


@pytest.mark.parametrize("mode", JACOBIANS)
@pytest.mark.parametrize("expr", ["x.view()", "x.resize(2)", "x.tofile('a')", "x.byteswap()"])
def test_unsupported_ndarray_attributes_name_the_construct_and_mode(mode, expr):
    # the compiled tier traces with the recorder's mode-neutral value, adops.program.Recorded
    with pytest.raises(AttributeError, match=r"ndarray\.\w+ on a traced ((Dual|Var) \(.*mode|"
                                             r"Recorded \(a recorded program)"):
        JACOBIANS[mode](lambda x: eval(expr, {"x": x}))(X)


def test_defop_cannot_take_over_a_routed_numpy_function():
    with pytest.raises(ValueError, match="already routes to the op 'sin'"):
        adops.defop("my_sin_again", lambda x: np.sin(x), [lambda x, out: np.cos(x)],
                    numpy=[np.sin])
    assert "my_sin_again" not in adops.OPS
    assert adops.supported_functions()["op"]["numpy.sin"] == "sin"


def test_reverse_mode_accepts_tuple_and_list_outputs_like_forward():
    f = lambda x: (x * 2.0, [np.sum(x), x[:2] ** 2])
    jf, jr = dualad.jacfwd(f)(X), revad.jacrev(f)(X)
    assert type(jr) is tuple and type(jr[1]) is list
    for a, b in zip((jf[0], *jf[1]), (jr[0], *jr[1])):
        np.testing.assert_allclose(a, b)
    value, vjp_fn = revad.vjp(f, X)
    (g,) = vjp_fn((np.ones(4), [1.0, np.ones(2)]))
    np.testing.assert_allclose(g, 2.0 + 1.0 + np.r_[2 * X[:2], 0, 0])
    with pytest.raises(TypeError, match="scalar"):
        revad.grad(lambda x: (np.sum(x), np.sum(x)))(X)


def test_grad_and_derivative_return_the_same_kind_for_a_scalar():
    g = revad.grad(lambda x: x ** 3)(2.0)
    d = dualad.derivative(lambda x: x ** 3)(2.0)
    assert type(g) is type(d) is np.ndarray and g.shape == d.shape == ()
    assert g == d == 12.0


def test_check_grads_on_mutating_program():
    assert check_grads(inplace_through_view, X).ok


@pytest.mark.parametrize("mode", JACOBIANS)
def test_a_complex_constant_is_refused_at_the_op(mode):
    with pytest.raises(TypeError, match="multiply .* complex128: traced values are real"):
        JACOBIANS[mode](lambda x: np.abs(x * (1 + 2j)))(X)


@pytest.mark.parametrize("mode", JACOBIANS)
def test_fill_is_numpys_even_over_inf(mode):
    def f(x):
        y = x / np.array([1.0, 0.0, 1.0, 1.0])  # y[1] = inf
        y.fill(2.0)
        return y * x
    x = np.array([1.0, 2.0, 3.0, 4.0])
    with np.errstate(divide="ignore"):
        assert f(x.copy()).tolist() == [2.0, 4.0, 6.0, 8.0]
    np.testing.assert_array_equal(JACOBIANS[mode](f)(x), 2.0 * np.eye(4))
