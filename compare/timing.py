"""Timing full Jacobians in each mode: the measurements behind every table and plot.

Contract: :func:`measure(f, x, ...)` returns tidy rows (dicts), one per (mode, chunk, phase):

- ``eval``: one evaluation of f (plain numpy), the unit of cost;
- ``forward`` / ``jacobian``: ``dualad.jacfwd(f, chunk=k)(x)`` for each chunk width k
  (``chunk_rule``: ``fixed``, or ``auto`` for the width ``chunk=None`` picks);
- ``reverse`` / ``record``, ``sweep``, ``jacobian``: ``revad`` records the tape once and sweeps
  ``ceil(m / k)`` times; record and sweep are timed apart, ``jacobian`` is their sum;
- ``finite_differences`` / ``jacobian``: central differences, 2n evaluations of f (the baseline);
- peers (``jax`` jit of jacfwd/jacrev, ``torch`` torch.func.jacfwd/jacrev) when installed.

Rules: a warm-up call first (numba compilation is excluded and reported as ``first_call_seconds``),
then the best of ``repeat`` ``perf_counter`` runs. Peak memory is measured in a separate untimed
run with ``tracemalloc`` (numpy reports its buffers to it); for reverse mode the tape's own
``nbytes`` is recorded too.
"""
from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np

import dualad
import revad
from adops.inputs import as_primal, auto_chunk, identity_chunks


def best_of(fn, repeat: int):
    """(best seconds over ``repeat`` runs after one warm-up, first-call seconds)."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best, first


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
        value = rec.out_var.primal
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
            memory=True, fd=True, peers=(), versions="") -> list[dict]:
    """Time the full Jacobian of ``f`` at ``x`` in each mode; see the module docstring."""
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

    t, first = best_of(lambda: f(x), repeat)
    row("numpy", None, "eval", t, first)
    for k in chunks:
        width = k or auto_chunk(n)
        jac = dualad.jacfwd(f, chunk=width)
        t, first = best_of(lambda: jac(x), repeat)
        row("forward", width, "jacobian", t, first,
            peak_bytes(lambda: jac(x)) if memory else None, rule="auto" if k is None else "fixed")
    for k in chunks:
        width = k or auto_chunk(m)
        record, sweep = reverse_phases(f, x, width)
        t_rec, first_rec = best_of(record, repeat)
        record()
        t_sw, first_sw = best_of(sweep, repeat)
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
