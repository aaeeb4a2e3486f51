"""Memory and time as depth grows at fixed width: the tape grows with the computation, the duals
do not.

Contract: the problem family is a recurrence unrolled ``depth`` steps at fixed ``width``,
``h_t = tanh(W h_(t-1) + x)`` with ``h_1 = tanh(x)``, ``x: (width,)``, loss ``sum(h_T^2) / 2`` (a
deep tanh network whose layers share one weight matrix; :mod:`compare.problems.recurrence`,
:func:`recurrence` re-exported here). :func:`study` measures, for each depth,
one evaluation of f (plain numpy, the unit), forward mode along one direction
(``dualad.jvp``), forward mode along ``k = width`` directions at once (``dualad.jacfwd`` with
chunk k: the whole gradient in one pass), reverse mode (``revad.grad``: record the tape, one
sweep) and reverse mode through the same recurrence written as one ``adops.scan`` with
``checkpoints='sqrt'`` and ``checkpoints=10`` (:data:`CHECKPOINTED`): best-of-``repeat``
seconds, peak bytes (``tracemalloc``, a separate untimed run) and, for reverse mode, the tape's
own ``nbytes``. The study also measures the memory/time trade-off at one depth
(:mod:`.checkpointing`: ``checkpointing.csv``, ``checkpointing_tradeoff.png``) and draws a small
schedule (:mod:`compare.teaching.schedule`: ``checkpoint_schedule.png``). :func:`write_csv` /
:func:`read_csv` keep the rows in ``depth.csv`` (columns :data:`COLUMNS`); :func:`slopes` fits
how each mode's peak memory and time grow with depth; :func:`plot` draws
``memory_vs_depth.png``; :func:`paragraph` states the measured slopes in words for summary.md.
"""
from __future__ import annotations

import os
import sys

import numpy as np

import dualad
import revad

from ...common.rows import CsvSink, read_csv as _read_csv, remove_stale, write_csv as _write_csv
from ...common.style import DEPTH_STYLE as STYLE, fmt_bytes as _mb, plt as _plt
from ...common.timing import best_of, fixed_threads, peak_bytes
from ...problems.recurrence import recurrence, recurrence_scan
from compare.teaching import schedule  # absolute: "...teaching" reads as the teaching study
from . import checkpointing
from ..base import Section, Study

COLUMNS = ["mode", "depth", "width", "directions", "seconds", "peak_bytes", "tape_bytes"]
DEFAULT_DEPTHS = (1, 3, 10, 30, 100, 300, 1000, 3000)
QUICK_DEPTHS = (1, 10, 100, 1000)
CSV, PLOT = "depth.csv", "memory_vs_depth.png"
MODES = {
    "numpy": "f alone (numpy)",
    "forward, 1 direction": "forward (dualad.jvp, 1 direction)",
    "forward, k directions": "forward (dualad.jacfwd, k = width directions)",
    "reverse": "reverse (revad.grad: tape + sweep)",
    "reverse, sqrt(T) checkpoints": "reverse, adops.scan(checkpoints='sqrt')",
    "reverse, 10 checkpoints": "reverse, adops.scan(checkpoints=10)",
}
#: the checkpointed modes: mode -> adops.scan's checkpoints
CHECKPOINTED = {"reverse, sqrt(T) checkpoints": "sqrt", "reverse, 10 checkpoints": 10}


def measure_depth(depth: int, width: int = 32, repeat: int = 3) -> list[dict]:
    """Rows (dicts with :data:`COLUMNS`) for the four modes at one depth.

    Example:
        >>> rows = measure_depth(2, width=4, repeat=1)
        >>> [r["mode"] for r in rows] == list(MODES)
        True
    """
    f, x = recurrence(depth, width)
    v = np.ones_like(x)
    jvp1 = lambda: dualad.jvp(f, (x,), (v,))          # noqa: E731
    jack = dualad.jacfwd(f, chunk=width)
    grad = revad.grad(f)
    runs = {"numpy": lambda: f(x), "forward, 1 direction": jvp1,
            "forward, k directions": lambda: jack(x), "reverse": lambda: grad(x)}
    for mode, s in CHECKPOINTED.items():
        runs[mode] = (lambda g: lambda: g(x))(revad.grad(recurrence_scan(depth, width, s)[0]))
    directions = {"numpy": 0, "forward, 1 direction": 1, "forward, k directions": width}
    rows = []
    for mode, fn in runs.items():
        seconds, _ = best_of(fn, repeat)
        tape = revad.record(f, x).tape.nbytes if mode == "reverse" else ""
        # the lower of two runs: a first run may fill a one-time cache inside the window (the
        # checkpointed modes' schedule is cached by the timing runs already: one run)
        peak = peak_bytes(fn) if mode in CHECKPOINTED else min(peak_bytes(fn), peak_bytes(fn))
        rows.append(dict(mode=mode, depth=depth, width=width, directions=directions.get(mode, 1),
                         seconds=seconds, peak_bytes=peak, tape_bytes=tape))
    return rows


def study(depths=DEFAULT_DEPTHS, width: int = 32, repeat: int = 3, csv_path: str | None = None,
          progress=None) -> list[dict]:
    """Measure every depth (rows appended to ``csv_path`` as they exist, when given).

    Example:
        >>> rows = study(depths=(1, 2), width=4, repeat=1)
        >>> sorted({r["depth"] for r in rows})
        [1, 2]
    """
    rows = []
    sink = CsvSink(csv_path, COLUMNS) if csv_path else None
    for depth in depths:
        if progress:
            progress(depth)
        new = measure_depth(depth, width, repeat)
        rows += new
        if sink:
            sink.write(new)
    return rows


def write_csv(rows, path: str):
    """``rows`` into ``path`` (depth.csv's columns)."""
    _write_csv(rows, path, COLUMNS)


def read_csv(path: str) -> list[dict]:
    """depth.csv's rows, numbers parsed."""
    return _read_csv(path, ints=("depth", "width"), floats=("seconds", "peak_bytes"))


def _series(rows, mode, key):
    return sorted((r["depth"], r[key]) for r in rows if r["mode"] == mode)


def slopes(rows) -> dict:
    """Per mode: how peak bytes and seconds grow with depth, over the deeper half of the range.

    Returns ``{mode: {"memory_slope", "time_slope", "bytes_per_step", "seconds_per_step",
    "depths": (lo, hi), "peak": (lo, hi)}}``; a slope is d log(y) / d log(depth) from a
    least-squares fit over the depths >= the median measured depth (at small depths fixed costs
    hide the growth); ``bytes_per_step`` is the straight-line slope over the same depths.

    Example:
        >>> rows = [dict(mode="reverse", depth=d, seconds=1e-3 * d, peak_bytes=1e3 * d)
        ...         for d in (10, 100, 1000)]
        >>> round(slopes(rows)["reverse"]["memory_slope"], 3)
        1.0
    """
    out = {}
    for mode in MODES:
        mem, sec = _series(rows, mode, "peak_bytes"), _series(rows, mode, "seconds")
        if len(mem) < 2:
            continue
        depths = [d for d, _ in mem]
        lo = depths[len(depths) // 2] if len(depths) > 2 else depths[0]
        mem = [(d, max(b, 1.0)) for d, b in mem if d >= lo]
        sec = [(d, s) for d, s in sec if d >= lo]
        ld = np.log([d for d, _ in mem])
        fit = lambda pts: float(np.polyfit(ld, np.log([y for _, y in pts]), 1)[0])  # noqa: E731
        lin = lambda pts: float(np.polyfit([d for d, _ in pts], [y for _, y in pts], 1)[0])  # noqa
        out[mode] = dict(memory_slope=fit(mem), time_slope=fit(sec),
                         bytes_per_step=lin(mem), seconds_per_step=lin(sec),
                         depths=(mem[0][0], mem[-1][0]), peak=(mem[0][1], mem[-1][1]),
                         seconds=(sec[0][1], sec[-1][1]))
    return out


def plot(rows, path: str):
    """``memory_vs_depth.png``: peak bytes and seconds against depth, one line per mode."""
    plt = _plt()
    width = rows[0]["width"]
    fit = slopes(rows)
    fig, (ax_m, ax_t) = plt.subplots(1, 2, figsize=(11, 4.4))
    for mode, label in MODES.items():
        color, marker = STYLE[mode]
        if mode != "numpy":
            pts = _series(rows, mode, "peak_bytes")
            slope = f" (slope {fit[mode]['memory_slope']:.2f})" if mode in fit else ""
            ax_m.plot([d for d, _ in pts], [max(b, 1.0) for _, b in pts], marker=marker,
                      color=color, label=label + slope)
        pts = _series(rows, mode, "seconds")
        slope = f" (slope {fit[mode]['time_slope']:.2f})" if mode in fit else ""
        ax_t.plot([d for d, _ in pts], [s for _, s in pts], marker=marker, color=color,
                  label=label + slope)
    for ax in (ax_m, ax_t):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"depth T (steps of h = tanh(W h + x), width {width})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax_m.set_ylabel("peak bytes allocated (tracemalloc)")
    ax_m.set_title("Memory: the tape grows with depth, the duals do not, checkpoints bend it",
                   fontsize=9)
    ax_t.set_ylabel("seconds (best of repeats)")
    ax_t.set_title("Time: every mode does work proportional to depth", fontsize=10)
    fig.text(0.5, 0.005, "Reverse mode keeps every step's values and partials for its backward "
             "sweep (memory ~ depth: why checkpointing exists); forward mode carries its tangents "
             "along and drops each step's after use (memory flat); adops.scan(checkpoints=s) "
             "keeps s carries and recomputes the other steps in the sweep. Slopes: "
             "d log y / d log T "
             "over the deeper half.", ha="center", va="bottom", fontsize=7.5, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def paragraph(rows) -> str:
    """The measured lesson in words (one markdown paragraph) for summary.md."""
    fit = slopes(rows)
    if "reverse" not in fit or "forward, 1 direction" not in fit:
        return "- **Memory vs depth**: too few depths measured to fit a slope."
    rev, f1 = fit["reverse"], fit["forward, 1 direction"]
    fk = fit.get("forward, k directions")
    lo, hi = rev["depths"]
    width = rows[0]["width"]
    text = (f"- **Memory vs depth** (recurrence h = tanh(W h + x) unrolled T steps at width "
            f"{width}, memory_vs_depth.png): from T = {lo} to T = {hi}, reverse mode's peak "
            f"memory goes from {_mb(rev['peak'][0])} to {_mb(rev['peak'][1])} (log-log slope "
            f"{rev['memory_slope']:.2f}, about {_mb(rev['bytes_per_step'])} per step: the tape "
            f"keeps every step), while forward mode with one direction stays at "
            f"{_mb(f1['peak'][0])} to {_mb(f1['peak'][1])} (slope {f1['memory_slope']:.2f})")
    if fk:
        text += (f" and with k = {width} directions at {_mb(fk['peak'][0])} to "
                 f"{_mb(fk['peak'][1])} (slope {fk['memory_slope']:.2f}: wider, but flat in "
                 f"depth)")
    plain = [m for m in MODES if m in fit and m not in CHECKPOINTED]
    times = "; ".join(f"{m} {fit[m]['time_slope']:.2f}" for m in plain)
    text += (f". Time grows linearly in depth for every mode (log-log slopes: {times}). "
             "Reverse mode's memory is linear in depth, forward mode's flat: that is why deep "
             "networks and long recurrences need checkpointing for reverse mode.")
    return text + _checkpointed(rows, fit)


def _checkpointed(rows, fit) -> str:
    """The checkpointed curves in words: their memory slopes, and their cost at the deepest T."""
    done = [m for m in CHECKPOINTED if m in fit]
    if not done or "reverse" not in fit:
        return ""
    hi = max(r["depth"] for r in rows)
    at = {r["mode"]: r for r in rows if r["depth"] == hi}
    parts = []
    for m in done:
        if m in at and "reverse" in at:
            parts.append(f"{MODES[m]} peaks at {_mb(at[m]['peak_bytes'])} "
                         f"({100 * at[m]['peak_bytes'] / at['reverse']['peak_bytes']:.2g}% of "
                         f"the tape) in {at[m]['seconds'] / at['reverse']['seconds']:.2g}x its "
                         f"time, memory slope {fit[m]['memory_slope']:.2f}")
    return (f" Checkpointed, at T = {hi}: " + "; ".join(parts) + " (kept carries grow as "
            "sqrt(T), or not at all, and the recomputed steps pay for it).") if parts else ""


def write(out_dir: str, depths=DEFAULT_DEPTHS, width: int = 32, repeat: int = 3,
          progress=None) -> list[str]:
    """Run :func:`study` into ``out_dir/depth.csv`` and draw ``memory_vs_depth.png``."""
    csv_path = os.path.join(out_dir, "depth.csv")
    rows = study(depths, width, repeat, csv_path, progress)
    png = os.path.join(out_dir, "memory_vs_depth.png")
    plot(rows, png)
    return [csv_path, png]


class DepthStudy(Study):
    """Memory and time vs depth (see the module docstring) -> depth.csv, memory_vs_depth.png."""

    name = "depth"
    csv = CSV
    columns = tuple(COLUMNS)

    def __init__(self, depths=None):
        self.depths = depths      # None: DEFAULT_DEPTHS, or QUICK_DEPTHS for a quick run

    def measure(self, settings) -> list[str]:
        """depth.csv in ``settings.out``; with no depths, a stale one there is removed."""
        path = os.path.join(settings.out, CSV)
        depths = self.depths
        if depths is None:
            depths = QUICK_DEPTHS if settings.quick else DEFAULT_DEPTHS
        if not depths:
            remove_stale(path)
            remove_stale(os.path.join(settings.out, checkpointing.CSV))
            return []
        from tqdm import tqdm
        bar = tqdm(total=len(depths), disable=not settings.progress, unit="depth",
                   file=sys.stderr)

        def step(depth):
            bar.set_description(f"memory vs depth T={depth}")
            bar.update(1)
        with fixed_threads(settings.blas_threads):      # its recurrence is a matmul per step
            study(depths, repeat=settings.repeat or 3, csv_path=path, progress=step)
            bar.set_description("checkpointing trade-off")
            trade = os.path.join(settings.out, checkpointing.CSV)
            checkpointing.tradeoff(checkpointing.QUICK_T if settings.quick else
                                   checkpointing.DEFAULT_T, repeat=settings.repeat or 2,
                                   csv_path=trade)
        bar.close()
        return [path, trade]

    def render(self, csv_dir: str, out_dir: str) -> Section:
        """memory_vs_depth.png and its conclusion, when depth.csv holds rows."""
        path = os.path.join(csv_dir, CSV)
        rows = read_csv(path) if os.path.exists(path) else None
        if not rows:
            return Section()
        png = os.path.join(out_dir, PLOT)
        plot(rows, png)
        section = Section([png], [paragraph(rows)], [PLOT])
        trade = os.path.join(csv_dir, checkpointing.CSV)
        trade_rows = checkpointing.read_csv(trade) if os.path.exists(trade) else None
        if trade_rows:
            png = os.path.join(out_dir, checkpointing.PLOT)
            checkpointing.plot(trade_rows, png)
            picture = schedule.plot(os.path.join(out_dir, schedule.PLOT))
            section.paths += [png, picture]
            section.plots += [checkpointing.PLOT, schedule.PLOT]
            section.conclusions.append(checkpointing.paragraph(trade_rows) + (
                f" {schedule.PLOT} draws a small schedule: which steps are kept, recomputed "
                "and swept."))
        return section
