"""Running the comparison grid: which (problem, n, m) configurations, in what order, into a CSV.

Contract: :func:`run_grid` measures each configuration of a :class:`Grid` with
:func:`compare.timing.measure` and appends its rows to ``results.csv`` as soon as they exist, so an
interrupted run keeps every row measured so far; then, if the grid lists ``depths``, the
memory-vs-depth study (:mod:`compare.depth`) into ``depth.csv`` beside it (a stale ``depth.csv``
there is removed when the grid has none, so a report never mixes two runs), and likewise the
second-order study (:mod:`compare.second_order`) into ``hessian.csv`` for ``hessian_ns``.
The configurations in ``Grid.compiled`` are timed in the compiled tier too (:mod:`compare.tiers`,
each compiled once per (problem, n, m, mode) from a fresh cache, compile time in
``compile_seconds``). :func:`run` does the same for a user's own function. Column order is
:data:`COLUMNS`.
"""
from __future__ import annotations

import contextlib
import csv
import os
import platform
import sys
from dataclasses import dataclass, field

import numpy as np

from . import depth as depth_study
from . import second_order
from . import tiers
from .depth import DEFAULT_DEPTHS, QUICK_DEPTHS
from .problems import PROBLEMS, Problem
from .timing import BLAS_THREADS, fixed_threads, measure

COLUMNS = ["problem", "mode", "n", "m", "chunk", "chunk_rule", "phase", "seconds", "repeat",
           "first_call_seconds", "peak_bytes", "tape_bytes", "versions", "blas", "tier",
           "compile_seconds"]


@dataclass
class Grid:
    """What to measure: (problem, n, m) triples and the timing settings (``blas_threads``: BLAS
    and PyTorch threads while timing, None for the libraries' defaults). ``compiled``: the
    triples also timed in the compiled tier (a subset: each costs a compile per mode)."""

    configs: list
    repeat: int = 3
    chunks: tuple = (1, None)
    fd_max_n: int = 1024
    name: str = "default"
    depths: tuple = ()
    hessian_ns: tuple = ()
    blas_threads: int | None = BLAS_THREADS
    compiled: list = field(default_factory=list)


def _configs(sweep_n, sweep_m, heat, elementwise, n_fixed):
    configs = []
    for n in sweep_n:                       # time vs n at m = 1
        configs += [("dense", n, 1), ("rosenbrock", n, 1), ("mlp_loss", n, 1)]
    for m in sweep_m:                       # time vs m at fixed n
        configs += [("dense", n_fixed, m), ("wide", n_fixed, m)]
    for n in heat:                          # the (n, m) heatmap
        for m in heat:
            configs.append(("dense", n, m))
    configs += [("elementwise", n, n) for n in elementwise]
    seen, out = set(), []
    for c in configs:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def _compiled_configs(sweep_n, sweep_m, heat, n_fixed):
    """The compiled tier's share of a grid: the m = 1 sweeps, wide's sweep over m and the whole
    heatmap (so each tier has a complete one), each compiled once per mode."""
    configs = [(p, n, 1) for p in ("dense", "rosenbrock", "mlp_loss") for n in sweep_n.get(p, ())]
    configs += [("wide", n_fixed, m) for m in sweep_m]
    configs += [("dense", n, m) for n in heat for m in heat]
    return list(dict.fromkeys(configs))


def default_grid() -> Grid:
    # the compiled tier: every n of dense, fewer of the other m = 1 problems, 4 sizes of wide
    return Grid(_configs(sweep_n=[4, 16, 64, 256, 1024, 4096],
                         sweep_m=[1, 4, 16, 64, 256, 1024, 4096],
                         heat=[2, 8, 32, 128, 512], elementwise=[4, 64, 512], n_fixed=16),
                repeat=3, name="default", depths=DEFAULT_DEPTHS,
                hessian_ns=second_order.DEFAULT_NS,
                compiled=_compiled_configs(
                    {"dense": [4, 16, 64, 256, 1024, 4096], "rosenbrock": [16, 256, 4096],
                     "mlp_loss": [16, 256, 4096]},
                    sweep_m=[1, 16, 256, 4096], heat=[2, 8, 32, 128, 512], n_fixed=16))


def quick_grid() -> Grid:
    return Grid(_configs(sweep_n=[4, 64, 2048], sweep_m=[1, 8, 512], heat=[2, 16, 128],
                         elementwise=[8], n_fixed=8), repeat=2, name="quick",
                depths=QUICK_DEPTHS, hessian_ns=second_order.QUICK_NS,
                compiled=_compiled_configs({"dense": [4, 64, 2048]}, sweep_m=[8, 512],
                                           heat=[2, 16, 128], n_fixed=8))


def versions() -> str:
    import numba
    out = f"python {platform.python_version()}; numpy {np.__version__}; numba {numba.__version__}"
    for peer in ("jax", "torch"):
        if peer in sys.modules:
            out += f"; {peer} {getattr(sys.modules[peer], '__version__', '?')}"
    return out


class CsvSink:
    """Appends rows to a CSV file, writing the header once."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", newline="") as fh:
            csv.DictWriter(fh, COLUMNS).writeheader()

    def write(self, rows):
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, COLUMNS, extrasaction="ignore")
            for r in rows:
                w.writerow(r)


def run_grid(grid: Grid, csv_path: str, peers=(), progress=True, problems=PROBLEMS) -> int:
    """Measure every configuration of ``grid``; returns the number of rows written."""
    from tqdm import tqdm
    sink = CsvSink(csv_path)
    for peer in peers:
        peer.load()
    ver = versions()
    count = 0
    bar = tqdm(grid.configs, disable=not progress, unit="config", file=sys.stderr)
    compiled = set(grid.compiled)
    with tiers.cold_cache() if compiled else contextlib.nullcontext():
        for name, n, m in bar:
            bar.set_description(f"{name} n={n} m={m}")
            problem: Problem = problems[name]
            m_eff = 1 if problem.scalar else m
            f, x = problem.make(n, m_eff, np, np.random.default_rng(0))
            rows = tiers.tag_eager(measure(
                f, x, problem=name, n=np.size(x), m=m_eff, chunks=grid.chunks,
                repeat=grid.repeat, fd=np.size(x) <= grid.fd_max_n, versions=ver,
                peers=[p for p in peers if name in PROBLEMS], blas_threads=grid.blas_threads))
            if (name, n, m) in compiled:
                bar.set_description(f"{name} n={n} m={m} compiled")
                rows += _compiled_rows(f, x, name, m_eff, grid, ver, rows[0]["blas"])
            sink.write(rows)
            count += len(rows)
    depth_csv = os.path.join(os.path.dirname(os.path.abspath(csv_path)), "depth.csv")
    if grid.depths:
        bar = tqdm(total=len(grid.depths), disable=not progress, unit="depth", file=sys.stderr)

        def step(depth):
            bar.set_description(f"memory vs depth T={depth}")
            bar.update(1)
        with fixed_threads(grid.blas_threads):      # its recurrence is a matmul per step
            depth_study.study(grid.depths, repeat=grid.repeat, csv_path=depth_csv,
                              progress=step)
        bar.close()
    elif os.path.exists(depth_csv):
        os.remove(depth_csv)
    second_order.beside(csv_path, grid.hessian_ns, repeat=grid.repeat, peers=peers,
                        blas_threads=grid.blas_threads, progress=progress)
    return count


def _compiled_rows(f, x, name, m, grid, ver, blas):
    """The compiled tier's rows for one configuration; a function the compiled tier cannot
    run is reported in one line and keeps its eager rows."""
    try:
        with fixed_threads(grid.blas_threads):
            rows = tiers.measure(f, x, problem=name, n=np.size(x), m=m, repeat=grid.repeat,
                                 versions=ver)
    except Exception as e:
        print(f"python -m compare: {name} n={np.size(x)} m={m}: the compiled tier failed "
              f"({type(e).__name__}: {' '.join(str(e).split())}); eager rows only",
              file=sys.stderr)
        return []
    for r in rows:
        r["blas"] = blas
    return rows


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
        CsvSink(csv_path).write(rows)
    return rows
