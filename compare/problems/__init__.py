"""The comparison's problems: functions of n inputs and m outputs, written once against an array
namespace ``xp`` (numpy for dualad/revad, jax.numpy or torch for the optional peers), so every
tool differentiates the same mathematics.

The grid's problems are here; :mod:`compare.problems.standard` holds the field's standard problems
(ADBench / gradbench: GMM, BA, HT, LSTM, banded).

Contract: ``PROBLEMS[name].make(n, m, xp, rng) -> (f, x)`` with ``x: (n,)`` and ``f(x): (m,)``, or
a scalar ``()`` when the problem is scalar (then m is 1). Constants are drawn from ``rng`` as
numpy arrays and converted with ``xp.asarray``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Problem:
    """A named (n, m)-parameterised function. ``scalar``: m is always 1 (output shape ())."""

    name: str
    make: Callable
    scalar: bool = False
    doc: str = ""


def _dense(n, m, xp, rng):
    W = xp.asarray(rng.normal(size=(m, n)) / np.sqrt(n))
    b = xp.asarray(rng.normal(size=m))
    return (lambda x: xp.tanh(W @ x + b)), rng.normal(size=n)


def _rosenbrock(n, m, xp, rng):
    def f(x):
        return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return f, rng.uniform(-1, 1, size=max(n, 2))


def _elementwise(n, m, xp, rng):
    return (lambda x: xp.sin(x) * xp.exp(-x * x) + x), rng.normal(size=n)


def _mlp_loss(n, m, xp, rng):
    """Loss of a one-hidden-layer MLP whose n parameters are the input (hidden width from n)."""
    n_in, n_out, batch = 8, 2, 16
    hidden = max(1, n // (n_in + n_out + 1))
    X = xp.asarray(rng.normal(size=(batch, n_in)))
    Y = xp.asarray(rng.normal(size=(batch, n_out)))
    p = hidden * (n_in + n_out + 1)

    def f(theta):
        w1 = theta[:n_in * hidden].reshape(n_in, hidden)
        b1 = theta[n_in * hidden:(n_in + 1) * hidden]
        w2 = theta[(n_in + 1) * hidden:p].reshape(hidden, n_out)
        h = xp.tanh(X @ w1 + b1)
        return xp.mean((h @ w2 - Y) ** 2)
    return f, rng.normal(size=p) * 0.3


def _wide(n, m, xp, rng):
    """Few inputs, many outputs: y_j = sin(a_j . x) + (c_j . x)^2."""
    A = xp.asarray(rng.normal(size=(m, n)))
    C = xp.asarray(rng.normal(size=(m, n)) / n)
    return (lambda x: xp.sin(A @ x) + (C @ x) ** 2), rng.normal(size=n)


PROBLEMS = {p.name: p for p in [
    Problem("dense", _dense, doc="tanh(W x + b), W: (m, n)"),
    Problem("rosenbrock", _rosenbrock, scalar=True, doc="sum of 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2"),
    Problem("elementwise", _elementwise, doc="sin(x) exp(-x^2) + x, n = m"),
    Problem("mlp_loss", _mlp_loss, scalar=True, doc="mean squared error of a tanh MLP, n parameters"),
    Problem("wide", _wide, doc="sin(A x) + (C x)^2, built for few inputs and many outputs"),
]}

