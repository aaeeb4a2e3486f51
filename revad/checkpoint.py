"""``revad.checkpoint(f)``: JAX's ``jax.checkpoint`` (remat) for reverse mode.

Contract: ``checkpoint(f)`` computes what ``f`` computes, with the same numbers; inside a
reverse-mode computation ``f``'s intermediate values are not kept on the tape, only its inputs
are, and ``f`` is re-run (its recorded program replayed, linearized) during the sweep to rebuild
them. One extra evaluation of ``f`` per sweep buys the memory of its intermediates. The op is
mode-neutral (:mod:`adops.control.remat`), so it nests with itself, with ``adops.scan`` and
with forward mode, in both tiers. For a long loop, ``adops.scan(..., checkpoints=s)`` places
the recomputations optimally instead.
"""
from __future__ import annotations

from adops.control.remat import remat


def checkpoint(f):
    """``f`` whose intermediates reverse mode recomputes instead of keeping.

    Args:
        f: a function of arrays (or trees of them) written with numpy. Float leaves of its
            arguments are differentiated; other leaves (ints, strings) are passed as they are.

    Returns:
        A function with ``f``'s signature and results.

    Example:
        >>> import numpy as np, revad
        >>> layer = checkpoint(lambda w, h: np.tanh(w @ h))
        >>> loss = lambda w: np.sum(layer(w, layer(w, np.ones(2))))
        >>> plain = lambda w: np.sum(np.tanh(w @ np.tanh(w @ np.ones(2))))
        >>> w = np.array([[0.5, -0.2], [0.1, 0.3]])
        >>> bool(np.array_equal(revad.grad(loss)(w), revad.grad(plain)(w)))
        True
    """
    return remat(f)
