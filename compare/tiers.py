"""The compiled tier beside the eager one: its timings, its compile time, and when it pays off.

Contract: :func:`measure(f, x, ...)` returns rows like :func:`compare.timing.measure`'s (the
columns of ``results.csv``), one per mode of the compiled tier (:mod:`adops.compile`):

- ``forward-compiled`` / ``jacobian``: ``dualad.jacfwd(f, chunk=k, compiled=True)(x)`` at the
  automatic width ``k = auto_chunk(n)`` (one program serves every width, so only that one is
  timed);
- ``reverse-compiled`` / ``jacobian``: ``revad.jacrev(f, chunk=k, compiled=True)(x)``, one
  compiled forward pass and ``ceil(m / k)`` compiled sweeps, ``k = auto_chunk(m)``.

Each row has ``tier = "compiled"``; ``first_call_seconds`` is the first call (trace, code
generation, numba compilation of that mode's loops, one run) and ``compile_seconds`` that minus
the best later call: the one-off cost of the tier. Each mode compiles its own copy of ``f``, so
neither inherits the other's trace. Rows of the eager tier get ``tier = "eager"``
(:func:`tag_eager`). :func:`cold_cache` gives the block a fresh ``ADOPS_CACHE_DIR``, so a compile
time is that of a first run, not a warm start from the disk cache.

From the rows alone (no timing): :func:`payoff` (calls after which compiling wins),
:func:`plot` (``tiers.png``: compile time vs size, and the calls it takes to pay off) and
:func:`paragraph` (the tier section of summary.md).
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections import defaultdict

import numpy as np

import dualad
import revad
from adops.program.inputs import as_primal, auto_chunk

from .timing import best_of

#: each mode of the eager tier and its compiled twin (the ``mode`` column of results.csv)
COMPILED = {"forward": "forward-compiled", "reverse": "reverse-compiled"}
PLOT = "tiers.png"


@contextlib.contextmanager
def cold_cache():
    """A fresh, temporary ``ADOPS_CACHE_DIR`` for the block (removed after), so the compiled
    tier's first calls compile instead of loading code a previous run left on disk."""
    before = os.environ.get("ADOPS_CACHE_DIR")
    path = tempfile.mkdtemp(prefix="adops-compare-")
    os.environ["ADOPS_CACHE_DIR"] = path
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("ADOPS_CACHE_DIR", None)
        else:
            os.environ["ADOPS_CACHE_DIR"] = before
        shutil.rmtree(path, ignore_errors=True)


def tag_eager(rows):
    """Mark our modes' rows as the eager tier (in place); returns the rows."""
    for r in rows:
        if r["mode"] in COMPILED:
            r["tier"] = "eager"
    return rows


def _own_copy(f):
    # a new function object: the compiled tier keys its programs by function
    def f_copy(x):
        return f(x)
    return f_copy


def measure(f, x, *, problem="user", n=None, m=None, repeat=3, versions="") -> list[dict]:
    """Time the full Jacobian of ``f`` at ``x`` in the compiled tier, both modes; see the module
    docstring. Call it inside :func:`compare.timing.fixed_threads` as the eager timings are.

    Example:
        >>> import numpy as np
        >>> rows = measure(lambda x: np.sin(x) * x, np.ones(3), repeat=1)
        >>> [(r["mode"], r["tier"], r["compile_seconds"] > 0) for r in rows]
        [('forward-compiled', 'compiled', True), ('reverse-compiled', 'compiled', True)]
    """
    x = as_primal(x, "x")
    n = x.size if n is None else n
    m = np.asarray(f(x)).size if m is None else m
    rows = []
    jacobians = {
        "forward": (auto_chunk(x.size),
                    lambda k: dualad.jacfwd(_own_copy(f), chunk=k, compiled=True)),
        "reverse": (auto_chunk(max(m, 1)),
                    lambda k: revad.jacrev(_own_copy(f), chunk=k, compiled=True)),
    }
    for mode, (k, make) in jacobians.items():
        jac = make(k)
        best, first = best_of(lambda: jac(x), repeat)
        rows.append(dict(problem=problem, mode=COMPILED[mode], n=n, m=m, chunk=k,
                         chunk_rule="auto", phase="jacobian", seconds=best, repeat=repeat,
                         first_call_seconds=first, peak_bytes="", tape_bytes="",
                         versions=versions, tier="compiled",
                         compile_seconds=max(first - best, 0.0)))
    return rows


# ---------------------------------------------------------------------- from the rows alone
def compile_times(rows) -> dict:
    """``{(problem, n, m, mode): compile seconds}`` of the compiled rows."""
    out = {}
    for r in rows:
        if r.get("tier") == "compiled" and r.get("compile_seconds") not in (None, ""):
            out[(r["problem"], r["n"], r["m"], r["mode"])] = float(r["compile_seconds"])
    return out


def payoff(t_eager: float, t_compiled: float, compile_seconds: float):
    """Calls after which the compiled tier's total time (compile + calls x t_compiled) is below
    the eager tier's (calls x t_eager); None when the compiled call is not faster.

    >>> payoff(2.1e-3, 0.3e-3, 1.2)
    667
    """
    if t_compiled >= t_eager:
        return None
    return max(1, math.ceil(compile_seconds / (t_eager - t_compiled)))


def pairs(best, rows):
    """``[(problem, n, m, mode, t_eager, t_compiled, compile_s)]`` for every configuration and
    mode timed in both tiers (``best``: :func:`compare.report.best_times`)."""
    comp = compile_times(rows)
    out = []
    for (p, n, m), modes in sorted(best.items()):
        for mode, twin in COMPILED.items():
            if mode in modes and twin in modes and (p, n, m, twin) in comp:
                out.append((p, n, m, mode, modes[mode][0], modes[twin][0], comp[(p, n, m, twin)]))
    return out


def _fmt(s):
    return f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} us"


def plot(best, rows, path):
    """``tiers.png``: compile time vs n (m = 1 problems, and every configuration), and the calls
    after which compiling pays off."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .report import LINES, STYLE
    both = pairs(best, rows)
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharex=True)
    series = defaultdict(list)
    scalar_sweeps = ("dense", "rosenbrock", "mlp_loss")     # the m = 1 sweeps over n
    for p, n, m, mode, t_e, t_c, c in both:
        if m == 1 and p in scalar_sweeps:
            series[(p, mode)].append((n, c, payoff(t_e, t_c, c)))
    for (p, mode), pts in sorted(series.items()):
        pts.sort()
        color, marker = STYLE[COMPILED[mode]]
        axes[0].plot([a for a, _, _ in pts], [c for _, c, _ in pts], marker=marker, color=color,
                     linestyle=LINES.get(p, "-"), label=f"{p} {mode}")
        paid = [(a, q) for a, _, q in pts if q is not None]
        if paid:
            axes[1].plot([a for a, _ in paid], [q for _, q in paid], marker=marker, color=color,
                         linestyle=LINES.get(p, "-"), label=f"{p} {mode}")
    never = sorted({f"{p} {mode}" for p, n, m, mode, t_e, t_c, c in both
                    if m == 1 and p in scalar_sweeps and payoff(t_e, t_c, c) is None})
    axes[0].set_title("compile time (first call - best call), m = 1", fontsize=10)
    axes[0].set_ylabel("seconds, once per (function, shapes)")
    axes[1].set_title("calls after which compiling pays off, m = 1\n"
                      "compile / (t_eager - t_compiled)", fontsize=10)
    axes[1].set_ylabel("Jacobians")
    if never:
        fig.text(0.99, 0.01, "compiled call not faster than the eager one (no pay-off) at some "
                 "n of: " + ", ".join(never), ha="right", va="bottom", fontsize=7)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("inputs n")
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=6.5, loc="best", framealpha=0.7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def paragraph(best, rows, fits) -> list:
    """The conclusions about the two tiers, as summary.md bullet lines (empty without compiled
    rows). ``fits``: ``{tier: (fit, ns, ms)}``, each tier's break-even line ``fit = (K, p)``,
    ``m* = K n^p`` (:func:`compare.report.break_even_fit`, None for none) over its grid's sizes."""
    comp = compile_times(rows)
    if not comp:
        return []
    lines = []
    dense = [(n, modes) for (p, n, m), modes in sorted(best.items())
             if p == "dense" and m == 1 and all(COMPILED[md] in modes for md in COMPILED)
             and "numpy" in modes]
    if len(dense) >= 2:
        (n_lo, lo), (n_hi, hi) = dense[0], dense[-1]
        rc, fc = COMPILED["reverse"], COMPILED["forward"]
        lines.append(
            f"- **Compiled tier, many inputs, one output** (dense, m = 1): from n = {n_lo} to "
            f"n = {n_hi} compiled reverse mode goes from {_fmt(lo[rc][0])} to {_fmt(hi[rc][0])} "
            f"(x{hi[rc][0] / lo[rc][0]:.2g}; {lo[rc][0] / lo['numpy'][0]:.3g} to "
            f"{hi[rc][0] / hi['numpy'][0]:.3g} evaluations of f), compiled forward mode from "
            f"{_fmt(lo[fc][0])} to {_fmt(hi[fc][0])} (x{hi[fc][0] / lo[fc][0]:.2g}, ceil(n/k) "
            f"passes of k = {hi[fc][1]} directions); eager: reverse {_fmt(lo['reverse'][0])} to "
            f"{_fmt(hi['reverse'][0])}, forward {_fmt(lo['forward'][0])} to "
            f"{_fmt(hi['forward'][0])}.")
    evals = [(p, n, modes[COMPILED["reverse"]][0] / modes["numpy"][0],
              modes[COMPILED["reverse"]][0], modes["numpy"][0])
             for (p, n, m), modes in best.items()
             if m == 1 and COMPILED["reverse"] in modes and "numpy" in modes]
    if evals:
        lo = min(evals, key=lambda e: e[2])
        hi = max(evals, key=lambda e: e[2])
        fastest = min(evals, key=lambda e: e[3])
        f_max = max(evals, key=lambda e: e[4])
        lines.append(
            f"- **Cost of a gradient, compiled** (m = 1, cost_in_evals.png): "
            f"{lo[2]:.3g} ({lo[0]}, n = {lo[1]}) to {hi[2]:.3g} ({hi[0]}, n = {hi[1]}) "
            f"evaluations of f, not the theory's 3-4: the fastest compiled gradient took "
            f"{_fmt(fastest[3])} ({fastest[0]}, n = {fastest[1]}), the compiled tier's fixed cost "
            f"per call (argument checks, the chunk driver, one numpy call per op outside a fused "
            f"loop), while the costliest f here takes {_fmt(f_max[4])} ({f_max[0]}, "
            f"n = {f_max[1]}). The 3-4 needs an f that costs well above that fixed cost "
            "(benchmarks/compiled.py: Rosenbrock at n = 10^6).")
    if fits:
        def line(entry):
            fit, ns, ms = entry
            if fit is None:
                return "none (the ratio does not grow with m)"
            K, p = fit
            at = []
            for n in (ns[0], ns[-1]):
                v = K * n ** p
                where = "" if ms[0] <= v <= ms[-1] else ", outside the measured m"
                at.append(f"n = {n}: m* ~ {v:.3g}{where}")
            return f"m* ~ {K:.2g} n^{p:.2f} ({'; '.join(at)})"
        lines.append(
            "- **Break-even by tier** (dense, t_reverse = t_forward, fitted to each tier's grid "
            "of heatmap.png, where both are drawn as lines): "
            + "; ".join(f"{tier}: {line(fit)}" for tier, fit in fits.items())
            + ". Reverse wins below a tier's line, forward above; the theory's line is m* ~ n "
              "once n and m exceed the chunk width.")
    both = pairs(best, rows)
    if both:
        cs = sorted(c for *_, c in both)
        faster = [(t_e / t_c) for *_, t_e, t_c, _ in both]
        paid = [(p, n, m, mode, payoff(t_e, t_c, c), t_e, t_c, c) for p, n, m, mode, t_e, t_c, c in both]
        wins = sum(1 for f in faster if f > 1)
        example = max((e for e in paid if e[4] is not None), key=lambda e: e[5] / e[6],
                      default=None)
        text = (f"- **Compile time** (tiers.png): {cs[0]:.2g} s to {cs[-1]:.2g} s per (problem, "
                f"n, m, mode), median {cs[len(cs) // 2]:.2g} s (trace, code generation, numba, "
                f"from a cold cache; a warm disk cache starts a program in under 0.5 s). The "
                f"compiled call was faster than the eager one in {wins} of {len(both)} "
                f"(configuration, mode) pairs (median speed-up {sorted(faster)[len(faster) // 2]:.2g}x).")
        if example:
            p, n, m, mode, q, t_e, t_c, c = example
            text += (f" Largest gain: {p} n = {n}, m = {m}, {mode} mode: {_fmt(t_c)} compiled "
                     f"after a {c:.2g} s compile, eager {_fmt(t_e)}: compiling pays off after "
                     f"{q} Jacobians.")
        lines.append(text)
    return lines
