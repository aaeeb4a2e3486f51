"""Timing full Jacobians in each mode: the measurements behind every table and plot, and the one
timer every study uses (:func:`best_of`, :func:`timed`, :func:`fixed_threads`, :func:`peak_bytes`,
:func:`memory_available`).

Contract: :func:`measure(f, x, ...)` returns tidy rows (dicts), one per (mode, chunk, phase):

- ``eval``: one evaluation of f (plain numpy), the unit of cost;
- ``forward`` / ``jacobian``: ``dualad.jacfwd(f, chunk=k)(x)`` for each chunk width k
  (``chunk_rule``: ``fixed``, or ``auto`` for the width ``chunk=None`` picks);
- ``reverse`` / ``record``, ``sweep``, ``jacobian``: ``revad`` records the tape once and sweeps
  ``ceil(m / k)`` times; record and sweep are timed apart, ``jacobian`` is their sum;
- ``finite_differences`` / ``jacobian``: central differences, 2n evaluations of f (the baseline);
- peers (``jax`` jit of jacfwd/jacrev, ``torch`` torch.func.jacfwd/jacrev) when installed.

Rules: a warm-up call first (numba compilation is excluded and reported as ``first_call_seconds``),
then the best of at least ``repeat`` ``perf_counter`` runs (calls under a millisecond run on
until :data:`GRID_SECONDS` are spent; ``repeat`` in the rows is that least number), with the
BLAS thread pool fixed (one thread by default, :func:`fixed_threads`: OpenBLAS's threads spin
when other processes keep the cores busy, which made one small dense Jacobian 40x slower). Peak memory is measured in a separate untimed
run with ``tracemalloc`` (numpy reports its buffers to it); for reverse mode the tape's own
``nbytes`` is recorded too. :data:`COLUMNS` are results.csv's columns (the rows
:func:`measure` returns); :func:`versions` fills every CSV's ``versions`` column.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import sys
import time
import tracemalloc

import numpy as np

import dualad
import revad
from adops.program.inputs import as_primal, auto_chunk, identity_chunks


#: the columns of results.csv, the rows :func:`measure` (and the compiled tier's measure) return
COLUMNS = ["problem", "mode", "n", "m", "chunk", "chunk_rule", "phase", "seconds", "repeat",
           "first_call_seconds", "peak_bytes", "tape_bytes", "versions", "blas", "tier",
           "compile_seconds"]
BLAS_THREADS = 1  # the default thread count of BLAS (and PyTorch) while timing
_active = []      # the limits fixed_threads holds: [(n, [threadpool limiters])], innermost last


@contextlib.contextmanager
def fixed_threads(n: int | None = BLAS_THREADS):
    """Limit BLAS (threadpoolctl) and, when imported, PyTorch's intra-op pool to ``n`` threads
    while the block runs; ``n=None`` leaves the libraries' own defaults. Restored on exit.

    A BLAS loaded inside the block (numba loads scipy's on its first compile) is limited too by
    the next :func:`best_of`. JAX's XLA pool cannot be changed once JAX is loaded: not limited.
    """
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    limiters = [threadpool_limits(limits=n, user_api="blas")]
    _active.append((n, limiters))
    try:
        if torch is not None:
            torch.set_num_threads(n)
        yield
    finally:
        _active.remove((n, limiters))
        for lim in reversed(limiters):
            lim.restore_original_limits()
        if torch is not None:
            torch.set_num_threads(torch_before)


def _relimit():
    """Give the BLAS libraries loaded since the innermost :func:`fixed_threads` began its limit."""
    if _active:
        from threadpoolctl import threadpool_limits
        n, limiters = _active[-1]
        limiters.append(threadpool_limits(limits=n, user_api="blas"))


def thread_note() -> str:
    """The BLAS libraries loaded and their thread counts as they are now (call it inside
    :func:`fixed_threads`), e.g. ``openblas 0.3.31 (pthreads): 1 thread``; for results.csv and
    summary.md."""
    from threadpoolctl import threadpool_info
    parts = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        name = " ".join(str(v) for v in (lib.get("internal_api"), lib.get("version")) if v)
        layer = f" ({lib['threading_layer']})" if lib.get("threading_layer") else ""
        k = lib.get("num_threads")
        parts.append(f"{name}{layer}: {k} thread{'s' if k != 1 else ''}")
    torch = sys.modules.get("torch")
    if torch is not None:
        k = torch.get_num_threads()
        parts.append(f"torch: {k} thread{'s' if k != 1 else ''}")
    return "; ".join(parts) or "no BLAS library loaded"


def versions() -> str:
    """The versions behind a timing, for every CSV's ``versions`` column: python, numpy, numba,
    and jax / torch when they are loaded."""
    import numba
    out = f"python {platform.python_version()}; numpy {np.__version__}; numba {numba.__version__}"
    for peer in ("jax", "torch"):
        if peer in sys.modules:
            out += f"; {peer} {getattr(sys.modules[peer], '__version__', '?')}"
    return out


#: the grid's timings (:func:`measure`, the compiled tier's, the peers') go on past ``repeat``
#: runs while they have spent under this many seconds, up to :data:`MAX_RUNS` runs, as timeit's
#: autorange does: a best of 3 of a 10 us call measured the machine's hiccups, and in the
#: compiled tier the calls before its steady state (the fused entry comes after 8 fast calls)
GRID_SECONDS = 0.005
MAX_RUNS = 1000


def best_of(fn, repeat: int, once_above: float | None = None, min_seconds: float = 0.0):
    """(best seconds over ``repeat`` runs after one warm-up, first-call seconds); with
    ``once_above``, a function whose first call took longer is timed once more only; with
    ``min_seconds``, runs go on until they have taken that long (at most :data:`MAX_RUNS`)."""
    _, best, first = timed(fn, repeat, once_above, min_seconds)
    return best, first


def timed(fn, repeat: int, once_above: float | None = None, min_seconds: float = 0.0):
    """:func:`best_of` that also returns the warm-up call's result: ``(result, best, first)``."""
    t = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t
    if once_above is not None and first > once_above:
        repeat, min_seconds = 1, 0.0
    _relimit()
    best, spent, runs = math.inf, 0.0, 0
    while runs < repeat or (spent < min_seconds and runs < MAX_RUNS):
        t = time.perf_counter()
        fn()
        t = time.perf_counter() - t
        best, spent, runs = min(best, t), spent + t, runs + 1
    return out, best, first


def peak_bytes(fn) -> int:
    """Peak bytes allocated (tracemalloc) while ``fn`` runs, above what was live before."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


def reverse_phases(f, x, chunk, first_chunk_only=False):
    """Closures that record the tape (``revad.record``), and sweep it for the full Jacobian
    (or, with ``first_chunk_only``, for its first ``chunk`` rows: one sweep)."""
    state = {}

    def record():
        state["rec"] = revad.record(f, x)
        return state["rec"].tape

    def sweep():
        rec = state["rec"]
        value = rec.recorded_value
        m = value.size
        for start, seeds in identity_chunks(m, chunk or auto_chunk(m), value.dtype):
            rec.vjp(seeds.reshape((seeds.shape[0],) + value.shape), batched=True)
            if first_chunk_only:
                break
    return record, sweep


def finite_differences(f, x, eps=None):
    """Central-difference Jacobian, ``out.shape + x.shape`` (2n evaluations)."""
    x = np.asarray(x, dtype=np.float64)
    h = eps or np.finfo(np.float64).eps ** (1 / 3) * max(1.0, float(np.max(np.abs(x), initial=0)))
    cols = []
    flat = x.ravel()
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = h
        cols.append((np.asarray(f((flat + e).reshape(x.shape)))
                     - np.asarray(f((flat - e).reshape(x.shape)))) / (2 * h))
    out_shape = np.shape(f(x))
    return np.moveaxis(np.array(cols), 0, -1).reshape(out_shape + x.shape)


def measure(f, x, *, problem="user", n=None, m=None, chunks=(1, None), repeat=3,
            memory=True, fd=True, peers=(), versions="",
            blas_threads: int | None = BLAS_THREADS) -> list[dict]:
    """Time the full Jacobian of ``f`` at ``x`` in each mode; see the module docstring.

    ``blas_threads``: BLAS (and PyTorch) threads while timing (None: the libraries' defaults)."""
    with fixed_threads(blas_threads):
        rows = _measure(f, x, problem=problem, n=n, m=m, chunks=chunks, repeat=repeat,
                        memory=memory, fd=fd, peers=peers, versions=versions)
        note = thread_note() + ("" if blas_threads is not None else " (library default)")
    for r in rows:
        r["blas"] = note
    return rows


def _measure(f, x, *, problem, n, m, chunks, repeat, memory, fd, peers, versions):
    x = as_primal(x, "x")
    n = x.size if n is None else n
    out = np.asarray(f(x))
    m = out.size if m is None else m
    rows = []

    def row(mode, chunk, phase, seconds, first=None, peak=None, **extra):
        rows.append(dict(problem=problem, mode=mode, n=n, m=m, chunk=chunk if chunk else "",
                         chunk_rule=extra.get("rule", ""), phase=phase, seconds=seconds,
                         repeat=repeat,
                         first_call_seconds="" if first is None else first,
                         peak_bytes="" if peak is None else peak,
                         tape_bytes=extra.get("tape_bytes", ""), versions=versions))

    t, first = best_of(lambda: f(x), repeat, min_seconds=GRID_SECONDS)
    row("numpy", None, "eval", t, first)
    for k in chunks:
        width = k or auto_chunk(n)
        jac = dualad.jacfwd(f, chunk=width)
        t, first = best_of(lambda: jac(x), repeat, min_seconds=GRID_SECONDS)
        row("forward", width, "jacobian", t, first,
            peak_bytes(lambda: jac(x)) if memory else None, rule="auto" if k is None else "fixed")
    for k in chunks:
        width = k or auto_chunk(m)
        record, sweep = reverse_phases(f, x, width)
        t_rec, first_rec = best_of(record, repeat, min_seconds=GRID_SECONDS)
        record()
        t_sw, first_sw = best_of(sweep, repeat, min_seconds=GRID_SECONDS)
        tape_bytes = record().nbytes
        peak = peak_bytes(lambda: (record(), sweep())) if memory else None
        rule = "auto" if k is None else "fixed"
        row("reverse", width, "record", t_rec, first_rec, tape_bytes=tape_bytes, rule=rule)
        row("reverse", width, "sweep", t_sw, first_sw, rule=rule)
        row("reverse", width, "jacobian", t_rec + t_sw, first_rec + first_sw, peak, rule=rule)
    if fd:
        t, first = best_of(lambda: finite_differences(f, x), max(1, repeat // 2))
        row("finite_differences", None, "jacobian", t, first)
    for peer in peers:
        rows.extend(peer(problem, n, m, repeat, versions))
    return rows


def memory_available() -> int:
    """Bytes of physical memory available now (``MemAvailable``; total memory where the system
    does not say)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
