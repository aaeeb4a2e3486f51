"""A small neural ODE, dy/dt = tanh(W y + b), fitted by L-BFGS to a trajectory of a known linear
system (a damped spiral dy/dt = A y), differentiating through the ODE solver.

What it shows:
- parameters as a tree (the dict ``{'W': (2, 2), 'b': (2,)}``) raveled into the one vector that
  ``scipy.optimize.minimize`` wants with ``adops.tree.ravel_pytree`` (``unravel`` cuts it back,
  also when the vector is traced);
- ``adops.scipy.integrate.odeint`` (scipy's signature) with the parameters passed in ``args``,
  differentiated by reverse mode through the solver's accepted steps;
- ``revad.value_and_grad`` as the ``jac=True`` objective of ``minimize(method='L-BFGS-B')``.

Run it (from the repository root):

    python examples/neural_ode_lbfgs.py

It prints the loss before and after fitting and the fitted W beside A, and ends with "ok" once
the loss has fallen by at least a factor 100. The data come from scipy's own odeint (LSODA), so
the fit is checked against an independent solver.
"""
import numpy as np
import scipy.integrate
import scipy.optimize

import revad
from adops.scipy.integrate import odeint
from adops.tree import ravel_pytree

A = np.array([[-0.1, 1.0],
              [-1.0, -0.1]])          # the true system: a spiral into the origin
Y0 = np.array([0.8, 0.0])             # |A y| < 1 along the path, within tanh's range
T = np.linspace(0.0, 3.0, 9)          # few time points keep the solver's record small
RTOL = ATOL = 1e-6


def true_trajectory():
    """The data: dy/dt = A y from Y0, by scipy's LSODA at tight tolerances, shape (len(T), 2)."""
    return scipy.integrate.odeint(lambda y, t: A @ y, Y0, T, rtol=1e-10, atol=1e-10)


Y_DATA = true_trajectory()


def dynamics(y, t, W, b):
    """The neural vector field tanh(W y + b) (scipy's ``func(y, t, *args)`` convention)."""
    return np.tanh(W @ y + b)


def predict(params, t=T):
    """The model's trajectory from Y0 at times ``t``, shape (len(t), 2)."""
    return odeint(dynamics, Y0, t, args=(params["W"], params["b"]), rtol=RTOL, atol=ATOL)


def loss(params):
    """Mean squared error between the model's trajectory and the data (a tree -> scalar)."""
    return np.mean((predict(params) - Y_DATA) ** 2)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.1 * rng.normal(size=(2, 2)), "b": np.zeros(2)}


FLAT0, UNRAVEL = ravel_pytree(init_params())


def flat_loss(theta):
    """``loss`` on the raveled parameter vector (what scipy.optimize sees)."""
    return loss(UNRAVEL(theta))


flat_value_and_grad = revad.value_and_grad(flat_loss)


def fit(params=None, maxiter=100):
    """L-BFGS-B on the raveled parameters; returns ``(params_tree, scipy_result)``."""
    theta0, unravel = ravel_pytree(init_params() if params is None else params)

    def fun(theta):
        value, grad = flat_value_and_grad(theta)
        return float(value), np.asarray(grad, dtype=float)

    res = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B",
                                  options={"maxiter": maxiter})
    return unravel(res.x), res


def main():
    params0 = init_params()
    before = float(loss(params0))
    print(f"loss before: {before:.6f}")
    params, res = fit(params0)
    after = float(loss(params))
    print(f"loss after:  {after:.3e}   ({res.nit} L-BFGS iterations, {res.nfev} evaluations)")
    print("fitted W (tanh(W y + b) ~ W y + b for small y):")
    print(np.array2string(params["W"], precision=3))
    print("true A:")
    print(np.array2string(A, precision=3))
    print("fitted b:", np.array2string(params["b"], precision=3))
    assert after < before / 100, "the loss must fall by at least a factor 100"
    print("ok")


if __name__ == "__main__":
    main()
