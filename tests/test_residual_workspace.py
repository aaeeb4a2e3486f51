"""A forward pass's residuals (what the sweep reads) in kept workspaces when the sweeps follow at
once: the fast path's gradient and reverse Jacobian. A pullback the user keeps gets fresh
residuals, so later calls cannot write into what it will read; results never alias a
workspace; threads each take their own. (GMM d = 64: its 51 MB contraction kept for the sweep
was a fresh block, 12 500 page faults, per gradient.)
"""
import concurrent.futures as cf

import numpy as np
import pytest

import revad
from adops.compile import compiled, whole_after

N = 100  # a (100, 100) product: 80 kB, over the size handed fresh arrays instead


def _kept(x):
    W = x.reshape(N, N)
    return np.sum(np.tanh(W @ W) * W)


def _kept_rows(x):
    W = x.reshape(N, N)
    return (np.tanh(W @ W) * W)[:3].ravel()


@pytest.fixture(autouse=True)
def _whole_at_the_first_call():
    with whole_after(1):
        yield


def _points(k):
    rng = np.random.default_rng(k)
    return [rng.normal(size=N * N) / N for _ in range(3)]


def test_a_kept_pullback_reads_its_own_residuals_while_gradients_reuse_theirs():
    x1, x2, x3 = _points(0)
    eager = revad.grad(_kept)
    _, pull = revad.vjp(_kept, x1, compiled=True)   # kept for later: fresh residuals
    g = revad.grad(_kept, compiled=True)
    got = [g(x) for x in (x2, x3, x2, x3)]          # the fast path, residuals kept
    (u,) = pull(np.float64(1.0))
    np.testing.assert_allclose(u, eager(x1), rtol=1e-12, atol=1e-14)
    for x, a in zip((x2, x3, x2, x3), got):          # none overwritten by a later call
        np.testing.assert_allclose(a, eager(x), rtol=1e-12, atol=1e-14)
    assert not any(np.shares_memory(a, b) for i, a in enumerate(got) for b in got[i + 1:])
    (program,) = [p for ps in compiled(_kept).programs.values() for p in ps]
    fwd = program.whole.source.split("def fwd(")[1].split("\n@njit")[0]
    assert "scratch(R8" in fwd, fwd                  # the product's value is a residual slot
    assert program.whole.residuals.pool              # and its workspace is kept


def test_a_reverse_jacobian_of_several_sweeps_reads_kept_residuals():
    x, _, _ = _points(1)
    want = revad.jacrev(_kept_rows)(x)
    jac = revad.jacrev(_kept_rows, compiled=True, chunk=100)
    for _ in range(3):
        np.testing.assert_allclose(jac(x), want, rtol=1e-12, atol=1e-14)


def test_threads_take_their_own_residual_workspaces():
    xs = _points(2) * 4
    g = revad.grad(_kept, compiled=True)
    g(xs[0])
    with cf.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(g, xs))
    eager = revad.grad(_kept)
    for x, a in zip(xs, got):
        np.testing.assert_allclose(a, eager(x), rtol=1e-12, atol=1e-14)
