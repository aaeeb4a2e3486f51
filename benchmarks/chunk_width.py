"""Measurements behind the automatic chunk width (adops.inputs.auto_chunk).

    python benchmarks/chunk_width.py [--blas-threads N]   # BLAS threads while timing (default 1)

For jacfwd (and jacrev) of a dense layer tanh(W x + b) with n inputs (m = n outputs), the time of
the full Jacobian for each chunk width k, relative to the best k for that n. The rule
min(n, 256, 2**25 / (8 n)) should sit within a small factor of the best everywhere.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import dualad  # noqa: E402
from compare.common.timing import best_of, fixed_threads, thread_note  # noqa: E402
import revad  # noqa: E402
from adops.program.inputs import auto_chunk  # noqa: E402




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blas-threads", type=int, default=1, metavar="N",
                    help="BLAS (threadpoolctl) threads while timing; 0: the library's default")
    args = ap.parse_args(argv)
    with fixed_threads(args.blas_threads or None):
        print(f"# BLAS while timing: {thread_note()}")
        _run()


def _run():
    rng = np.random.default_rng(0)
    print("| n | " + " | ".join(f"k={k}" for k in (1, 4, 16, 64, 256, 1024)) + " | auto k | auto / best |")
    print("|---" * 9 + "|")
    for n in (16, 256, 1024, 4096):
        W = rng.normal(size=(n, n)) / np.sqrt(n)
        f = lambda x: np.tanh(W @ x + 1.0)
        x = rng.normal(size=n)
        times = {}
        for k in (1, 4, 16, 64, 256, 1024):
            if k <= n and (n // k) <= 1024:
                times[k] = best_of(lambda: dualad.jacfwd(f, chunk=k)(x), 3)[0]
        ka = auto_chunk(n)
        t_auto = best_of(lambda: dualad.jacfwd(f, chunk=ka)(x), 3)[0]
        b = min(list(times.values()) + [t_auto])
        cells = [f"{times[k] / b:.2f}" if k in times else "-" for k in (1, 4, 16, 64, 256, 1024)]
        print(f"| {n} | " + " | ".join(cells) + f" | {ka} | {t_auto / b:.2f} |")
    print("\n(times relative to the fastest width for that n; forward mode, dense layer, m = n)")


if __name__ == "__main__":
    main()
