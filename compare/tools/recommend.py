"""recommend: which mode, chunk width and tier to use for your function, from measurement: the
plan of :mod:`compare.tools.planner` (shared with :func:`compare.jacobian`), in words.

Contract: for ``f`` with ``x: (*in_shape)`` (n entries) and ``f(x): (*out_shape)`` (m entries),
a few probes are timed in each tier (eager, and compiled: ``compiled=True``): one forward pass
with k directions for a few k, one recording (compiled: one forward pass) and one reverse sweep
with k seeds. The full-Jacobian cost is predicted as

    forward(k) = ceil(n / k) * t_pass(k)
    reverse(k) = t_record + ceil(m / k) * t_sweep(k)

and the compiled tier's one-off cost (trace and compile, per mode) is its first probe's extra
time. With ``sparsity`` (default ``"auto"``: detected from one trace, see
:mod:`adops.sparsity`), a sparse Jacobian is also timed coloured: one forward pass per colour of
columns, or one sweep per colour of rows (``forward-coloured``/``reverse-coloured``, chunk = the
number of colours), when colouring needs at most half the dense passes. The cheapest (mode, k) of each tier is compared: the compiled tier is recommended when
``compile + calls * t_compiled < calls * t_eager`` for the ``calls`` Jacobians you will compute,
and the advice says after how many calls compiling pays off.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import dualad
import revad
from adops.program.inputs import as_primal
from ..common.compiled import payoff
from ..common.style import fmt_ms as _ms
from .planner import Drivers, choose, measure

#: the modes as the planner (:mod:`compare.tools.planner`) calls them
DRIVERS = Drivers(dualad.jvp, revad.vjp, {"forward": dualad.jacfwd, "reverse": revad.jacrev})

#: Jacobians the advice assumes you will compute when choosing the tier
CALLS = 1000


@dataclass
class Recommendation:
    """The recommended mode, chunk and tier, with every predicted full-Jacobian time (seconds):
    ``predicted`` (eager) and ``compiled`` (the compiled tier, by (mode, k)), the compiled tier's
    one-off ``compile_seconds`` per mode, and ``payoff``: calls after which compiling the best
    compiled (mode, k) beats the best eager one (None: never)."""

    mode: str
    chunk: int
    predicted: dict = field(default_factory=dict)
    n: int = 0
    m: int = 0
    reason: str = ""
    tier: str = "eager"
    compiled: dict = field(default_factory=dict)
    compile_seconds: dict = field(default_factory=dict)
    calls: int = CALLS
    payoff: int | None = None

    def _best(self, table):
        return min(table.items(), key=lambda kv: kv[1]) if table else None

    def advice(self) -> str:
        """One line: the choice, its time per Jacobian, the compile it costs, the other tier."""
        (em, ek), te = self._best(self.predicted)
        if not self.compiled:
            return f"use {self.mode} mode (chunk {self.chunk}): {_ms(te)} per Jacobian (eager)"
        (cm, ck), tc = self._best(self.compiled)
        # call time and compile time stated apart: the call times do not depend on the disk
        # cache, the compile time does (a cold cache compiles, a warm one loads)
        compiled = f"{cm} mode, compiled (chunk {ck}): {_ms(tc)} per call"
        eager = f"{em} mode, eager (chunk {ek}): {_ms(te)} per call"
        once = (f"Compile time, apart from the calls: {self.compile_seconds[cm]:.2g} s compile "
                "once per (function, shapes), as measured now (a cold disk cache compiles; a "
                "warm one, ~/.cache/adops, loads the program in a fraction of that)")
        if self.payoff is None:
            pays = "compiling does not pay off here: the compiled call is not faster"
        else:
            pays = (f"with that compile time, compiling pays off after {self.payoff} Jacobian"
                    f"{'s' if self.payoff != 1 else ''}")
        first, second = (compiled, eager) if self.tier == "compiled" else (eager, compiled)
        return (f"use {first}; {second}. {once}; {pays} "
                f"(advice for {self.calls} calls: calls=N, --calls N).")

    def __str__(self):
        rows = [(t, f"  eager    {mode:8s} chunk {k:>4}: {_ms(t):>10}")
                for (mode, k), t in self.predicted.items()]
        rows += [(t, f"  compiled {mode:8s} chunk {k:>4}: {_ms(t):>10}  "
                     f"(+ {self.compile_seconds[mode]:.2g} s compile, once)")
                 for (mode, k), t in self.compiled.items()]
        table = "\n".join(line for _, line in sorted(rows))
        return (f"f: R^{self.n} -> R^{self.m}\n{self.advice()}\n{self.reason}\n"
                f"predicted full-Jacobian times:\n{table}")


def recommend(f, x, *, repeat: int = 3, compiled: bool = True,
              calls: int = CALLS, sparsity="auto") -> Recommendation:
    """Measure a few JVPs and VJPs of ``f`` at ``x`` in each tier and recommend a mode, chunk
    width and tier for its Jacobian.

    Args:
        f: a function of one array, written with numpy.
        x: the point.
        repeat: best-of repeats per probe.
        compiled: also probe the compiled tier (it compiles f once per mode: seconds).
        calls: how many Jacobians you will compute; the compiled tier is recommended when its
            compile plus ``calls`` compiled Jacobians beat ``calls`` eager ones.
        sparsity: ``"auto"`` (detect the Jacobian's pattern), a known ``(m, n)`` pattern, or
            None (dense modes only): a sparse Jacobian is also timed coloured (eager tier).

    Returns:
        A :class:`Recommendation`; ``str()`` of it is the advice with every predicted time.

    Example:
        >>> import numpy as np
        >>> rec = recommend(lambda x: np.sum(x ** 2), np.ones(1000), repeat=1, compiled=False)
        >>> rec.mode, rec.tier
        ('reverse', 'eager')
    """
    x = as_primal(x, "x")
    probes = measure(DRIVERS, f, x, repeat=repeat, compiled=compiled, sparsity=sparsity)
    n, m, colours = probes.n, probes.m, probes.counts
    predicted, compiled_times = probes.predicted["eager"], probes.predicted["compiled"]
    compile_s = probes.compile_seconds
    eager = choose(probes, calls, tiers=("eager",))
    mode, k, best, tier, pays = eager.mode, eager.chunk, eager.seconds, "eager", None
    if compiled_times and probes.dense_fits():  # the compiled tier times dense modes
        dense = choose(probes, calls, tiers=("compiled",))
        pays = payoff(best, dense.seconds, dense.compile_seconds)
        if choose(probes, calls).tier == "compiled":
            tier, mode, k = "compiled", dense.mode, dense.chunk
    table = compiled_times if tier == "compiled" else predicted
    fwd_t = min(v for (md, _), v in table.items() if md == "forward")
    rev_t = min(v for (md, _), v in table.items() if md == "reverse")
    dense = "forward" if fwd_t <= rev_t else "reverse"
    other = "reverse" if dense == "forward" else "forward"
    ratio = max(fwd_t, rev_t) / max(min(fwd_t, rev_t), 1e-12)
    reason = (f"f has n = {n} inputs and m = {m} outputs: forward mode needs ceil(n/k) passes, "
              f"reverse mode one recording plus ceil(m/k) sweeps. Measured, {dense} mode is "
              f"predicted {ratio:.3g}x faster than {other} mode for the full Jacobian "
              f"({tier} tier).")
    if colours:
        need = {mode: colours.get(mode, f"at least {probes.colour_bounds.get(mode)}")
                for mode in ("forward", "reverse")}
        reason += (f" The Jacobian's pattern needs {need['forward']} colours of columns "
                   f"(forward passes) and {need['reverse']} of rows (reverse sweeps)")
        if mode.endswith("coloured"):
            reason += (f": coloured {mode.split('-')[0]} mode is measured "
                       f"{min(fwd_t, rev_t) / best:.3g}x faster than the best dense mode "
                       f"(jacfwd/jacrev(f, sparsity='auto') return a scipy.sparse matrix).")
        else:
            reason += ", too many to beat the dense modes."
    return Recommendation(mode, k, predicted, n, m, reason, tier, compiled_times, compile_s,
                          calls, pays)
