"""The grid study: full Jacobians by forward mode, reverse mode and finite differences over a grid
of (problem, n, m), in the eager tier and (for a subset) the compiled one -> results.csv, five
plots and the main part of summary.md.

Modules: :mod:`.measure` (the grids and :func:`run_grid`), :mod:`.workers` (the grid on a Dask
cluster, ``--executor``), :mod:`.plots` (time_vs_n.png,
time_vs_m.png, cost_in_evals.png, memory.png), :mod:`.heatmap` (heatmap.png), :mod:`.summary` (header,
conclusions, table). The rows' shared analyses are in :mod:`compare.common.results`.
"""
from __future__ import annotations

import os

from ...common.results import best_times, read_rows
from ..base import Section, Study
from . import plots as _plots
from .heatmap import plot_heatmap
from . import summary as _summary
from ...problems import PROBLEMS
from .measure import GRID_COLUMNS, Grid, default_grid, quick_grid, run_grid  # noqa: F401
from .workers import run_on_workers

PLOTS = ["time_vs_n.png", "time_vs_m.png", "heatmap.png", "cost_in_evals.png", "memory.png"]
CSV = "results.csv"


def draw(rows, out_dir: str) -> list[str]:
    """The grid's five plots from its rows; returns their paths."""
    best = best_times(rows)
    paths = [os.path.join(out_dir, p) for p in PLOTS]
    _plots.plot_time_vs_n(rows, paths[0])
    _plots.plot_time_vs_m(rows, paths[1])
    plot_heatmap(rows, paths[2])
    _plots.plot_cost(best, paths[3])
    _plots.plot_memory(rows, paths[4])
    return paths


class GridStudy(Study):
    """The (problem, n, m) grid of :class:`Grid` (default, quick, or a user's problem)."""

    name = "grid"
    csv = CSV
    columns = tuple(GRID_COLUMNS)

    def __init__(self, grid: Grid | None = None, problems=None, path: str | None = None):
        self.grid, self.problems, self.path = grid, problems, path     # path: another CSV
        self.rows_written = 0

    def measure(self, settings) -> list[str]:
        """results.csv in ``settings.out``; the grid's repeat and BLAS threads from settings."""
        grid = self.grid or (quick_grid() if settings.quick else default_grid())
        if settings.repeat:
            grid.repeat = settings.repeat
        grid.blas_threads = settings.blas_threads
        path = os.path.join(settings.out, CSV)
        kwargs = {} if self.problems is None else {"problems": self.problems}
        if grid.executor:
            self.rows_written = run_on_workers(grid, path, settings.progress,
                                               self.problems or PROBLEMS)
        else:
            self.rows_written = run_grid(grid, path, peers=settings.peers,
                                         progress=settings.progress, **kwargs)
        return [path]

    def render(self, csv_dir: str, out_dir: str) -> Section:
        """The five plots, the grid's conclusions, and in ``parts``: ``rows`` and ``memory``
        (its memory-vs-inputs line); :mod:`compare.report` adds the header and the table."""
        rows = read_rows(self.path or os.path.join(csv_dir, CSV))
        return Section(draw(rows, out_dir), _summary.conclusions(rows), list(PLOTS),
                       parts={"rows": rows, "memory": _summary.memory(rows)})
