"""A fused loop that reads runs of one array (``x[1:]``, ``x[:-1]``, a block of rows) adds their
cotangents into that array's cotangent rows at the runs' offsets, from its reverse loop: the
runs' own cotangents are never made, nor added into a zero array of the source's size (the
Rosenbrock sweep made two arrays of n, zero-filled a third and added both into it).

Checked on a class of stencils (runs at several offsets, of a leaf and of an intermediate, of
rows of a matrix, one seed and many, both dtypes, sizes across a block of the loops), against
the eager tier, central differences and the dot-product identity; and the cases that must keep
the run's own cotangent (a run read by another op too, an output).
"""
import numpy as np
import pytest

import dualad
import revad
from adops.compile import compiled, whole_after
from adops.compile.loops import BLOCK


@pytest.fixture(autouse=True)
def _whole_at_the_first_call():
    with whole_after(1):
        yield


def _rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _three_offsets(x):
    """Runs of x at three offsets in one loop, and runs of an intermediate in a second."""
    y = np.sin(x)
    return np.sum((x[2:] - 2.0 * x[1:-1] + x[:-2]) ** 2) + np.sum(y[1:] * np.exp(y[:-1]))


def _vector_stencil(x):
    """A vector output (jacrev takes many seeds)."""
    return np.tanh(x[1:] * x[:-1]) + x[1:] ** 2


def _rows(X):
    """Runs of whole rows of a matrix (contiguous blocks of its entries)."""
    return np.sum(np.cos(X[1:] - X[:-1]) * X[1:])


def _bars(f, x):
    """The reverse sweep's source of the compiled program of ``f`` at ``x``."""
    (program,) = [p for key, ps in compiled(f).programs.items() for p in ps
                  if (x.shape, x.dtype.str) in key[2]]
    assert program.whole is not None, program.why_python
    return program.listing.split("def bwd(")[1].split("\n@njit")[0], program


def _central(f, x, h=1e-6):
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = h
        cols.append(((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)).reshape(-1))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


CASES = [(_rosenbrock, (7,)), (_rosenbrock, (BLOCK + 5,)), (_three_offsets, (9,)),
         (_three_offsets, (2 * BLOCK + 1,)), (_vector_stencil, (6,)), (_rows, (5, 3))]


@pytest.mark.parametrize("f,shape", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_runs_cotangents_go_into_the_source_three_ways(f, shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.uniform(-1, 1, shape)
    jac = revad.jacrev(f, compiled=True)
    got = jac(x)
    np.testing.assert_allclose(got, dualad.jacfwd(f)(x), rtol=1e-12, atol=1e-12)
    if x.size <= 30:
        np.testing.assert_allclose(got, _central(f, x), rtol=1e-6, atol=1e-6)
    # the dot-product identity on the compiled maps
    u = rng.normal(size=np.shape(f(x)))
    v = rng.normal(size=shape)
    jv = dualad.jvp(f, (x,), (v,), compiled=True)[1]
    (uj,) = revad.vjp(f, x, compiled=True)[1](u)
    assert np.isclose(np.sum(u * jv), np.sum(uj * v), rtol=1e-12, atol=1e-12)
    sweep, program = _bars(f, x)
    # no run's cotangent is made and added into a zero array of the source's size
    assert "slice_add" not in sweep, sweep
    assert "+= Z[" in "".join(program.whole.kernels.values())


def test_float32_stays_float32():
    x = np.random.default_rng(3).uniform(-1, 1, BLOCK + 7).astype(np.float32)
    g = revad.grad(_rosenbrock, compiled=True)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, revad.grad(_rosenbrock)(x.astype(np.float64)), rtol=2e-4,
                               atol=2e-3)


def test_the_gradient_is_fresh_and_the_same_at_the_second_call():
    x = np.random.default_rng(4).uniform(-1, 1, 40)
    g = revad.grad(_three_offsets, compiled=True)
    first = g(x)
    second = g(x)
    assert first is not second and first.flags.writeable and first.flags.owndata
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, revad.grad(_three_offsets)(x), rtol=1e-12, atol=1e-12)


def _run_read_by_an_op_too(x):
    a = x[1:]
    return np.sum(np.sin(a) * x[:-1]) + np.sum(a @ a)


def _run_of_an_output(x):
    y = np.exp(x)
    return y, np.sum(y[1:] * y[:-1])


def test_runs_that_keep_their_own_cotangent_are_still_right():
    """A run that another op reads too keeps its cotangent (it is summed with the op's); a
    run of an output starts from the output's seed, which the sweep copies before adding
    into it (the seed is the caller's array)."""
    x = np.random.default_rng(5).uniform(-1, 1, 8)
    np.testing.assert_allclose(revad.grad(_run_read_by_an_op_too, compiled=True)(x),
                               revad.grad(_run_read_by_an_op_too)(x), rtol=1e-12, atol=1e-12)
    got = revad.jacrev(_run_of_an_output, compiled=True)(x)
    want = dualad.jacfwd(_run_of_an_output)(x)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    seeds = (np.ones(8), np.array(2.0))
    kept = tuple(np.copy(s) for s in seeds)
    _, pullback = revad.vjp(_run_of_an_output, x, compiled=True)
    (bar,) = pullback(seeds)
    for s, k in zip(seeds, kept):
        np.testing.assert_array_equal(s, k)  # the caller's seeds are not written
    want_bar = dualad.jvp(lambda x: np.sum(seeds[0] * np.exp(x)) + 2.0 * _run_of_an_output(x)[1],
                          (x,), (np.eye(8),), batched=True)[1]
    np.testing.assert_allclose(bar, want_bar, rtol=1e-12, atol=1e-12)


def test_second_order_through_runs_matches_the_hessian():
    x = np.random.default_rng(6).uniform(-1, 1, 9)
    want = revad.hessian(_three_offsets)(x)
    g = revad.grad(_three_offsets)
    for outer in (dualad.jacfwd, revad.jacrev):
        np.testing.assert_allclose(outer(g, compiled=True)(x), want, rtol=1e-11, atol=1e-11)
    v = np.random.default_rng(7).normal(size=9)
    np.testing.assert_allclose(revad.hvp(_three_offsets, (x,), (v,), compiled=True), want @ v,
                               rtol=1e-11, atol=1e-11)
