"""The default run, in one place: the studies measured in order into one folder, then one report.

Contract: :func:`run(settings, grid=..., problems=..., user=False)` measures, in order, the grid
(results.csv, with the compiled tier beside each eager configuration), memory vs depth
(depth.csv), second order (hessian.csv), the vanishing-gradient study (vanishing.csv, .png, .md) and the
standard problems (standard.csv); then :func:`compare.report.write_report` draws every plot and
summary.md, with the standard problems' section last. A ``user`` run (``--problem``) measures
the grid alone and removes a stale depth.csv / hessian.csv from the folder, so a report never
mixes two runs. Each study appends its rows as it measures, so an interrupted run keeps them.
"""
from __future__ import annotations

import os

from .report import write_report
from .studies.base import Settings
from .studies.depth import DepthStudy
from .studies.grid import GridStudy
from .studies.hessian import HessianStudy
from .studies.standard import StandardStudy
from .studies.vanishing import VanishingStudy


def default_studies(grid=None, problems=None, user: bool = False) -> list:
    """The studies of a run, in the order they are measured (before the report)."""
    if user:      # the user's function only; no depth or second-order rows from another run
        return [GridStudy(grid, problems), DepthStudy(depths=()), HessianStudy(ns=())]
    return [GridStudy(grid, problems), DepthStudy(), HessianStudy(), VanishingStudy(),
            StandardStudy()]


def measure(studies, settings: Settings) -> dict:
    """Measure each study in order; returns ``{study name: paths it wrote}``."""
    os.makedirs(settings.out, exist_ok=True)
    return {study.name: study.measure(settings) for study in studies}


def report(studies, settings: Settings) -> list[str]:
    """The report of measured ``studies``: every plot and summary.md from results.csv and the
    CSVs beside it, then the sections of the studies it does not render from there (standard)."""
    extra = [s for s in studies if isinstance(s, StandardStudy)]
    return write_report(os.path.join(settings.out, "results.csv"), settings.out,
                        command=settings.command, peers_note=settings.peers_note, extra=extra)


def run(settings: Settings, grid=None, problems=None, user: bool = False):
    """Measure the default studies (or a user's grid) and write the report; returns
    ``(rows in results.csv, paths)``: the report's, and the files the vanishing study wrote."""
    studies = default_studies(grid, problems, user)
    written = measure(studies, settings)
    return studies[0].rows_written, report(studies, settings) + written.get("vanishing", [])
