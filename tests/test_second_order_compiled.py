"""Second order in the compiled tier (issue 19, item 6): the inner derivative is traced into the
outer transform's program, so each of the four compositions of the modes, ``hessian`` and
``hvp`` is one compiled program (built whole: one numba call per derivative), equal to the
eager tier; ``hvp`` keeps that program with ``f`` instead of tracing it at every call, and a
compiled function's programs go with the function. The fused loops keep their partials per
block of elements, so sizes across a block boundary are checked too.
"""
import gc
import weakref

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


def _programs(f):
    return [p for ps in compiled(f).programs.values() for p in ps]


def _mixed(x):
    """Mixed second derivatives: neighbours' products, a product of sums and a max (whose
    second derivative is 0); few ops, since each composition is a numba compile."""
    return np.sum(np.tanh(x[1:] * x[:-1])) + x[0] * np.sum(np.exp(-x)) + np.max(x) ** 2


def _hessian_fd(f, x, h=1e-5):
    """Central differences of the eager gradient (an independent check of the Hessian)."""
    g = revad.grad(f)
    cols = [(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(x.size)]
    return np.array(cols).T


INNER = {"forward": lambda f: dualad.jacfwd(f), "reverse": lambda f: revad.grad(f)}
OUTER = {"forward": dualad.jacfwd, "reverse": revad.jacrev}


@pytest.mark.parametrize("inner", sorted(INNER))
@pytest.mark.parametrize("outer", sorted(OUTER))
def test_each_composition_is_one_whole_program_equal_to_the_eager_tier(inner, outer):
    f = _mixed
    rng = np.random.default_rng(3)
    g = INNER[inner](f)
    h = OUTER[outer](g, compiled=True)
    x0 = rng.uniform(0.2, 1.0, 7)
    for x in (x0, x0 * 1.01):  # the same branches (the max's position): one program
        want = revad.hessian(f)(x)
        got = h(x)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got, _hessian_fd(f, x), rtol=1e-6, atol=1e-6)
        assert got.flags.writeable and not np.shares_memory(got, h(x))
    progs = _programs(g)
    assert len(progs) == 1, "one program serves both points"
    assert progs[0].whole is not None, progs[0].why_python


def test_hessian_compiled_is_symmetric_and_one_program():
    x = np.linspace(0.3, 0.9, 6)
    H = revad.hessian(_mixed, compiled=True)(x)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(H, revad.hessian(_mixed)(x), rtol=1e-12, atol=1e-12)


def test_hvp_compiled_traces_once_per_function_and_shape():
    rng = np.random.default_rng(5)
    x, v = rng.uniform(0.2, 1.0, 9), rng.normal(size=9)
    first = revad.hvp(_mixed, (x,), (v,), compiled=True)
    np.testing.assert_allclose(first, revad.hvp(_mixed, (x,), (v,)), rtol=1e-12, atol=1e-12)
    g = compiled(_mixed).derived[("grad", 0)]
    programs = _programs(g)
    assert len(programs) == 1 and programs[0].whole is not None
    for scale in (1.01, 1.02, 0.99):  # the max at the same position: the same branches
        x2, v2 = x * scale, rng.normal(size=9)
        got = revad.hvp(_mixed, (x2,), (v2,), compiled=True)
        np.testing.assert_allclose(got, revad.hvp(_mixed, (x2,), (v2,)), rtol=1e-12,
                                   atol=1e-12)
        # the dot-product identity <u, H v> = <H u, v> (H symmetric)
        u = rng.normal(size=9)
        Hu = revad.hvp(_mixed, (x2,), (u,), compiled=True)
        assert np.isclose(u @ got, Hu @ v2, rtol=1e-10)
    assert _programs(g) == programs, "later calls reuse the program, no new trace"


def test_hvp_of_several_arguments_compiled():
    f = lambda a, b: np.sum(a * a * b) + np.sum(np.sin(a) * b[0])
    a, b = np.array([0.3, 0.7]), np.array([1.5, -0.5])
    va, vb = np.array([1.0, 2.0]), np.array([0.5, 0.25])
    got = revad.hvp(f, (a, b), (va, vb), compiled=True)
    want = revad.hvp(f, (a, b), (va, vb))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_a_compiled_function_and_its_programs_are_freed_with_it():
    def make():
        return lambda x: np.sum(x * x * x)
    f = make()
    ref = weakref.ref(f)
    revad.grad(f, compiled=True)(np.ones(3))
    revad.hvp(f, (np.ones(3),), (np.ones(3),), compiled=True)
    cf = weakref.ref(compiled(f))
    del f
    gc.collect()
    assert ref() is None and cf() is None


@pytest.mark.parametrize("n", [BLOCK - 1, BLOCK + 1, 2 * BLOCK + 37])
def test_fused_loops_across_a_block_boundary(n):
    """Directions and seeds through loops that keep partials per block of BLOCK elements."""
    rng = np.random.default_rng(n)
    x = rng.uniform(0.1, 2.0, n)
    f = lambda x: np.sin(x) * np.log(x) + x * x / (1.0 + x)
    k = 3
    V = rng.normal(size=(k, n))
    _, got = dualad.jvp(f, (x,), (V,), batched=True, compiled=True)
    d = np.cos(x) * np.log(x) + np.sin(x) / x + (2 * x * (1 + x) - x * x) / (1 + x) ** 2
    np.testing.assert_allclose(got, V * d, rtol=1e-12, atol=1e-12)
    U = rng.normal(size=(k, n))
    _, pull = revad.vjp(f, x, compiled=True)
    bars = np.stack([pull(u)[0] for u in U])
    np.testing.assert_allclose(bars, U * d, rtol=1e-12, atol=1e-12)
    J = revad.jacrev(lambda x: f(x)[:5], compiled=True, chunk=4)(x)
    np.testing.assert_allclose(J, np.eye(n)[:5] * d, rtol=1e-12, atol=1e-12)


#: partial rules whose Python body builds constants (``select(c, 1.0, 0.0)``), and a float64
#: function of a float32 input: an outer level must still carry float32 derivatives
FLOAT32_SECOND = {
    "where": lambda x: np.sum(np.where(x > 0, x ** 3, np.sin(x))),
    "maximum": lambda x: np.sum(np.maximum(x, 0.1) ** 2 * x),
    "clip": lambda x: np.sum(np.clip(x, -0.5, 0.5) ** 2 * x),
    "float64 constant": lambda x: np.sum(x * np.float64(3.0) * x * x),
}


def _all_float32_second(x):
    return sum(f(x) for f in FLOAT32_SECOND.values())


@pytest.mark.parametrize("compiled_tier,name", [(False, n) for n in FLOAT32_SECOND] +
                         [(True, "all")])
def test_second_order_of_a_float32_input_stays_float32(compiled_tier, name):
    """hvp and jvp(grad) give the tangent of a float32 gradient in float32 (before: float64,
    from the rule body's float64 constants or the cast of a float64 cotangent), equal to the
    float64 Hessian times v to float32 precision; the four compositions agree."""
    f = FLOAT32_SECOND.get(name, _all_float32_second)
    x = np.linspace(-0.9, 0.8, 5).astype(np.float32)
    v = np.array([1.0, -2.0, 0.5, 3.0, -1.0], dtype=np.float32)
    want = revad.hessian(f)(x.astype(np.float64)) @ v.astype(np.float64)
    g = revad.grad(f, compiled=compiled_tier)(x)
    hv = revad.hvp(f, (x,), (v,), compiled=compiled_tier)
    _, jg = dualad.jvp(revad.grad(f), (x,), (v,), compiled=compiled_tier)
    assert (g.dtype, hv.dtype, jg.dtype) == (np.float32,) * 3
    for got in (hv, jg):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    for inner in INNER.values():
        for outer in OUTER.values():
            H = outer(inner(f), compiled=compiled_tier)(x)
            assert H.dtype == np.float32
            np.testing.assert_allclose(H @ v, want, rtol=2e-5, atol=2e-5)
