"""A fused loop of a whole program reads an input numpy broadcasts along one run of axes at its
own entries, in a nest of loops (adops.compile.nested), rather than from a spread of the loop's
size: ``(K, d, 1)`` in a ``(K, d, N)`` loop (a repeat), ``(K, 1, N)`` or a bias (a tile). Every
path of the loops is checked, in both modes, against the eager tier, central differences and
the dot-product identity; the nest (one seed, one direction) gives the bits of the flat paths
over spreads (many); the nest is checked to be there, so the checks test it.
"""
import re

import numpy as np
import pytest

import dualad
import revad
from adops.compile import compiled, whole_after


@pytest.fixture(autouse=True)
def _whole_at_the_first_call():
    with whole_after(1):
        yield


def _repeat(X):
    rows = np.sum(X, axis=2, keepdims=True)            # (a, b, 1): each entry repeated c times
    return (X - rows) ** 2 * X + rows * 0.5


def _tile(X):
    middle = np.sum(X * X, axis=1, keepdims=True)      # (a, 1, c): runs of c repeated b times
    return X * middle - middle * middle * X


def _bias(X):
    b = np.sum(X, axis=(0, 1)) * 0.25                  # (c,): one run, repeated a * b times
    return X * b + b * b - X / (1.0 + b * b)


def _mixed(X):
    """Two broadcasts of different runs in one loop: the first nested, the other spread."""
    rows = np.sum(X, axis=2, keepdims=True)
    middle = np.sum(X * X, axis=1, keepdims=True)
    return (X - rows) * middle + rows * middle


def _float32_bias(X):
    """A float32 operand in a float64 loop: its spread and cotangent keep their dtypes."""
    b = np.sum(X, axis=(0, 1)).astype(np.float32) * np.float32(0.25)
    return X * b + b * X * X


FUNCTIONS = [_repeat, _tile, _bias, _mixed, _float32_bias]
SHAPES = [(2, 3, 4), (3, 1, 4), (0, 3, 4), (2, 3, 0)]


def _fresh(f):
    """A new function object per test: its compiled programs are its own."""
    return lambda X: f(X)


def _nested_kernels(f):
    """The kernel modules of ``f``'s whole programs that run a nest."""
    progs = [p for ps in compiled(f).programs.values() for p in ps]
    assert progs and all(p.whole is not None for p in progs), [p.why_python for p in progs]
    return [t for p in progs for t in p.kernels.values() if "for jo in range(" in t]


#: each function on the non-empty shapes; the empty ones (nb = 0, n = 0) once per nest kind
CASES = [(f, s) for f in FUNCTIONS for s in SHAPES
         if np.prod(s) or f in (_repeat, _tile)]


@pytest.mark.parametrize("f, shape", CASES,
                         ids=[f"{f.__name__}-{'x'.join(map(str, s))}" for f, s in CASES])
def test_jacobians_in_both_modes_and_the_nest_gives_the_flat_paths_bits(f, shape):
    X = np.cos(np.arange(float(np.prod(shape)))).reshape(shape) + 0.1
    want = revad.jacrev(f)(X)
    got = {}
    for mode in (revad.jacrev, dualad.jacfwd):
        g = _fresh(f)
        got[mode] = mode(g, compiled=True)(X)      # many seeds or directions: the flat paths
        assert got[mode].shape == want.shape and got[mode].dtype == want.dtype
        # (the compiled sweep rounds a float32 value's cotangent to float32, the eager one not)
        tol = 1e-6 if f is _float32_bias else 1e-12
        np.testing.assert_allclose(got[mode], want, rtol=tol, atol=tol)
        if X.size:
            # (no broadcast left when the summed axis has one entry)
            assert _nested_kernels(g) or shape[1:].count(1), "no nest: this checks nothing"
    if not X.size:
        return
    # one seed and one direction run the nest; many run the flat paths over spreads: the
    # same sums in the same order, so the same bits
    g = _fresh(f)
    _, pullback = revad.vjp(g, X, compiled=True)
    J = got[revad.jacrev].reshape(-1, X.size)
    for row in (0, J.shape[0] // 2, J.shape[0] - 1):
        seed = np.zeros(J.shape[0])
        seed[row] = 1.0
        np.testing.assert_array_equal(pullback(seed.reshape(want.shape[:3]))[0].ravel(), J[row])
    Jf = got[dualad.jacfwd].reshape(-1, X.size)
    for col in (0, X.size // 2, X.size - 1):
        v = np.zeros(X.size)
        v[col] = 1.0
        _, jv = dualad.jvp(g, (X,), (v.reshape(shape),), compiled=True)
        np.testing.assert_array_equal(jv.ravel(), Jf[:, col])


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_one_seed_and_one_direction_paths_against_differences_and_each_other(f):
    rng = np.random.default_rng(3)
    X = rng.uniform(0.5, 1.5, size=(3, 4, 5))
    loss = lambda X: np.sum(np.sin(f(X)))  # noqa: E731
    g = _fresh(loss)
    got = revad.grad(g, compiled=True)(X)           # a loss: the one-seed path
    assert _nested_kernels(g)
    tol = 1e-6 if f is _float32_bias else 1e-12   # (see the test above)
    np.testing.assert_allclose(got, revad.grad(loss)(X), rtol=tol)
    V = rng.normal(size=X.shape)
    h, fd_tol = (1e-2, 1e-3) if f is _float32_bias else (1e-6, 1e-6)  # float32 steps
    fd = (loss(X + h * V) - loss(X - h * V)) / (2 * h)
    np.testing.assert_allclose(np.sum(got * V), fd, rtol=fd_tol)
    # <u, J v> = <J^T u, v> with the one-direction jvp and a pullback of one seed
    j = _fresh(f)
    out, jv = dualad.jvp(j, (X,), (V,), compiled=True)
    assert _nested_kernels(j)
    np.testing.assert_allclose(jv, dualad.jvp(f, (X,), (V,))[1], rtol=tol, atol=tol)
    U = rng.normal(size=out.shape)
    _, pullback = revad.vjp(j, X, compiled=True)
    (vu,) = pullback(U)
    np.testing.assert_allclose(np.sum(U * jv), np.sum(vu * V), rtol=max(tol, 1e-12))


def test_float32_stays_float32_and_close_to_float64():
    X = np.linspace(0.5, 1.5, 60).reshape(3, 4, 5)
    loss = lambda X: np.sum(_mixed(X) * _tile(X))  # noqa: E731
    g32 = revad.grad(loss, compiled=True)(X.astype(np.float32))
    assert g32.dtype == np.float32 and _nested_kernels(loss)
    np.testing.assert_allclose(g32, revad.grad(loss)(X.astype(np.float32)), rtol=1e-5)
    np.testing.assert_allclose(g32, revad.grad(loss)(X), rtol=2e-5)


def test_second_order_through_a_nested_loop():
    X = np.linspace(0.5, 1.5, 24).reshape(2, 3, 4)
    loss = lambda X: np.sum(_repeat(X) ** 2)  # noqa: E731  (one nest: each is a compile)
    V = np.cos(np.arange(24.0)).reshape(X.shape)
    want = revad.hvp(loss, (X,), (V,))
    got = revad.hvp(loss, (X,), (V,), compiled=True)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12)
    # the gradient traced into one program, whose loops (forward and sweep) are nested
    assert _nested_kernels(compiled(loss).derived[("grad", 0)])


def test_the_spreads_a_nest_replaces_are_not_made():
    """GMM's ``(K, d, N)`` loop: no spread of ``(K, d, 1)`` in the forward pass, none again in
    the sweep, and its cotangent is not summed back from rows of the loop's size (the sweep's
    one spread left is the transpose of the sum that made ``(K, d, 1)``)."""
    loss = lambda X: np.sum((X - np.sum(X, axis=2, keepdims=True)) ** 2)  # noqa: E731
    X = np.linspace(0.0, 1.0, 60).reshape(3, 4, 5)
    revad.grad(loss, compiled=True)(X)
    (p,) = [p for ps in compiled(loss).programs.values() for p in ps]
    assert _nested_kernels(loss)
    fwd = p.source.split("def fwd(")[1].split("\n@njit")[0]
    bwd = p.source.split("def bwd(")[1].split("\n@njit")[0]
    assert "spread_blocks_into(" not in fwd, fwd
    assert bwd.count("spread_blocks_into(") == 1 and "spread_blocks_into(aw" not in bwd, bwd
    assert "sum_blocks(cg" not in bwd, bwd
    # the flat paths spread into the entry's workspace, not into arrays of their own per call
    # (only small block buffers are made in a kernel)
    made = [line for t in _nested_kernels(loss) for line in t.splitlines()
            if "np.empty(" in line and line.split("=")[0].strip() not in ("Y", "D", "S", "Z")]
    assert not made, made
    assert re.search(r"\bax\d+g\d+ = scratch\(W8", p.source), p.source
