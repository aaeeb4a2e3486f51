"""The grid study's part of summary.md, from results.csv's rows alone: the header, its
conclusions, the memory-vs-inputs line and the table; :mod:`compare.report` puts the other
studies' conclusions between them.
"""
from __future__ import annotations

import os
import platform

from ...common.results import best_times, break_even, compile_times, peak as peak_bytes
from ...common.style import fmt_time


def header(rows, command: str, peers_note: str = "") -> list:
    """summary.md's title, the run's facts (machine, versions, command, timing, tiers, BLAS,
    peers) and the Conclusions heading."""
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
    hosts = sorted({(r["host"], r.get("cores", "?")) for r in rows if r.get("host")})
    if len(hosts) > 1 or "--executor" in command:
        lines.insert(-1, f"- machines: timed by Dask workers (`--executor`) on {len(hosts)} "
                         f"host{'s' if len(hosts) != 1 else ''} ("
                         + "; ".join(f"{h}, {c} cores" for h, c in hosts)
                         + "; results.csv's host and cores columns). Each configuration is "
                         "timed whole on one worker, one configuration per worker at a time: "
                         "rows timed on different machines are compared only within a "
                         "machine (the modes of one configuration), never across machines")
    if peers_note:
        lines += [f"- peers: {peers_note}", ""]
    return lines + ["## Conclusions", ""]


def conclusions(rows) -> list:
    """The grid's conclusions (bullet lines): each mode's growth, break-even, peers, cost of a
    gradient."""
    best = best_times(rows)
    be = break_even(best)
    lines = []
    # many inputs, one output
    scal = [(n, modes) for (p, n, m), modes in sorted(best.items())
            if m == 1 and p == "dense" and "forward" in modes and "reverse" in modes]
    if scal:
        n_lo, lo = scal[0]
        n_hi, hi = scal[-1]
        lines.append(
            f"- **Many inputs, one output** (dense, m = 1): from n = {n_lo} to n = {n_hi}, "
            f"reverse mode goes from {fmt_time(lo['reverse'][0])} to {fmt_time(hi['reverse'][0])} "
            f"(x{hi['reverse'][0] / lo['reverse'][0]:.2g}) while forward mode goes from "
            f"{fmt_time(lo['forward'][0])} to {fmt_time(hi['forward'][0])} "
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
            f"forward mode goes from {fmt_time(lo['forward'][0])} to {fmt_time(hi['forward'][0])} while "
            f"reverse mode goes from {fmt_time(lo['reverse'][0])} to {fmt_time(hi['reverse'][0])}; at "
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
        peer_txt = ", ".join(f"{k} {fmt_time(v[0])}" for k, v in sorted(modes.items())
                             if k.startswith(("jax", "torch")))
        lines.append(f"- **Peers** (dense, n = {n}, m = 1): revad {fmt_time(modes['reverse'][0])}, "
                     f"dualad {fmt_time(modes['forward'][0])}; {peer_txt}. JAX's times are of "
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
    return lines


def memory(rows) -> list:
    """The memory-vs-inputs conclusion (after the tiers' conclusions, before the depth study's)."""
    lines = []
    peak = peak_bytes(rows)
    mem = sorted((n, b, peak.get(("dense", n, m, "forward")))
                 for (p, n, m, md), b in peak.items() if p == "dense" and m == 1 and md == "reverse")
    if mem and mem[-1][2]:
        n, b_rev, b_fwd = mem[-1]
        lines.append(f"- **Memory vs inputs** (dense, m = 1, n = {n}, memory.png): reverse "
                     f"mode's peak {b_rev / 1e6:.3g} MB (tape + sweep), forward mode's "
                     f"{b_fwd / 1e6:.3g} MB. This function is two ops deep, so the tape is "
                     "short; what grows with n is forward mode's tangent width (k directions per "
                     "value). The memory-vs-depth study below shows the tape's cost.")
    return lines


def table(rows, plots) -> list:
    """The table (best chunk per mode), the Plots line (``plots``: every study's plot names) and
    the pointer to vanishing.md."""
    best = best_times(rows)
    lines = []
    peer_modes = sorted({md for modes in best.values() for md in modes
                         if md.startswith(("jax", "torch"))})
    comp = compile_times(rows)
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
            return fmt_time(s) + (f" ({c})" if c else "")
        ratio = (f"{modes['reverse'][0] / modes['forward'][0]:.3g}"
                 if "forward" in modes and "reverse" in modes else "-")
        cs = [comp.get((p, n, m, md)) for md in tier_cols]
        compile_cell = ([" " + "/".join("-" if c is None else f"{c:.2g}" for c in cs) + " |"]
                        if comp else [])
        lines.append(f"| {p} | {n} | {m} | {cell('numpy')} | {cell('forward')} | "
                     f"{cell('reverse')} | {cell('finite_differences')} | {ratio} |"
                     + "".join(f" {cell(md)} |" for md in tier_cols) + "".join(compile_cell)
                     + "".join(f" {cell(md)} |" for md in peer_modes))
    lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in plots),
              "", "The vanishing/exploding-gradient study (gradient norm per layer, depth 50) is "
                  "in [vanishing.md](vanishing.md) when the run wrote it.", ""]
    return lines

