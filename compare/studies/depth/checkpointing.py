"""Checkpointing, measured: reverse mode's peak memory against its time for one deep recurrence,
as the number of kept carries ``s`` varies (part of the depth study, :mod:`compare.studies.depth`).

Contract: the problem is the depth study's recurrence ``h_t = tanh(W h_(t-1) + x)``, ``T``
steps at ``width``, written as one ``adops.scan``
(:func:`compare.problems.recurrence.recurrence_scan`: the same numbers as the unrolled loop).
:func:`tradeoff` measures, for about eight ``s`` spaced on a log scale from a few to ``T``
(:func:`s_values`), the gradient with ``checkpoints=s``: best-of-``repeat`` seconds, peak
bytes (``tracemalloc``), the step recomputations counted (:func:`adops.control.counting`) and
the optimum ``r T - C(s + r, s + 1)``; and as reference points the plain tape (``revad.grad`` of the unrolled loop), the scan without checkpoints and
forward mode (``dualad.jacfwd``, all ``width`` directions in one pass). Rows go to
``checkpointing.csv`` (:data:`COLUMNS`); :func:`plot` draws ``checkpointing_tradeoff.png``;
:func:`budget_choices` and :func:`paragraph` turn the rows into the advice of summary.md
(which ``s`` fits a memory budget, at what cost in time).
"""
from __future__ import annotations

import math

import numpy as np

import dualad
import revad
from adops.control import counting, optimal_recomputations

from ...common.rows import CsvSink, read_csv as _read_csv
from ...common.style import fmt_bytes as _mb, fmt_time, plt as _plt
from ...common.timing import best_of, peak_bytes
from ...problems.recurrence import recurrence, recurrence_scan

COLUMNS = ["label", "checkpoints", "depth", "width", "seconds", "peak_bytes", "recomputed",
           "optimum"]
CSV, PLOT = "checkpointing.csv", "checkpointing_tradeoff.png"
DEFAULT_T, QUICK_T = 1000, 200
#: the reference points: label -> what it is
REFERENCES = {"plain tape": "revad.grad of the unrolled loop (the whole tape)",
              "scan, no checkpoints": "adops.scan, checkpoints=None (every step kept)",
              "forward, k directions": "dualad.jacfwd, k = width directions (nothing kept)"}


def s_values(T: int, count: int = 8, low: int = 4) -> list[int]:
    """About ``count`` snapshot counts from ``low`` to ``T``, evenly spaced in log.

    Example:
        >>> s_values(3000)
        [4, 10, 27, 68, 176, 453, 1165, 3000]
    """
    low = min(low, T)
    return sorted({int(round(v)) for v in np.geomspace(low, T, count)})


def _row(label, s, T, width, fn, repeat):
    seconds, _ = best_of(fn, repeat)
    with counting() as stats:
        peak = peak_bytes(fn)
    return dict(label=label, checkpoints=s, depth=T, width=width,
                seconds=seconds, peak_bytes=peak,
                recomputed=stats.recomputed if s is not None else 0,
                optimum=optimal_recomputations(T - 1, min(s, T - 1)) if s is not None else 0)


def tradeoff(T: int = DEFAULT_T, width: int = 32, repeat: int = 2, csv_path: str | None = None,
             progress=None, s_list=None) -> list[dict]:
    """Rows (:data:`COLUMNS`) for each ``s`` and the reference points, at depth ``T``.

    Example:
        >>> rows = tradeoff(T=20, width=4, s_list=[2, 19])
        >>> [r["label"] for r in rows][:2], rows[0]["recomputed"] == rows[0]["optimum"]
        (['s = 2', 's = 19'], True)
    """
    sink = CsvSink(csv_path, COLUMNS) if csv_path else None
    rows = []
    plain, x = recurrence(T, width)
    runs = [(f"s = {s}", s, revad.grad(recurrence_scan(T, width, s)[0]))
            for s in (s_list or s_values(T - 1))]
    runs += [("plain tape", None, revad.grad(plain)),
             ("scan, no checkpoints", None, revad.grad(recurrence_scan(T, width, None)[0])),
             ("forward, k directions", None, dualad.jacfwd(plain, chunk=width))]
    for label, s, g in runs:
        if progress:
            progress(label)
        row = _row(label, s, T, width, lambda: g(x), repeat)
        rows.append(row)
        if sink:
            sink.write([row])
    return rows


def read_csv(path: str) -> list[dict]:
    """checkpointing.csv's rows, numbers parsed (``checkpoints`` None for a reference)."""
    return _read_csv(path, ints=("depth", "width", "recomputed", "optimum"),
                     floats=("seconds", "peak_bytes"), optional=("checkpoints",))


def _points(rows):
    return sorted((r for r in rows if r["checkpoints"] is not None),
                  key=lambda r: r["checkpoints"])


def _ref(rows, label):
    return next((r for r in rows if r["label"] == label), None)


def plot(rows, path: str):
    """``checkpointing_tradeoff.png``: peak memory against time per ``s`` (left), measured
    recomputations beside the optimum (right)."""
    plt = _plt()
    pts = _points(rows)
    T, width = rows[0]["depth"], rows[0]["width"]
    fig, (ax, ax_r) = plt.subplots(1, 2, figsize=(11.5, 5.6))
    ax.plot([r["peak_bytes"] for r in pts], [r["seconds"] for r in pts], "-o",
            color="tab:purple", label="reverse, adops.scan(checkpoints=s)")
    for r in pts:
        ax.annotate(f"s={int(r['checkpoints'])}", (r["peak_bytes"], r["seconds"]),
                    textcoords="offset points", xytext=(4, 4), fontsize=7)
    marks = {"plain tape": ("tab:red", "s"), "scan, no checkpoints": ("darkred", "D"),
             "forward, k directions": ("tab:cyan", "^")}
    for label, (color, marker) in marks.items():
        r = _ref(rows, label)
        if r is not None:
            ax.plot([r["peak_bytes"]], [r["seconds"]], marker=marker, color=color,
                    linestyle="none", markersize=9, label=f"{label}: {REFERENCES[label]}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("peak bytes of one gradient (tracemalloc)")
    ax.set_ylabel("seconds per gradient (record + sweep)")
    ax.set_title(f"Memory against time, T = {T} steps at width {width}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    s = [r["checkpoints"] for r in pts]
    ax_r.plot(s, [max(r["recomputed"], 1) for r in pts], "o", color="tab:purple",
              label="recomputed steps, measured")
    ax_r.plot(s, [max(r["optimum"], 1) for r in pts], "-", color="black", linewidth=1,
              label="optimum r T - C(s + r, s + 1)")
    ax_r.axhline(T, color="tab:gray", linestyle=":", linewidth=1, label=f"T = {T} (one pass)")
    ax_r.set_xscale("log")
    ax_r.set_yscale("log")
    ax_r.set_xlabel("s, carries kept")
    ax_r.set_ylabel("extra forward steps")
    ax_r.set_title("Recomputations: the binomial schedule's count is the optimum", fontsize=10)
    ax_r.grid(True, which="both", alpha=0.3)
    ax_r.legend(fontsize=7)
    fig.text(0.5, 0.005, "Fewer kept carries (small s) cost more recomputed steps; the schedule "
             "(checkpoint_schedules' multistage binomial one, Revolve's count) takes the fewest "
             "possible for each s.", ha="center", va="bottom", fontsize=7.5, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def budget_choices(rows, fractions=(0.01, 0.05, 0.25)) -> list[dict]:
    """For budgets of each fraction of the plain tape's peak: the fastest measured ``s`` whose
    peak fits (``None`` when none does), with its time relative to the plain tape.

    Example:
        >>> rows = [dict(label="plain tape", checkpoints=None, peak_bytes=100.0, seconds=1.0),
        ...         dict(label="s = 2", checkpoints=2, peak_bytes=3.0, seconds=4.0),
        ...         dict(label="s = 9", checkpoints=9, peak_bytes=6.0, seconds=2.0)]
        >>> [(c["fraction"], c["s"]) for c in budget_choices(rows)]
        [(0.01, None), (0.05, 2), (0.25, 9)]
    """
    plain = _ref(rows, "plain tape")
    out = []
    for frac in fractions:
        budget = frac * plain["peak_bytes"]
        fits = [r for r in _points(rows) if r["peak_bytes"] <= budget]
        best = min(fits, key=lambda r: r["seconds"]) if fits else None
        out.append(dict(fraction=frac, budget=budget,
                        s=int(best["checkpoints"]) if best else None,
                        peak=best["peak_bytes"] if best else None,
                        time_ratio=best["seconds"] / plain["seconds"] if best else None))
    return out


def paragraph(rows) -> str:
    """The measured trade-off in words (one summary.md bullet)."""
    plain, pts = _ref(rows, "plain tape"), _points(rows)
    if plain is None or not pts:
        return "- **Checkpointing**: no trade-off rows measured."
    T, width = rows[0]["depth"], rows[0]["width"]
    sq = min(pts, key=lambda r: abs(r["checkpoints"] - math.sqrt(T)))
    lo = pts[0]
    exact = all(r["recomputed"] == r["optimum"] for r in pts)

    def point(r):
        return (f"s = {int(r['checkpoints'])} kept carries: {_mb(r['peak_bytes'])} "
                f"({100 * r['peak_bytes'] / plain['peak_bytes']:.2g}% of the plain tape) in "
                f"{fmt_time(r['seconds'], seconds=True)} "
                f"({r['seconds'] / plain['seconds']:.2g}x its time, {r['recomputed']} steps "
                "recomputed)")
    text = (f"- **Checkpointing** (the same recurrence at T = {T}, width {width}, as one "
            f"`adops.scan(..., checkpoints=s)`, {PLOT}): the plain tape peaks at "
            f"{_mb(plain['peak_bytes'])} in {fmt_time(plain['seconds'], seconds=True)}; with "
            f"{point(sq)}; with {point(lo)}. The recomputations counted "
            + ("equal" if exact else "differ from")
            + " the optimum r T - C(s + r, s + 1) at every s measured. To fit a memory budget, "
            "take the largest s that fits (time falls as s grows): ")
    picks = []
    for c in budget_choices(rows):
        pct = f"{100 * c['fraction']:.3g}%"
        picks.append(f"{pct} of the tape -> s = {c['s']} ({c['time_ratio']:.2g}x the time)"
                     if c["s"] is not None else f"{pct} of the tape -> no s measured fits")
    return text + "; ".join(picks) + ". `checkpoints='sqrt'` is a good default."
