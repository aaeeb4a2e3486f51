"""Second-order speed targets, as ratios measured in one run.

    python benchmarks/second_order.py            # n = 10^5, 10^6 and Hessians at 100, 1000
    python benchmarks/second_order.py --quick    # small sizes, seconds
    python benchmarks/second_order.py --profile  # also cProfile one hvp at the largest n

Reports:
- Rosenbrock (the sum form, as benchmarks/modes.py), n = 10^5 and 10^6: time(revad.hvp) /
  time(revad.grad); target at most 3 (one forward-over-reverse sweep: the gradient's sweep run
  on Duals carrying one direction);
- the full Hessian of the dense scalar problem of :mod:`compare.studies.hessian` at n = 100 and
  1000 by each composition of the modes, and ``jax.jit(jax.hessian(f))`` when JAX is installed.
  A composition whose time at n = 1000, extrapolated from n = 100 as n^3 (a lower bound: the
  forward-inside compositions grow like n^4), exceeds ``--max-seconds`` is not run there.
Each time is the best of R repeats after a warm-up (numba and XLA compilation excluded), with
BLAS fixed to one thread (``--blas-threads``); a Hessian expected to take over a second is timed
once, without a warm-up (every kernel was compiled at the smaller n).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from compare.studies.hessian import COMPOSITIONS, make  # noqa: E402
from compare.common.timing import best_of, fixed_threads, thread_note  # noqa: E402
import revad  # noqa: E402


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def profile_hvp(f, x, v, title, calls=3):
    """Where one ``revad.hvp`` spends its time: the kernels' own time by phase (``trace``: f run
    on Vars whose values are Duals, primal and partial rules; ``sweep``: the reverse sweep on
    Duals, smul and the transposes) and name, then cProfile's top functions by own time."""
    import adops.core.kernels as kernels
    import revad.api as rapi
    per = {}
    phase = ["trace"]
    call, sweep = kernels.LazyKernel.__call__, rapi.sweep

    def timed_call(self, *a):
        t = time.perf_counter()
        out = call(self, *a)
        key = (phase[0], self.__name__)
        per[key] = per.get(key, 0.0) + time.perf_counter() - t
        return out

    def timed_sweep(*a, **k):
        t = time.perf_counter()
        phase[0] = "sweep"
        try:
            return sweep(*a, **k)
        finally:
            phase[0] = "trace"
            per[("sweep", "(whole sweep)")] = per.get(("sweep", "(whole sweep)"), 0.0) + \
                time.perf_counter() - t
    revad.hvp(f, (x,), (v,))
    kernels.LazyKernel.__call__, rapi.sweep = timed_call, timed_sweep
    try:
        t = time.perf_counter()
        for _ in range(calls):
            revad.hvp(f, (x,), (v,))
        total = (time.perf_counter() - t) / calls
    finally:
        kernels.LazyKernel.__call__, rapi.sweep = call, sweep
    print(f"\n### Profile of one hvp, {title}: {total * 1e3:.1f} ms (timers on)\n")
    print("| phase | kernel | ms per hvp | share |")
    print("|---|---|---|---|")
    for (ph, name), t in sorted(per.items(), key=lambda kv: -kv[1])[:20]:
        print(f"| {ph} | {name} | {t / calls * 1e3:.2f} | {t / calls / total:.0%} |")
    kern = sum(t for (ph, name), t in per.items() if not name.startswith("("))
    print(f"\nnumba kernels in all: {kern / calls * 1e3:.1f} ms; outside them (numpy calls, "
          f"copies, Python): {(total - kern / calls) * 1e3:.1f} ms\n")
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(calls):
        revad.hvp(f, (x,), (v,))
    pr.disable()
    print(f"cProfile of {calls} hvp calls (by own time):\n\n```")
    st = pstats.Stats(pr, stream=sys.stdout).sort_stats("tottime")
    st.print_stats(12)
    st.print_callers("numpy.array|numpy.zeros|_bind|kernels.py")
    print("```")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=120.0,
                    help="skip a Hessian whose extrapolated time exceeds this")
    ap.add_argument("--profile", action="store_true", help="cProfile one hvp at the largest n")
    ap.add_argument("--blas-threads", type=int, default=1, metavar="N",
                    help="BLAS (threadpoolctl) threads while timing; 0: the library's default")
    args = ap.parse_args(argv)
    with fixed_threads(args.blas_threads or None):
        _run(args, argv if argv is not None else sys.argv[1:])


def _run(args, argv):
    R = args.repeat
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.system()} {platform.release()}, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"# command: python benchmarks/second_order.py {' '.join(argv)}".rstrip())
    print(f"# BLAS while timing: {thread_note()}")
    rng = np.random.default_rng(0)

    print("\n## Rosenbrock: hvp / grad (target <= 3)\n")
    print("| n | f | grad | hvp | grad / f | hvp / f | hvp / grad |")
    print("|---|---|---|---|---|---|---|")
    ns = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    for n in ns:
        x = rng.uniform(-1, 1, n)
        v = rng.normal(size=n)
        t_f = best_of(lambda: rosenbrock(x), R)[0]
        t_g = best_of(lambda: revad.grad(rosenbrock)(x), R)[0]
        t_h = best_of(lambda: revad.hvp(rosenbrock, (x,), (v,)), R)[0]
        print(f"| {n} | {t_f * 1e3:.2f} ms | {t_g * 1e3:.2f} ms | {t_h * 1e3:.2f} ms | "
              f"{t_g / t_f:.2f} | {t_h / t_f:.2f} | {t_h / t_g:.2f} |")
    if args.profile:
        profile_hvp(rosenbrock, x, v, f"Rosenbrock, n = {n}")

    print("\n## Full Hessian of the dense problem (compare.studies.hessian.make)\n")
    peers = {}
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        peers["jax.jit(jax.hessian)"] = jax
    except ImportError:
        print("(JAX not installed: pip install -e '.[peers]')")
    hn = (20, 100) if args.quick else (100, 1000)
    names = list(COMPOSITIONS) + list(peers)
    print("| n | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    last = {}
    for n in hn:
        f, x = make(n)
        cells = []
        for name in names:
            if name in COMPOSITIONS:
                h = COMPOSITIONS[name](f)
                call = (lambda h=h: h(x))
            else:
                fj, xj = make(n, jnp)
                hj = jax.jit(jax.hessian(fj))
                xj = jnp.asarray(xj)
                call = (lambda hj=hj, xj=xj: hj(xj).block_until_ready())
            if name in last:
                n0, t0 = last[name]
                guess = t0 * (n / n0) ** 3
                if guess > args.max_seconds:
                    cells.append(f"skipped (>= {guess:.0f} s extrapolated)")
                    continue
                if guess > 1.0:
                    t = time.perf_counter()
                    call()
                    t = time.perf_counter() - t
                    last[name] = (n, t)
                    cells.append(f"{t * 1e3:.4g} ms (1 run)")
                    continue
            t = best_of(call, R)[0]
            last[name] = (n, t)
            cells.append(f"{t * 1e3:.3g} ms")
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
