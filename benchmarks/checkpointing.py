"""Checkpointing's targets (issue 22), measured in one run.

    python benchmarks/checkpointing.py [--depth 3000] [--width 32] [--repeat 3] [--blas-threads N]

For the recurrence h = tanh(W h + x) unrolled T steps at width 32 (compare's depth study), the
gradient of sum(h_T^2) / 2 by revad.grad of the plain loop (record and sweep) and of the same
loop as one adops.scan with checkpoints = s: best-of seconds, peak bytes (tracemalloc, its own
run) and the step recomputations counted. Targets: with s = ceil(sqrt(T)), peak memory at most
5% of the plain tape's and time at most 3x the plain revad.grad; with s = 10, memory at most 1%
of the plain tape's and the recomputations equal to the optimum r T - C(s + r, s + 1). Every
gradient is checked equal to the plain one to the last bit.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import revad  # noqa: E402
from adops.control import counting, optimal_recomputations  # noqa: E402
from compare.common.timing import best_of, fixed_threads, peak_bytes, thread_note  # noqa: E402
from compare.problems.recurrence import recurrence, recurrence_scan  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=3000)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--blas-threads", type=int, default=1, metavar="N")
    a = ap.parse_args(argv)
    print(f"# {platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}, numpy {np.__version__}")
    print(f"# command: python benchmarks/checkpointing.py {' '.join(argv or sys.argv[1:])}")
    with fixed_threads(a.blas_threads or None):
        print(f"# BLAS while timing: {thread_note()}")
        return _run(a.depth, a.width, a.repeat)


def _run(T, width, repeat) -> int:
    f, x = recurrence(T, width)
    plain = revad.grad(f)
    want = plain(x)
    steps = T - 1
    sq = math.isqrt(steps - 1) + 1
    cases = [("plain tape (revad.grad)", None, plain)]
    cases += [(f"scan, checkpoints={s}", s, revad.grad(recurrence_scan(T, width, s)[0]))
              for s in (None, sq, 10)]
    print(f"\nT = {T} (a scan of {steps} steps after h_1 = tanh(x)), width {width}, best of "
          f"{repeat}\n")
    print("| gradient | seconds | x plain | peak | % of plain | recomputed | optimum "
          "| same bits |")
    print("|---|---|---|---|---|---|---|---|")
    base = {}
    results = {}
    for label, s, g in cases:
        seconds, _ = best_of(lambda: g(x), repeat)
        with counting() as stats:
            peak = min(peak_bytes(lambda: g(x)), peak_bytes(lambda: g(x)))
        same = bool(np.array_equal(g(x), want))
        if not base:
            base = dict(seconds=seconds, peak=peak)
        opt = optimal_recomputations(steps, s) if s else 0
        recomputed = stats.recomputed // 2
        results[s] = dict(seconds=seconds / base["seconds"], peak=peak / base["peak"],
                          recomputed=recomputed, optimum=opt, same=same)
        print(f"| {label} | {seconds:.3f} | {seconds / base['seconds']:.2f} | "
              f"{peak / 1e3:.1f} kB | {100 * peak / base['peak']:.2f}% | {recomputed} | "
              f"{opt} | {same} |")
    checks = [
        (f"s = {sq} (sqrt): memory <= 5% of the plain tape", results[sq]["peak"] <= 0.05),
        (f"s = {sq} (sqrt): time <= 3x plain revad.grad", results[sq]["seconds"] <= 3.0),
        ("s = 10: memory <= 1% of the plain tape", results[10]["peak"] <= 0.01),
        ("s = 10: recomputations = optimum",
         results[10]["recomputed"] == results[10]["optimum"]),
        ("every gradient identical to the plain tape's", all(r["same"] for r in results.values())),
    ]
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
