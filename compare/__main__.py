"""``python -m compare`` (or ``adcompare``): the forward-vs-reverse comparison.

    python -m compare                       # default grid, a few minutes, into reports/
    python -m compare --quick --out /tmp/r  # reduced grid, under a minute
    python -m compare --problem mypkg.mod:f --n 100 --m 1    # your own function
    python -m compare plot reports/results.csv               # redraw plots from the CSV only
    python -m compare recommend mypkg.mod:f --n 1000         # which mode for your function
    python -m compare graph mypkg.mod:f --x 2.0 --x 0.5      # the computation as a picture
    python -m compare vanishing                              # gradient norm per layer study
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np

DEFAULT_OUT = "reports"


def _positive(name):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {s!r}")
        if v <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {v}")
        return v
    return parse


def _parser():
    ap = argparse.ArgumentParser(
        prog="python -m compare",
        description="Time full Jacobians by forward mode (dualad), reverse mode (revad) and "
                    "finite differences as inputs n and outputs m grow; write results.csv, "
                    "plots and summary.md.",
        epilog="Subcommands: 'plot CSV [--out DIR]' redraws the plots and summary from a CSV; "
               "'recommend package.module:function --n N' measures probes and recommends a mode; "
               "'graph package.module:function --x ...' draws the computation; 'vanishing' "
               "runs the gradient-norm-per-layer study.")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: reports/)")
    ap.add_argument("--quick", action="store_true", help="reduced grid, under a minute")
    ap.add_argument("--problem", help="one problem: a built-in name or package.module:function "
                                      "(a plain f(x), or make(n, m, xp, rng) -> (f, x))")
    ap.add_argument("--n", type=_positive("--n"), nargs="+", help="input sizes for --problem")
    ap.add_argument("--m", type=_positive("--m"), nargs="+", default=[1],
                    help="output sizes for --problem (ignored by scalar problems)")
    ap.add_argument("--repeat", type=_positive("--repeat"), default=None, help="best of R runs")
    ap.add_argument("--no-peers", action="store_true", help="skip JAX/PyTorch even if installed")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap


def _fail(msg: str) -> int:
    print(f"python -m compare: error: {msg}", file=sys.stderr)
    return 2


def _plot(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m compare plot",
                                 description="Redraw every plot and summary.md from a CSV.")
    ap.add_argument("csv")
    ap.add_argument("--out", default=None, help="folder (default: the CSV's folder)")
    a = ap.parse_args(argv)
    from .report import write_report
    if not os.path.exists(a.csv):
        return _fail(f"{a.csv}: no such file; run python -m compare first")
    try:
        paths = write_report(a.csv, a.out or os.path.dirname(os.path.abspath(a.csv)),
                             command="python -m compare plot " + a.csv)
    except (ValueError, KeyError) as e:
        return _fail(f"{a.csv}: not a results.csv of python -m compare ({e})")
    print("\n".join(paths))
    return 0


def _recommend(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m compare recommend",
                                 description="Which mode for your function, from measurement.")
    ap.add_argument("problem", help="built-in name or package.module:function")
    ap.add_argument("--n", type=_positive("--n"), default=100)
    ap.add_argument("--m", type=_positive("--m"), default=1)
    a = ap.parse_args(argv)
    from .problems import PROBLEMS, load_user_problem
    from .recommend import recommend
    try:
        problem = PROBLEMS.get(a.problem) or load_user_problem(a.problem)
        f, x = problem.make(a.n, a.m, np, np.random.default_rng(0))
        print(recommend(f, x))
    except Exception as e:
        return _fail(f"{a.problem}: {type(e).__name__}: {e}")
    return 0


def _graph(argv) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m compare graph",
        description="Draw a function's computation at a point: values, local partials, forward "
                    "tangents (dualad) and reverse adjoints (revad), as PNG, SVG and a clickable "
                    "HTML page that steps through the backward sweep.")
    ap.add_argument("function", help="package.module:function taking one or more arrays")
    ap.add_argument("--x", action="append", required=True,
                    help="an argument: a number or comma-separated numbers; repeat per argument")
    ap.add_argument("--wrt", type=int, default=0, help="argument whose tangent is seeded")
    ap.add_argument("--out", default=os.path.join(DEFAULT_OUT, "graph"))
    a = ap.parse_args(argv)
    from .graph import draw
    from .problems import load_user_problem
    try:
        f = load_user_problem(a.function).make(1, 1, np, np.random.default_rng(0))[0]
        xs = [np.array([float(v) for v in s.split(",")]) if "," in s else float(s) for s in a.x]
        print("\n".join(draw(f, *xs, out_dir=a.out, wrt=a.wrt)))
    except Exception as e:
        return _fail(f"{a.function}: {type(e).__name__}: {e}")
    return 0


def _vanishing(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m compare vanishing",
                                 description="Gradient norm per layer of deep chains.")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--depth", type=_positive("--depth"), default=50)
    ap.add_argument("--width", type=_positive("--width"), default=16)
    a = ap.parse_args(argv)
    from .vanishing import write
    print("\n".join(write(a.out, a.depth, a.width)))
    return 0


SUBCOMMANDS = {"plot": _plot, "recommend": _recommend, "graph": _graph, "vanishing": _vanishing}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    a = _parser().parse_args(argv)
    from . import peers as peers_mod
    from .problems import PROBLEMS, load_user_problem
    from .report import write_report
    from .run import Grid, default_grid, quick_grid, run_grid

    grid = quick_grid() if a.quick else default_grid()
    problems = dict(PROBLEMS)
    if a.problem:
        try:
            problem = PROBLEMS.get(a.problem) or load_user_problem(a.problem)
        except ValueError as e:
            return _fail(str(e))
        problems[problem.name] = problem
        ns = a.n or [10, 100]
        grid = Grid([(problem.name, n, m) for n in ns for m in a.m], repeat=grid.repeat,
                    name="user")
    if a.repeat:
        grid.repeat = a.repeat
    status = peers_mod.available()
    peers = [] if a.no_peers else [peers_mod.PEERS[k] for k, why in status.items() if why is None]
    note = "; ".join(f"{k}: {'skipped (--no-peers)' if a.no_peers else (why or 'timed')}"
                     for k, why in status.items())
    os.makedirs(a.out, exist_ok=True)
    csv_path = os.path.join(a.out, "results.csv")
    command = "python -m compare " + " ".join(shlex.quote(s) for s in argv)
    t0 = time.perf_counter()
    try:
        n_rows = run_grid(grid, csv_path, peers=peers, progress=not a.no_progress,
                          problems=problems)
    except KeyboardInterrupt:
        print(f"interrupted: the rows measured so far are in {csv_path}", file=sys.stderr)
        return 130
    except Exception as e:
        where = a.problem or "a built-in problem"
        return _fail(f"{where} failed while being measured: {type(e).__name__}: {e}")
    from .vanishing import write as write_vanishing
    extra = write_vanishing(a.out, depth=50 if not a.quick else 20) if not a.problem else []
    paths = write_report(csv_path, a.out, command=command.strip(), peers_note=note) + extra
    print(f"{n_rows} rows in {time.perf_counter() - t0:.0f} s -> {csv_path}")
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
