"""results.csv read back, and the analyses of its rows that more than one study draws on: each
mode's best time per configuration, a tier's complete (n, m) grid and a power law fitted to its
break-even (the measured break-even and the noise floor: :mod:`compare.common.breakeven`).

For each configuration a mode's time is its best chunk width (forward: the fastest chunk;
reverse: record + sweep at the fastest chunk).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .rows import read_csv


def read_rows(csv_path: str) -> list[dict]:
    """results.csv's rows, ``n``, ``m`` and ``seconds`` parsed; ValueError when it holds none."""
    rows = read_csv(csv_path, ints=("n", "m"), floats=("seconds",))
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


def peak(rows):
    peak = {}
    for r in rows:
        if r["phase"] == "jacobian" and r.get("peak_bytes"):
            key = (r["problem"], r["n"], r["m"], r["mode"])
            peak[key] = max(peak.get(key, 0), int(float(r["peak_bytes"])))
    return peak


def tier_modes(tier):
    """The (forward, reverse) mode names of a tier in results.csv."""
    return ("forward", "reverse") if tier == "eager" else ("forward-compiled", "reverse-compiled")


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


def ratio_cells(best, problem, tier):
    fwd, rev = tier_modes(tier)
    return {(n, m): modes[rev][0] / modes[fwd][0] for (p, n, m), modes in best.items()
            if p == problem and fwd in modes and rev in modes}


def heatmap_grids(best, problem="dense"):
    """``[(tier, ns, ms, grid)]``: each tier's complete grid of ``log2(t_reverse / t_forward)``,
    ``grid[i, j]`` at ``(ns[j], ms[i])`` (tiers without a 2 x 2 grid are left out)."""
    panels = []
    for tier in ("eager", "compiled"):
        cells = ratio_cells(best, problem, tier)
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


def compile_times(rows) -> dict:
    """``{(problem, n, m, mode): compile seconds}`` of the compiled rows."""
    out = {}
    for r in rows:
        if r.get("tier") == "compiled" and r.get("compile_seconds") not in (None, ""):
            out[(r["problem"], r["n"], r["m"], r["mode"])] = float(r["compile_seconds"])
    return out
