"""Plots and summary.md, drawn from results.csv alone (re-runnable without re-timing).

Contract: :func:`write_report(csv_path, out_dir)` reads the tidy rows and writes
``time_vs_n.png``, ``time_vs_m.png``, ``heatmap.png``, ``cost_in_evals.png``, ``memory.png`` and
``summary.md`` into ``out_dir``; when the memory-vs-depth study's ``depth.csv`` lies beside the
CSV, also ``memory_vs_depth.png`` and its paragraph in the summary; likewise ``hessian.png`` and
the second-order section for ``hessian.csv`` (compare.second_order). The teaching pictures, which
need no timing, are computed by the two modes on every report: ``jacobian_sweeps.png``
(:mod:`compare.jacobians`) and ``graph/`` (the graph page of ``f_3_to_2``, :mod:`compare.graph`).
For each configuration a mode's time is its best chunk width (forward: the fastest chunk;
reverse: record + sweep at the fastest chunk). ``memory.png`` varies n at one fixed depth: it shows forward mode's tangent width
(k directions per value), not the length of the tape; the depth study shows the tape's growth.
"""
from __future__ import annotations

import csv
import math
import os
import platform
from collections import defaultdict

import numpy as np

from .teaching import jacobians
from . import second_order
from . import tiers
from .depth import paragraph as depth_paragraph, plot as plot_depth, read_csv as read_depth_csv
from .teaching.graph import draw as draw_graph

PLOTS = ["time_vs_n.png", "time_vs_m.png", "heatmap.png", "cost_in_evals.png", "memory.png",
         tiers.PLOT]
DEPTH_PLOT = "memory_vs_depth.png"


def read_rows(csv_path: str) -> list[dict]:
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["n"], r["m"], r["seconds"] = int(r["n"]), int(r["m"]), float(r["seconds"])
    if not rows:
        raise ValueError(f"{csv_path} holds no measurements")
    return rows


def best_times(rows):
    """{(problem, n, m): {mode: (seconds, chunk)}} with the fastest chunk per mode."""
    best = defaultdict(dict)
    for r in rows:
        if r["phase"] not in ("jacobian", "eval"):
            continue
        key = (r["problem"], r["n"], r["m"])
        cur = best[key].get(r["mode"])
        if cur is None or r["seconds"] < cur[0]:
            best[key][r["mode"]] = (r["seconds"], r["chunk"])
    return best


def _peak(rows):
    peak = {}
    for r in rows:
        if r["phase"] == "jacobian" and r.get("peak_bytes"):
            key = (r["problem"], r["n"], r["m"], r["mode"])
            peak[key] = max(peak.get(key, 0), int(float(r["peak_bytes"])))
    return peak


def _tier_modes(tier):
    """The (forward, reverse) mode names of a tier in results.csv."""
    return ("forward", "reverse") if tier == "eager" else ("forward-compiled", "reverse-compiled")


def break_even(best, problem="dense", tier="eager"):
    """For each n, the m at which t_reverse / t_forward crosses 1 (log-interpolated), in
    ``tier`` (``eager`` or ``compiled``).

    Returns ``{n: m*}``; ``m*`` is None when one mode wins over the whole measured range.
    """
    fwd, rev = _tier_modes(tier)
    by_n = defaultdict(list)
    for (p, n, m), modes in best.items():
        if p == problem and fwd in modes and rev in modes:
            by_n[n].append((m, modes[rev][0] / modes[fwd][0]))
    out = {}
    for n, pts in sorted(by_n.items()):
        pts.sort()
        out[n] = None
        for (m0, r0), (m1, r1) in zip(pts, pts[1:]):
            if (r0 - 1) * (r1 - 1) <= 0 and r0 != r1:
                l0, l1 = math.log(r0), math.log(r1)
                frac = l0 / (l0 - l1) if l0 != l1 else 0.5
                out[n] = float(math.exp(math.log(m0) + frac * (math.log(m1) - math.log(m0))))
                break
    return out


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


STYLE = {"forward": ("tab:blue", "o"), "reverse": ("tab:red", "s"),
         "finite_differences": ("tab:gray", "^"), "jax-forward": ("tab:cyan", "x"),
         "jax-reverse": ("tab:pink", "x"), "torch-forward": ("tab:green", "+"),
         "torch-reverse": ("tab:orange", "+"), "forward-compiled": ("navy", "D"),
         "reverse-compiled": ("darkred", "D")}


LINES = {"dense": "-", "wide": "--", "rosenbrock": ":", "mlp_loss": "-."}


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


def complete_grid(cells):
    """The sizes ``(ns, ms)`` of a complete rectangle of measured ``cells`` (``{(n, m): v}``):
    the row or column with the largest share of blank cells is dropped until none is blank, so
    a heatmap has no blank cell.

    >>> complete_grid({(1, 1): 0, (1, 2): 0, (2, 1): 0, (2, 2): 0, (4, 1): 0})
    ([1, 2], [1, 2])
    """
    ns, ms = sorted({n for n, _ in cells}), sorted({m for _, m in cells})
    while ns and ms:
        blank_n = {n: sum((n, m) not in cells for m in ms) / len(ms) for n in ns}
        blank_m = {m: sum((n, m) not in cells for n in ns) / len(ns) for m in ms}
        worst = max([(v, "n", n) for n, v in blank_n.items()] +
                    [(v, "m", m) for m, v in blank_m.items()])
        if worst[0] == 0:
            break
        (ns if worst[1] == "n" else ms).remove(worst[2])
    return ns, ms


def _ratio_cells(best, problem, tier):
    fwd, rev = _tier_modes(tier)
    return {(n, m): modes[rev][0] / modes[fwd][0] for (p, n, m), modes in best.items()
            if p == problem and fwd in modes and rev in modes}


def heatmap_grids(best, problem="dense"):
    """``[(tier, ns, ms, grid)]``: each tier's complete grid of ``log2(t_reverse / t_forward)``,
    ``grid[i, j]`` at ``(ns[j], ms[i])`` (tiers without a 2 x 2 grid are left out)."""
    panels = []
    for tier in ("eager", "compiled"):
        cells = _ratio_cells(best, problem, tier)
        ns, ms = complete_grid(cells)
        if len(ns) >= 2 and len(ms) >= 2:
            grid = np.array([[np.log2(cells[(n, m)]) for n in ns] for m in ms])
            panels.append((tier, ns, ms, grid))
    return panels


def break_even_fit(ns, ms, grid):
    """The break-even line fitted to a tier's grid: least squares of
    ``log2(t_rev / t_fwd) = a + b log2 m + c log2 n`` over every cell, whose zero is
    ``m* = 2^(-a/b) n^(-c/b)`` (the theory: t_rev / t_fwd ~ m / n once n and m exceed the chunk
    width, so m* ~ n). Returns ``(K, p)`` with ``m* = K n^p``, or None when the fitted ratio does
    not grow with m (no break-even to draw).

    >>> ns = ms = [2, 8, 32]
    >>> K, p = break_even_fit(ns, ms, np.array([[np.log2(m / n) for n in ns] for m in ms]))
    >>> round(K, 6), round(p, 6)
    (1.0, 1.0)
    """
    ln, lm = np.meshgrid(np.log2(ns), np.log2(ms))
    A = np.column_stack([np.ones(ln.size), lm.ravel(), ln.ravel()])
    (a, b, c), *_ = np.linalg.lstsq(A, np.asarray(grid).ravel(), rcond=None)
    if b <= 1e-3:
        return None
    return float(2 ** (-a / b)), float(-c / b)


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
    peak = _peak(rows)
    fig, ax = plt.subplots(figsize=(6.4, 5))
    for p in ("dense", "rosenbrock", "mlp_loss"):
        for mode in ("forward", "reverse"):
            pts = sorted((n, b) for (pp, n, m, md), b in peak.items()
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


def _fmt(s):
    return f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} us"


def summary(rows, command: str, peers_note: str = "", depth_rows=None) -> str:
    best = best_times(rows)
    be = break_even(best)
    lines = ["# Forward vs reverse mode: measured", "",
             f"- machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
             f"{os.cpu_count()} cores; {platform.system()} {platform.release()}",
             f"- versions: {rows[0].get('versions', '')}",
             f"- command: `{command}`",
             f"- timing: warm-up first (numba compilation excluded, see first_call_seconds in "
             f"results.csv), best of {rows[0].get('repeat', '?')} perf_counter runs; each mode "
             f"at its fastest chunk width", ""]
    if any(r.get("tier") == "compiled" for r in rows):
        n_comp = len({(r["problem"], r["n"], r["m"]) for r in rows if r.get("tier") == "compiled"})
        lines.insert(-1, f"- tiers: eager (every configuration) and compiled (`compiled=True`, "
                         f"{n_comp} of the {len(best_times(rows))} configurations, automatic chunk "
                         "only; each compiled once per mode from a fresh cache, the first call's "
                         "extra time in results.csv's compile_seconds)")
    if rows[0].get("blas"):
        lines.insert(-1, f"- BLAS threads while timing: {rows[0]['blas']} (threadpoolctl; "
                         "`--blas-threads N` to change)")
    if peers_note:
        lines += [f"- peers: {peers_note}", ""]
    lines += ["## Conclusions", ""]
    # many inputs, one output
    scal = [(n, modes) for (p, n, m), modes in sorted(best.items())
            if m == 1 and p == "dense" and "forward" in modes and "reverse" in modes]
    if scal:
        n_lo, lo = scal[0]
        n_hi, hi = scal[-1]
        lines.append(
            f"- **Many inputs, one output** (dense, m = 1): from n = {n_lo} to n = {n_hi}, "
            f"reverse mode goes from {_fmt(lo['reverse'][0])} to {_fmt(hi['reverse'][0])} "
            f"(x{hi['reverse'][0] / lo['reverse'][0]:.2g}) while forward mode goes from "
            f"{_fmt(lo['forward'][0])} to {_fmt(hi['forward'][0])} "
            f"(x{hi['forward'][0] / lo['forward'][0]:.2g}); at n = {n_hi} reverse is "
            f"{hi['forward'][0] / hi['reverse'][0]:.3g}x faster.")
    n_wide = min((n for (p, n, m) in best if p == "wide"), default=None)
    wide = [(m, modes) for (p, n, m), modes in sorted(best.items(), key=lambda kv: kv[0][2])
            if p == "wide" and n == n_wide and "forward" in modes and "reverse" in modes]
    if wide:
        m_hi, hi = wide[-1]
        m_lo, lo = wide[0]
        lines.append(
            f"- **Few inputs, many outputs** (wide, n = {n_wide}): from m = {m_lo} to m = {m_hi}, "
            f"forward mode goes from {_fmt(lo['forward'][0])} to {_fmt(hi['forward'][0])} while "
            f"reverse mode goes from {_fmt(lo['reverse'][0])} to {_fmt(hi['reverse'][0])}; at "
            f"m = {m_hi} forward is {hi['reverse'][0] / hi['forward'][0]:.3g}x faster.")
    crossing = {n: v for n, v in be.items() if v is not None}
    near = [(n, m) for (p, n, m), modes in best.items() if p == "dense" and "forward" in modes
            and "reverse" in modes and 0.8 < modes["reverse"][0] / modes["forward"][0] < 1.25]
    if crossing:
        lines.append(
            "- **Break-even** (dense, t_reverse = t_forward, heatmap.png): "
            + ", ".join(f"n = {n}: m ~ {v:.3g}" for n, v in crossing.items())
            + ". Reverse wins below the line, forward above.")
    else:
        lines.append("- **Break-even**: no crossing inside the measured (n, m) grid.")
    if near:
        lines.append(
            f"- **Where neither wins**: {len(near)} of the dense configurations are within 25% of "
            "each other, mostly small n and m where one chunk holds every direction (forward) or "
            "every seed (reverse) and the fixed Python cost per op dominates; the asymmetry "
            "shows once n or m exceeds the chunk width.")
    ours = [(n, modes) for (p, n, m), modes in sorted(best.items())
            if p == "dense" and m == 1 and "reverse" in modes]
    if ours and any(k.startswith(("jax", "torch")) for k in ours[-1][1]):
        n, modes = ours[-1]
        peer_txt = ", ".join(f"{k} {_fmt(v[0])}" for k, v in sorted(modes.items())
                             if k.startswith(("jax", "torch")))
        lines.append(f"- **Peers** (dense, n = {n}, m = 1): revad {_fmt(modes['reverse'][0])}, "
                     f"dualad {_fmt(modes['forward'][0])}; {peer_txt}. JAX's times are of "
                     "jit-compiled code (compile time in first_call_seconds).")
    costs = [(p, n, modes["reverse"][0] / modes["numpy"][0])
             for (p, n, m), modes in best.items()
             if m == 1 and "reverse" in modes and "numpy" in modes]
    if costs:
        c = [x for _, _, x in costs]
        lines.append(f"- **Cost of a gradient** (m = 1) in evaluations of f: reverse mode "
                     f"{min(c):.3g} to {max(c):.3g} over all n; forward mode grows with n "
                     f"(see cost_in_evals.png). These small problems are dominated by Python "
                     f"overhead per op, so the ratio is larger than the 3-4 of large arrays "
                     f"(benchmarks/modes.py).")
    lines += tiers.paragraph(best, rows, {tier: (break_even_fit(ns, ms, grid), ns, ms)
                                          for tier, ns, ms, grid in heatmap_grids(best)})
    peak = _peak(rows)
    mem = sorted((n, b, peak.get(("dense", n, m, "forward")))
                 for (p, n, m, md), b in peak.items() if p == "dense" and m == 1 and md == "reverse")
    if mem and mem[-1][2]:
        n, b_rev, b_fwd = mem[-1]
        lines.append(f"- **Memory vs inputs** (dense, m = 1, n = {n}, memory.png): reverse "
                     f"mode's peak {b_rev / 1e6:.3g} MB (tape + sweep), forward mode's "
                     f"{b_fwd / 1e6:.3g} MB. This function is two ops deep, so the tape is "
                     "short; what grows with n is forward mode's tangent width (k directions per "
                     "value). The memory-vs-depth study below shows the tape's cost.")
    if depth_rows:
        lines.append(depth_paragraph(depth_rows))
    lines.append("- **The Jacobian by columns and by rows** (jacobian_sweeps.png): f(x, y, z) = "
                 "[x y + z, sin(x) z] maps 3 inputs to 2 outputs, so forward mode needs 3 sweeps "
                 "(one column each) and reverse mode 2 (one row each); its mirror, 2 inputs to 3 "
                 "outputs, needs 2 forward and 3 reverse sweeps. graph/graph.html steps both "
                 "sweeps through f node by node with the chain-rule arithmetic of each node, and "
                 "fills its Jacobian column by column or row by row.")
    peer_modes = sorted({md for modes in best.values() for md in modes
                         if md.startswith(("jax", "torch"))})
    comp = tiers.compile_times(rows)
    tier_cols = ["forward-compiled", "reverse-compiled"] if comp else []
    lines += ["", "## Table (best chunk per mode)", "",
              "| problem | n | m | f | forward (chunk) | reverse (chunk) | finite diff. | rev/fwd |"
              + "".join(f" {md} |" for md in tier_cols)
              + (" compile s (fwd/rev) |" if comp else "")
              + "".join(f" {md} |" for md in peer_modes),
              "|---|---|---|---|---|---|---|---|" + "---|" * (len(peer_modes) + len(tier_cols)
                                                              + bool(comp))]
    for (p, n, m), modes in sorted(best.items()):
        def cell(mode):
            if mode not in modes:
                return "-"
            s, c = modes[mode]
            return _fmt(s) + (f" ({c})" if c else "")
        ratio = (f"{modes['reverse'][0] / modes['forward'][0]:.3g}"
                 if "forward" in modes and "reverse" in modes else "-")
        cs = [comp.get((p, n, m, md)) for md in tier_cols]
        compile_cell = ([" " + "/".join("-" if c is None else f"{c:.2g}" for c in cs) + " |"]
                        if comp else [])
        lines.append(f"| {p} | {n} | {m} | {cell('numpy')} | {cell('forward')} | "
                     f"{cell('reverse')} | {cell('finite_differences')} | {ratio} |"
                     + "".join(f" {cell(md)} |" for md in tier_cols) + "".join(compile_cell)
                     + "".join(f" {cell(md)} |" for md in peer_modes))
    plots = PLOTS + ([DEPTH_PLOT] if depth_rows else []) + ["jacobian_sweeps.png",
                                                             "graph/graph.html"]
    lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in plots),
              "", "The vanishing/exploding-gradient study (gradient norm per layer, depth 50) is "
                  "in [vanishing.md](vanishing.md) when the run wrote it.", ""]
    return "\n".join(lines)


def write_report(csv_path: str, out_dir: str, command: str = "python -m compare plot",
                 peers_note: str = "") -> list[str]:
    """Draw every plot and summary.md from ``csv_path`` into ``out_dir``; returns the paths."""
    rows = read_rows(csv_path)
    os.makedirs(out_dir, exist_ok=True)
    best = best_times(rows)
    paths = [os.path.join(out_dir, p) for p in PLOTS]
    plot_time_vs_n(rows, paths[0])
    plot_time_vs_m(rows, paths[1])
    plot_heatmap(best, paths[2])
    plot_cost(best, paths[3])
    plot_memory(rows, paths[4])
    tiers.plot(best, rows, paths[5])
    depth_csv = os.path.join(os.path.dirname(os.path.abspath(csv_path)), "depth.csv")
    depth_rows = read_depth_csv(depth_csv) if os.path.exists(depth_csv) else None
    if depth_rows:
        paths.append(os.path.join(out_dir, DEPTH_PLOT))
        plot_depth(depth_rows, paths[-1])
    # the teaching pictures need no timing: computed by the two modes on each report
    paths += jacobians.write(out_dir)
    paths += draw_graph(jacobians.f_3_to_2, 1.0, 2.0, 3.0, out_dir=os.path.join(out_dir, "graph"))
    md = os.path.join(out_dir, "summary.md")
    hessian_paths, hessian_md = second_order.section(csv_path, out_dir)
    with open(md, "w") as fh:
        fh.write(summary(rows, command, peers_note, depth_rows) + hessian_md)
    return paths + hessian_paths + [md]
