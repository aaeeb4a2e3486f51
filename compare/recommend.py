"""recommend: which mode (and chunk width) to use for your function, from measurement.

Contract: for ``f`` with ``x: (*in_shape)`` (n entries) and ``f(x): (*out_shape)`` (m entries),
a few probes are timed: one forward pass with k directions for a few k, one recording and one
reverse sweep with k seeds. The full-Jacobian cost is predicted as

    forward(k) = ceil(n / k) * t_pass(k)
    reverse(k) = t_record + ceil(m / k) * t_sweep(k)

and the cheapest (mode, k) is recommended, with the predicted times and the reason in words.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import dualad
from adops.inputs import as_primal, auto_chunk
from .timing import best_of, reverse_phases


@dataclass
class Recommendation:
    """The recommended mode and chunk, with every predicted full-Jacobian time (seconds)."""

    mode: str
    chunk: int
    predicted: dict = field(default_factory=dict)
    n: int = 0
    m: int = 0
    reason: str = ""

    def __str__(self):
        rows = "\n".join(f"  {mode:8s} chunk {k:>4}: {t * 1e3:9.3f} ms"
                         for (mode, k), t in sorted(self.predicted.items(), key=lambda kv: kv[1]))
        return (f"use {self.mode} mode (chunk {self.chunk}) for f: R^{self.n} -> R^{self.m}\n"
                f"{self.reason}\npredicted full-Jacobian times:\n{rows}")


def _chunks(size):
    return sorted({k for k in (1, 8, 32, auto_chunk(size), size) if 1 <= k <= max(size, 1)})


def recommend(f, x, *, repeat: int = 3) -> Recommendation:
    """Measure a few JVPs and VJPs of ``f`` at ``x`` and recommend a mode for its Jacobian.

    Example:
        >>> import numpy as np
        >>> rec = recommend(lambda x: np.sum(x ** 2), np.ones(1000), repeat=1)
        >>> rec.mode
        'reverse'
    """
    x = as_primal(x, "x")
    out = np.asarray(f(x))
    n, m = x.size, out.size
    predicted = {}
    rng = np.random.default_rng(0)
    for k in _chunks(n):
        V = rng.standard_normal((k,) + x.shape).astype(x.dtype)
        t, _ = best_of(lambda: dualad.jvp(f, (x,), (V,), batched=True), repeat)
        predicted[("forward", k)] = math.ceil(n / k) * t
    for k in _chunks(m):
        record, sweep = reverse_phases(f, x, k, first_chunk_only=True)
        t_rec, _ = best_of(record, repeat)
        record()
        t_sweep, _ = best_of(sweep, repeat)
        predicted[("reverse", k)] = t_rec + math.ceil(m / k) * t_sweep
    (mode, k), best = min(predicted.items(), key=lambda kv: kv[1])
    fwd = min(v for (md, _), v in predicted.items() if md == "forward")
    rev = min(v for (md, _), v in predicted.items() if md == "reverse")
    other = "reverse" if mode == "forward" else "forward"
    ratio = max(fwd, rev) / max(min(fwd, rev), 1e-12)
    reason = (f"f has n = {n} inputs and m = {m} outputs: forward mode needs ceil(n/k) passes, "
              f"reverse mode one recording plus ceil(m/k) sweeps. Measured, {mode} mode is "
              f"predicted {ratio:.3g}x faster than {other} mode for the full Jacobian.")
    return Recommendation(mode, k, predicted, n, m, reason)
