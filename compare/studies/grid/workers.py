"""The grid on a Dask cluster (``python -m compare --executor dask://HOST:PORT``): one
configuration per worker at a time, each row recording its worker's host and cores.

Contract: :func:`run_on_workers(grid, csv_path, progress, problems)` sends each configuration of
``grid`` to a worker that is not timing another one (so timings are not disturbed by a second
configuration on the same worker), appends the rows to ``csv_path`` as they return and returns their
number. Every configuration is timed whole on one worker, so its modes are compared on one
machine; summary.md says that rows timed on different machines are compared only within a
machine. The compiled tier compiles each configuration from a fresh cache folder on its
worker. Peers (JAX, PyTorch) are not timed on workers. Ctrl-C cancels the configurations not yet
done; the rows written so far stay.
"""
from __future__ import annotations

import contextlib
import sys

from ...common import compiled as tiers
from ...common.rows import CsvSink
from ...common.timing import versions
from .measure import GRID_COLUMNS, config_rows


def _timed(grid, problem, name, n, m, compiled):
    """One configuration on a worker (a fresh code cache for its compiled tier)."""
    with tiers.cold_cache() if compiled else contextlib.nullcontext():
        return config_rows(grid, problem, name, n, m, versions(), [], compiled)


def run_on_workers(grid, csv_path: str, progress, problems) -> int:
    """See the module docstring."""
    sink = CsvSink(csv_path, GRID_COLUMNS)
    from distributed import as_completed
    from tqdm import tqdm
    from adops.program.executors import connect
    client = connect(grid.executor, "python -m compare --executor")
    try:
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise RuntimeError(f"the Dask scheduler at {grid.executor} has no workers: start "
                               f"some (dask worker {grid.executor.replace('dask://', 'tcp://')})")
        queue, compiled = list(grid.configs), set(grid.compiled)
        running, count = {}, 0
        bar = tqdm(total=len(queue), disable=not progress, unit="config", file=sys.stderr)

        def submit(worker):
            name, n, m = queue.pop(0)
            fut = client.submit(_timed, grid, problems[name], name, n, m,
                                (name, n, m) in compiled, workers=[worker],
                                allow_other_workers=True, pure=False)
            running[fut] = worker
            return fut
        pending = as_completed([submit(w) for w in workers[:len(queue)]])
        try:
            for fut in pending:
                rows = fut.result()
                sink.write(rows)
                count += len(rows)
                bar.update(1)
                worker = running.pop(fut)
                if queue:
                    pending.add(submit(worker))
        except BaseException:
            client.cancel(list(running))
            raise
        finally:
            bar.close()
        return count
    finally:
        client.close()

