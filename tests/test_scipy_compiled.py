"""scipy.special inside the compiled tier (issue 19): numba calls the C functions behind scipy's
ufuncs (adops.core.scipy_kernels), so a program of scipy.special ops, or of scipy.stats
log-densities built on them, is one compiled program per derivative, with scipy's values.

Each new program is a numba compile of seconds: the programs here are few and hold many ops.
"""
import numpy as np
import pytest
import scipy.special as sc
from numba import njit

import dualad
import revad
from adops.compile import compiled, whole_after
from adops.core import scipy_kernels
from adops.ops.registry import ElementwiseOp, Marker, ONE
from adops.compile.codegen import fusable
from adops.scipy import special as S_special
from adops.scipy import stats


@pytest.fixture(autouse=True)
def _whole_at_the_first_call():
    with whole_after(1):
        yield


# one scalar call per function, float64 and float32, in one numba function (one compile each)
_ARGS = {"x": "x", "xy": "x, y", "xyz": "x, y, z"}
_NARGS = {name: getattr(sc, name).nin for name in scipy_kernels.NAMES}
_SRC = "def calls(x, y, z, out):\n" + "".join(
    f"    out[{i}] = sc.{name}({', '.join('xyz'[:n])})\n"
    for i, (name, n) in enumerate(_NARGS.items()))


def _calls():
    ns = {"sc": sc}
    exec(_SRC, ns)  # noqa: S102  (a test's own generated source)
    return njit(ns["calls"])


#: scipy's own float32 loops of these compute in float: the double function rounded may differ
#: by one unit in the last place (documented in adops.ops.special)
ONE_ULP_IN_FLOAT32 = {"xlogy", "xlog1py"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numba_calls_the_c_functions_behind_scipys_ufuncs(dtype):
    calls = _calls()
    rng = np.random.default_rng(0)
    # points where every function is defined: x, y in (0, 1), z in (0, 1)
    for x, y, z in rng.uniform(0.05, 0.95, size=(20, 3)).astype(dtype):
        out = np.zeros(len(_NARGS), dtype=dtype)
        calls(x, y, z, out)
        for i, name in enumerate(_NARGS):
            want = getattr(sc, name)(*(x, y, z)[:_NARGS[name]])
            assert np.asarray(want).dtype == dtype, name
            if dtype == np.float32 and name in ONE_ULP_IN_FLOAT32:
                assert abs(out[i] - want) <= np.spacing(abs(want)), name
            else:
                assert out[i] == want, (name, x, y, z, out[i], want)


def _special_stack(x):
    """Every scipy.special op that has a fused loop, each in its domain for x in (0.1, 0.9)."""
    return np.stack([
        sc.erf(x), sc.erfc(x), sc.erfinv(x), sc.erfcinv(x), sc.erfcx(x), sc.expit(x),
        sc.log_expit(x), sc.logit(x), sc.ndtr(x), sc.log_ndtr(x), sc.ndtri(x), sc.gammaln(x),
        sc.gamma(x), sc.entr(x), sc.xlogy(x, x + 1.0), sc.xlog1py(x, x), sc.betaln(x, 2.0 * x),
        # differentiable in x only: their parameters are constants here
        sc.gammainc(2.0, x), sc.gammaincc(1.5, x), sc.betainc(2.0, 3.0, x), sc.stdtr(3.0, x),
    ])


def _ran_whole(f):
    progs = [p for ps in compiled(f).programs.values() for p in ps]
    assert progs, "no compiled program was built"
    assert all(p.whole is not None for p in progs), [p.why_python for p in progs]


def test_special_ops_compile_whole_in_both_modes_with_the_eager_derivatives():
    x = np.linspace(0.1, 0.9, 5)
    want = revad.jacrev(_special_stack)(x)
    for _ in range(2):  # the second call takes the fast path
        got_r = revad.jacrev(_special_stack, compiled=True)(x)
        got_f = dualad.jacfwd(_special_stack, compiled=True)(x)
        for got in (got_r, got_f):
            assert got.shape == (21, 5, 5) and got.dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # values: scipy's bits (the same C functions)
    value = dualad.jvp(_special_stack, (x,), (np.ones_like(x),), compiled=True)[0]
    np.testing.assert_array_equal(value, _special_stack(x))
    _ran_whole(_special_stack)
    # against central differences (the diagonal: each output entry reads its own x entry)
    h = 1e-6
    fd = (_special_stack(x + h) - _special_stack(x - h)) / (2 * h)
    np.testing.assert_allclose(np.einsum("oii->oi", got_r), fd, rtol=1e-6, atol=1e-8)
    # the dot-product identity <u, J v> = <J^T u, v>
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(21, 5)), rng.normal(size=5)
    jv = dualad.jvp(_special_stack, (x,), (v,), compiled=True)[1]
    _, pullback = revad.vjp(_special_stack, x, compiled=True)
    (jtu,) = pullback(u)
    assert np.vdot(u, jv) == pytest.approx(np.vdot(jtu, v), rel=1e-12)


def _special32(x):
    return sc.ndtr(x) * sc.gammaln(x + 1.0) + sc.expit(x) + sc.erf(x) * sc.xlogy(x, x + 2.0)


def test_float32_programs_stay_float32():
    x = np.linspace(0.1, 0.9, 6, dtype=np.float32)
    want = revad.jacrev(_special32)(x)
    for transform in (revad.jacrev, dualad.jacfwd):
        got = transform(_special32, compiled=True)(x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    value = dualad.jvp(_special32, (x,), (np.ones_like(x),), compiled=True)[0]
    assert value.dtype == np.float32
    np.testing.assert_allclose(value, _special32(x), rtol=2e-7)
    _ran_whole(_special32)


def _log_density(theta):
    """A model's log-density over scipy.stats (gamma, t and beta log-pdfs, normal, gamma and t
    log-cdfs)."""
    mu, log_s = theta[0], theta[1]
    data = np.array([0.3, 1.2, 2.5, 0.8])
    z = (data - mu) / np.exp(log_s)
    return (np.sum(stats.gamma.logpdf(data, 2.0 + mu * mu)) + np.sum(stats.t.logpdf(z, 3.0))
            + np.sum(stats.norm.logcdf(z)) + stats.beta.logpdf(0.4, 1.5 + mu * mu, 2.0)
            + np.sum(stats.gamma.logcdf(data * np.exp(log_s), 2.0)) + stats.t.logsf(mu, 4.0))


def test_a_scipy_stats_log_density_compiles_whole():
    theta = np.array([0.4, -0.2])
    want = revad.grad(_log_density)(theta)
    for _ in range(2):
        np.testing.assert_allclose(revad.grad(_log_density, compiled=True)(theta), want,
                                   rtol=1e-12)
        np.testing.assert_allclose(dualad.jacfwd(_log_density, compiled=True)(theta), want,
                                   rtol=1e-12)
    _ran_whole(_log_density)
    h = 1e-6
    fd = [(_log_density(theta + h * e) - _log_density(theta - h * e)) / (2 * h)
          for e in np.eye(2)]
    np.testing.assert_allclose(want, fd, rtol=1e-6)


def test_parameters_that_refuse_a_derivative_still_refuse_when_compiled():
    with pytest.raises(TypeError, match="gammainc is differentiable in x, not in a"):
        revad.grad(lambda a: np.sum(sc.gammainc(a, 1.0)), compiled=True)(np.array([2.0, 3.0]))
    with pytest.raises(TypeError, match="stdtr is differentiable in t, not in df"):
        dualad.jacfwd(lambda df: sc.stdtr(df, 0.5), compiled=True)(np.array([2.0, 3.0]))
    g = revad.grad(lambda x: np.sum(sc.gammainc(2.0, x)), compiled=True)(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, np.array([1.0, 2.0]) * np.exp(-np.array([1.0, 2.0])))


def test_a_fused_loop_takes_no_marker_it_cannot_apply():
    # a marker a loop cannot express would be applied as "-1": silently wrong, so no fused loop;
    # a refusal is fine (the loop raises its error where a tangent would reach it)
    class Body:
        py_func = staticmethod(lambda a, x: a * x)
    half = Marker("HALF", lambda t: 0.5 * t, "0.5")
    refuse = S_special.not_differentiable("demo", "a", "x")
    f64 = np.dtype(np.float64)
    assert fusable(ElementwiseOp("demo_ok", Body(), [ONE, ONE]), f64)
    assert fusable(ElementwiseOp("demo_refuse", Body(), [refuse, ONE]), f64)
    assert not fusable(ElementwiseOp("demo_half", Body(), [half, ONE]), f64)
