"""The planner against the best fixed choice: ``compare.jacobian(f, calls=N)`` vs every fixed
(mode, tier, chunk, colouring), for N Jacobians, probes and compilation included.

    python benchmarks/planner.py [--calls 20] [--repeat 3] [--full] [--blas-threads 1] [--only ht,ba]

Configurations: compare's quick grid (``--full``: the default grid) and the standard problems'
quickest instances (``--full``: the quick ones), each kept when its best eager Jacobian costs
more than 10 ms. For each, R interleaved rounds time (a) the planner: a fresh
``compare.jacobian`` of a fresh copy of f, N calls, from a fresh compiled-code cache (so its
probes and any compile count), and (b) each fixed choice once: eager forward / reverse at chunk
8, 32 and the automatic width, compiled forward / reverse at the automatic width (compile time
measured once, from a fresh cache, on its own copy of f), coloured forward / reverse when
colouring halves the passes. A fixed choice's total is ``compile + N x median(t)``; the planner's
is the median of its rounds' totals. Target: planner / best fixed <= 1.2 everywhere.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from contextlib import nullcontext

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import dualad  # noqa: E402
import revad  # noqa: E402
from adops.program.inputs import auto_chunk  # noqa: E402
from adops.sparsity import colour, detect  # noqa: E402
from compare import jacobian  # noqa: E402
from adops.compile import whole_after  # noqa: E402
from compare.common.compiled import cold_cache, own_copy  # noqa: E402
from compare.common.timing import fixed_threads, thread_note  # noqa: E402
from compare.problems import PROBLEMS  # noqa: E402
from compare.problems import standard  # noqa: E402
from compare.studies.grid import default_grid, quick_grid  # noqa: E402
from compare.tools.planner import DENSE_MEMORY_SHARE, memory_available  # noqa: E402

JACOBIAN_FLOOR = 10e-3
JAC = {"forward": dualad.jacfwd, "reverse": revad.jacrev}


def _time(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def configurations(full: bool, only=()):
    grid = default_grid() if full else quick_grid()
    for name, n, m in grid.configs:
        if only and not any(w in f"{name} n={n} m={m}" for w in only):
            continue
        problem = PROBLEMS[name]
        f, x = problem.make(n, 1 if problem.scalar else m, np, np.random.default_rng(0))
        yield f"{name} n={n} m={m}", f, np.asarray(x, dtype=float)
    for name, size in (standard.QUICK if full else standard.QUICKEST):
        if only and not any(w in f"{name} {size}" for w in only):
            continue
        inst = standard.make(name, **size)
        yield f"{name} {size}", inst.f, np.asarray(inst.x, dtype=float)


def fixed_choices(f, x):
    """{label: (make jacobian function, needs compile)} of the fixed choices: the dense ones
    only when the dense Jacobian fits in memory (the planner's own rule; BA's would take 42 GB)."""
    m = np.asarray(f(x)).size
    out = {}
    dense = m * x.size * x.dtype.itemsize <= DENSE_MEMORY_SHARE * memory_available()
    for mode, size in (("forward", x.size), ("reverse", m)) if dense else ():
        for k in sorted({8, 32, auto_chunk(size)}):
            if k <= max(size, 1) or k == auto_chunk(size):
                out[f"eager {mode} k={k}"] = (lambda mode=mode, k=k: JAC[mode](f, chunk=k), False)
        out[f"compiled {mode} k=auto"] = (
            lambda mode=mode: JAC[mode](own_copy(f), compiled=True), True)
    pattern = detect(f, x)
    for mode, size in (("forward", x.size), ("reverse", m)):
        if 2 * colour(pattern.pattern, mode).n_colours <= size:
            out[f"eager {mode}-coloured"] = (lambda mode=mode: JAC[mode](f, sparsity=pattern),
                                             False)
    return out


def bench(label, f, x, calls, repeat):
    choices = fixed_choices(f, x)
    if not choices:
        return None
    eager = [choices[c][0]() for c in choices if c.startswith("eager")]
    screen = min(min(_time(lambda: j(x)) for _ in range(2)) for j in eager)  # warm, then timed
    if screen < JACOBIAN_FLOOR:
        return None
    compile_s, times, planner, warm = {}, {c: [] for c in choices}, [], {}
    for r in range(repeat):
        with cold_cache():
            jac = jacobian(own_copy(f), calls=calls)
            planner.append(_time(lambda: [jac(x) for _ in range(calls)]))
            chosen = next(iter(jac.plans.values())).choice
        for c, (make, compiles) in choices.items():
            if c not in warm:
                # compiled: the first call compiles the whole program (as the planner's probe)
                with cold_cache() if compiles else nullcontext(), whole_after(1):
                    warm[c] = make()
                    first = _time(lambda: warm[c](x))
                    times[c].append(_time(lambda: warm[c](x)))
                compile_s[c] = max(first - times[c][-1], 0.0) if compiles else 0.0
            else:
                times[c].append(_time(lambda: warm[c](x)))
    totals = {c: compile_s.get(c, 0.0) + calls * statistics.median(t) for c, t in times.items()}
    best = min(totals, key=totals.get)
    p = statistics.median(planner)
    return dict(label=label, planner=p, best=best, best_total=totals[best], ratio=p / totals[best],
                chosen=f"{chosen.tier} {chosen.mode} k={chosen.chunk}",
                jacobian=statistics.median(times[best]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--blas-threads", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated parts of configuration names "
                    "to run (e.g. 'ht,ba'); default: all")
    a = ap.parse_args(argv)
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.system()} {platform.release()}, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"# command: python benchmarks/planner.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    worst = 0.0
    with fixed_threads(a.blas_threads or None):
        print(f"# BLAS while timing: {thread_note()}; N = {a.calls} Jacobians, medians of "
              f"{a.repeat} interleaved rounds")
        print("| configuration | planner total | chosen | best fixed | its total | ratio |")
        print("|---|---|---|---|---|---|")
        only = [w for w in a.only.split(",") if w]
        for label, f, x in configurations(a.full, only):
            row = bench(label, f, x, a.calls, a.repeat)
            if row is None:
                continue
            worst = max(worst, row["ratio"])
            print(f"| {label} | {row['planner']:.3g} s | {row['chosen']} | {row['best']} | "
                  f"{row['best_total']:.3g} s | {row['ratio']:.2f} |", flush=True)
    print(f"\nworst planner / best fixed: {worst:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
