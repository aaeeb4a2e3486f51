"""Zeroed arrays inside compiled entries (adops/compile/pages.py): ``zeroed(np.empty(...))`` is
``np.zeros(...)`` for any size, dtype and alignment, the huge-page advice of large ones
included, and a whole program's gradient above that size is right and the caller's own."""
import numpy as np
import pytest
from numba import njit

import revad
from adops.compile import compiled, whole_after
from adops.compile.pages import HUGE_BYTES, zeroed


@njit(cache=True)
def _zeroed_in_numba(m, n):
    return zeroed(np.empty((m, n), dtype=np.float32))


@pytest.mark.parametrize("n", [0, 1, 1000, HUGE_BYTES // 8 - 1, HUGE_BYTES // 8 + 4097])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_zeroed_is_zeros(n, dtype):
    a = np.empty(n + 1, dtype=dtype)[1:]  # not page aligned
    a[...] = 7.0
    z = zeroed(a)
    assert z is a and z.dtype == dtype and z.shape == (n,)
    assert not np.any(z) and not np.signbit(z).any()


def test_zeroed_inside_a_compiled_function():
    z = _zeroed_in_numba(3, HUGE_BYTES // 4 // 3 + 5)
    assert z.dtype == np.float32 and z.shape == (3, HUGE_BYTES // 4 // 3 + 5)
    assert not np.any(z) and z.flags.writeable and z.flags.c_contiguous


def test_a_large_gradient_from_a_whole_program():
    """A gradient over HUGE_BYTES (zeroed and advised inside the entry), to numpy's values;
    every call hands back a fresh array the caller owns."""
    n = HUGE_BYTES // 8 + 1000
    x = np.linspace(-1.0, 1.0, n)
    f = lambda x: np.sum(np.sin(x[1:]) * x[:-1])
    want = np.zeros(n)
    want[1:] += np.cos(x[1:]) * x[:-1]
    want[:-1] += np.sin(x[1:])
    with whole_after(1):
        g = revad.grad(f, compiled=True)
        first, second = g(x), g(x)
    for got in (first, second):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
        assert got.flags.writeable
    assert not np.shares_memory(first, second)
    (program,) = [p for ps in compiled(f).programs.values() for p in ps]
    assert program.whole is not None and "zeroed(np.empty(" in program.source
