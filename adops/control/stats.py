"""Counting what scans and checkpoints do (for tests, the benchmark and compare's study).

Contract: inside ``with counting() as stats:``, every :func:`adops.scan` and
``revad.checkpoint`` adds to ``stats`` (a :class:`ScanStats`): forward ``steps`` evaluated (the
first pass's included), how many were ``recomputed``, the most carries kept at once
(``peak_snapshots``) and the ``sweeps``. The block's counter is a context variable, so threads
and nested blocks count apart; outside a block nothing is counted.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class ScanStats:
    """Counts of one :func:`counting` block (see the module docstring)."""

    steps: int = 0
    recomputed: int = 0
    peak_snapshots: int = 0
    sweeps: int = 0


_STATS = contextvars.ContextVar("adops_scan_stats", default=None)


@contextmanager
def counting():
    """Count what scans and checkpoints do inside the block.

    Example:
        >>> import numpy as np, adops
        >>> with counting() as stats:
        ...     _ = adops.scan(lambda c, x: (c + x, None), 0.0, np.ones(5))
        >>> stats.steps
        5
    """
    stats = ScanStats()
    token = _STATS.set(stats)
    try:
        yield stats
    finally:
        _STATS.reset(token)


def count(steps: int = 0, recomputed: int = 0, kept: int | None = None, sweeps: int = 0):
    """Add to the current block's counts (nothing outside a block)."""
    stats = _STATS.get()
    if stats is not None:
        stats.steps += steps
        stats.recomputed += recomputed
        stats.sweeps += sweeps
        if kept is not None:
            stats.peak_snapshots = max(stats.peak_snapshots, kept)
