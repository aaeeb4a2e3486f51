"""The op set: every op's partials vs central finite differences, every transpose vs the
dot-product identity, the kink conventions, and the registry's public API."""
import os
import subprocess
import sys

import numpy as np
import pytest

import adops
from adops import unbroadcast
from opspecs import SPECS

CASES = [(name, i) for name in sorted(SPECS) for i in range(len(SPECS[name]))]


def test_every_registered_op_has_a_spec():
    builtin = {name for name, op in adops.OPS.items() if getattr(op, "builtin", False)}
    missing = sorted(builtin - set(SPECS))
    assert not missing, f"ops registered without a spec in tests/opspecs.py: {missing}"


def test_op_set_size():
    assert len(adops.OPS) >= 60


def _draw(name, i, seed, k):
    """A spec's point, its linearization, and k random directions for the differentiable
    inputs (None for the others)."""
    rng = np.random.default_rng(seed)
    args, params, diff = SPECS[name][i](rng)
    args = [np.asarray(a) for a in args]
    out, lin = adops.OPS[name].linearize(*args, **params)
    directions = [rng.normal(size=(k,) + a.shape) if j in diff else None
                  for j, a in enumerate(args)]
    return rng, args, params, out, lin, directions


@pytest.mark.nojit
@pytest.mark.parametrize("name,i", CASES)
def test_jvp_matches_central_differences(name, i):
    op = adops.OPS[name]
    k = 2
    rng, args, params, out, lin, tangents = _draw(name, i, 1 + i, k)
    out_dot = lin.jvp(tangents)
    assert out_dot.shape == (k,) + out.shape
    h = 1e-6
    for d in range(k):
        plus = [a + h * t[d] if t is not None else a for a, t in zip(args, tangents)]
        minus = [a - h * t[d] if t is not None else a for a, t in zip(args, tangents)]
        fd = (op.linearize(*plus, **params)[0] - op.linearize(*minus, **params)[0]) / (2 * h)
        np.testing.assert_allclose(out_dot[d], fd, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} spec {i}, direction {d}")


@pytest.mark.nojit
@pytest.mark.parametrize("name,i", CASES)
def test_vjp_is_adjoint_of_jvp(name, i):
    """<u, J v> = <J^T u, v> with k = m = 3 directions, after undoing broadcasting."""
    k = 3
    rng, args, params, out, lin, vs = _draw(name, i, 100 + i, k)
    u = rng.normal(size=(k,) + out.shape)
    jv = lin.jvp(vs)
    bars = lin.vjp(u)
    lhs = np.einsum("ki,ki->k", u.reshape(k, -1), jv.reshape(k, -1))
    rhs = np.zeros(k)
    for j, (a, v, b) in enumerate(zip(args, vs, bars)):
        if v is None:
            continue
        b = unbroadcast(np.broadcast_to(b, b.shape), a.shape)
        assert b.shape == (k,) + a.shape, f"{name}: cotangent {j} has shape {b.shape}"
        rhs += np.einsum("ki,ki->k", b.reshape(k, -1), v.reshape(k, -1))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("name,i", [c for c in CASES if isinstance(adops.OPS[c[0]],
                                                                  adops.ElementwiseOp)])
def test_float32_stays_float32(name, i):
    op = adops.OPS[name]
    rng = np.random.default_rng(7)
    args, params, diff = SPECS[name][i](rng)
    args = [np.asarray(a) for a in args]
    args = [a.astype(np.float32) if a.dtype == np.float64 else a for a in args]
    out, lin = op.linearize(*args, **params)
    assert out.dtype == np.float32 or name == "float_power"
    tangents = [np.ones((1,) + a.shape, np.float32) if j in diff else None
                for j, a in enumerate(args)]
    assert lin.jvp(tangents).dtype == out.dtype


# ------------------------------------------------------------------ conventions (DESIGN.md)
def _d(name, *args):
    """Partials of op `name` at scalar args, as floats."""
    with adops.core.fpstate.quiet():
        out, lin = adops.OPS[name].linearize(*[np.asarray(a, dtype=float) for a in args])
    return [float(np.asarray(lin.vjp(np.ones((1,)))[j]).ravel()[0]) for j in range(len(args))]


def test_kinks_at_zero():
    assert _d("abs", 0.0) == [0.0]
    assert _d("maximum", 0.0, 0.0)[0] == 0.0, "relu = maximum(x, 0) has derivative 0 at 0"
    assert _d("minimum", 0.0, 0.0)[0] == 0.0
    assert sum(_d("maximum", 1.5, 1.5)) == 1.0, "maximum(x, x) must have derivative 1"
    assert _d("sqrt", 0.0) == [np.inf]


def test_max_ties_split_evenly():
    out, lin = adops.OPS["max"].linearize(np.array([1.0, 3.0, 3.0, 3.0]), axis=(0,))
    np.testing.assert_allclose(lin.vjp(np.ones((1,)))[0], [[0, 1 / 3, 1 / 3, 1 / 3]])


def test_prod_partial_exact_with_zeros():
    out, lin = adops.OPS["prod"].linearize(np.array([2.0, 0.0, 5.0]), axis=(0,))
    np.testing.assert_array_equal(lin.vjp(np.ones((1,)))[0], [[0.0, 10.0, 0.0]])


def test_strong_zero_both_directions():
    with adops.core.fpstate.quiet():
        _strong_zero_checks()


def _strong_zero_checks():
    assert float(adops.smul(np.inf, 0.0)) == 0.0
    assert float(adops.smul(0.0, np.nan)) == 0.0
    assert float(adops.smul(2.0, 3.0)) == 6.0
    out, lin = adops.OPS["sqrt"].linearize(np.array([0.0]))
    assert lin.vjp(np.zeros((1, 1)))[0][0, 0] == 0.0
    assert lin.vjp(np.ones((1, 1)))[0][0, 0] == np.inf


def test_every_rule_is_documented():
    for name, op in adops.OPS.items():
        assert op.doc.strip(), f"op {name} has no documentation"


# ---------------------------------------------------------------------- public registry API
def test_supported_functions_lists_ops_and_composites():
    s = adops.supported_functions()
    assert s["op"]["numpy.sin"] == "sin"
    assert "numpy.mean" in s["composite"]
    assert "numpy.greater" in s["non-differentiable"]


def test_supported_doc_is_generated_from_registry():
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "SUPPORTED.md")
    with open(path) as fh:
        text = fh.read()
    assert adops.supported_table() in text, \
        "docs/SUPPORTED.md is stale: regenerate it with python -m adops.docs"


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        adops.defop("sin", None, [None])


def test_builtin_ops_cannot_be_removed():
    with pytest.raises(ValueError, match="built-in"):
        adops.unregister("sin")


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already without JIT")
def test_op_set_without_jit():
    """The kernels as plain Python (NUMBA_DISABLE_JIT=1) must give the same derivatives."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    here = os.path.dirname(__file__)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-m", "nojit", os.path.join(here, "test_adops.py"),
                          "-o", "addopts="], env=env, capture_output=True, text=True,
                         cwd=os.path.join(here, ".."))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
