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
from ..common.breakeven import noise_floor
from ..common.claims import Claim, Facts, combine, const, count_between
from ..common.results import best_times, compile_times, read_rows
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


def _ratio(v):
    return f"{v:.3g}"


def paragraph(best, rows) -> list:
    """The conclusions about the two tiers, as :class:`compare.common.claims.Claim` s (empty
    without compiled rows): the m = 1 sweep of dense in both tiers, the compiled gradient's cost
    in evaluations of f, and compile time with the gains and the losses of every pair timed in
    both tiers (a difference inside the run's noise floor counted apart)."""
    comp = compile_times(rows)
    if not comp:
        return []
    facts = Facts(rows, "results.csv")

    def t(p, mode, n, m, phase="jacobian"):
        return facts.q("seconds", "min", problem=p, mode=mode, n=n, m=m, phase=phase)
    lines = []
    rc, fc = COMPILED["reverse"], COMPILED["forward"]
    dense = [n for (p, n, m), modes in sorted(best.items())
             if p == "dense" and m == 1 and all(COMPILED[md] in modes for md in COMPILED)
             and "numpy" in modes]
    if len(dense) >= 2:
        lo, hi = dense[0], dense[-1]
        nums = []
        for mode in (rc, fc, "reverse", "forward"):
            a, b = t("dense", mode, lo, 1), t("dense", mode, hi, 1)
            nums.append([(a, fmt_time), (b, fmt_time), (b / a, lambda v: f"{v:.2g}")])
        ev = [(t("dense", rc, n, 1) / t("dense", "numpy", n, 1, "eval"), _ratio) for n in (lo, hi)]
        k = best[("dense", hi, 1)][fc][1]
        lines.append(Claim(
            f"- **Compiled tier, many inputs, one output** (dense, m = 1): from n = {lo} to "
            f"n = {hi} compiled reverse mode goes from {{}} to {{}} (x{{}}; {{}} to {{}} "
            f"evaluations of f), compiled forward mode from {{}} to {{}} (x{{}}, ceil(n/k) "
            f"passes of k = {k} directions); eager: reverse {{}} to {{}} (x{{}}), forward {{}} "
            f"to {{}} (x{{}}).",
            nums[0] + ev + nums[1] + nums[2] + nums[3]))
    keys = [(p, n) for (p, n, m), modes in sorted(best.items())
            if m == 1 and rc in modes and "numpy" in modes]
    if keys:
        evals = {key: t(key[0], rc, key[1], 1) / t(key[0], "numpy", key[1], 1, "eval")
                 for key in keys}
        lo = min(keys, key=lambda k: evals[k].value)
        hi = max(keys, key=lambda k: evals[k].value)
        fastest = min(keys, key=lambda k: best[(k[0], k[1], 1)][rc][0])
        f_max = max(keys, key=lambda k: best[(k[0], k[1], 1)]["numpy"][0])
        lines.append(Claim(
            f"- **Cost of a gradient, compiled** (m = 1, cost_in_evals.png): {{}} ({lo[0]}, "
            f"n = {lo[1]}) to {{}} ({hi[0]}, n = {hi[1]}) evaluations of f, not the theory's "
            f"3-4 at every size: the fastest compiled gradient took {{}} ({fastest[0]}, n = "
            f"{fastest[1]}), a few microseconds of it the compiled tier's fixed cost per call (a "
            "dictionary lookup and the numba calls of the fast path: benchmarks/compiled.py), "
            f"while the costliest f here takes {{}} ({f_max[0]}, n = {f_max[1]}), so the cheap "
            "ones are measured in fixed costs. The 3-4 needs an f that costs well above them "
            "(benchmarks/compiled.py: Rosenbrock at n = 10^6).",
            [(combine("min", list(evals.values())), _ratio),
             (combine("max", list(evals.values())), _ratio),
             (t(fastest[0], rc, fastest[1], 1), fmt_time),
             (t(f_max[0], "numpy", f_max[1], 1, "eval"), fmt_time)]))
    both = pairs(best, rows)
    if both:
        floor, _ = noise_floor(facts)
        f = floor.value if floor is not None else 1.0
        cs = [facts.q("compile_seconds", "max", problem=p, mode=COMPILED[mode], n=n, m=m,
                      phase="jacobian") for p, n, m, mode, *_ in both]
        speed = [t(p, mode, n, m) / t(p, COMPILED[mode], n, m) for p, n, m, mode, *_ in both]
        gain = max(range(len(both)), key=lambda i: speed[i].value)
        loss = min(range(len(both)), key=lambda i: speed[i].value)
        s2 = lambda v: f"{v:.2g}"   # noqa: E731
        nums = [(combine("min", cs), s2), (combine("max", cs), s2), (combine("median", cs), s2),
                (count_between(speed, f, float("inf")), _count),
                (count_between(speed, 0.0, 1 / f), _count),
                (count_between(speed, 1 / f, f), _count), (floor or const(1), _ratio),
                (combine("median", speed), s2)]
        text = ("- **Compile time and what it buys** (tiers.png): {} s to {} s per (problem, n, "
                "m, mode), median {} s (trace, code generation, numba, from a cold cache; a warm "
                "disk cache starts a program in under 0.5 s). Of the " + str(len(both))
                + " (configuration, mode) pairs timed in both tiers, the compiled call was "
                "faster in {}, slower in {} and within noise in {} (noise floor x{}); median "
                "speed-up {}x.")
        for label, i in (("Largest gain", gain), ("Largest loss", loss)):
            p, n, m, mode, t_e, t_c, c = both[i]
            q = payoff(t_e, t_c, c)
            text += (f" {label}: {p} n = {n}, m = {m}, {mode} mode: {{}} compiled against {{}} "
                     f"eager (x{{}})" + (f", so the {{}} s compile pays off after {q} Jacobians."
                                         if q is not None else ", so compiling never pays off."))
            nums += [(t(p, COMPILED[mode], n, m), fmt_time), (t(p, mode, n, m), fmt_time),
                     (speed[i], s2)] + ([(cs[i], s2)] if q is not None else [])
        lines.append(Claim(text, nums))
    return lines


def _count(v):
    return str(int(v))


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
        return Section([path], paragraph(best, rows), [PLOT])
