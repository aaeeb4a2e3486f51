"""The compiled tier beside the eager one, from results.csv's rows alone: when compiling pays off.

Contract: the compiled tier's rows are measured by the grid study, into results.csv
(``tier = "compiled"``, :mod:`compare.common.compiled`); this study reads them back:
:func:`pairs` (every configuration and mode timed in both tiers), :func:`plot` (``tiers.png``:
compile time vs size, and the calls it takes to pay off) and :func:`paragraph` (the tier
conclusions of summary.md). ``payoff`` (calls after which compiling wins) lives in
:mod:`compare.common.compiled`, which ``recommend`` shares.
"""
from __future__ import annotations

import os
from collections import defaultdict

from ..common.compiled import COMPILED, payoff
from ..common.results import best_times, break_even_fit, compile_times, heatmap_grids, read_rows
from ..common.style import LINES, STYLE, fmt_time, plt as _plt
from .base import Section, Study

PLOT = "tiers.png"


def pairs(best, rows):
    """``[(problem, n, m, mode, t_eager, t_compiled, compile_s)]`` for every configuration and
    mode timed in both tiers (``best``: :func:`compare.common.results.best_times`)."""
    comp = compile_times(rows)
    out = []
    for (p, n, m), modes in sorted(best.items()):
        for mode, twin in COMPILED.items():
            if mode in modes and twin in modes and (p, n, m, twin) in comp:
                out.append((p, n, m, mode, modes[mode][0], modes[twin][0], comp[(p, n, m, twin)]))
    return out


def plot(best, rows, path):
    """``tiers.png``: compile time vs n (m = 1 problems, and every configuration), and the calls
    after which compiling pays off."""
    plt = _plt()
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
    ``m* = K n^p`` (:func:`compare.common.results.break_even_fit`, None for none) over its grid's sizes."""
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
            f"n = {n_hi} compiled reverse mode goes from {fmt_time(lo[rc][0])} to {fmt_time(hi[rc][0])} "
            f"(x{hi[rc][0] / lo[rc][0]:.2g}; {lo[rc][0] / lo['numpy'][0]:.3g} to "
            f"{hi[rc][0] / hi['numpy'][0]:.3g} evaluations of f), compiled forward mode from "
            f"{fmt_time(lo[fc][0])} to {fmt_time(hi[fc][0])} (x{hi[fc][0] / lo[fc][0]:.2g}, ceil(n/k) "
            f"passes of k = {hi[fc][1]} directions); eager: reverse {fmt_time(lo['reverse'][0])} to "
            f"{fmt_time(hi['reverse'][0])}, forward {fmt_time(lo['forward'][0])} to "
            f"{fmt_time(hi['forward'][0])}.")
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
            f"{fmt_time(fastest[3])} ({fastest[0]}, n = {fastest[1]}), the compiled tier's fixed cost "
            f"per call (argument checks, the chunk driver, one numpy call per op outside a fused "
            f"loop), while the costliest f here takes {fmt_time(f_max[4])} ({f_max[0]}, "
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
            text += (f" Largest gain: {p} n = {n}, m = {m}, {mode} mode: {fmt_time(t_c)} compiled "
                     f"after a {c:.2g} s compile, eager {fmt_time(t_e)}: compiling pays off after "
                     f"{q} Jacobians.")
        lines.append(text)
    return lines


class TiersStudy(Study):
    """The compiled tier: measured into results.csv by the grid study, rendered here."""

    name = "tiers"
    csv = "results.csv"

    def __init__(self, path: str | None = None):
        self.path = path        # results.csv elsewhere, or under another name

    def measure(self, settings) -> list[str]:
        return []       # the grid study times the compiled tier beside each eager configuration

    def render(self, csv_dir: str, out_dir: str) -> Section:
        """``tiers.png`` and the tier conclusions (none without compiled rows)."""
        rows = read_rows(self.path or os.path.join(csv_dir, self.csv))
        best = best_times(rows)
        path = os.path.join(out_dir, PLOT)
        plot(best, rows, path)
        fits = {tier: (break_even_fit(ns, ms, grid), ns, ms)
                for tier, ns, ms, grid in heatmap_grids(best)}
        return Section([path], paragraph(best, rows, fits), [PLOT])
