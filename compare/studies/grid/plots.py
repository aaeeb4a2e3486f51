"""The grid study's plots, from results.csv's rows alone: time vs n, time vs m, the heatmap of
t_reverse / t_forward with each tier's break-even line, cost in evaluations of f, and memory
vs n (which varies n at one fixed depth: it shows forward mode's tangent width, not the tape).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ...common.results import break_even_fit, heatmap_grids, peak
from ...common.style import LINES, STYLE, plt as _plt


def _series(rows, problem, vary, fixed_name, fixed_value):
    """{label: [(x, seconds)]}; forward per chunk width, the rest per mode."""
    series = defaultdict(list)
    for r in rows:
        if r["problem"] != problem or r["phase"] != "jacobian" or r[fixed_name] != fixed_value:
            continue
        if r["mode"] in ("forward", "reverse"):
            auto = r.get("chunk_rule") == "auto"
            label = r["mode"] + (" (auto chunk)" if auto else f" (chunk {r['chunk']})")
        else:
            label = r["mode"]
        series[label].append((r[vary], r["seconds"]))
    return {k: sorted(v) for k, v in series.items()}


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
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def plot_time_vs_n(rows, path):
    plt = _plt()
    problems = [p for p in ("dense", "rosenbrock", "mlp_loss")
                if any(r["problem"] == p and r["m"] == 1 for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(problems)), figsize=(5 * max(1, len(problems)), 4.2))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, problems):
        _line_plot(ax, _series(rows, p, "n", "m", 1), "inputs n", f"{p}: m = 1 output")
    fig.suptitle("Many inputs, one output: reverse stays flat, forward grows with n "
                 "(both tiers: eager, and compiled in dark red / navy)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_time_vs_m(rows, path):
    plt = _plt()
    ns = sorted({r["n"] for r in rows if r["problem"] == "wide"}) or [None]
    n_fixed = ns[0]
    problems = [p for p in ("dense", "wide") if any(r["problem"] == p and r["n"] == n_fixed for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(problems)), figsize=(5 * max(1, len(problems)), 4.2))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, problems):
        _line_plot(ax, _series(rows, p, "m", "n", n_fixed), "outputs m", f"{p}: n = {n_fixed} inputs")
    fig.suptitle("Few inputs, many outputs: the mirror image, forward stays flat "
                 "(both tiers: eager, and compiled in dark red / navy)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heatmap(best, path, problem="dense"):
    """t_reverse / t_forward over the complete (n, m) grid of each tier measured (one panel per
    tier), with each tier's break-even as a line (:func:`break_even_fit` of its cells), solid
    for the panel's tier, dashed for the other's. Returns ``{(panel tier, line tier): (x, y)}``,
    the line in the panel's cell coordinates."""
    plt = _plt()
    from matplotlib.lines import Line2D
    panels = heatmap_grids(best, problem)
    drawn = {}
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(6 * max(1, len(panels)), 6.0),
                             squeeze=False)
    axes = axes[0]
    if not panels:
        axes[0].text(0.5, 0.5, f"this run measured no (n, m) grid of {problem}\n"
                               "(python -m compare without --problem does)",
                     ha="center", va="center")
        axes[0].axis("off")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return drawn
    lim = max(1.0, max(float(np.max(np.abs(g))) for *_, g in panels))
    for ax, (tier, ns, ms, grid) in zip(axes, panels):
        im = ax.imshow(grid, origin="lower", cmap="coolwarm", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(ns)), [str(n) for n in ns])
        ax.set_yticks(range(len(ms)), [str(m) for m in ms])
        ax.set_xlabel("inputs n")
        ax.set_ylabel("outputs m")
        for i in range(len(ms)):
            for j in range(len(ns)):
                ax.text(j, i, f"{2 ** grid[i, j]:.2g}", ha="center", va="center", fontsize=8)
        handles = []
        # cell coordinates are linear in log size between the grid's sizes
        to_x = np.poly1d(np.polyfit(np.log2(ns), np.arange(len(ns)), 1))
        to_y = np.poly1d(np.polyfit(np.log2(ms), np.arange(len(ms)), 1))
        for other, o_ns, o_ms, o_grid in panels:
            own = other == tier
            fit = break_even_fit(o_ns, o_ms, o_grid)
            label = f"{other} break-even (t_rev = t_fwd)"
            if fit is not None:
                K, p = fit
                ln = np.linspace(np.log2(ns[0]), np.log2(ns[-1]), 50)
                lm = np.log2(K) + p * ln
                keep = (lm >= np.log2(ms[0]) - 0.5) & (lm <= np.log2(ms[-1]) + 0.5)
                x, y = to_x(ln[keep]), to_y(lm[keep])
                label += f": m ~ {K:.2g} n^{p:.2f}" + ("" if keep.any() else ", off the grid")
                if keep.any():
                    drawn[(tier, other)] = (x, y)
                    ax.plot(x, y, color="black" if own else "dimgray",
                            lw=2.4 if own else 1.5, linestyle="-" if own else "--")
            else:
                label += ": none (the ratio does not grow with m)"
            handles.append(Line2D([], [], color="black" if own else "dimgray",
                                  lw=2.4 if own else 1.5, linestyle="-" if own else "--",
                                  label=label))
        ax.set_xlim(-0.5, len(ns) - 0.5)
        ax.set_ylim(-0.5, len(ms) - 0.5)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13),
                  fontsize=7, title="break-even lines fitted to the cells: "
                                    "log ratio = a + b log m + c log n", title_fontsize=7)
        ax.set_title(f"{problem}, {tier} tier: t_reverse / t_forward\n"
                     "(blue: reverse wins, red: forward wins)", fontsize=9)
        fig.colorbar(im, ax=ax, label="log2(t_reverse / t_forward)", shrink=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


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
    fig, axes = plt.subplots(len(tiers), 2, figsize=(10, 4.2 * len(tiers)), squeeze=False,
                             sharey="col")
    cells = [(ax, vary, title, tier, modes) for (tier, modes), row in zip(tiers, axes)
             for ax, (vary, title) in zip(row, (("n", "m = 1 (dense, rosenbrock, mlp_loss)"),
                                                ("m", "fixed n (dense, wide)")))]
    for ax, vary, title, tier, modes in cells:
        title = f"{tier} tier, {title}"
        if tier == "compiled" and vary == "n":
            ax.axhspan(3, 4, color="gold", alpha=0.3, label="theory: a gradient is 3-4 evals")
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
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory(rows, path):
    plt = _plt()
    peaks = peak(rows)
    fig, ax = plt.subplots(figsize=(6.4, 5))
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
    ax.legend(fontsize=7)
    fig.text(0.5, 0.005, "What grows here is forward mode's tangent width: every value carries k "
             "directions (k up to 256),\nso forward memory rises with n. These functions are a "
             "few ops deep, so the tape stays short.\nReverse mode's memory grows with depth "
             "(the tape keeps every op): see memory_vs_depth.png.",
             ha="center", va="bottom", fontsize=7.5)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
