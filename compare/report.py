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

from . import jacobians
from . import second_order
from .depth import paragraph as depth_paragraph, plot as plot_depth, read_csv as read_depth_csv
from .graph import draw as draw_graph

PLOTS = ["time_vs_n.png", "time_vs_m.png", "heatmap.png", "cost_in_evals.png", "memory.png"]
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


def break_even(best, problem="dense"):
    """For each n, the m at which t_reverse / t_forward crosses 1 (log-interpolated).

    Returns ``{n: m*}``; ``m*`` is None when one mode wins over the whole measured range.
    """
    by_n = defaultdict(list)
    for (p, n, m), modes in best.items():
        if p == problem and "forward" in modes and "reverse" in modes:
            by_n[n].append((m, modes["reverse"][0] / modes["forward"][0]))
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
         "torch-reverse": ("tab:orange", "+")}


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
                linestyle="--" if dashed else "-", label=label, alpha=0.9)
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
    fig.suptitle("Many inputs, one output: reverse stays flat, forward grows with n")
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
    fig.suptitle("Few inputs, many outputs: the mirror image, forward stays flat")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heatmap(best, path, problem="dense"):
    plt = _plt()
    cells = {(n, m): modes["reverse"][0] / modes["forward"][0]
             for (p, n, m), modes in best.items()
             if p == problem and "forward" in modes and "reverse" in modes}
    # the grid proper: sizes measured against at least three sizes of the other axis
    ns = sorted({n for n, _ in cells if sum(1 for a, _ in cells if a == n) >= 3})
    ms = sorted({m for _, m in cells if sum(1 for _, b in cells if b == m) >= 3})
    cells = {(n, m): v for (n, m), v in cells.items() if n in ns and m in ms}
    fig, ax = plt.subplots(figsize=(6, 5))
    if not cells:
        ax.text(0.5, 0.5, f"this run measured no (n, m) grid of {problem}\n"
                          "(python -m compare without --problem does)", ha="center", va="center")
        ax.axis("off")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    grid = np.full((len(ms), len(ns)), np.nan)
    for (n, m), v in cells.items():
        grid[ms.index(m), ns.index(n)] = np.log2(v)
    lim = max(1.0, float(np.nanmax(np.abs(grid)))) if np.isfinite(grid).any() else 1.0
    im = ax.imshow(grid, origin="lower", cmap="coolwarm", vmin=-lim, vmax=lim)
    ax.set_xticks(range(len(ns)), [str(n) for n in ns])
    ax.set_yticks(range(len(ms)), [str(m) for m in ms])
    ax.set_xlabel("inputs n")
    ax.set_ylabel("outputs m")
    for i in range(len(ms)):
        for j in range(len(ns)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{2 ** grid[i, j]:.2g}", ha="center", va="center", fontsize=8)
    be = break_even(best, problem)
    xs, ys = [], []
    for n, mstar in be.items():
        if mstar is not None and n in ns:
            xs.append(ns.index(n))
            ys.append(np.interp(np.log(mstar), np.log(ms), range(len(ms))))
    if xs:
        ax.plot(xs, ys, "k-o", label="measured break-even (t_rev = t_fwd)")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{problem}: t_reverse / t_forward (blue: reverse wins, red: forward wins)",
                 fontsize=9)
    fig.colorbar(im, ax=ax, label="log2(t_reverse / t_forward)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cost_series(best, vary):
    """{(problem, mode): [(size, t_mode / t_eval)]}: m = 1 problems by n, or the fixed-n
    problems (dense, wide at the smallest n of wide) by m."""
    n_fixed = min((n for (p, n, m) in best if p == "wide"), default=None)
    series = defaultdict(list)
    for (p, n, m), modes in best.items():
        if "numpy" not in modes:
            continue
        if vary == "n" and m != 1:
            continue
        if vary == "m" and (p not in ("dense", "wide") or n != n_fixed):
            continue
        for mode in ("forward", "reverse", "finite_differences"):
            if mode in modes:
                series[(p, mode)].append((n if vary == "n" else m,
                                          modes[mode][0] / modes["numpy"][0]))
    return series


def plot_cost(best, path):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, (vary, title) in zip(axes, (("n", "m = 1 (dense, rosenbrock, mlp_loss)"),
                                        ("m", "fixed n (dense, wide)"))):
        for (p, mode), pts in sorted(_cost_series(best, vary).items()):
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
    lines += ["", "## Table (best chunk per mode)", "",
              "| problem | n | m | f | forward (chunk) | reverse (chunk) | finite diff. | rev/fwd |"
              + "".join(f" {md} |" for md in peer_modes),
              "|---|---|---|---|---|---|---|---|" + "---|" * len(peer_modes)]
    for (p, n, m), modes in sorted(best.items()):
        def cell(mode):
            if mode not in modes:
                return "-"
            s, c = modes[mode]
            return _fmt(s) + (f" ({c})" if c else "")
        ratio = (f"{modes['reverse'][0] / modes['forward'][0]:.3g}"
                 if "forward" in modes and "reverse" in modes else "-")
        lines.append(f"| {p} | {n} | {m} | {cell('numpy')} | {cell('forward')} | "
                     f"{cell('reverse')} | {cell('finite_differences')} | {ratio} |"
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
