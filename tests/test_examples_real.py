"""The realistic examples (issue 20, part 5): Bayesian logistic regression by black-box
variational inference (``examples/bayesian_logreg_bbvi.py``) and a neural ODE fitted by L-BFGS
(``examples/neural_ode_lbfgs.py``).

For each: the gradient of its objective over the parameter tree against central finite
differences, in both modes (``revad.grad`` on the tree, ``dualad.jacfwd`` on the raveled
vector); its pieces against scipy's own functions (scipy.stats, scipy.integrate.odeint), which
share no code with adops; a short optimizer run lowers the objective; the script runs.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

import dualad
import revad
from adops.tree import ravel_pytree

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from examples import bayesian_logreg_bbvi as bbvi  # noqa: E402
from examples import neural_ode_lbfgs as node  # noqa: E402


def central_differences(f, x, h):
    """Central finite differences of a scalar ``f`` at the vector ``x`` (plain floats only)."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def assert_tree_close(got, want, rtol, atol):
    """``got`` and ``want`` are dicts of arrays with the same keys and shapes, and close."""
    assert isinstance(got, dict) and sorted(got) == sorted(want)
    for k in want:
        assert np.shape(got[k]) == np.shape(want[k]), k
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


# ------------------------------------------------------------------------------- BBVI
BBVI_PARAMS = {"mean": np.array([0.3, -0.7, 0.2]), "log_std": np.array([-0.5, -1.0, -0.2])}
SEED = 7


def bbvi_reference_elbo(params, seed):
    """The ELBO written with scipy.stats and scipy.special (no adops), the same noise draws."""
    eps = np.random.default_rng(seed).normal(size=(bbvi.NUM_SAMPLES, bbvi.D))
    std = np.exp(params["log_std"])
    w = params["mean"] + std * eps
    p = scipy.special.expit(w @ bbvi.X.T)
    log_lik = np.sum(scipy.stats.bernoulli.logpmf(bbvi.Y, p), axis=-1)
    log_prior = np.sum(scipy.stats.norm.logpdf(w, 0.0, bbvi.PRIOR_SCALE), axis=-1)
    entropy = np.sum(scipy.stats.norm.entropy(scale=std))
    return np.mean(log_prior + log_lik) + entropy


def test_bbvi_elbo_equals_a_scipy_reference():
    want = bbvi_reference_elbo(BBVI_PARAMS, SEED)
    assert np.isclose(bbvi.elbo(BBVI_PARAMS, SEED), want, rtol=1e-12, atol=1e-9)
    assert not np.isclose(bbvi.elbo(BBVI_PARAMS, SEED + 1), want)   # the seed fixes the noise


def test_bbvi_gradient_over_the_dict_in_both_modes_against_finite_differences():
    flat, unravel = ravel_pytree(BBVI_PARAMS)
    # finite differences of the scipy reference: independent of adops' evaluation too
    fd = unravel(central_differences(lambda v: bbvi_reference_elbo(unravel(v), SEED), flat, 1e-5))
    g_rev = revad.grad(bbvi.elbo)(BBVI_PARAMS, SEED)                    # a dict, params' keys
    assert_tree_close(g_rev, fd, rtol=1e-6, atol=1e-5)
    g_fwd = dualad.jacfwd(lambda v: bbvi.elbo(unravel(v), SEED))(flat)  # traced unravel
    assert g_fwd.shape == flat.shape
    assert_tree_close(unravel(g_fwd), fd, rtol=1e-6, atol=1e-5)
    # the gradient is not trivially small: the comparison above can fail
    assert np.linalg.norm(ravel_pytree(fd)[0]) > 1.0


def test_bbvi_thirty_adam_steps_raise_the_elbo():
    def smooth(p):     # a many-sample estimate at seeds the optimizer never used
        return np.mean([bbvi.elbo(p, 10_000 + k, num_samples=512) for k in range(2)])
    p0 = bbvi.init_params()
    p30 = bbvi.fit(num_iters=30, step_size=0.05, params=p0)
    assert sorted(p30) == ["log_std", "mean"] and p30["mean"].shape == (bbvi.D,)
    assert smooth(p30) > smooth(p0) + 10.0
    # the posterior mean moved towards the true weights
    assert np.linalg.norm(p30["mean"] - bbvi.TRUE_W) < 0.7 * np.linalg.norm(bbvi.TRUE_W)


# ------------------------------------------------------------------------- neural ODE
NODE_PARAMS = {"W": np.array([[-0.2, 0.6], [-0.8, 0.1]]), "b": np.array([0.05, -0.1])}
TIGHT = 1e-10    # solver tolerance for gradient checks: finite differences see a smooth loss


def node_loss(params, rtol=TIGHT):
    """The example's loss at another tolerance (its model, data and times)."""
    path = node.odeint(node.dynamics, node.Y0, node.T, args=(params["W"], params["b"]),
                       rtol=rtol, atol=rtol)
    return np.mean((path - node.Y_DATA) ** 2)


def node_reference_loss(params):
    """The same loss with scipy's LSODA (no adops)."""
    path = scipy.integrate.odeint(node.dynamics, node.Y0, node.T,
                                  args=(params["W"], params["b"]), rtol=1e-12, atol=1e-12)
    return np.mean((path - node.Y_DATA) ** 2)


def test_neural_ode_loss_equals_scipys_solver():
    assert np.isclose(node.loss(NODE_PARAMS), node_reference_loss(NODE_PARAMS), rtol=1e-4)
    assert np.isclose(node_loss(NODE_PARAMS), node_reference_loss(NODE_PARAMS), rtol=1e-8)
    # the data are the spiral, not the model: the loss is far from 0 away from the fit
    assert node_reference_loss(NODE_PARAMS) > 1e-2


def test_neural_ode_gradient_in_both_modes_against_finite_differences():
    flat, unravel = ravel_pytree(NODE_PARAMS)
    fd = unravel(central_differences(lambda v: node_reference_loss(unravel(v)), flat, 1e-5))
    value, g_rev = revad.value_and_grad(node_loss)(NODE_PARAMS)        # over the dict
    assert np.isclose(value, node_reference_loss(NODE_PARAMS), rtol=1e-8)
    assert_tree_close(g_rev, fd, rtol=1e-5, atol=1e-8)
    g_fwd = dualad.jacfwd(lambda v: node_loss(unravel(v)))(flat)       # over the raveled vector
    assert_tree_close(unravel(g_fwd), fd, rtol=1e-5, atol=1e-8)
    # the example's own objective (rtol 1e-6, what L-BFGS sees): within the solver's accuracy
    value, g = node.flat_value_and_grad(flat)
    np.testing.assert_allclose(g, ravel_pytree(fd)[0], rtol=1e-3, atol=1e-6)
    assert np.linalg.norm(ravel_pytree(fd)[0]) > 1e-2


def test_neural_ode_twenty_lbfgs_iterations_lower_the_loss():
    before = node_reference_loss(node.init_params())
    params, res = node.fit(maxiter=20)
    assert res.nit <= 20 and sorted(params) == ["W", "b"] and params["W"].shape == (2, 2)
    assert node_reference_loss(params) < before / 20     # judged by scipy's solver


# ------------------------------------------------------------------------- as scripts
@pytest.mark.parametrize("script, needles", [
    ("bayesian_logreg_bbvi.py", ["ELBO", "posterior mean"]),
    ("neural_ode_lbfgs.py", ["loss before", "loss after"]),
])
def test_example_runs_as_a_script(script, needles, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    start = time.perf_counter()
    res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("ok"), res.stdout
    for needle in needles:
        assert needle in res.stdout
    assert list(tmp_path.iterdir()) == []                  # it writes nothing
    assert time.perf_counter() - start < 30
