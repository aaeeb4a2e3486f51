"""The one interface every study has: a name, the CSV it writes and its columns, ``measure``
(settings -> rows in that CSV) and ``render`` (the CSV -> plots and summary text).

Contract: ``measure(settings)`` writes ``settings.out/<csv>`` (rows appended as they exist) and
returns the paths it wrote; ``render(csv_dir, out_dir)`` reads that CSV from ``csv_dir`` and
returns a :class:`Section` (the plots it drew, and its text for summary.md), or an empty
Section when the CSV is not there. Rendering needs no timing, so ``python -m compare plot``
redraws every study from the CSVs alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..common.timing import BLAS_THREADS


@dataclass
class Settings:
    """What a run asks of each study: the output folder, ``quick`` (the reduced sizes),
    ``repeat`` (best of; None: the study's default), the peers to time (names), BLAS threads,
    progress output and the command line (for the reports)."""

    out: str
    quick: bool = False
    repeat: int | None = None
    peers: list = field(default_factory=list)
    peers_note: str = ""
    blas_threads: int | None = BLAS_THREADS
    progress: bool = True
    command: str = "python -m compare"


@dataclass
class Section:
    """A study's share of the report: ``paths`` drawn, ``conclusions`` (bullet lines in
    summary.md's Conclusions), ``plots`` (names for its Plots line) and ``text`` (a section of
    its own after the table). ``parts`` holds further named pieces a study's section has (the
    grid's header, memory line and table)."""

    paths: list = field(default_factory=list)
    conclusions: list = field(default_factory=list)
    plots: list = field(default_factory=list)
    text: str = ""
    parts: dict = field(default_factory=dict)


class Study:
    """One study; subclasses set the attributes and implement the two methods."""

    name: str = ""
    csv: str | None = None
    columns: tuple = ()

    def measure(self, settings: Settings) -> list[str]:
        """Time this study into ``settings.out/<csv>``; returns the paths written."""
        raise NotImplementedError

    def render(self, csv_dir: str, out_dir: str) -> Section:
        """Plots and summary text from the CSV in ``csv_dir`` into ``out_dir``."""
        raise NotImplementedError
