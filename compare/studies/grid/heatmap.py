"""heatmap.png: t_reverse / t_forward over dense's (n, m) grid, one panel per
:data:`compare.common.breakeven.PANELS` measured (eager tier, compiled tier, scalar modes at
chunk 1), each with the measured break-even (the contour ``t_rev = t_fwd`` of its cells,
interpolated linearly in log n and log m), the cells inside the run's noise floor hatched as
ties, and the theory's line ``ceil(n/k) t_fwd(k) = ceil(m/k) t_rev(k)`` from the per-pass
costs of the same cells. A fitted power law ``m* = K n^p`` is drawn only when it puts every cell
outside the noise on its measured side, and is labelled as a fit.

Contract: :func:`plot_heatmap(rows, path)` -> ``{panel: {"measured": [(x, y)], "theory":
[(x, y)], "fit": (x, y) or None}}``, the lines in the panel's cell coordinates (cell ``(j, i)``
is ``(ns[j], ms[i])``; between cells the coordinate is linear in log size).
"""
from __future__ import annotations

import numpy as np

from ...common import breakeven as be
from ...common.claims import Facts
from ...common.results import break_even_fit
from ...common.style import plt as _plt


def _coord(sizes, values):
    """Cell coordinate of ``values`` (sizes between the grid's: linear in log size)."""
    return np.interp(np.log2(values), np.log2(sizes), np.arange(len(sizes)))


def _paths(cs):
    return [(p.vertices[:, 0], p.vertices[:, 1]) for p in cs.get_paths() if len(p.vertices)]


def _fit_agrees(fit, ns, ms, grid, floor):
    K, p = fit
    for i, m in enumerate(ms):
        for j, n in enumerate(ns):
            r = 2.0 ** grid[i, j]
            if max(r, 1 / r) >= floor and (r < 1) != (m < K * n ** p):
                return False
    return True


def panels(rows, problem="dense"):
    """``[(panel, ns, ms, log2 ratio grid, (t_fwd pass, t_rev pass))]`` of the panels measured."""
    facts = Facts(rows, "results.csv")
    out = []
    for panel in be.PANELS:
        ns, ms, cells = be.ratios(facts, panel, problem)
        if ns:
            grid = np.array([[np.log2(cells[(n, m)].value) for n in ns] for m in ms])
            tf, tr = be.per_pass(facts, panel, ns, ms, problem)
            out.append((panel, ns, ms, grid, (tf.value, tr.value)))
    return out


def plot_heatmap(rows, path, problem="dense"):
    """Draw heatmap.png (module docstring); returns the lines drawn."""
    plt = _plt()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    floor, _ = be.noise_floor(Facts(rows, "results.csv"))
    floor = floor.value if floor is not None else 1.0
    found = panels(rows, problem)
    fig, axes = plt.subplots(1, max(1, len(found)), figsize=(5.6 * max(1, len(found)), 6.6),
                             squeeze=False)
    axes = axes[0]
    drawn = {}
    if not found:
        axes[0].text(0.5, 0.5, f"this run measured no (n, m) grid of {problem}\n"
                               "(python -m compare without --problem does)",
                     ha="center", va="center")
        axes[0].axis("off")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return drawn
    lim = max(1.0, max(float(np.max(np.abs(g))) for _, _, _, g, _ in found))
    for ax, (panel, ns, ms, grid, (tf, tr)) in zip(axes, found):
        im = ax.imshow(grid, origin="lower", cmap="coolwarm", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(ns)), [str(n) for n in ns])
        ax.set_yticks(range(len(ms)), [str(m) for m in ms])
        ax.set_xlabel("inputs n")
        ax.set_ylabel("outputs m")
        tie = np.abs(grid) < np.log2(floor)
        for i in range(len(ms)):
            for j in range(len(ns)):
                r = 2 ** grid[i, j]
                ax.text(j, i, (f"{r:.2g}" if r < 100 else f"{r:.0f}") + ("\ntie" if tie[i, j] else ""),
                        ha="center", va="center", fontsize=7.5)
                if tie[i, j]:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                               hatch="///", edgecolor="0.45", lw=0))
        X, Y = np.meshgrid(np.arange(len(ns)), np.arange(len(ms)))
        lines = {"measured": [], "theory": [], "fit": None}
        if grid.min() < 0 < grid.max():
            lines["measured"] = _paths(ax.contour(X, Y, grid, levels=[0], colors="black",
                                                  linewidths=2.4))
        fx = np.linspace(-0.5, len(ns) - 0.5, 241)
        fy = np.linspace(-0.5, len(ms) - 0.5, 241)
        fn = 2 ** np.interp(fx, np.arange(len(ns)), np.log2(ns))
        fm = 2 ** np.interp(fy, np.arange(len(ms)), np.log2(ms))
        theory = be.theory_log2_ratio(panel, fn[None, :], fm[:, None], tf, tr)
        if theory.min() < 0 < theory.max():
            lines["theory"] = _paths(ax.contour(fx, fy, theory, levels=[0], colors="gold",
                                                linewidths=2.0, linestyles="--"))
        handles = [Line2D([], [], color="black", lw=2.4, label="measured: t_rev = t_fwd "
                          "(contour of the cells)" + ("" if lines["measured"] else ": none, "
                                                      "one mode wins every cell")),
                   Line2D([], [], color="gold", lw=2.0, ls="--",
                          label=f"theory: ceil(m/k) {tr * 1e6:.3g} us = ceil(n/k) "
                                f"{tf * 1e6:.3g} us" + ("" if lines["theory"] else
                                                        ": off the grid")),
                   Patch(fill=False, hatch="///", edgecolor="0.45",
                         label=f"tie: within the run's noise floor (x{floor:.3g})")]
        fit = break_even_fit(ns, ms, grid)
        if fit is not None and _fit_agrees(fit, ns, ms, grid, floor):
            K, p = fit
            ln = np.linspace(np.log2(ns[0]), np.log2(ns[-1]), 60)
            lm = np.log2(K) + p * ln
            keep = (lm >= np.log2(ms[0])) & (lm <= np.log2(ms[-1]))
            if keep.any():
                x, y = _coord(ns, 2 ** ln[keep]), _coord(ms, 2 ** lm[keep])
                lines["fit"] = (x, y)
                ax.plot(x, y, color="dimgray", lw=1.2, ls=":")
                handles.append(Line2D([], [], color="dimgray", lw=1.2, ls=":",
                                      label=f"fit to the cells: m ~ {K:.2g} n^{p:.2f}"))
        drawn[panel] = lines
        ax.set_xlim(-0.5, len(ns) - 0.5)
        ax.set_ylim(-0.5, len(ms) - 0.5)
        k_note = "k = 1" if panel == "scalar" else "k = auto chunk (up to 256)"
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.11),
                  fontsize=7, title=f"per-pass costs: median over the cells; {k_note}",
                  title_fontsize=7)
        ax.set_title(f"{problem}, {be.TITLES[panel]}: t_reverse / t_forward\n"
                     "(blue: reverse wins, red: forward wins)", fontsize=9)
        fig.colorbar(im, ax=ax, label="log2(t_reverse / t_forward)", shrink=0.7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn
