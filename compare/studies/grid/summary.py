"""The grid study's part of summary.md, from results.csv's rows alone: the header, its
conclusions, the memory-vs-inputs line and the table; :mod:`compare.report` puts the other
studies' conclusions between them. Conclusions are :class:`compare.common.claims.Claim` s:
each number carries its query over results.csv (report.py writes them to claims.json and
claims.md), so every sentence can be recomputed from the CSV.
"""
from __future__ import annotations

import os
import platform

from ...common import breakeven as be
from ...common.claims import Claim, Facts, Number, combine
from ...common.results import best_times, compile_times, peak as peak_bytes
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


def _t(facts, problem, mode, n, m, phase="jacobian", **extra):
    return facts.q("seconds", "min", problem=problem, mode=mode, n=n, m=m, phase=phase, **extra)


def _ratio(v):
    return f"{v:.3g}"


def _x(v):
    return f"{v:.2g}" if v < 100 else f"{v:.0f}"


def _spread(a, b) -> Number:
    """``max(a/b, b/a)``: how far apart two times are, as a factor >= 1."""
    return combine("max", [a / b, b / a])


def _change(facts, floor, problem, mode, pts, what):
    """Claim pieces for ``mode``'s time from the first to the last of ``pts`` ((size, m) pairs):
    the template text and its numbers; a change inside ``floor`` is called within noise."""
    (n0, m0), (n1, m1) = pts[0], pts[-1]
    a, b = _t(facts, problem, mode, n0, m0), _t(facts, problem, mode, n1, m1)
    nums = [(a, fmt_time), (b, fmt_time), (b / a, _x)]
    text = f"{what} goes from {{}} to {{}} (x{{}}"
    if floor is not None and _spread(a, b).value < floor.value:
        text += ", within noise"
    return text + ")", nums


def noise_claim(facts):
    """The run's noise floor as a Claim (None when the run has neither source)."""
    floor, parts = be.noise_floor(facts)
    if floor is None:
        return None, None
    reps = [p for p in parts if "timings" in p[0]]
    twins = [p for p in parts if "timings" not in p[0]]
    src = []
    if reps:
        src.append(f"{len(reps)} configurations timed {reps[0][0].rsplit(', ', 1)[1]} each, "
                   f"as the grid times them")
    if twins:
        src.append(f"{len(twins)} pairs of rows that time one computation under two names, "
                   "reverse mode at m = 1, where the automatic chunk is chunk 1")
    return floor, Claim(
        "- **Noise floor of this run**: x{}, the largest ratio between two timings of one "
        "computation (" + "; ".join(src) + "). A difference smaller than that is called "
        "within noise below, and heatmap.png hatches such cells as ties.", [(floor, _ratio)])


def _break_even(facts, floor, panel):
    ns, ms, cells = be.ratios(facts, panel)
    if not ns:
        return []
    cross = be.crossings(ns, ms, cells, floor.value if floor is not None else 1.0)
    title = be.TITLES[panel]
    nums, parts = [], []
    shown = [c for c in cross if c.inside < 2]
    for along in ("n", "m"):
        other = "m" if along == "n" else "n"
        ats = sorted({c.at for c in shown if c.along == along})
        bits = []
        for at in ats:
            each = []
            for c in (c for c in shown if c.along == along and c.at == at):
                each.append(f"{along}* ~ {{}} (between {c.lo} and {c.hi}"
                            + (", one side within noise)" if c.inside else ")"))
                nums.append((c.where, lambda v: f"{v:.3g}"))
            bits.append(f"{other} = {at}: " + ", ".join(each))
        if bits:
            parts.append(f"along {along}, at " + "; ".join(bits))
    ties = len(cross) - len(shown)
    lo = combine("min", list(cells.values()))
    hi = combine("max", list(cells.values()))
    tail = (f" {ties} further sign change{'s lie' if ties != 1 else ' lies'} between two cells "
            "within noise of 1 (ties, not listed)." if ties else "")
    if parts:
        text = (f"- **Break-even, {title}, measured** (dense, heatmap.png: the black contour): "
                f"t_reverse / t_forward crosses 1 " + ". And ".join(parts) + "." + tail
                + f" Over the {len(ns)} x {len(ms)} cells the ratio runs from {{}} to {{}}.")
    else:
        text = (f"- **Break-even, {title}, measured** (dense, heatmap.png): t_reverse / "
                f"t_forward does not cross 1 along n or m between cells outside the noise "
                f"inside the {len(ns)} x {len(ms)} cells (from {{}} to {{}}).{tail}")
    claims = [Claim(text, nums + [(lo, _ratio), (hi, _ratio)])]
    tf, tr = be.per_pass(facts, panel, ns, ms)
    if panel == "scalar":
        claims.append(Claim(
            "- **Break-even of the scalar modes, theory** (chunk 1: one direction or one seed "
            "per pass, so n forward passes against m reverse passes): with this run's median "
            "costs per pass, forward {} and reverse {}, the theory's line is m = n x {} "
            "(heatmap.png, gold), the diagonal. Chunking moves it: with k directions or seeds "
            "per pass, both modes need a single pass while n and m fit in one chunk (up to 256 "
            "here), so the chunked panels' boundary is no longer the diagonal but a step at the "
            "chunk width, where forward mode starts to need ceil(n/k) passes.",
            [(tf, fmt_time), (tr, fmt_time), (tf / tr, _ratio)]))
    else:
        claims.append(Claim(
            f"- **Break-even, {title}, theory** (heatmap.png, gold): ceil(n/k) t_fwd = "
            "ceil(m/k) t_rev with this run's median costs per pass, forward {} and reverse {} "
            "(k the automatic chunk, up to 256): while n and m fit in one chunk both modes take "
            "one pass and their ratio is t_rev / t_fwd = {} everywhere"
            + (" (within noise: the theory calls those cells ties)"
               if floor is not None and _spread(tr, tf).value < floor.value else "")
            + "; beyond it the passes count, so the line is a step at the chunk width (forward "
              "mode needs a second pass from n = 257, reverse mode from m = 257).",
            [(tf, fmt_time), (tr, fmt_time), (tr / tf, _ratio)]))
    return claims


def conclusions(rows) -> list:
    """The grid's conclusions: :class:`compare.common.claims.Claim` s (each number with its
    query over results.csv): the noise floor, each mode's growth, break-even by measurement and
    by theory for every heatmap panel, peers, cost of a gradient."""
    best = best_times(rows)
    facts = Facts(rows, "results.csv")
    floor, noise = noise_claim(facts)
    out = [noise] if noise else []
    scal = sorted(n for (p, n, m), modes in best.items()
                  if m == 1 and p == "dense" and "forward" in modes and "reverse" in modes)
    if len(scal) >= 2:
        pts = [(scal[0], 1), (scal[-1], 1)]
        rt, rn = _change(facts, floor, "dense", "reverse", pts, "reverse mode")
        ft, fn = _change(facts, floor, "dense", "forward", pts, "forward mode")
        hi = _t(facts, "dense", "forward", scal[-1], 1) / _t(facts, "dense", "reverse", scal[-1], 1)
        out.append(Claim(
            f"- **Many inputs, one output** (dense, m = 1): from n = {scal[0]} to n = "
            f"{scal[-1]}, {rt} while {ft}; at n = {scal[-1]} reverse is {{}}x faster.",
            rn + fn + [(hi, _ratio)]))
    n_wide = min((n for (p, n, m) in best if p == "wide"), default=None)
    wide = sorted(m for (p, n, m), modes in best.items()
                  if p == "wide" and n == n_wide and "forward" in modes and "reverse" in modes)
    if len(wide) >= 2:
        pts = [(n_wide, wide[0]), (n_wide, wide[-1])]
        ft, fn = _change(facts, floor, "wide", "forward", [(n, m) for n, m in pts], "forward mode")
        rt, rn = _change(facts, floor, "wide", "reverse", pts, "reverse mode")
        hi = (_t(facts, "wide", "reverse", n_wide, wide[-1])
              / _t(facts, "wide", "forward", n_wide, wide[-1]))
        out.append(Claim(
            f"- **Few inputs, many outputs** (wide, n = {n_wide}): from m = {wide[0]} to m = "
            f"{wide[-1]}, {ft} while {rt}; at m = {wide[-1]} forward is {{}}x faster.",
            fn + rn + [(hi, _ratio)]))
    for panel in be.PANELS:
        out += _break_even(facts, floor, panel)
    ours = sorted(n for (p, n, m), modes in best.items() if p == "dense" and m == 1
                  and "reverse" in modes and any(k.startswith(("jax", "torch")) for k in modes))
    if ours:
        n = ours[-1]
        peers = sorted(k for k in best[("dense", n, 1)] if k.startswith(("jax", "torch")))
        out.append(Claim(
            f"- **Peers** (dense, n = {n}, m = 1): revad {{}}, dualad {{}}; "
            + ", ".join(f"{k} {{}}" for k in peers) + ". JAX's times are of jit-compiled code "
            "(compile time in first_call_seconds).",
            [(_t(facts, "dense", md, n, 1), fmt_time) for md in ["reverse", "forward"] + peers]))
    costs = [_t(facts, p, "reverse", n, 1) / _t(facts, p, "numpy", n, 1, phase="eval")
             for (p, n, m), modes in sorted(best.items())
             if m == 1 and "reverse" in modes and "numpy" in modes]
    if costs:
        out.append(Claim(
            "- **Cost of a gradient** (m = 1) in evaluations of f: reverse mode {} to {} over "
            "all n; forward mode grows with n (see cost_in_evals.png). These small problems are "
            "dominated by Python overhead per op, so the ratio is larger than the 3-4 of large "
            "arrays (benchmarks/modes.py).",
            [(combine("min", costs), _ratio), (combine("max", costs), _ratio)]))
    return out


def memory(rows) -> list:
    """The memory-vs-inputs conclusion (after the tiers' conclusions, before the depth study's)."""
    lines = []
    peak = peak_bytes(rows)
    mem = sorted((n, b, peak.get(("dense", n, m, "forward")))
                 for (p, n, m, md), b in peak.items() if p == "dense" and m == 1 and md == "reverse")
    if mem and mem[-1][2]:
        n = mem[-1][0]
        facts = Facts(rows, "results.csv")
        b_rev, b_fwd = (facts.q("peak_bytes", "max", problem="dense", mode=md, n=n, m=1,
                                phase="jacobian") for md in ("reverse", "forward"))
        mb = lambda v: f"{v / 1e6:.3g} MB"   # noqa: E731
        lines.append(Claim(
            f"- **Memory vs inputs** (dense, m = 1, n = {n}, memory.png): reverse "
            "mode's peak {} (tape + sweep), forward mode's {}. This function is two ops deep, "
            "so the tape is short; what grows with n is forward mode's tangent width (k "
            "directions per value). The memory-vs-depth study below shows the tape's cost.",
            [(b_rev, mb), (b_fwd, mb)]))
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

