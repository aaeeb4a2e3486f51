"""Speed targets of the two modes, as ratios to plain numpy measured in one run.

    python benchmarks/modes.py            # full sizes (n = 10^6), about a minute
    python benchmarks/modes.py --quick    # small sizes, seconds
    python benchmarks/modes.py --blas-threads 0   # BLAS at its own thread count (default: 1)

Reports:
- forward: time(jvp with k directions) / time(f) on Rosenbrock, n = 10^6, k = 1, 8, 32;
  target 1 + 1.5 k (the textbook bound for vector forward mode);
- reverse: time(grad) / time(f) on Rosenbrock (n = 10^6) and on a two-layer MLP loss with
  >= 10^5 parameters; target 3;
- per-op cost of grad on a chain of 1000 scalar ops; target < 10 microseconds per op.
Each time is the best of R repeats after a warm-up (numba compilation excluded).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import dualad  # noqa: E402
from compare.common.timing import best_of, fixed_threads, thread_note  # noqa: E402
import revad  # noqa: E402




def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def make_mlp(n_in, n_hidden, n_out, batch, rng):
    X = rng.normal(size=(batch, n_in))
    Y = rng.normal(size=(batch, n_out))
    shapes = [(n_in, n_hidden), (n_hidden,), (n_hidden, n_out), (n_out,)]
    sizes = [int(np.prod(s)) for s in shapes]

    def loss(theta):
        parts, start = [], 0
        for s, k in zip(shapes, sizes):
            parts.append(theta[start:start + k].reshape(s))
            start += k
        w1, b1, w2, b2 = parts
        h = np.tanh(X @ w1 + b1)
        return np.mean((h @ w2 + b2 - Y) ** 2)
    return loss, sum(sizes)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--blas-threads", type=int, default=1, metavar="N",
                    help="BLAS (threadpoolctl) threads while timing; 0: the library's default")
    args = ap.parse_args(argv)
    with fixed_threads(args.blas_threads or None):
        _run(args)


def _run(args):
    rng = np.random.default_rng(0)
    n = 10_000 if args.quick else 1_000_000
    R = args.repeat
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"# command: python benchmarks/modes.py{' --quick' if args.quick else ''}"
          f" --blas-threads {args.blas_threads}")
    print(f"# BLAS while timing: {thread_note()}")
    x = rng.uniform(-1, 1, n)
    t_f = best_of(lambda: rosenbrock(x), R)[0]
    print(f"\nRosenbrock n={n}: plain numpy f {t_f * 1e3:.2f} ms")
    print("| mode | k | time / time(f) | target |")
    print("|---|---|---|---|")
    for k in (1, 8, 32):
        V = rng.normal(size=(k, n))
        t = best_of(lambda: dualad.jvp(rosenbrock, (x,), (V,), batched=True), max(3, R // 2))[0]
        print(f"| forward jvp | {k} | {t / t_f:.2f} | <= {1 + 1.5 * k:.1f} |")
    t = best_of(lambda: revad.grad(rosenbrock)(x), R)[0]
    print(f"| reverse grad | - | {t / t_f:.2f} | <= 3 |")

    loss, p = make_mlp(784 if not args.quick else 64, 128 if not args.quick else 32, 10,
                       256 if not args.quick else 32, rng)
    theta = rng.normal(size=p) * 0.05
    t_f = best_of(lambda: loss(theta), R)[0]
    t = best_of(lambda: revad.grad(loss)(theta), R)[0]
    print(f"\nMLP loss, {p} parameters: plain numpy f {t_f * 1e3:.2f} ms")
    print(f"| reverse grad | - | {t / t_f:.2f} | <= 3 |")

    def chain(x):
        for _ in range(333):
            x = np.sin(x) * 1.0001 + 0.1
        return x
    t = best_of(lambda: revad.grad(chain)(0.5), R)[0]
    print(f"\nscalar chain of {3 * 333} ops: grad {t / (3 * 333) * 1e6:.2f} us per op "
          "(target < 10)")
    t = best_of(lambda: dualad.derivative(chain)(0.5), R)[0]
    print(f"scalar chain of {3 * 333} ops: derivative {t / (3 * 333) * 1e6:.2f} us per op")


if __name__ == "__main__":
    main()
