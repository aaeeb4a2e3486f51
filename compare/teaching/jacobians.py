"""The Jacobian by columns and by rows: forward mode fills one column per sweep, reverse mode one
row per sweep, on one small function.

Contract: :func:`sweeps(f, *args)` flattens the arguments into n input entries and the output
into m entries and returns ``{"inputs": [n names], "outputs": [m names], "columns": [n arrays
(m,)], "rows": [m arrays (n,)], "value": (m,)}``: column j is one ``dualad.jvp`` along the unit
tangent of input j (one forward sweep), row i one ``revad`` vjp with the unit cotangent of output i
(one reverse sweep, the tape recorded once). Input names come from ``f``'s parameters (``x``,
``w[1]``). :func:`plot` draws the sweeps filling the Jacobian, sweep by sweep, for one or more
functions (``jacobian_sweeps.png``). :func:`f_3_to_2` and :func:`f_2_to_3` are the teaching pair
(n = 3, m = 2 and the mirror).
"""
from __future__ import annotations

import os

import numpy as np

import dualad
import revad
from adops.program.inputs import as_primal

from .names import arg_names, entry_names, point_text


def f_3_to_2(x, y, z):
    """R^3 -> R^2: ``[x y + z, sin(x) z]``: more inputs than outputs (reverse needs fewer sweeps)."""
    return np.stack([x * y + z, np.sin(x) * z])


def f_2_to_3(u, v):
    """R^2 -> R^3: ``[u v, u + v, sin(u) v]``: the mirror, more outputs (forward needs fewer)."""
    return np.stack([u * v, u + v, np.sin(u) * v])


def sweeps(f, *args) -> dict:
    """Every column of ``f``'s Jacobian by one forward sweep each, every row by one reverse
    sweep each (see module docstring).

    Example:
        >>> s = sweeps(f_3_to_2, 1.0, 2.0, 3.0)
        >>> s["inputs"], s["outputs"], len(s["columns"]), len(s["rows"])
        (['x', 'y', 'z'], ['f[0]', 'f[1]'], 3, 2)
        >>> bool(np.allclose(np.stack(s["columns"], axis=1), np.stack(s["rows"])))
        True
    """
    xs = [as_primal(a, f"argument {i}") for i, a in enumerate(args)]
    sizes = [x.size for x in xs]
    n = sum(sizes)
    columns = []
    for j in range(n):
        flat = np.zeros(n)
        flat[j] = 1.0
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        tangents = tuple(p.reshape(x.shape).astype(x.dtype) for p, x in zip(parts, xs))
        value, out_dot = dualad.jvp(f, tuple(xs), tangents)
        columns.append(np.asarray(out_dot, dtype=float).ravel())
    value = np.asarray(value, dtype=float)
    m = value.size
    _, vjp_fn = revad.vjp(f, *xs)
    rows = []
    for i in range(m):
        seed = np.zeros(m)
        seed[i] = 1.0
        bars = vjp_fn(seed.reshape(value.shape))
        rows.append(np.concatenate([np.asarray(b, dtype=float).ravel() for b in bars]))
    outputs = ["f"] if value.shape == () else entry_names(["f"], [value.shape])
    return {"inputs": entry_names(arg_names(f, len(xs)), [x.shape for x in xs]),
            "outputs": outputs, "columns": columns, "rows": rows, "value": value.ravel()}


def _matrix(ax, s, filled, new, color, title):
    from matplotlib.patches import Rectangle
    m, n = len(s["outputs"]), len(s["inputs"])
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(m - 0.5, -0.5)
    for i in range(m):
        for j in range(n):
            v = filled.get((i, j))
            face = color if v is not None else "white"
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=face, edgecolor="#888",
                                   lw=0.8, zorder=2))
            ax.text(j, i, "?" if v is None else f"{v:.3g}", ha="center", va="center",
                    fontsize=8, color="#999" if v is None else "black", zorder=4)
    (i0, j0), (i1, j1) = min(new), max(new)
    ax.add_patch(Rectangle((j0 - 0.5, i0 - 0.5), j1 - j0 + 1, i1 - i0 + 1, fill=False,
                           edgecolor="#d00", lw=2.5, zorder=5, clip_on=False))
    ax.set_xticks(range(n), [f"d/d{x}" for x in s["inputs"]], fontsize=7)
    ax.set_yticks(range(m), s["outputs"], fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=8)


def plot(cases, path: str, points=None):
    """Draw ``cases = [(title, sweeps(...)), ...]``: per case, a row of forward sweeps (columns
    filling) and a row of reverse sweeps (rows filling), the new column or row outlined;
    ``points``: each case's evaluation point as text (:func:`compare.teaching.names.point_text`),
    stated in its title."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cell, left, gap, head, title_h = 0.62, 0.75, 0.45, 0.75, 0.55
    widest = max(max(len(s["inputs"]), len(s["outputs"])) * (len(s["inputs"]) * cell + left + gap)
                 for _, s in cases)
    heights = [head + 2 * (len(s["outputs"]) * cell + title_h + 0.35) for _, s in cases]
    fig_w, fig_h = widest + 0.3, sum(heights) + 0.2
    fig = plt.figure(figsize=(fig_w, fig_h))
    top = fig_h - 0.1
    points = points or [None] * len(cases)
    for (title, s), h, at in zip(cases, heights, points):
        n, m = len(s["inputs"]), len(s["outputs"])
        fig.text(0.15 / fig_w, (top - 0.2) / fig_h,
                 f"{title}: R^{n} -> R^{m}" + (f", at {at}" if at else "") + "\nforward mode: {n} sweeps, one column each (one "
                 f"per input);  reverse mode: {m} sweeps, one row each (one per output)",
                 fontsize=10, fontweight="bold", va="top")
        y = top - head
        for sweep, count in (("forward", n), ("reverse", m)):
            y -= title_h + m * cell
            for k in range(count):
                x = 0.15 + left + k * (n * cell + left + gap)
                ax = fig.add_axes((x / fig_w, y / fig_h, n * cell / fig_w, m * cell / fig_h))
                if sweep == "forward":
                    filled = {(i, j): s["columns"][j][i] for j in range(k + 1) for i in range(m)}
                    _matrix(ax, s, filled, {(i, k) for i in range(m)}, "#dbe9ff",
                            f"forward sweep {k + 1} of {n}:\ncolumn d/d{s['inputs'][k]} "
                            "(dualad.jvp)")
                else:
                    filled = {(i, j): s["rows"][i][j] for i in range(k + 1) for j in range(n)}
                    _matrix(ax, s, filled, {(k, j) for j in range(n)}, "#f6d6e8",
                            f"reverse sweep {k + 1} of {m}:\nrow {s['outputs'][k]} (revad vjp)")
            y -= 0.35
        top -= h
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out_dir: str) -> list[str]:
    """``jacobian_sweeps.png`` for :func:`f_3_to_2` at (1, 2, 3) and :func:`f_2_to_3` at (1, 2)."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "jacobian_sweeps.png")
    plot([("f_3_to_2(x, y, z) = [x y + z, sin(x) z]", sweeps(f_3_to_2, 1.0, 2.0, 3.0)),
          ("f_2_to_3(u, v) = [u v, u + v, sin(u) v]", sweeps(f_2_to_3, 1.0, 2.0))], path,
         points=[point_text(f_3_to_2, (1.0, 2.0, 3.0)), point_text(f_2_to_3, (1.0, 2.0))])
    return [path]
