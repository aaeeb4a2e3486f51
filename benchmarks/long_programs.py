"""Long traced programs (an unrolled Python loop) in the compiled tier: compile time and the
time of a call, rolled back into one loop (``adops.compile.rolling``) or else cut into blocks
(``adops.compile.segments``), against the Python driver.

    python benchmarks/long_programs.py                 # LSTM at c = 16, 64 and 1024 characters
    python benchmarks/long_programs.py --chars 8 16    # other sizes

For each size: the numpy objective, the compiled gradient through the Python driver (the
whole program never built), and the whole program, rolled or cut: its first call (trace and
numba compile, each size in a process and a code cache of its own, so every compile is
counted) and a later call. Ratios are of times measured in one run. A program that is neither
rolled nor under ``whole.MAX_STEPS`` steps keeps the Python driver, and the row says so.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile

import revad
from adops.compile import compiled, whole_after
from compare.common.timing import best_of, fixed_threads
from compare.problems import standard


def row(c):
    inst = standard.make("lstm", l=2, c=c)
    f_time = best_of(lambda: inst.f(inst.x), 5)[0]
    with whole_after(1):  # first, so that its first call compiles the fused loops too
        g = revad.grad(inst.f, compiled=True)
        whole, first = best_of(lambda: g(inst.x), 5)
    # the driver: a function object of its own, never built whole
    driver_f = standard.make("lstm", l=2, c=c).f
    with whole_after(10 ** 9):
        g_driver = revad.grad(driver_f, compiled=True)
        driver = best_of(lambda: g_driver(inst.x), 5)[0]
    programs = [p for ps in compiled(inst.f).programs.values() for p in ps]
    why = {p.why_python for p in programs}
    kind = f"Python driver ({'; '.join(map(str, why))})"
    if why == {None}:
        source = "".join(p.source for p in programs)
        kind = ("whole, rolled into a loop" if "step_primal" in source else
                "whole, cut into blocks" if "def blk" in source else "whole")
    print(f"LSTM l=2, c={c}: {kind}; numpy f {f_time * 1e3:.3f} ms; compiled grad through the "
          f"driver {driver * 1e3:.2f} ms ({driver / f_time:.1f} f); as built "
          f"{whole * 1e3:.3f} ms ({whole / f_time:.2f} f); first call (trace + compile) "
          f"{first:.0f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, nargs="+", default=[16, 64, 1024])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a row, in this process
    args = parser.parse_args()
    if args.one is not None:
        with fixed_threads(1):
            row(args.one)
        return
    print(f"# {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    for c in args.chars:
        # a process and a code cache of its own per size: its first call counts every compile
        with tempfile.TemporaryDirectory() as cache:
            subprocess.run([sys.executable, __file__, "--one", str(c)], check=True,
                           env={**os.environ, "ADOPS_CACHE_DIR": cache})


if __name__ == "__main__":
    main()
