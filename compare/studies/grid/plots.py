"""The grid study's plots, from results.csv's rows alone: time vs n, time vs m, cost in
evaluations of f, and memory vs n (which varies n at one fixed depth: it shows forward mode's
tangent width, not the tape); the heatmap is :mod:`.heatmap`. One line per distinct
computation: where the automatic chunk equals chunk 1 (reverse mode at m = 1) the two rows time
the same computation, drawn once. Legends sit outside the axes.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ...common.results import peak
from ...common.style import LINES, STYLE, plt as _plt


def _series(rows, problem, vary, fixed_name, fixed_value):
    """{label: [(x, seconds)]}; forward and reverse per chunk width (automatic, and fixed), the
    rest per mode. A point of the automatic chunk whose width equals a fixed width's at the
    same x is the same computation: it is dropped, and a fixed series left with no automatic
    twin anywhere is labelled ``= auto``."""
    series, chunks = defaultdict(dict), {}
    for r in rows:
        if r["problem"] != problem or r["phase"] != "jacobian" or r[fixed_name] != fixed_value:
            continue
        if r["mode"] in ("forward", "reverse"):
            auto = r.get("chunk_rule") == "auto"
            label = r["mode"] + (" (auto chunk)" if auto else f" (chunk {r['chunk']})")
            chunks[(label, r[vary])] = str(r["chunk"])
        else:
            label = r["mode"]
        old = series[label].get(r[vary])
        series[label][r[vary]] = r["seconds"] if old is None else min(old, r["seconds"])
    for mode in ("forward", "reverse"):
        auto = series.get(f"{mode} (auto chunk)", {})
        fixed = [lb for lb in series if lb.startswith(mode + " (chunk")]
        for x in list(auto):
            for lb in fixed:
                if x in series[lb] and chunks.get((lb, x)) == chunks.get((f"{mode} (auto chunk)", x)):
                    del auto[x]
                    break
        if f"{mode} (auto chunk)" in series and not auto:
            del series[f"{mode} (auto chunk)"]
            for lb in fixed:
                series[lb.removesuffix(")") + " = auto)"] = series.pop(lb)
    return {k: sorted(v.items()) for k, v in series.items() if v}


def _line_plot(ax, series, xlabel, title):
    for label, pts in sorted(series.items()):
        mode = label.split(" ")[0]
        color, marker = STYLE.get(mode, ("black", "."))
        dashed = "chunk 1)" in label
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color,
                linestyle="--" if dashed else "-", label=label, alpha=0.9,
                lw=2.2 if "compiled" in label else 1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("seconds for the full Jacobian")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)


def plot_time_vs_n(rows, path):
    plt = _plt()
    problems = [p for p in ("dense", "rosenbrock", "mlp_loss")
                if any(r["problem"] == p and r["m"] == 1 for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(problems)), figsize=(5 * max(1, len(problems)), 5.6))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, problems):
        _line_plot(ax, _series(rows, p, "n", "m", 1), "inputs n", f"{p}: m = 1 output")
    fig.suptitle("Many inputs, one output: reverse stays flat, forward grows with n\n"
                 "(both tiers: eager, and compiled in dark red / navy)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_time_vs_m(rows, path):
    plt = _plt()
    ns = sorted({r["n"] for r in rows if r["problem"] == "wide"}) or [None]
    n_fixed = ns[0]
    problems = [p for p in ("dense", "wide") if any(r["problem"] == p and r["n"] == n_fixed for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(problems)), figsize=(5 * max(1, len(problems)), 5.6))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, problems):
        _line_plot(ax, _series(rows, p, "m", "n", n_fixed), "outputs m", f"{p}: n = {n_fixed} inputs")
    fig.suptitle("Few inputs, many outputs: the mirror image, forward stays flat\n"
                 "(both tiers: eager, and compiled in dark red / navy)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cost_series(best, vary, modes=("forward", "reverse", "finite_differences")):
    """{(problem, mode): [(size, t_mode / t_eval)]}: m = 1 problems by n, or the fixed-n
    problems (dense, wide at the smallest n of wide) by m."""
    n_fixed = min((n for (p, n, m) in best if p == "wide"), default=None)
    series = defaultdict(list)
    for (p, n, m), times in best.items():
        if "numpy" not in times:
            continue
        if vary == "n" and (m != 1 or p not in ("dense", "rosenbrock", "mlp_loss")):
            continue
        if vary == "m" and (p not in ("dense", "wide") or n != n_fixed):
            continue
        for mode in modes:
            if mode in times:
                series[(p, mode)].append((n if vary == "n" else m,
                                          times[mode][0] / times["numpy"][0]))
    return series


def plot_cost(best, path):
    """Jacobian cost in evaluations of f: the eager tier on top, the compiled tier below (when
    measured), m = 1 problems by n on the left, fixed-n problems by m on the right."""
    plt = _plt()
    tiers = [("eager", ("forward", "reverse", "finite_differences"))]
    if any("reverse-compiled" in modes for modes in best.values()):
        tiers.append(("compiled", ("forward-compiled", "reverse-compiled")))
    fig, axes = plt.subplots(len(tiers), 2, figsize=(15, 4.4 * len(tiers)), squeeze=False,
                             sharey="col")
    cells = [(ax, vary, title, tier, modes) for (tier, modes), row in zip(tiers, axes)
             for ax, (vary, title) in zip(row, (("n", "m = 1 (dense, rosenbrock, mlp_loss)"),
                                                ("m", "fixed n (dense, wide)")))]
    for ax, vary, title, tier, modes in cells:
        title = f"{tier} tier, {title}"
        if vary == "n":
            ax.axhspan(3, 4, color="gold", alpha=0.3, label="theory: a gradient is 3-4 evals")
        else:
            ax.axhspan(3, 4, color="gold", alpha=0.3,
                       label="theory: 3-4 evals per pass (forward: one pass while n fits a chunk)")
        for (p, mode), pts in sorted(_cost_series(best, vary, modes).items()):
            pts.sort()
            color, marker = STYLE[mode]
            ax.plot([a for a, _ in pts], [b for _, b in pts], marker=marker, color=color,
                    linestyle=LINES.get(p, "-"), label=f"{p} {mode}", alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("inputs n" if vary == "n" else "outputs m")
        ax.set_ylabel("Jacobian cost / cost of one f evaluation")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory(rows, path):
    plt = _plt()
    peaks = peak(rows)
    fig, ax = plt.subplots(figsize=(9, 5))
    for p in ("dense", "rosenbrock", "mlp_loss"):
        for mode in ("forward", "reverse"):
            pts = sorted((n, b) for (pp, n, m, md), b in peaks.items()
                         if pp == p and md == mode and m == 1)
            if pts:
                color, marker = STYLE[mode]
                ax.plot([a for a, _ in pts], [b for _, b in pts], marker=marker, color=color,
                        linestyle=LINES[p],
                        label=f"{p} {mode} ({'tape + sweep' if mode == 'reverse' else 'duals'})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("inputs n (m = 1)")
    ax.set_ylabel("peak bytes allocated (tracemalloc)")
    ax.set_title("Peak memory vs inputs n at a fixed, shallow depth", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.text(0.5, 0.005, "What grows here is forward mode's tangent width: every value carries k "
             "directions (k up to 256),\nso forward memory rises with n. These functions are a "
             "few ops deep, so the tape stays short.\nReverse mode's memory grows with depth "
             "(the tape keeps every op): see memory_vs_depth.png.",
             ha="center", va="bottom", fontsize=7.5)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
