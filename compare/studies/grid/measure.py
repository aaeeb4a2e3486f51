"""The grid study's measurement: which (problem, n, m) configurations, in what order, into
results.csv.

Contract: :func:`run_grid` measures each configuration of a :class:`Grid` with
:func:`compare.common.timing.measure` and appends its rows to ``results.csv`` as soon as they
exist, so an interrupted run keeps every row measured so far. The configurations in
``Grid.compiled`` (every configuration of the default grid; dense and wide's sweep in the quick
one) are timed in the compiled
tier too (:mod:`compare.common.compiled`, from one fresh code cache per run: a problem compiles
once per mode, its other sizes load that code; the first call's extra time in
``compile_seconds``). A configuration whose actual sizes (``x.size``, m) were measured already
is skipped (mlp_loss rounds n to whole hidden units). ``Grid.noise``: one configuration timed
``noise_repeats`` times more (``phase = "repeat"`` rows), the run's noise floor
(:mod:`compare.common.breakeven`). Column order is
:data:`compare.common.timing.COLUMNS`. :data:`PEERS`: JAX and PyTorch timing the grid's
problems. Rows carry the ``host`` and ``cores`` that timed them (:data:`GRID_COLUMNS`).
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
from dataclasses import dataclass, field

import numpy as np

from ...common import compiled as tiers
from ...common import peers as peers_mod
from ...common.rows import CsvSink
from ...common.timing import (BLAS_THREADS, COLUMNS, GRID_SECONDS, best_of, fixed_threads,
                              measure, versions)
from ...problems import PROBLEMS, Problem

#: results.csv's columns: the timing's, and where it was timed
GRID_COLUMNS = COLUMNS + ["host", "cores"]


@dataclass
class Grid:
    """What to measure: (problem, n, m) triples and the timing settings (``blas_threads``: BLAS
    and PyTorch threads while timing, None for the libraries' defaults). ``compiled``: the
    triples also timed in the compiled tier. ``executor``: a Dask scheduler ``dask://HOST:PORT``
    whose workers time the configurations (None: here)."""

    configs: list
    repeat: int = 3
    chunks: tuple = (1, None)
    fd_max_n: int = 1024
    name: str = "default"
    blas_threads: int | None = BLAS_THREADS
    compiled: list = field(default_factory=list)
    noise: tuple | None = None      # (problem, n, m): timed ``noise_repeats`` times over
    noise_repeats: int = 5
    executor: str | None = None


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


def default_grid() -> Grid:
    # the compiled tier times every configuration: its programs do not depend on n, so a
    # problem compiles once per mode and every other size loads that code
    configs = _configs(sweep_n=[4, 16, 64, 256, 1024, 4096],
                       sweep_m=[1, 4, 16, 64, 256, 1024, 4096],
                       heat=[2, 8, 32, 128, 512], elementwise=[4, 64, 512], n_fixed=16)
    return Grid(configs, repeat=3, name="default", compiled=list(configs),
                noise=("dense", 32, 32))


def quick_grid() -> Grid:
    configs = _configs(sweep_n=[4, 64, 2048], sweep_m=[1, 8, 512], heat=[2, 16, 128],
                       elementwise=[8], n_fixed=8)
    # the quick run times the compiled tier on dense (its sweep over n and the heatmap) and
    # wide's sweep over m: enough for every plot and sentence, at a quarter of the time
    compiled = [c for c in configs if c[0] == "dense" and (c[2] == 1 or c[1] in (2, 16, 128))
                or c[0] == "wide" and c[2] in (8, 512)]
    return Grid(configs, repeat=2, name="quick", compiled=compiled, noise=("dense", 16, 16))


def run_grid(grid: Grid, csv_path: str, peers=(), progress=True, problems=PROBLEMS) -> int:
    """Measure every configuration of ``grid`` into ``csv_path``; ``peers``: names of the peers
    to time beside ours (:data:`PEERS`). Returns the number of rows written. (With
    ``grid.executor``, :func:`compare.studies.grid.workers.run_on_workers` runs the grid.)"""
    from tqdm import tqdm
    sink = CsvSink(csv_path, GRID_COLUMNS)
    peers_mod.load(peers)
    peers = [PEERS[name] for name in peers]
    ver = versions()
    count = 0
    bar = tqdm(grid.configs, disable=not progress, unit="config", file=sys.stderr)
    compiled = set(grid.compiled)
    seen, seen_blas = {}, {}      # actual (problem, n, m) -> its compiled rows measured?
    with tiers.cold_cache() if compiled else contextlib.nullcontext():
        for name, n, m in bar:
            bar.set_description(f"{name} n={n} m={m}")
            problem: Problem = problems[name]
            m_eff = 1 if problem.scalar else m
            f, x = problem.make(n, m_eff, np, np.random.default_rng(0))
            key = (name, np.size(x), m_eff)     # mlp_loss: n = 4 and n = 16 are both 11
            if key in seen:
                if (name, n, m) in compiled and not seen[key]:
                    rows = _here(_compiled_rows(f, x, name, m_eff, grid, ver, seen_blas[key]))
                    seen[key] = True
                    sink.write(rows)
                    count += len(rows)
                continue
            rows = _measured(grid, f, x, name, m_eff, ver, peers, (name, n, m) in compiled)
            seen[key], seen_blas[key] = (name, n, m) in compiled, rows[0]["blas"]
            sink.write(rows)
            count += len(rows)
        if grid.noise and grid.noise[0] in problems:
            rows = _here(noise_rows(grid, problems[grid.noise[0]], *grid.noise, ver))
            sink.write(rows)
            count += len(rows)
    return count


def noise_rows(grid: Grid, problem: Problem, name: str, n: int, m: int, ver: str) -> list:
    """One configuration's full Jacobian in both modes (automatic chunk), timed
    ``grid.noise_repeats`` times as the grid times it (each a best of ``grid.repeat``):
    rows with ``phase = "repeat"``, whose spread is the run's noise floor."""
    m_eff = 1 if problem.scalar else m
    f, x = problem.make(n, m_eff, np, np.random.default_rng(0))
    out = []
    for _ in range(grid.noise_repeats):
        rows = measure(f, x, problem=name, n=np.size(x), m=m_eff, chunks=(None,),
                       repeat=grid.repeat, memory=False, fd=False, versions=ver,
                       blas_threads=grid.blas_threads)
        for r in tiers.tag_eager(rows):
            if r["phase"] == "jacobian":
                out.append(dict(r, phase="repeat"))
    return out


def config_rows(grid: Grid, problem: Problem, name, n, m, ver, peers, compiled: bool):
    """The rows of one configuration (eager, and compiled when asked), each with the ``host``
    and ``cores`` that timed it."""
    m_eff = 1 if problem.scalar else m
    f, x = problem.make(n, m_eff, np, np.random.default_rng(0))
    return _measured(grid, f, x, name, m_eff, ver, peers, compiled)


def _measured(grid: Grid, f, x, name, m, ver, peers, compiled: bool):
    """Eager rows of ``f`` at ``x`` (and compiled rows when asked), with host and cores."""
    rows = tiers.tag_eager(measure(
        f, x, problem=name, n=np.size(x), m=m, chunks=grid.chunks,
        repeat=grid.repeat, fd=np.size(x) <= grid.fd_max_n, versions=ver,
        peers=[p for p in peers if name in PROBLEMS], blas_threads=grid.blas_threads))
    if compiled:
        rows += _compiled_rows(f, x, name, m, grid, ver, rows[0]["blas"])
    return _here(rows)


def _here(rows):
    """The rows, each with the ``host`` and ``cores`` that timed it."""
    here = dict(host=socket.gethostname(), cores=os.cpu_count())
    return [{**r, **here} for r in rows]


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


# ------------------------------------------------------------------------------------- peers
def _peer_rows(problem, n, m, repeat, versions, mode, jac, x):
    t, first = best_of(lambda: jac(x), repeat, min_seconds=GRID_SECONDS)
    return [dict(problem=problem, mode=mode, n=n, m=m, chunk="", chunk_rule="", phase="jacobian", seconds=t,
                 repeat=repeat, first_call_seconds=first, peak_bytes="", tape_bytes="",
                 versions=versions)]


def jax_peer(problem, n, m, repeat, versions):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    f, x = PROBLEMS[problem].make(n, m, jnp, np.random.default_rng(0))
    x = jnp.asarray(x)
    fwd = jax.jit(jax.jacfwd(f))
    rev = jax.jit(jax.jacrev(f))
    block = lambda j: (lambda x: j(x).block_until_ready())
    return (_peer_rows(problem, n, m, repeat, versions, "jax-forward", block(fwd), x)
            + _peer_rows(problem, n, m, repeat, versions, "jax-reverse", block(rev), x))


def torch_peer(problem, n, m, repeat, versions):
    import torch
    torch.set_default_dtype(torch.float64)
    f, x = PROBLEMS[problem].make(n, m, torch, np.random.default_rng(0))
    x = torch.asarray(x)
    return (_peer_rows(problem, n, m, repeat, versions, "torch-forward", torch.func.jacfwd(f), x)
            + _peer_rows(problem, n, m, repeat, versions, "torch-reverse", torch.func.jacrev(f), x))


PEERS = {"jax": jax_peer, "torch": torch_peer}
