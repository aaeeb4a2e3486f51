"""Vanishing and exploding gradients: gradient norm per layer of deep chains, by revad.

Contract: a chain of ``depth`` layers ``h_l = act(W_l h_{l-1})`` (or ``h_{l-1} + act(W_l
h_{l-1})`` for the residual variant), width ``width``, weights ``N(0, gain^2 / width)``, loss
``sum(h_L^2) / 2``. :func:`study` returns ``{variant: norms}`` with ``norms[l] = ||dL/dW_l||``
for l = 1 .. depth, all from one ``revad.grad`` per variant. :func:`write` plots them
(``vanishing.png``) and states the conclusion in words (``vanishing.md``). It keeps no CSV: one
gradient per variant takes well under a second, so its study measures and draws in one go.
"""
from __future__ import annotations

import os

import numpy as np

import revad

from ..common.style import plt as _plt
from .base import Section, Study


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


VARIANTS = {
    "sigmoid": (_sigmoid, False, 1.0),
    "tanh": (np.tanh, False, 1.0),
    "relu": (lambda z: np.maximum(z, 0.0), False, np.sqrt(2.0)),
    "residual tanh": (np.tanh, True, 1.0),
}


def chain_loss(act, residual):
    def loss(x, *Ws):
        h = x
        for W in Ws:
            z = act(W @ h)
            h = h + z if residual else z
        return 0.5 * np.sum(h * h)
    return loss


def study(depth: int = 50, width: int = 16, seed: int = 0) -> dict:
    """Gradient norm per layer for each variant (see module docstring).

    Example:
        >>> norms = study(depth=5, width=4)
        >>> sorted(norms), len(norms["tanh"])
        (['relu', 'residual tanh', 'sigmoid', 'tanh'], 5)
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=width)
    out = {}
    for name, (act, residual, gain) in VARIANTS.items():
        Ws = [rng.normal(size=(width, width)) * gain / np.sqrt(width) for _ in range(depth)]
        grads = revad.grad(chain_loss(act, residual), argnums=tuple(range(1, depth + 1)))(x, *Ws)
        out[name] = np.array([np.linalg.norm(g) for g in grads])
    return out


def conclusions(norms: dict) -> list:
    lines = []
    for name, g in norms.items():
        ratio = g[0] / g[-1] if g[-1] > 0 else np.inf
        if ratio < 1e-2:
            verdict = "vanishes toward the input"
        elif ratio > 1e2:
            verdict = "explodes toward the input"
        else:
            verdict = "stays within two orders of magnitude"
        lines.append(f"- **{name}**: ||dL/dW_1|| / ||dL/dW_{len(g)}|| = {ratio:.3g}: the gradient "
                     f"{verdict}.")
    return lines


def write(out_dir: str = "reports", depth: int = 50, width: int = 16) -> list:
    """Run :func:`study` and write vanishing.png and vanishing.md into ``out_dir``."""
    plt = _plt()
    norms = study(depth, width)
    os.makedirs(out_dir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, g in norms.items():
        ax.plot(np.arange(1, len(g) + 1), np.maximum(g, 1e-300), marker=".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("layer l (1 = next to the input)")
    ax.set_ylabel("||dL / dW_l||")
    ax.set_title(f"Gradient norm per layer, depth {depth}, width {width} (revad)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png = os.path.join(out_dir, "vanishing.png")
    fig.savefig(png, dpi=110)
    plt.close(fig)
    md = os.path.join(out_dir, "vanishing.md")
    with open(md, "w") as fh:
        fh.write(f"# Vanishing and exploding gradients (depth {depth}, width {width})\n\n"
                 "Loss sum(h_L^2)/2 of a chain h_l = act(W_l h_(l-1)), weights N(0, gain^2/width) "
                 "(gain sqrt(2) for relu); residual: h_l = h_(l-1) + act(W_l h_(l-1)). One "
                 "revad.grad per variant gives ||dL/dW_l|| for every layer.\n\n"
                 + "\n".join(conclusions(norms))
                 + "\n\nSigmoid's derivative is at most 1/4, so each layer multiplies the "
                   "backward signal by a factor well below 1; the residual connection adds an "
                   "identity path that carries the gradient past every layer.\n\n"
                   "![gradient norms](vanishing.png)\n")
    return [png, md]


class VanishingStudy(Study):
    """Gradient norm per layer (depth 50, 20 for a quick run) -> vanishing.png, vanishing.md;
    summary.md points to vanishing.md."""

    name = "vanishing"

    def measure(self, settings) -> list[str]:
        return write(settings.out, depth=20 if settings.quick else 50)

    def render(self, csv_dir: str, out_dir: str) -> Section:
        return Section()      # measured and drawn at once (no CSV)
