"""The depth study's problem: a recurrence ``h_t = tanh(W h_(t-1) + x)``, ``h_1 = tanh(x)``, run
``depth`` steps at ``width``, loss ``sum(h_T^2) / 2`` (a deep tanh network whose layers share
one weight matrix), as a plain loop (:func:`recurrence`: the tape records every step) and as one
``adops.scan`` with checkpoints (:func:`recurrence_scan`: the same numbers, to the last bit).

Contract: both return ``(f, x)`` with ``x: (width,)`` and ``f(x)`` a scalar; ``W`` and ``x``
come from ``numpy.random.default_rng(seed)`` (:func:`weights`), so the two forms compute the
same function.
"""
from __future__ import annotations

import numpy as np

import adops


def weights(width: int, seed: int = 0):
    """``(W, x)``: ``W: (width, width)`` scaled to ``0.9 / sqrt(width)``, ``x: (width,)``."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(width, width)) * (0.9 / np.sqrt(width))
    return W, rng.normal(size=width)


def recurrence(depth: int, width: int, seed: int = 0):
    """``(f, x)``: ``f(x) = sum(h_T^2) / 2`` with ``h_t = tanh(W h_(t-1) + x)``, T = ``depth``.

    Example:
        >>> f, x = recurrence(depth=3, width=4)
        >>> x.shape, float(f(x)) > 0
        ((4,), True)
    """
    W, x = weights(width, seed)

    def f(x):
        h = np.tanh(x)
        for _ in range(depth - 1):
            h = np.tanh(W @ h + x)
        return 0.5 * np.sum(h * h)
    return f, x


def recurrence_scan(depth: int, width: int, checkpoints=None, seed: int = 0):
    """``(f, x)``: :func:`recurrence` as one ``adops.scan`` of ``depth - 1`` steps with
    ``checkpoints``.

    Example:
        >>> f, x = recurrence_scan(depth=3, width=4, checkpoints=1)
        >>> float(f(x)) == float(recurrence(depth=3, width=4)[0](x))
        True
    """
    W, x = weights(width, seed)

    def f(x):
        h, _ = adops.scan(lambda h, _: (np.tanh(W @ h + x), None), np.tanh(x),
                          length=depth - 1, checkpoints=checkpoints)
        return 0.5 * np.sum(h * h)
    return f, x
