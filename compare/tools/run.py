"""Time the full Jacobian of your own function in both modes (and finite differences): the rows
of results.csv for one (f, x).
"""
from __future__ import annotations

from ..common.rows import CsvSink
from ..common.timing import BLAS_THREADS, COLUMNS, measure, versions


def run(f, x, *, csv_path: str | None = None, repeat: int = 3, chunks=(1, None),
        problem: str = "user", blas_threads: int | None = BLAS_THREADS) -> list[dict]:
    """Time the full Jacobian of your own ``f`` at ``x`` in both modes (and finite differences).

    Args:
        f: function of one array, written with numpy.
        x: the point.
        csv_path: also append the rows to this CSV (created with a header).
        repeat: best-of repeats; chunks: forward/reverse chunk widths (None: automatic).
        blas_threads: BLAS threads while timing (default 1; None: the library's default).

    Returns:
        The tidy rows (dicts with the columns of results.csv).

    Example:
        >>> import numpy as np
        >>> rows = run(lambda x: np.sum(np.sin(x)), np.ones(3), repeat=1)
        >>> sorted({r["mode"] for r in rows})
        ['finite_differences', 'forward', 'numpy', 'reverse']
    """
    rows = measure(f, x, problem=problem, repeat=repeat, chunks=chunks, versions=versions(),
                   blas_threads=blas_threads)
    if csv_path:
        CsvSink(csv_path, COLUMNS).write(rows)
    return rows
