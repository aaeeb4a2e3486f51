"""Memory advice for your function: does reverse mode's tape fit a budget, and what to do when
it does not (``python -m compare recommend f --memory-budget MB``).

Contract: :func:`memory_advice(f, x, budget)` (``budget`` in bytes) measures the peak bytes of
reverse mode on ``f`` at ``x``, one recording plus one sweep (``revad.vjp`` with a cotangent of
ones, ``tracemalloc``: the tape and what the sweep allocates; a tape's own ``nbytes`` would
count an array shared by many entries, such as a weight matrix, once per entry), and forward
mode's peak along one direction (``dualad.jvp``: flat in depth). It returns a
:class:`MemoryAdvice` whose ``str()`` is the advice: within the budget, nothing to do; over it,
checkpointing (``adops.scan(step, carry, xs, checkpoints=s)`` for a loop, keeping at most
``s`` carries; ``revad.checkpoint(block)`` for a block of layers), with the ``s`` a loop of
``T`` equal steps would need, and forward mode when ``f`` has few inputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import dualad
import revad
from adops.program.inputs import as_primal

from ..common.style import fmt_bytes
from ..common.timing import peak_bytes


@dataclass
class MemoryAdvice:
    """Reverse mode's ``reverse_peak``, forward mode's ``forward_peak`` (one direction), the
    ``budget`` and ``n`` (inputs); ``fits``: the reverse peak is within the budget."""

    budget: float
    reverse_peak: int
    forward_peak: int
    n: int

    @property
    def fits(self) -> bool:
        return self.reverse_peak <= self.budget

    def over(self) -> float:
        """How many times the tape must shrink: the reverse peak over the budget."""
        return self.reverse_peak / self.budget

    def __str__(self):
        head = (f"Memory: reverse mode on f peaks at {fmt_bytes(self.reverse_peak)} (its tape "
                f"and one sweep) against a budget of {fmt_bytes(self.budget)}")
        if self.fits:
            return head + ": it fits, no checkpointing needed."
        shrink = self.over()
        text = (head + f": {shrink:.3g}x over. Checkpoint it: write f's loop as "
                "adops.scan(step, carry, xs, checkpoints=s), which keeps at most s carries and "
                "recomputes the other steps during the sweep (the fewest recomputations "
                "possible, adops.control.optimal_recomputations(T, s)); for a loop of T equal "
                f"steps that make up the tape, about s <= T / {math.ceil(shrink)} carries fit "
                "(checkpoints='sqrt' keeps sqrt(T) of them: about 1% of the tape at 2 to 3x "
                "the time for compare's recurrence at T = 3000). Or wrap blocks of layers in "
                "revad.checkpoint(block): their intermediates are recomputed in the sweep.")
        if self.forward_peak <= self.budget:
            text += (f" Forward mode needs {fmt_bytes(self.forward_peak)} (flat in depth) but "
                     f"one pass per input: worth it for few inputs (f has n = {self.n}).")
        return text


def memory_advice(f, x, budget: float) -> MemoryAdvice:
    """Measure reverse and forward mode's memory for ``f`` at ``x`` against ``budget`` bytes.

    Example:
        >>> import numpy as np
        >>> def f(x):
        ...     for _ in range(200):
        ...         x = np.tanh(x)
        ...     return np.sum(x)
        >>> advice = memory_advice(f, np.ones(100), budget=10e3)
        >>> advice.fits, "adops.scan" in str(advice)
        (False, True)
    """
    if not budget > 0:
        raise ValueError(f"memory_advice: the budget must be a positive number of bytes, got "
                         f"{budget!r}")
    x = as_primal(x, "x")
    out = np.asarray(f(x))

    def reverse():
        _, pull = revad.vjp(f, x)
        pull(np.ones(out.shape, out.dtype))
    reverse()
    rev = min(peak_bytes(reverse), peak_bytes(reverse))
    v = np.ones_like(x)
    fwd = peak_bytes(lambda: dualad.jvp(f, (x,), (v,)))
    return MemoryAdvice(float(budget), int(rev), int(fwd), int(x.size))
