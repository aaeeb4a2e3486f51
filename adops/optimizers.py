"""Small gradient-descent optimizers over trees of arrays, with autograd's names and signatures
(``autograd.misc.optimizers``), so autograd's examples run with ``from adops.optimizers import
adam``.

Each takes ``grad(x, i)`` (the gradient at parameters ``x`` on iteration ``i``, e.g.
``revad.grad(lambda p, i: loss(p))``), the initial parameters ``x0`` (an array or a tree of
arrays: :mod:`adops.tree`), an optional ``callback(x, i, g)`` called before each step, and
returns the final parameters in ``x0``'s structure. Internally the tree is raveled into one
vector (:func:`adops.tree.ravel_pytree`), as autograd's ``unflatten_optimizer`` does; ``grad``
and ``callback`` see trees.

Example:
    >>> import numpy as np, revad
    >>> loss = lambda p: np.sum((p["w"] - 3.0) ** 2) + (p["b"] + 1.0) ** 2
    >>> p = adam(revad.grad(lambda p, i: loss(p)), {"w": np.zeros(2), "b": 0.0},
    ...          num_iters=500, step_size=0.1)
    >>> np.round(p["w"], 3).tolist(), round(float(p["b"]), 3)
    ([3.0, 3.0], -1.0)
"""
from __future__ import annotations

import numpy as np

from .program.tree import ravel_pytree, tree_map

__all__ = ["sgd", "rmsprop", "adam"]


def _flat(grad, x0, callback):
    """``(x, unravel, flat_grad, flat_callback)``: the optimizer's view on one vector."""
    # integer leaves (a Python 0 as a start) become float64: a step must not be truncated
    x0 = tree_map(lambda v: v if np.asarray(v).dtype.kind == "f" else
                  np.asarray(v, dtype=np.float64), x0)
    x, unravel = ravel_pytree(x0)
    x = np.array(x, copy=True)

    def flat_grad(v, i):
        g, _ = ravel_pytree(grad(unravel(v), i))
        if g.shape != v.shape:
            raise ValueError(f"grad(x, i) returned {g.size} numbers for {v.size} parameters: "
                             "it must return a tree of x0's structure and shapes")
        return g

    def flat_callback(v, i, g):
        if callback is not None:
            callback(unravel(v), i, unravel(g))
    return x, unravel, flat_grad, flat_callback


def sgd(grad, x0, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    """Stochastic gradient descent with momentum (autograd's ``sgd``).

    Example:
        >>> import numpy as np, revad
        >>> x = sgd(revad.grad(lambda x, i: np.sum((x[0] - 2.0) ** 2)), [np.zeros(2)],
        ...         num_iters=300)
        >>> np.round(x[0], 4).tolist()
        [2.0, 2.0]
    """
    x, unravel, grad, callback = _flat(grad, x0, callback)
    velocity = np.zeros_like(x)
    for i in range(num_iters):
        g = grad(x, i)
        callback(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return unravel(x)


def rmsprop(grad, x0, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=1e-8):
    """Root-mean-squared propagation (autograd's ``rmsprop``).

    Example:
        >>> import numpy as np, revad
        >>> x = rmsprop(revad.grad(lambda x, i: np.sum((x["x"] - 2.0) ** 2)), {"x": np.zeros(2)},
        ...             num_iters=400, step_size=0.01)
        >>> np.round(x["x"], 2).tolist()
        [2.0, 2.0]
    """
    x, unravel, grad, callback = _flat(grad, x0, callback)
    avg_sq_grad = np.ones_like(x)
    for i in range(num_iters):
        g = grad(x, i)
        callback(x, i, g)
        avg_sq_grad = avg_sq_grad * gamma + g ** 2 * (1 - gamma)
        x = x - step_size * g / (np.sqrt(avg_sq_grad) + eps)
    return unravel(x)


def adam(grad, x0, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma and Ba, 2014; autograd's ``adam``): bias-corrected moving averages of the
    gradient and its square.

    Example:
        >>> import numpy as np, revad
        >>> x = adam(revad.grad(lambda x, i: np.sum((x[0] - 2.0) ** 2)), (np.zeros(2), None),
        ...          num_iters=300, step_size=0.1)
        >>> np.round(x[0], 3).tolist(), x[1]
        ([2.0, 2.0], None)
    """
    x, unravel, grad, callback = _flat(grad, x0, callback)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for i in range(num_iters):
        g = grad(x, i)
        callback(x, i, g)
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * (g ** 2) + b2 * v
        mhat = m / (1 - b1 ** (i + 1))
        vhat = v / (1 - b2 ** (i + 1))
        x = x - step_size * mhat / (np.sqrt(vhat) + eps)
    return unravel(x)
