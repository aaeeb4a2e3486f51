"""Second derivatives where a partial rule switches (issue 17): every elementwise op whose rule
selects, multiplies by a factor that can vanish (``strong_mul``) or has a documented kink is
differentiated twice at its switch points, by the four compositions of the modes, ``hvp`` and
the compiled ``hessian``, against finite differences of gradients where the op is smooth across
the switch (and against JAX there, where installed), and against the documented convention at a
real kink (``tests/opspecs.py``'s ``SWITCHES``).

The registry-wide second-order test samples points where no condition holds, so a rule that
picks a constant branch with ``select(u == 0, 0, u * g)`` passed it while losing ``d(u g)``.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import adops
import dualad
import revad
from adops.ops.elementwise import KINKS
from adops.ops.registry import ElementwiseOp, Rule
from opspecs import SMOOTH, SWITCHES
from test_nesting import COMPOSITIONS, fd_of_gradient


def _switching_ops():
    """Elementwise ops whose rules switch somewhere: a select, a strong-zero factor, a kink."""
    for name, op in adops.OPS.items():
        if not isinstance(op, ElementwiseOp) or not getattr(op, "builtin", False):
            continue
        bodies = [p.body for p in op.partials if isinstance(p, Rule) and p.body is not None]
        text = "".join(inspect.getsource(b) for b in bodies)
        if "select(" in text or "strong_mul(" in text or name in KINKS:
            yield name


def test_every_switching_op_has_switch_points():
    missing = sorted(set(_switching_ops()) - set(SWITCHES))
    assert not missing, f"add switch points to tests/opspecs.py SWITCHES for {missing}"


def test_the_table_is_checked_against_the_registry():
    # a rule rewritten away from select must not leave a stale entry behind either
    assert set(SWITCHES) <= set(_switching_ops()) | {"where"}


def _scalar_function(name, nargs):
    op = adops.OPS[name]
    if name == "where":
        return lambda z: adops.bind(op, np.True_, z[0], z[1])
    return lambda z: adops.bind(op, *[z[i] for i in range(nargs)])


CASES = [pytest.param(name, point, want, id=f"{name}-{point}")
         for name, points in sorted(SWITCHES.items()) for point, want in points]

ROUTES = dict(COMPOSITIONS)
ROUTES["hessian-compiled"] = lambda f: revad.hessian(f, compiled=True)
ROUTES["hvp"] = lambda f: (lambda x: np.stack([revad.hvp(f, (x,), (e,)) for e in np.eye(x.size)],
                                               axis=-1))


@pytest.mark.parametrize("name,point,want", CASES)
def test_second_derivatives_at_switch_points(name, point, want):
    x = np.array(point, dtype=float)
    f = _scalar_function(name, x.size)
    if want is SMOOTH:
        want = fd_of_gradient(f, x)
        assert np.all(np.isfinite(want)), "a smooth switch point needs finite differences"
    want = np.asarray(want, dtype=float)
    for route, H in ROUTES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = np.asarray(H(f)(x))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6,
                                   err_msg=f"{name} at {point}, {route}")


@pytest.mark.parametrize("name,point", [pytest.param(n, p, id=f"{n}-{p}")
                                        for n, ps in sorted(SWITCHES.items())
                                        for p, w in ps if w is SMOOTH])
def test_smooth_switch_points_agree_with_jax(name, point):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.special as jsp
    peers = {"power": lambda a, b: a ** b, "float_power": lambda a, b: a ** b,
             "xlogy": jsp.xlogy, "xlog1py": jsp.xlog1py, "arctan2": jnp.arctan2,
             "hypot": jnp.hypot}
    x = np.array(point)
    g = peers[name]
    want = np.asarray(jax.hessian(lambda z: g(*[z[i] for i in range(x.size)]))(jnp.asarray(x)))
    got = revad.hessian(_scalar_function(name, x.size))(x)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("how", ["eager", "compiled"])
def test_issue_reproducers(how):
    import scipy.special as sp
    compiled = how == "compiled"
    H = revad.hessian(lambda z: sp.xlogy(z[0], z[1]), compiled=compiled)(np.array([0.0, 2.0]))
    np.testing.assert_allclose(H, [[0.0, 0.5], [0.5, 0.0]], atol=1e-15)
    H = revad.hessian(lambda z: z[0] ** z[1], compiled=compiled)(np.array([2.0, 0.0]))
    np.testing.assert_allclose(H, [[0.0, 0.5], [0.5, np.log(2.0) ** 2]], rtol=1e-14)
    # forward over forward too, and a symmetric result on a vector of such terms
    x = np.array([0.0, 0.7, 2.0, 0.0])
    f = lambda z: np.sum(sp.xlogy(z[:2], z[2]) + z[1:3] ** z[3] * z[1])
    H = dualad.jacfwd(dualad.jacfwd(f))(x)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H, fd_of_gradient(f, x), atol=1e-6)


def test_strong_mul_is_zero_where_a_factor_is_and_differentiable_elsewhere():
    u = np.array([0.0, 0.0, 2.0, 3.0])
    g = np.array([np.inf, np.nan, 0.0, 4.0])
    np.testing.assert_array_equal(adops.strong_mul(u, g), [0.0, 0.0, 0.0, 12.0])
    # d/du (u g) = g and d/dg = u, also at the zero of u
    f = lambda z: adops.strong_mul(z[0], z[1])
    np.testing.assert_array_equal(revad.grad(f)(np.array([0.0, 5.0])), [5.0, 0.0])
    np.testing.assert_array_equal(dualad.jacfwd(f)(np.array([0.0, 5.0])), [5.0, 0.0])
