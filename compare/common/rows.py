"""CSV rows, written as they are measured and read back with their numbers parsed: the one reader
and writer behind results.csv, depth.csv, hessian.csv and standard.csv.

Contract: :class:`CsvSink(path, columns)` writes the header once and appends rows (extra keys
ignored), so an interrupted run keeps every row written so far; :func:`write_csv` writes rows in
one go; :func:`read_csv(path, ints=..., floats=..., optional=..., flags=...)` returns the rows as
dicts with those columns converted (``optional``: float, or None for an empty cell; ``flags``:
``"1"`` -> True). :func:`beside(path, name)` is the file ``name`` in ``path``'s folder.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> CsvSink(path, ["n", "seconds", "ratio"]).write([dict(n=2, seconds=0.5, ratio="")])
    >>> read_csv(path, ints=("n",), floats=("seconds",), optional=("ratio",))
    [{'n': 2, 'seconds': 0.5, 'ratio': None}]
"""
from __future__ import annotations

import csv
import os


class CsvSink:
    """Appends rows to a CSV file, writing the header once."""

    def __init__(self, path: str, columns):
        self.path, self.columns = path, list(columns)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", newline="") as fh:
            csv.DictWriter(fh, self.columns).writeheader()

    def write(self, rows):
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, self.columns, extrasaction="ignore")
            for r in rows:
                w.writerow(r)


def write_csv(rows, path: str, columns):
    """``rows`` into ``path`` (created with its folder), header first."""
    CsvSink(path, columns).write(rows)


def read_csv(path: str, *, ints=(), floats=(), optional=(), flags=()) -> list[dict]:
    """The rows of ``path`` with the named columns parsed (see the module docstring)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ints:
            r[k] = int(r[k])
        for k in floats:
            r[k] = float(r[k])
        for k in optional:
            r[k] = float(r[k]) if r.get(k) not in (None, "") else None
        for k in flags:
            r[k] = r[k] == "1"
    return rows


def beside(path: str, name: str) -> str:
    """The file ``name`` in the folder of ``path`` (a study's CSV beside results.csv)."""
    return os.path.join(os.path.dirname(os.path.abspath(path)), name)


def remove_stale(path: str):
    """Remove ``path`` if it exists: a study not run this time leaves no old CSV for the report
    to mix with this run's."""
    if os.path.exists(path):
        os.remove(path)
