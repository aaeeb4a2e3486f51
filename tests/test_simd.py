"""numpy's own SIMD loops inside compiled programs (adops.compile.simd): transcendental ufuncs in
a fused run are evaluated a block at a time by the loop numpy runs for the eager tier, so the
compiled tier's values equal the eager tier's bit for bit, in every mode and both dtypes."""
import numpy as np
import pytest
from numba import njit

import dualad
import revad
from adops.compile import compiled, whole_after
from adops.compile.rows import sum_blocks, sum_rows
from adops.compile.simd import FASTER, loop_name, vapply
from adops.compile.sums import numpy_sum

DOMAIN = {"arccosh": (1.05, 4.0), "arcsin": (-0.95, 0.95), "arccos": (-0.95, 0.95),
          "arctanh": (-0.95, 0.95), "log": (0.05, 4.0), "log2": (0.05, 4.0),
          "log10": (0.05, 4.0), "log1p": (-0.9, 4.0), "tan": (-1.4, 1.4)}

@njit(cache=True)
def _strided_blocks(x, y, block):
    # every other entry of x, a block at a time, into y: strided input, contiguous output
    n = y.size
    for i0 in range(0, n, block):
        i1 = min(i0 + block, n)
        vapply("tanh_float64", x[2 * i0:2 * i1:2], y[i0:i1], i1 - i0)
    return y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_listed_loop_gives_numpys_bits(dtype):
    names = sorted(FASTER[dtype])
    # one numba function calling every loop (a literal name each, as in a generated kernel)
    src = "def run(X, Y):\n" + "".join(
        f"    vapply({loop_name(getattr(np, name), dtype)!r}, X[{j}], Y[{j}], X.shape[1])\n"
        for j, name in enumerate(names)) + "    return Y\n"
    ns = {"vapply": vapply}
    exec(src, ns)
    rng = np.random.default_rng(0)
    X = np.stack([rng.uniform(*DOMAIN.get(name, (-3.0, 3.0)), 1031) for name in names])
    X = X.astype(dtype)
    Y = njit(ns["run"])(X, np.full_like(X, np.nan))
    assert Y.dtype == np.dtype(dtype)
    for j, name in enumerate(names):
        np.testing.assert_array_equal(Y[j], getattr(np, name)(X[j]), err_msg=name)


def test_a_strided_input_is_read_with_its_strides():
    x = np.random.default_rng(1).normal(size=2 * 1000)
    y = _strided_blocks(x, np.empty(1000), 300)
    np.testing.assert_array_equal(y, np.tanh(x[::2]))


def test_loops_where_numba_is_as_fast_are_not_taken():
    assert loop_name(np.tanh, "float64") == "tanh_float64"
    assert loop_name(np.sqrt, "float64") is None         # as fast in numba
    assert loop_name(np.sin, "float64") is None          # numpy's float64 sin is not SIMD
    assert loop_name(np.sin, "float32") == "sin_float32"
    assert loop_name(np.add, "float64") is None          # not unary transcendental
    assert loop_name(np.tanh, "int64") is None


def _net(x):
    h = np.tanh(x * 1.5 - 0.2)
    return np.exp(h) * np.log1p(x * x) + np.arcsinh(h * x)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [3, 512, 1300])  # under a block, one block, blocks and a tail
def test_compiled_programs_with_vector_ops_equal_the_eager_tier_bit_for_bit(dtype, n):
    x = np.random.default_rng(n).uniform(-1.5, 1.5, n).astype(dtype)
    v = np.random.default_rng(n + 1).normal(size=(3, n)).astype(dtype)
    u = np.random.default_rng(n + 2).normal(size=(2, n)).astype(dtype)
    net = lambda x: _net(x)  # noqa: E731  (a function of its own: one program to look at)
    with whole_after(1):
        for tier in (True, False):
            out, tan = dualad.jvp(net, (x,), (v,), batched=True, compiled=tier)
            y, pull = revad.vjp(net, x, compiled=tier)
            (bar,) = pull(u, batched=True)
            if tier:
                got = out, tan, y, bar
            else:
                want = out, tan, y, bar
    for j, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == np.dtype(dtype)
        if dtype == "float64" or j in (0, 2):  # values: numpy's bits; float32 derivatives round
            np.testing.assert_array_equal(a, b)  # their partials at other points than numpy
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got[0], _net(x))
    (program,) = next(iter(compiled(net).programs.values()))
    assert "vapply('tanh_" + dtype in program.listing


def test_a_float32_run_feeding_a_float64_product_is_right():
    x = np.linspace(-1, 1, 700, dtype=np.float32)
    c = np.linspace(0, 1, 700)  # float64: promotes the run
    f = lambda x: np.sum(np.tanh(x * 2.0) * c)  # noqa: E731
    with whole_after(1):
        g = revad.grad(f, compiled=True)(x)
    np.testing.assert_allclose(g, revad.grad(f)(x), rtol=2e-6)
    np.testing.assert_allclose(g, c * 2 * (1 - np.tanh(2 * x.astype(np.float64)) ** 2),
                               rtol=1e-5)


def test_values_outside_the_domain_are_numpys_nan_and_inf():
    x = np.array([-1.0, 0.0, 2.0, np.inf, np.nan])
    f = lambda x: np.log(x * 1.0) + np.arctanh(x * 0.5)  # noqa: E731
    with np.errstate(all="ignore"), whole_after(1):
        got, rebuild = compiled(f).primal((x,), {})
        want = f(x)
    (got,) = got
    np.testing.assert_array_equal(got, want)


_SUM = njit(lambda a: numpy_sum(a))
_ROWS = njit(lambda t: sum_rows(t))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4097, 100_003])
def test_sums_from_numba_are_numpys_bits(dtype, n):
    """Whole programs sum rows and a spread's runs with numpy's own add loop (float dtypes) or
    numpy's pairwise algorithm replayed (others): bit for bit np.sum, signed zeros, nan and
    inf included, at any stride."""
    rng = np.random.default_rng(n)
    a = (rng.normal(size=n) * 10.0 ** rng.integers(-6, 6, size=n)).astype(dtype)
    for x in (a, a[::3], a[::-1]):
        got, want = _SUM(x), np.sum(x)
        assert got == want and np.signbit(got) == np.signbit(want), (x.size, got, want)
    rows = np.stack([a, -a, np.zeros_like(a)])
    np.testing.assert_array_equal(_ROWS(rows)[:, 0], rows.sum(axis=1))
    if n and dtype != "int64":
        special = a.copy()
        special[n // 2] = np.inf
        assert _SUM(special) == np.sum(special)
        special[0] = np.nan
        assert np.isnan(_SUM(special))
    assert str(np.signbit(_SUM(np.array([-0.0, -0.0], dtype=dtype)))) == \
        str(np.signbit(np.sum(np.array([-0.0, -0.0], dtype=dtype))))


def test_a_spreads_transpose_sums_each_run_as_numpy_does():
    c = np.random.default_rng(1).normal(size=(3, 250 * 1000))
    np.testing.assert_array_equal(sum_blocks(c, 1000, 1, 250),
                                  c.reshape(3, 250, 1000).sum(axis=2))
