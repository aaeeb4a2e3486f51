"""Bayesian logistic regression fitted by black-box variational inference (BBVI), as in HIPS
autograd's ``black_box_svi.py``, with the variational parameters as a tree (a dict).

What it shows:
- a mean-field Gaussian posterior q(w) = N(mean, diag(exp(log_std))^2) whose parameters are the
  dict ``{'mean': ..., 'log_std': ...}``; ``revad.grad`` returns the gradient as the same dict;
- the ELBO estimated with the reparameterization trick (w = mean + exp(log_std) * eps, eps drawn
  outside the differentiated function), the prior from ``adops.scipy.stats.norm.logpdf`` and
  the Bernoulli log-likelihood from ``adops.scipy.special.log_expit`` (log-sigmoid);
- ``adops.optimizers.adam`` stepping over the dict (autograd's signature ``grad(x, i)``: the
  iteration number seeds the noise, so every run is the same).

Run it (from the repository root):

    python examples/bayesian_logreg_bbvi.py

It prints the ELBO every 50 steps and the posterior mean +- std beside the true weights, and
ends with "ok" once the fitted posterior mean has the true weights' signs and lies within
3 posterior standard deviations (plus a small margin) of them.
"""
import numpy as np

import revad
from adops.optimizers import adam
from adops.scipy import special, stats

D = 3                 # number of weights (no intercept: the data are centred)
N = 200               # number of observations
NUM_SAMPLES = 32      # Monte Carlo samples of the ELBO per gradient
PRIOR_SCALE = 2.0     # w ~ N(0, PRIOR_SCALE^2) per weight
TRUE_W = np.array([1.5, -2.0, 0.5])


def make_data(n=N, seed=0):
    """Synthetic data set ``(X, y)``: X ~ N(0, 1), y ~ Bernoulli(sigmoid(X @ TRUE_W))."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-X @ TRUE_W))).astype(float)
    return X, y


X, Y = make_data()


def log_joint(w, X=X, y=Y):
    """log p(w) + log p(y | X, w) for each row of ``w`` (shape (S, D)) -> shape (S,)."""
    log_prior = np.sum(stats.norm.logpdf(w, 0.0, PRIOR_SCALE), axis=-1)
    logits = w @ X.T                                           # (S, N)
    # Bernoulli log-pmf with p = sigmoid(z): y log p + (1 - y) log(1 - p), written with
    # log_expit so that it stays finite when sigmoid(z) rounds to 0 or 1 (the same number as
    # stats.bernoulli.logpmf(y, special.expit(z)) otherwise)
    log_lik = np.sum(y * special.log_expit(logits) + (1.0 - y) * special.log_expit(-logits),
                     axis=-1)
    return log_prior + log_lik


def noise(rng_seed, num_samples=NUM_SAMPLES):
    """The standard normal draws of one ELBO estimate (fixed by the seed)."""
    return np.random.default_rng(rng_seed).normal(size=(num_samples, D))


def gaussian_entropy(log_std):
    """Entropy of N(mean, diag(exp(log_std))^2)."""
    return 0.5 * log_std.size * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)


def elbo(params, rng_seed, X=X, y=Y, num_samples=NUM_SAMPLES):
    """Reparameterized Monte Carlo estimate of the ELBO E_q[log p(w, y)] + H[q] at the dict
    ``params = {'mean': (D,), 'log_std': (D,)}``; deterministic for a given ``rng_seed``."""
    eps = noise(rng_seed, num_samples)
    w = params["mean"] + np.exp(params["log_std"]) * eps       # (S, D), differentiable
    return np.mean(log_joint(w, X, y)) + gaussian_entropy(params["log_std"])


def init_params():
    return {"mean": np.zeros(D), "log_std": np.full(D, -1.0)}


def fit(num_iters=300, step_size=0.05, params=None, callback=None):
    """Maximize the ELBO with Adam over the dict of variational parameters; returns the dict."""
    params = init_params() if params is None else params
    objective_grad = revad.grad(lambda p, i: -elbo(p, i))      # fresh noise at each step i
    return adam(objective_grad, params, callback=callback, num_iters=num_iters,
                step_size=step_size)


def main():
    # the ELBO is noisy; average a few estimates (fixed seeds) to print a trend
    def smooth_elbo(p):
        return np.mean([elbo(p, 10_000 + k, num_samples=256) for k in range(4)])

    trend = []

    def callback(params, i, g):
        if i % 50 == 0:
            trend.append(smooth_elbo(params))
            print(f"step {i:4d}  ELBO {trend[-1]:10.3f}")

    params = fit(num_iters=300, callback=callback)
    trend.append(smooth_elbo(params))
    print(f"final      ELBO {trend[-1]:10.3f}")
    mean, std = params["mean"], np.exp(params["log_std"])
    print("weight  true   posterior mean +- std")
    for j in range(D):
        print(f"  w{j}  {TRUE_W[j]:6.2f}   {mean[j]:6.3f} +- {std[j]:.3f}")
    assert trend[-1] > trend[0] + 10.0, "the ELBO must rise"
    assert np.all(np.sign(mean) == np.sign(TRUE_W)), "the posterior mean has the true signs"
    assert np.all(np.abs(mean - TRUE_W) < 3 * std + 0.1), "the true weights are plausible"
    print("ok")


if __name__ == "__main__":
    main()
