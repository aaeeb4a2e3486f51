"""A gradient traced into a second-order program holds slice transposes onto zeros (``x[1:]``'s
cotangent is zeros with the cotangent at an offset). A fused loop that reads one at its own size
reads the source at the offset instead, and zeros outside it; in its reverse loop it writes the
source's cotangent rows directly. The padded array is never made (Rosenbrock's hvp at n = 10^5:
6 passes of n, 5 ms -> 1.2-1.4 ms with the one-direction loops). Checked: the three ways, both
dtypes, sizes across a block of the loops, and the cases that must keep the padded array.
"""
import re

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


def _stencil(x):
    """Second differences and neighbours' products: slices at three offsets."""
    return np.sum((x[2:] - 2.0 * x[1:-1] + x[:-2]) ** 2) + np.sum(np.sin(x[1:] * x[:-1]))


def _program(g, n):
    """The one program of ``g`` for inputs of ``n`` entries."""
    (program,) = [p for key, ps in compiled(g).programs.items() for p in ps
                  if ((n,), "<f8") in key[2] or ((n,), "<f4") in key[2]]
    assert program.whole is not None, program.why_python
    return program


def _grad_of(f):
    return compiled(f).derived[("grad", 0)]


def _hessian_fd(f, x, h=1e-5):
    g = revad.grad(f)
    return np.array([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(x.size)]).T


@pytest.mark.parametrize("n", [3, 8, BLOCK + 3])
def test_hvp_through_absorbed_pads_equals_the_eager_tier_and_differences(n):
    rng = np.random.default_rng(n)
    x, v = rng.uniform(-1, 1, n), rng.normal(size=n)
    got = revad.hvp(_stencil, (x,), (v,), compiled=True)
    np.testing.assert_allclose(got, revad.hvp(_stencil, (x,), (v,)), rtol=1e-12, atol=1e-12)
    h = 1e-6  # the gradient's own central difference along v
    g = revad.grad(_stencil)
    np.testing.assert_allclose(got, (g(x + h * v) - g(x - h * v)) / (2 * h), rtol=1e-5,
                               atol=1e-6)
    jvp_text = _program(_grad_of(_stencil), n).listing.split("def jvp(")[1].split("\n@njit")[0]
    # no padded array is made: the loops read the sources at their offsets
    assert "pad_into" not in jvp_text and "slice_add" not in jvp_text, jvp_text
    assert re.search(r"_jvp\([^)]*IX\[\d+\], IX\[\d+\]", jvp_text), jvp_text


def test_both_outer_modes_through_absorbed_pads_match_the_hessian_three_ways():
    """jacfwd of the gradient reads the pads' tangents in the k-direction loop; jacrev writes
    the sources' cotangent rows from the reverse loop (only at the run's entries)."""
    g = revad.grad(_stencil)
    x = np.random.default_rng(1).uniform(-1, 1, 9)
    want = revad.hessian(_stencil)(x)
    fd = _hessian_fd(_stencil, x)
    for outer in (dualad.jacfwd, revad.jacrev):
        got = outer(g, compiled=True)(x)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-6)
    (program,) = [p for ps in compiled(g).programs.values() for p in ps]
    assert program.whole is not None, program.why_python
    assert "if i >= L" in "".join(program.whole.kernels.values())
    # the dot-product identity on the compiled gradient's own linear map (its Hessian)
    u, w = np.random.default_rng(2).normal(size=(2, 9))
    Hw = dualad.jvp(g, (x,), (w,), compiled=True)[1]
    (uH,) = revad.vjp(g, x, compiled=True)[1](u)
    np.testing.assert_allclose(u @ Hw, uH @ w, rtol=1e-12)


def test_float32_stays_float32_through_absorbed_pads():
    x = np.linspace(-0.8, 0.9, 11, dtype=np.float32)
    v = np.cos(np.arange(11, dtype=np.float32))
    got = revad.hvp(_stencil, (x,), (v,), compiled=True)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, revad.hvp(_stencil, (x,), (v,)), rtol=2e-5, atol=2e-5)


def _sliced_sum(x):
    return np.sum(np.sin(x[1:]))


def test_a_pad_handed_back_is_made():
    """The gradient of sum(sin(x[1:])) is the padded array itself: an output, so it is made
    (zeros at x[0]), not read at an offset by a loop."""
    x = np.linspace(0.1, 1.0, 6)
    v = np.arange(6.0)
    got = revad.hvp(_sliced_sum, (x,), (v,), compiled=True)
    want = np.concatenate([[0.0], -np.sin(x[1:]) * v[1:]])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert "pad_into" in _program(_grad_of(_sliced_sum), 6).listing
