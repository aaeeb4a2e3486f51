"""The small-call costs of a whole program (issue 19): a gradient called often runs its forward
pass and sweep as one numba call, constants cross into numba as one byte array, small calls get
empty workspaces, and an outer product skips BLAS. Each must give the numbers the split path,
the unpacked tables and BLAS gave."""
import numpy as np
import pytest
from numba import njit

import revad
from adops.compile import compiled, entries, fused_after, whole_after
from adops.compile.cache import load_source
from adops.compile.formbase import Tables
from adops.compile.rows import matmul2
from adops.compile.workspace import FRESH_BYTES


def _entries(f, n):
    (w,) = [w for w in compiled(f).fast.values() if w.leaf_sizes == [n]]
    return w


def _loss(x):
    # scratch arrays in the forward pass and in the sweep (the slice's and the product's)
    return np.sum(np.tanh(x[1:] * x[:-1]) ** 2) + np.sum(np.exp(-x) * 0.5)


@pytest.mark.parametrize("n", [5, 3 * FRESH_BYTES // 8], ids=["fresh", "pooled"])
def test_a_gradient_called_often_is_fused_and_gives_the_split_paths_bits(n, monkeypatch):
    """The first fast calls run fwd then bwd, later ones the fused entry: every call's value and
    gradient are the same bits, the eager tier's to rounding, and fresh arrays (a workspace
    sized for both passes; above FRESH_BYTES it comes from the pool)."""
    monkeypatch.setattr(entries, "FUSED_BELOW", float("inf"))  # however long a call takes here
    x = np.cos(np.arange(n) * 0.37)
    want_v, want_g = revad.value_and_grad(_loss)(x)
    vg = revad.value_and_grad(_loss, compiled=True)
    with whole_after(1), fused_after(4):
        got = [vg(x) for _ in range(7)]  # 1 general + 6 fast: 3 split, then fused
        w = _entries(_loss, n)
        assert w._fused and w._vjp_calls == 4
        # fresh workspaces: the fused entry is bound once and called directly; pooled ones
        # keep the pool's bookkeeping
        assert (1 in w._quick_vjp) == (n == 5)
    for v, g in got:
        assert float(v) == float(got[0][0])
        np.testing.assert_array_equal(g, got[0][1])
        np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=1e-15)
        assert float(v) == pytest.approx(float(want_v), rel=1e-12)
    got[-1][1][:] = 0.0  # the caller's: the next call is not changed by it
    np.testing.assert_array_equal(vg(x)[1], got[0][1])


def test_a_one_sweep_reverse_jacobian_is_fused_and_a_guard_still_traces_again():
    def f(x):
        y = np.where(x > 0, x ** 2, -x)  # a mask: a guard checked inside the fused entry
        return np.stack([np.sum(y), np.sum(y * x)])
    points = [np.array([1.0, -2.0, 3.0]), np.array([-1.0, -2.0, 3.0])]
    jac = revad.jacrev(f, compiled=True)
    with whole_after(1), fused_after(1):
        for _ in range(3):
            for x in points:  # each sign pattern again and again: never the stale program
                np.testing.assert_allclose(jac(x), revad.jacrev(f)(x), rtol=1e-14)
    assert any(p.whole is not None and p.whole._fused
               for ps in compiled(f).programs.values() for p in ps)


def test_a_program_whose_calls_take_long_is_never_fused(monkeypatch):
    """Only calls faster than FUSED_BELOW count: the fused entry would save a few microseconds
    of a long call and cost a large program tens of seconds of compilation."""
    monkeypatch.setattr(entries, "FUSED_BELOW", 0.0)
    f = lambda x: np.sum(np.sin(x) * x)
    g = revad.grad(f, compiled=True)
    x = np.linspace(0.0, 1.0, 6)
    with whole_after(1), fused_after(2):
        for _ in range(6):
            np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x), rtol=1e-14)
    w = _entries(f, 6)
    assert not w._fused and w._vjp_calls == 0


def test_fused_after_takes_a_whole_number_of_calls():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="whole number of calls"):
            with fused_after(bad):
                pass


def test_constants_of_every_dtype_read_back_from_the_packed_bytes():
    """Constant arrays of mixed dtypes, byte orders and shapes are packed into one uint8 array;
    each expression the tables hand out reads back its array exactly, in its dtype, inside
    numba."""
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=5), rng.normal(size=3).astype(np.float32),
              np.array([True, False, True]), rng.normal(size=(2, 3)),
              (rng.normal(size=2) + 1j * rng.normal(size=2)), np.arange(3, dtype=np.int32),
              rng.normal(size=4).astype(">f8"), np.zeros(0)]
    t = Tables()
    reads = [t.array(a) for a in arrays]
    IX, ID, K = t.runtime()
    assert K.dtype == np.uint8 and K.ndim == 1
    src = "import numpy as np\nfrom numba import njit\n\n@njit\ndef reads(IX, ID, K):\n" \
          f"    return ({''.join(r + ', ' for r in reads)})\n"
    got = load_source(src).reads(IX, ID, K)
    for a, g in zip(arrays, got):
        assert g.dtype == a.dtype.newbyteorder("=") and g.shape == a.shape
        np.testing.assert_array_equal(g, a)


@njit(cache=True)
def _product(a, b):
    return matmul2(a, b)


@pytest.mark.parametrize("shape", [(7, 1, 5), (1, 1, 1), (3, 4, 2), (9, 1, 1), (1, 1, 6)])
def test_an_outer_product_has_one_rounding_per_entry_as_blas(shape):
    # (9, 1) @ (1, 1) is a column times a number (its own loop), (1, 1) @ (1, 6) a row's
    n, q, m = shape
    rng = np.random.default_rng(q)
    a, b = rng.normal(size=(n, q)), rng.normal(size=(q, m))
    a[0, 0], b[0, -1] = np.inf, 0.0  # inf * 0 is nan, as in BLAS
    got = _product(a, b)
    with np.errstate(invalid="ignore"):
        if q == 1:
            np.testing.assert_array_equal(got, np.multiply.outer(a[:, 0], b[0]))
        else:
            np.testing.assert_allclose(got[1:], (a @ b)[1:], rtol=1e-14)
    assert np.isnan(got[0, -1])
    if q == 1:  # a column that is a strided view of a wider block
        wide = np.repeat(a, 3, axis=1)[:, 1:2]
        np.testing.assert_array_equal(_product(wide, b), got)
