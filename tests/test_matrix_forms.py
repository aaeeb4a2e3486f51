"""Linear algebra inside whole-program code (adops.compile.matrixforms): ``solve``, ``inv``,
``det``, ``slogdet`` (and its sign, a guard), ``cholesky``, the factorizations ``eigh``, ``svd``,
``qr`` and ``eigvalsh``, ``svdvals``, ``pinv`` run as numba's ``np.linalg`` (or
adops.compile.lapack) on each matrix of the batch, their derivatives as the ops' own rules traced into numba functions. Every
result is checked against the eager tier (which the op specs check against finite
differences), the dot-product identity holds on the compiled maps, and the program must have run
as one numba function per derivative.

numba compiles each of these programs for 5-20 s on a cold cache (its ``np.linalg`` code is
large), so the programs are few and small, and each serves several tests."""
import numpy as np
import pytest

import adops
import dualad
import revad
from adops.compile import compiled, whole_after


def solve_batched(x):
    """A stack of two matrices against one right side (numpy broadcasts b over a's batch)."""
    A = x[:18].reshape(2, 3, 3) + 3 * np.eye(3)
    return np.linalg.solve(A, x[18:24].reshape(3, 2)).ravel()


def det_cholesky(x):
    """det of a stack (a number per matrix; its derivative reads a residual, the cofactors) and
    an upper Cholesky factor (numpy reads the upper triangle: the lower one of a^T)."""
    M = x[:9].reshape(3, 3)
    return np.concatenate([np.linalg.det(x[:18].reshape(2, 3, 3) + 2 * np.eye(3)) * x[18:20],
                           np.linalg.cholesky(M @ M.T + 3 * np.eye(3), upper=True).ravel()])


def inv_2x2(x):
    return np.linalg.inv(x[:4].reshape(2, 2)).ravel()


def solve_mixed(x):
    """A float32 matrix, a float64 right side: numpy solves in float64."""
    A32 = (x[:4].reshape(2, 2) + 3 * np.eye(2)).astype(np.float32)
    return np.linalg.solve(A32, x[4:6])


def eigh_svd_pinv(x):
    """Every factor of eigh and svd (a batch of two) and pinv, raw: the compiled values must be
    numpy's bits, the eigenvector and singular vector signs too."""
    M = x[:9].reshape(3, 3)
    w, v = np.linalg.eigh(M + M.T)
    u, s, vh = np.linalg.svd(x[:24].reshape(2, 4, 3), full_matrices=False)
    return np.concatenate([w, v.ravel(), u.ravel(), s.ravel(), vh.ravel(),
                           np.linalg.pinv(x[:12].reshape(3, 4)).ravel()])


def qr_and_values(x):
    """qr's factors (a batch of two) and the values-only calls eigvalsh and svdvals."""
    M = x[:9].reshape(3, 3)
    q, r = np.linalg.qr(x[:24].reshape(2, 4, 3))
    return np.concatenate([q.ravel(), r.ravel(), np.linalg.eigvalsh(M + M.T),
                           np.linalg.svd(M, compute_uv=False)])


def _ran_whole(f):
    progs = [p for ps in compiled(f).programs.values() for p in ps]
    assert progs and all(p.why_python is None for p in progs), [p.why_python for p in progs]
    return progs


def test_linear_algebra_runs_inside_numba_in_both_modes_as_the_eager_tier():
    f = solve_batched
    x = np.random.default_rng(0).normal(size=24) * 0.3
    want = revad.jacrev(f)(x)
    with whole_after(1):
        for jac in (dualad.jacfwd, revad.jacrev):
            np.testing.assert_allclose(jac(f, compiled=True)(x), want, rtol=1e-10, atol=1e-12)
        out, pull = revad.vjp(f, x, compiled=True)
        u = np.random.default_rng(1).normal(size=out.shape)
        v = np.random.default_rng(2).normal(size=x.shape)
        _, jv = dualad.jvp(f, (x,), (v,), compiled=True)
        # the dot-product identity on the compiled maps: <u, J v> = <J^T u, v>
        np.testing.assert_allclose(np.dot(u, jv), np.dot(pull(u)[0], v), rtol=1e-10)
        np.testing.assert_allclose(out, f(x), rtol=1e-12)
    (program,) = _ran_whole(f)
    assert "np.linalg.solve" in program.source


def test_det_and_cholesky_in_reverse_mode():
    """(Forward mode runs the same traced rules, one direction at a time; numba compiles each
    program for seconds, so this one is compiled for the sweep only.)"""
    x = np.random.default_rng(0).normal(size=24) * 0.3
    with whole_after(1):
        np.testing.assert_allclose(revad.jacrev(det_cholesky, compiled=True)(x),
                                   dualad.jacfwd(det_cholesky)(x), rtol=1e-10, atol=1e-12)
    (program,) = _ran_whole(det_cholesky)
    assert "np.linalg.det" in program.source and "np.linalg.cholesky" in program.source


def test_float32_stays_float32_and_mixed_dtypes_promote_as_numpy():
    x = np.linspace(0.1, 0.6, 6)
    x32 = np.array([2.0, 0.3, 0.1, 1.0], dtype=np.float32)
    assert solve_mixed(x).dtype == np.float64
    with whole_after(1):
        got = revad.jacrev(inv_2x2, compiled=True)(x32)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, revad.jacrev(inv_2x2)(x32), rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(dualad.jacfwd(solve_mixed, compiled=True)(x),
                                   revad.jacrev(solve_mixed)(x), rtol=1e-6)
    _ran_whole(inv_2x2)
    _ran_whole(solve_mixed)


def test_a_changed_slogdet_sign_traces_again():
    """The sign is a guard of the program, re-evaluated inside numba: a matrix whose
    determinant changes sign gives the derivative of the new program, not the stale one."""
    def f(x):
        sign, logdet = np.linalg.slogdet(x.reshape(2, 2))
        return sign * np.exp(logdet) * x[0]
    g = revad.grad(f, compiled=True)
    pos, neg = np.array([2.0, 0.3, 0.1, 1.0]), np.array([0.1, 2.0, 1.0, 0.3])
    assert np.linalg.det(pos.reshape(2, 2)) > 0 > np.linalg.det(neg.reshape(2, 2))
    with whole_after(1):
        for x in (pos, neg, pos, neg):
            np.testing.assert_allclose(g(x), revad.grad(f)(x), rtol=1e-12)
    progs = _ran_whole(f)
    assert len(progs) == 2 and "np.linalg.slogdet" in progs[0].source
    # forward mode on the same program (a jvp entry of its own)
    v = np.random.default_rng(3).normal(size=4)
    with whole_after(1):
        np.testing.assert_allclose(dualad.jvp(f, (neg,), (v,), compiled=True)[1],
                                   dualad.jvp(f, (neg,), (v,))[1], rtol=1e-12)


@pytest.mark.parametrize("where", ["input", "seed"])
def test_a_matrix_with_inf_or_nan_gets_numpys_numbers_as_the_eager_tier(where):
    """numba's LAPACK wrappers refuse a matrix holding inf or nan, where numpy returns what
    LAPACK leaves: that call runs through numpy (the program stays whole for the next)."""
    x = np.random.default_rng(0).normal(size=24) * 0.3
    u = np.random.default_rng(1).normal(size=12)
    bad, ubad = x.copy(), u.copy()
    if where == "input":
        bad[4] = np.nan
    else:
        ubad[3] = np.inf  # a cotangent: the sweep's solve meets it
    with whole_after(1):
        for _ in range(2):  # the general path, then the fast path
            np.testing.assert_array_equal(revad.jacrev(solve_batched, compiled=True)(bad),
                                          revad.jacrev(solve_batched)(bad))
            np.testing.assert_array_equal(dualad.jacfwd(solve_batched, compiled=True)(bad),
                                          dualad.jacfwd(solve_batched)(bad))
            out, pull = revad.vjp(solve_batched, bad, compiled=True)
            np.testing.assert_array_equal(pull(ubad)[0],
                                          revad.vjp(solve_batched, bad)[1](ubad)[0])
        np.testing.assert_allclose(revad.jacrev(solve_batched, compiled=True)(x),
                                   revad.jacrev(solve_batched)(x), rtol=1e-10)
    _ran_whole(solve_batched)


def test_a_singular_matrix_raises_linalg_error_in_both_tiers():
    x = np.array([1.0, 2.0, 2.0, 4.0], dtype=np.float32)
    with pytest.raises(np.linalg.LinAlgError):
        revad.jacrev(inv_2x2)(x)
    with whole_after(1), pytest.raises(np.linalg.LinAlgError):
        revad.jacrev(inv_2x2, compiled=True)(x)


def test_second_order_through_linear_algebra_compiled():
    """hvp traces grad(f) (the ops' vjp rules: an inverse, transposes) into one compiled
    program, which holds the inverse as a matrix form too."""
    def f(x):
        return np.linalg.slogdet(x.reshape(2, 2))[1] * x[0]
    x = np.array([2.0, 0.3, 0.1, 1.0])
    v = np.random.default_rng(4).normal(size=4)
    want = revad.hvp(f, (x,), (v,))
    with whole_after(1):
        np.testing.assert_allclose(revad.hvp(f, (x,), (v,), compiled=True), want, rtol=1e-9)
        np.testing.assert_allclose(revad.hessian(f, compiled=True)(x) @ v, want, rtol=1e-9)


@pytest.mark.parametrize("f, mode", [(eigh_svd_pinv, "reverse"), (qr_and_values, "forward")])
def test_factorizations_run_inside_numba_with_numpys_factors(f, mode):
    """Each factorization in one mode (numba compiles each for about 10 s per mode on a cold
    cache); the other mode runs the same traced rules. Checked against the other mode of the
    eager tier, whose op specs are checked against finite differences."""
    x = np.random.default_rng(5).normal(size=24)
    other, jac = (dualad.jacfwd, revad.jacrev) if mode == "reverse" else \
        (revad.jacrev, dualad.jacfwd)
    want = other(f)(x)
    assert np.isfinite(want).all()  # distinct eigenvalues and singular values: a derivative
    with whole_after(1):
        np.testing.assert_allclose(jac(f, compiled=True)(x), want, rtol=1e-9, atol=1e-11)
        if mode == "reverse":
            out, pull = revad.vjp(f, x, compiled=True)
            u = np.random.default_rng(1).normal(size=out.shape)
            np.testing.assert_allclose(pull(u)[0], u @ want, rtol=1e-9, atol=1e-11)
        else:
            v = np.random.default_rng(2).normal(size=x.shape)
            out, jv = dualad.jvp(f, (x,), (v,), compiled=True)
            np.testing.assert_allclose(jv, want @ v, rtol=1e-9, atol=1e-11)
        np.testing.assert_array_equal(out, f(x))  # numpy's bits and signs
    (program,) = _ran_whole(f)
    calls = {eigh_svd_pinv: ("eigh_packed(", "svd_packed(", "pinv("),
             qr_and_values: ("qr_packed(", "eigvalsh(", "svdvals(")}[f]
    for call in calls:
        assert call in program.source.split("def primal(")[1].split("\n@njit")[0], call


def test_an_upper_triangle_eigh_keeps_numpy_for_numpys_eigenvectors():
    """numba's eigh reads the lower triangle; LAPACK on the upper one gives other eigenvector
    bits (signs, even), so UPLO='U' keeps numpy's call (the Python driver) and its numbers."""
    def f(x):
        return np.linalg.eigh(x.reshape(3, 3), UPLO="U")[1].ravel() * 2.0
    x = np.random.default_rng(6).normal(size=9)
    with whole_after(1):
        np.testing.assert_array_equal(revad.jacrev(f, compiled=True)(x), revad.jacrev(f)(x))
    (program,) = [p for ps in compiled(f).programs.values() for p in ps]
    assert "lower triangle" in program.why_python


def test_every_matrix_op_declares_a_call_numba_compiles():
    """The ops declaring a MatrixCall are the documented ones; the rest keep the driver."""
    declared = {name for name, op in adops.OPS.items() if getattr(op, "matrix", None)}
    assert declared == {"solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh",
                        "svd", "svdvals", "qr", "pinv"}
