"""summary.md and every plot, assembled from the studies' sections, from the CSVs alone
(re-runnable without re-timing: ``python -m compare plot``).

Contract: :func:`write_report(csv_path, out_dir)` renders, from ``results.csv`` and the CSVs
beside it, each study of :data:`SECTIONS` in order: the grid (five plots), the compiled tier
(``tiers.png``), depth (``memory_vs_depth.png`` when ``depth.csv`` is there), the teaching
pictures (``jacobian_sweeps.png``, ``graph/``) and second order (``hessian.png`` when
``hessian.csv`` is there); then writes ``summary.md``: the grid's header, every study's
conclusions (the grid's memory-vs-inputs line after the tiers'), the grid's table with every
study's plots, the second-order section, and the sections of ``extra`` studies (the default run
passes the standard problems); and ``claims.json`` / ``claims.md``: each conclusion that is a
:class:`compare.common.claims.Claim` with the query over the CSVs behind each of its numbers.
Returns the paths written.
"""
from __future__ import annotations

import os

from .common import claims
from .studies import grid as grid_study
from .studies.depth import DepthStudy
from .studies.grid import summary as grid_summary
from .studies.hessian import HessianStudy
from .studies.teaching import TeachingStudy
from .studies.tiers import PLOT as TIERS_PLOT, TiersStudy

#: the plots every report draws from results.csv (the grid's and the compiled tier's)
PLOTS = grid_study.PLOTS + [TIERS_PLOT]


def sections(csv_path: str):
    """The studies a report renders from ``csv_path`` (a results.csv) and the CSVs beside it,
    in summary order."""
    return [grid_study.GridStudy(path=csv_path), TiersStudy(path=csv_path), DepthStudy(),
            TeachingStudy(), HessianStudy()]


def write_report(csv_path: str, out_dir: str, command: str = "python -m compare plot",
                 peers_note: str = "", extra=()) -> list[str]:
    """Draw every plot and summary.md from ``csv_path`` into ``out_dir``; returns the paths.
    ``extra``: further studies (already measured) whose sections follow."""
    os.makedirs(out_dir, exist_ok=True)
    csv_dir = os.path.dirname(os.path.abspath(csv_path))
    grid, tiers, depth, teaching, hessian = (study.render(csv_dir, out_dir)
                                             for study in sections(csv_path))
    rows = grid.parts["rows"]
    found = (grid.conclusions + tiers.conclusions + grid.parts["memory"] + depth.conclusions
             + teaching.conclusions)
    cj, cm = os.path.join(out_dir, "claims.json"), os.path.join(out_dir, "claims.md")
    lines = (grid_summary.header(rows, command, peers_note) + claims.lines(found)
             + ["", "Every number above is recomputed from the CSVs by the query listed in "
                    "[claims.md](claims.md) (`python -m compare claims DIR` checks them)."]
             + grid_summary.table(rows, grid.plots + tiers.plots + depth.plots + teaching.plots))
    later = [study.render(csv_dir, out_dir) for study in extra]
    claims.write(found + hessian.parts.get("claims", [])
                 + [c for s in later for c in s.parts.get("claims", [])], cj, cm, csv_dir)
    md = os.path.join(out_dir, "summary.md")
    with open(md, "w") as fh:
        fh.write("\n".join(lines) + hessian.text + "".join(s.text for s in later))
    return (grid.paths + tiers.paths + depth.paths + teaching.paths + hessian.paths + [md, cj, cm]
            + [p for s in later for p in s.paths])
