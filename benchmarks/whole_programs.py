"""Which programs the compiled tier runs as one numba entry per derivative (issue 19).

    python benchmarks/whole_programs.py              # compare's problems and the standard ones
    python benchmarks/whole_programs.py --quick      # compare's problems only

For every problem of compare's grid (at two sizes) and every standard problem (GMM, BA, HT,
LSTM, banded; at small sizes, since the generated code does not depend on them), builds each
derivative with ``compiled=True`` whole at its first call (:func:`adops.compile.whole_after`)
and prints whether its program is one numba entry (``whole``) or keeps the Python driver (with
the reason the tier gives), and the first call's seconds (trace and compile, from a fresh code
cache; near 0 when an earlier derivative generated the same code, which is compiled once per
process). The derivatives: ``jacfwd`` and ``jacrev`` for every problem, ``grad`` and ``hvp``
(the second order: the inner gradient traced into the outer program) for scalar ones.
Exits 1 when any program keeps the driver.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time

import numpy as np

import dualad
import revad
from adops.compile import compiled, whole_after
from compare.problems import PROBLEMS
from compare.problems import standard

#: the standard problems at sizes that compile the same code as the published ones, in seconds
SMALL = {"gmm": [dict(d=2, K=5), dict(d=10, K=25)], "ba": [dict(n_cams=3, n_pts=5, n_obs=12)],
         "ht": [dict(model="small", c=4)], "lstm": [dict(l=2, c=4)], "banded": [dict(n=50)]}


def _derivatives(scalar):
    """name -> (call the derivative of g at x, the compiled function holding its program)."""
    out = {"jacfwd": (lambda g, x: dualad.jacfwd(g, compiled=True)(x), lambda g: g),
           "jacrev": (lambda g, x: revad.jacrev(g, compiled=True)(x), lambda g: g)}
    if scalar:
        out["grad"] = (lambda g, x: revad.grad(g, compiled=True)(x), lambda g: g)
        # hvp traces the gradient into one program, kept as the function's derived ("grad", 0)
        out["hvp"] = (lambda g, x: revad.hvp(g, (x,), (np.ones_like(x),), compiled=True),
                      lambda g: compiled(g).derived[("grad", 0)])
    return out


def kinds(f, x, scalar):
    """name -> (``"whole"`` or ``"driver: why"``, first call seconds) for each derivative."""
    out = {}
    for name, (call, holder) in _derivatives(scalar).items():
        def g(x):  # a fresh function per derivative: its own trace and program
            return f(x)
        t = time.perf_counter()
        with whole_after(1):
            call(g, x)
        seconds = time.perf_counter() - t
        progs = [p for ps in compiled(holder(g)).programs.values() for p in ps]
        why = {f"driver: {p.why_python}" for p in progs if p.whole is None}
        out[name] = (", ".join(sorted(why)) or "whole", seconds)
    return out


def cases(quick):
    for name, problem in PROBLEMS.items():
        for n, m in ((16, 4), (256, 1)):
            m_eff = 1 if problem.scalar else m
            f, x = problem.make(n, m_eff, np, np.random.default_rng(0))
            yield f"{name} n={x.size} m={m_eff}", f, x, problem.scalar
    if quick:
        return
    for name, sizes in SMALL.items():
        for size in sizes:
            inst = standard.make(name, **size)
            yield f"{name} {size}", inst.f, inst.x, np.ndim(inst.f(inst.x)) == 0


def main(argv=None):
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--quick", action="store_true", help="compare's problems only")
    quick = args.parse_args(argv).quick
    os.environ["ADOPS_CACHE_DIR"] = folder = tempfile.mkdtemp(prefix="adops-whole-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    driver = 0
    print("| program | derivative | compiled as | first call (s) |\n|---|---|---|---|")
    for label, f, x, scalar in cases(quick):
        for name, (kind, seconds) in kinds(f, x, scalar).items():
            driver += kind != "whole"
            print(f"| {label} | {name} | {kind} | {seconds:.1f} |", flush=True)
    print(f"\n{driver} derivative(s) keep the Python driver")
    return 1 if driver else 0


if __name__ == "__main__":
    sys.exit(main())
