"""Every subcommand of ``python -m compare`` (or ``adcompare``): its arguments, their checks and
its one-line errors, in one module; the work is done by :mod:`compare.pipeline`, the studies
and the tools.

    python -m compare                       # default grid, a few minutes, into reports/
    python -m compare --quick --out /tmp/r  # reduced grid, 43 s measured on 2 quiet cores
    python -m compare --problem mypkg.mod:f --n 100 --m 1    # your own function
    python -m compare --executor dask://HOST:PORT            # the grid on a Dask cluster
    python -m compare plot reports/results.csv               # redraw plots from the CSV only
    python -m compare recommend mypkg.mod:f --n 1000         # which mode and tier for your f
    python -m compare recommend mypkg.mod:f --memory-budget 50   # and whether to checkpoint
    python -m compare graph mypkg.mod:f --x 2.0 --x 0.5      # f(a, b) at (2.0, 0.5), a picture
    python -m compare graph mypkg.mod:g --x 1.0 2.0 --wrt x  # g(x) at the array [1.0, 2.0]
    python -m compare graph mypkg.mod:f --x 2.0 --code       # and the derivative's generated code
    python -m compare vanishing                              # gradient norm per layer study
    python -m compare hessian                                # Hessians: the four compositions
    python -m compare standard                               # GMM, BA, HT, LSTM (ADBench sizes)
    python -m compare claims reports                         # recompute summary.md's numbers

``package.module:function`` (``--problem``, ``recommend``, ``graph``) is a problem factory only
when its required positional parameters are exactly ``n, m, xp, rng`` (it returns ``(f, x)``);
any other function is the plain ``f(x)`` itself and must accept one array. Errors (a bad module,
an ``--out`` that is a file, ...) and Ctrl-C end with one line on stderr, no traceback; Ctrl-C
exits with 130. The checks agree across subcommands: a count (``--n``, ``--m``, ``--repeat``,
``--depth``, ...) is a positive integer, a time limit a positive number, ``--out`` a folder
that can be written, everywhere.
"""
from __future__ import annotations

import argparse
import csv
import inspect
import os
import shlex
import sys
import time

import numpy as np

DEFAULT_OUT = "reports"
from .loading import PROBLEM_RULE, CliError, is_factory, load_callable, load_problem  # noqa: F401


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


def _positive_number(name):
    def parse(s):
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, got {s!r}")
        if not v > 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, got {s}")
        return v
    return parse


def _add_repeat(ap, default=None):
    ap.add_argument("--repeat", type=_positive("--repeat"), default=default, metavar="R",
                    help="best of R runs (R >= 1)")


def _add_out(ap, default=DEFAULT_OUT):
    ap.add_argument("--out", default=default,
                    help=f"output folder, created if missing (default: {default})")


def _threads(s):
    try:
        v = int(s)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"--blas-threads must be an integer >= 0 (0: the "
                                         f"library's default), got {s!r}")
    return v or None


def _add_blas_threads(ap):
    ap.add_argument("--blas-threads", type=_threads, default=1, metavar="N",
                    help="BLAS (and PyTorch) threads while timing, fixed with threadpoolctl "
                         "(default 1: spinning BLAS threads make timings on a busy machine swing "
                         "40x; 0: the library's default)")


def _out_dir(path: str, what: str = "--out") -> str:
    """Create the output folder (or accept an existing one) and check it is writable."""
    import tempfile
    if os.path.exists(path) and not os.path.isdir(path):
        raise CliError(f"{what} {path}: is a file, not a folder; give a folder (it is created "
                       f"if missing)")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise CliError(f"{what} {path}: cannot write into this folder ({e.strerror or e}); "
                       f"give a folder you can write to") from None
    return path


def _parser():
    ap = argparse.ArgumentParser(
        prog="python -m compare",
        description="Time full Jacobians by forward mode (dualad), reverse mode (revad) and "
                    "finite differences as inputs n and outputs m grow; write results.csv, "
                    "plots and summary.md.",
        epilog="Subcommands: 'plot CSV [--out DIR]' redraws the plots and summary from a CSV; "
               "'recommend package.module:function --n N' measures probes and recommends a mode "
               "and tier; "
               "'graph package.module:function --x ...' draws the computation; 'vanishing' "
               "runs the gradient-norm-per-layer study; 'hessian' times the full Hessian by "
               "the four compositions of the modes and hvp; 'standard' times GMM, BA, HT, LSTM "
               "and the banded problem at ADBench's sizes; 'claims DIR' recomputes every number "
               "of DIR/summary.md from its CSVs. Each has its own -h.")
    _add_out(ap)
    ap.add_argument("--quick", action="store_true",
                    help="reduced grid: 43 s measured on 2 quiet cores (2.6 min under load)")
    ap.add_argument("--problem", help="one problem: " + PROBLEM_RULE)
    ap.add_argument("--n", type=_positive("--n"), nargs="+", help="input sizes for --problem")
    ap.add_argument("--m", type=_positive("--m"), nargs="+", default=[1],
                    help="output sizes for --problem (ignored by scalar problems)")
    _add_repeat(ap)
    ap.add_argument("--no-peers", action="store_true", help="skip JAX/PyTorch even if installed")
    ap.add_argument("--no-compiled", action="store_true",
                    help="time the eager tier only (the compiled tier costs a compile, seconds, "
                         "per problem size and mode)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--executor", type=_executor, metavar="dask://HOST:PORT",
                    help="time the grid's configurations on that Dask cluster's workers, one "
                         "configuration per worker at a time (pip install -e '.[dask]'; the "
                         "workers need this project installed); off by default")
    _add_blas_threads(ap)
    return ap


def _executor(s):
    if not s.startswith(("dask://", "tcp://")) or ":" not in s.split("://", 1)[1]:
        raise argparse.ArgumentTypeError(f"--executor must be a Dask scheduler address "
                                         f"dask://HOST:PORT, got {s!r}")
    return s


def _fail(msg: str) -> int:
    print(f"python -m compare: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return 2


def _command(sub: str, argv) -> str:
    return (f"python -m compare {sub} " + " ".join(shlex.quote(s) for s in argv)).strip()


def _plot(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m compare plot",
                                 description="Redraw every plot and summary.md from a CSV.")
    ap.add_argument("csv")
    ap.add_argument("--out", default=None, help="folder (default: the CSV's folder)")
    a = ap.parse_args(argv)
    from .report import write_report
    if os.path.isdir(a.csv):
        inside = os.path.join(a.csv, "results.csv")
        hint = (f"give the CSV: python -m compare plot {inside}" if os.path.isfile(inside)
                else "give the results.csv that python -m compare wrote")
        return _fail(f"{a.csv}: is a folder, not a CSV; {hint}")
    if not os.path.exists(a.csv):
        return _fail(f"{a.csv}: no such file; run python -m compare first")
    out = _out_dir(a.out or os.path.dirname(os.path.abspath(a.csv)))
    try:
        paths = write_report(a.csv, out, command="python -m compare plot " + a.csv)
    except (ValueError, KeyError, csv.Error) as e:    # UnicodeDecodeError is a ValueError
        return _fail(f"{a.csv}: not a results.csv of python -m compare ({e})")
    except OSError as e:
        return _fail(f"{a.csv}: {e.strerror or e} ({e.filename or a.csv})")
    print("\n".join(paths))
    return 0


def _recommend(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m compare recommend",
                                 description="Which mode and tier (eager or compiled) for your "
                                             "function, from measurement.")
    ap.add_argument("problem", help=PROBLEM_RULE)
    ap.add_argument("--n", type=_positive("--n"), default=100)
    ap.add_argument("--m", type=_positive("--m"), default=1)
    ap.add_argument("--calls", type=_positive("--calls"), default=None,
                    help="Jacobians you will compute: the compiled tier is advised when its "
                         "compile plus that many compiled calls beat the eager ones (default "
                         "1000)")
    ap.add_argument("--no-compiled", action="store_true",
                    help="probe the eager tier only (no compile)")
    ap.add_argument("--memory-budget", type=_positive_number("--memory-budget"), default=None,
                    metavar="MB", help="megabytes reverse mode may use: measure its tape and "
                    "peak, and advise checkpointing (adops.scan(..., checkpoints=s), "
                    "revad.checkpoint) when they exceed it")
    _add_blas_threads(ap)
    a = ap.parse_args(argv)
    from .common.timing import fixed_threads
    from .tools.memory import memory_advice
    from .tools.recommend import CALLS, recommend
    problem = load_problem(a.problem, "recommend")
    try:
        f, x = problem.make(a.n, a.m, np, np.random.default_rng(0))
        with fixed_threads(a.blas_threads):
            print(recommend(f, x, compiled=not a.no_compiled, calls=a.calls or CALLS))
            if a.memory_budget is not None:
                print(memory_advice(f, x, a.memory_budget * 1e6))
    except Exception as e:
        return _fail(f"{a.problem}: {type(e).__name__}: {e}")
    return 0


def _graph_args(fn, spec, groups, wrt):
    """``--x`` groups -> one value per argument of ``fn`` (a number, or an array from several
    numbers or comma-separated ones) and ``--wrt`` (a parameter's name or index) -> its index."""
    try:
        xs = [np.array(vals, dtype=float) if len(vals) > 1 else float(vals[0]) for vals in
              ([float(v) for tok in group for v in tok.split(",") if v.strip()] for group in groups)]
    except (ValueError, IndexError):
        raise CliError(f"graph {spec}: --x takes numbers (--x 1.0 2.0 or --x 1.0,2.0 for an "
                       f"array argument, one --x per argument), got {groups}") from None
    from .teaching.names import arg_names
    names = arg_names(fn, len(xs))
    try:
        inspect.signature(fn).bind(*xs)
    except TypeError as e:
        raise CliError(f"graph {spec}: {len(xs)} --x value(s) do not fit its parameters ({e}); "
                       "give one --x per argument") from None
    except ValueError:
        pass                # no signature (a ufunc): let the call say
    if wrt is None:
        return xs, 0
    if wrt in names:
        return xs, names.index(wrt)
    if wrt.isdigit() and int(wrt) < len(xs):
        return xs, int(wrt)
    raise CliError(f"graph {spec}: --wrt {wrt!r} is not one of its arguments {names} (a name or "
                   f"an index 0 .. {len(xs) - 1})")


def _graph(argv) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m compare graph",
        description="Draw a function's computation at a point: values, local partials, forward "
                    "tangents (dualad, seeded with a unit vector e_i: one Jacobian column) and "
                    "reverse adjoints (revad, seeded with e_j: one row), as PNG, SVG and a "
                    "clickable HTML page that steps through both sweeps.")
    ap.add_argument("function", help="package.module:function of one or more arguments (or "
                                     "a factory make(n, m, xp, rng), see python -m compare -h)")
    ap.add_argument("--x", action="append", nargs="+", required=True, metavar="V",
                    help="one argument's value: a number, or an array as --x 1.0 2.0 or "
                         "--x 1.0,2.0; one --x per argument, in order")
    ap.add_argument("--wrt", default=None, metavar="NAME",
                    help="the argument (its name, or index) whose first entry seeds the forward "
                         "sweep of the pictures (default: the first); the page offers every entry")
    _add_out(ap, os.path.join(DEFAULT_OUT, "graph"))
    ap.add_argument("--code", action="store_true",
                    help="print the generated code of the derivative (the compiled tier's "
                         "program: fused numba loops) on stdout, the paths on stderr")
    a = ap.parse_args(argv)
    from .teaching.graph import draw, generated_code
    fn = load_callable(a.function, "graph")
    if is_factory(fn, a.function, "graph", plain_only=False):
        fn = fn(1, 1, np, np.random.default_rng(0))[0]
    xs, wrt = _graph_args(fn, a.function, a.x, a.wrt)
    out = _out_dir(a.out)
    try:
        paths = "\n".join(draw(fn, *xs, out_dir=out, wrt=wrt))
        if a.code:
            print(paths, file=sys.stderr)
            print(generated_code(fn, *xs), end="")
        else:
            print(paths)
    except Exception as e:
        return _fail(f"{a.function}: {type(e).__name__}: {e}")
    return 0


def _vanishing(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m compare vanishing",
                                 description="Gradient norm per layer of deep chains.")
    _add_out(ap)
    ap.add_argument("--depth", type=_positive("--depth"), default=50)
    ap.add_argument("--width", type=_positive("--width"), default=16)
    a = ap.parse_args(argv)
    from .studies.vanishing import write
    print("\n".join(write(_out_dir(a.out), a.depth, a.width)))
    return 0


def _hessian(argv) -> int:
    from .studies import hessian
    ap = argparse.ArgumentParser(
        prog="python -m compare hessian",
        description="Time the full Hessian of a dense scalar f by the four compositions of "
                    "forward and reverse mode as n grows, and one hvp against it; JAX's and "
                    "PyTorch's hessian beside them when installed.")
    _add_out(ap)
    ap.add_argument("--quick", action="store_true", help=f"n = {hessian.QUICK_NS}, seconds")
    ap.add_argument("--n", type=_positive("--n"), nargs="+",
                    help=f"sizes (default {hessian.DEFAULT_NS})")
    _add_repeat(ap)
    ap.add_argument("--max-seconds", type=_positive_number("--max-seconds"), default=None,
                    help="a method whose extrapolated time at an n exceeds this is not timed "
                         "there or beyond (default 10, --quick 1)")
    ap.add_argument("--no-peers", action="store_true", help="skip JAX/PyTorch")
    ap.add_argument("--no-progress", action="store_true", help="no progress lines")
    _add_blas_threads(ap)
    a = ap.parse_args(argv)
    from .common.peers import choose
    out = _out_dir(a.out)
    ns = sorted(a.n) if a.n else (hessian.QUICK_NS if a.quick else hessian.DEFAULT_NS)
    peers, note = choose(not a.no_peers)
    if a.no_peers:      # hessian.md's peers line, as it has always read
        note = "skipped (--no-peers)"
    paths = hessian.standalone(out, ns, repeat=a.repeat or (2 if a.quick else 3), peers=peers,
                               peers_note=note,
                               max_seconds=a.max_seconds or (1.0 if a.quick else 10.0),
                               blas_threads=a.blas_threads, progress=not a.no_progress,
                               command=_command("hessian", argv))
    print("\n".join(paths))
    return 0


def _standard(argv) -> int:
    from .problems import standard as st
    ap = argparse.ArgumentParser(
        prog="python -m compare standard",
        description="Time GMM, BA, HT, LSTM and a banded problem at ADBench's sizes: objective, "
                    "dense forward and reverse, coloured forward and reverse, finite "
                    "differences, JAX/PyTorch when installed; ratios to the objective as "
                    "gradbench reports them. Writes standard.csv, standard.md and plots.")
    _add_out(ap)
    ap.add_argument("--problem", nargs="+", choices=sorted(st.PROBLEMS),
                    help="only these problems (default: all)")
    ap.add_argument("--quick", action="store_true",
                    help="the smaller instances of the default run's section")
    _add_repeat(ap, default=3)
    ap.add_argument("--budget", type=_positive_number("--budget"), default=30.0,
                    help="seconds a derivative may take before it is estimated from one pass")
    ap.add_argument("--no-peers", action="store_true", help="skip JAX/PyTorch")
    a = ap.parse_args(argv)
    from .common.peers import choose
    from .studies.standard import run
    cases = st.QUICK if a.quick else st.FULL
    if a.problem:
        cases = [c for c in cases if c[0] in a.problem]
    peers, note = choose(not a.no_peers)
    paths = run(_out_dir(a.out), cases, repeat=a.repeat, budget=a.budget, peers=peers,
                command="python -m compare standard " + " ".join(argv or []), peers_note=note)
    print("\n".join(paths))
    return 0


def _claims(argv) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m compare claims",
        description="Recompute every number of a report's summary.md from its CSVs (the "
                    "queries in claims.json) and print each with its recorded value; exit 1 "
                    "when one differs.")
    ap.add_argument("folder", nargs="?", default=DEFAULT_OUT, help="a report folder")
    a = ap.parse_args(argv)
    from .common.claims import recompute
    if not os.path.isfile(os.path.join(a.folder, "claims.json")):
        return _fail(f"{a.folder}: no claims.json; run python -m compare (or plot) first")
    bad = 0
    for text, shown, recorded, again in recompute(a.folder):
        ok = abs(again - recorded) <= 1e-9 * max(abs(recorded), 1e-300)
        bad += not ok
        print(f"{'ok  ' if ok else 'DIFF'} {shown:>10} = {again:.6g}   in: {text[:90]}")
    print(f"{bad} of the numbers differ from their recomputation" if bad else
          "every number recomputed from the CSVs")
    return 1 if bad else 0


SUBCOMMANDS = {"plot": _plot, "recommend": _recommend, "graph": _graph, "vanishing": _vanishing,
               "standard": _standard, "hessian": _hessian, "claims": _claims}


def main(argv=None) -> int:
    """The CLI; returns the exit code. User errors and Ctrl-C end in one line on stderr."""
    try:
        return _main(argv)
    except CliError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        print("python -m compare: interrupted", file=sys.stderr)
        return 130


def _main(argv) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    a = _parser().parse_args(argv)
    from . import pipeline
    from .common.peers import choose
    from .problems import PROBLEMS
    from .studies.base import Settings
    from .studies.grid import Grid, default_grid, quick_grid
    from adops.program.executors import ExecutorError

    grid = quick_grid() if a.quick else default_grid()
    problems = dict(PROBLEMS)
    if a.problem:
        problem = load_problem(a.problem)
        problems[problem.name] = problem
        ns = a.n or [10, 100]
        configs = [(problem.name, n, m) for n in ns for m in a.m]
        grid = Grid(configs, repeat=grid.repeat, name="user", compiled=configs)
    if a.no_compiled:
        grid.compiled = []
    grid.executor = a.executor
    out = _out_dir(a.out)
    peers, note = choose(not a.no_peers)     # --no-peers: not even imported
    command = "python -m compare " + " ".join(shlex.quote(s) for s in argv)
    settings = Settings(out=out, quick=a.quick, repeat=a.repeat or grid.repeat, peers=peers,
                        peers_note=note, blas_threads=a.blas_threads,
                        progress=not a.no_progress, command=command.strip())
    studies = pipeline.default_studies(grid, problems, user=bool(a.problem))
    csv_path = os.path.join(out, "results.csv")
    t0 = time.perf_counter()
    try:
        written = pipeline.measure(studies, settings)
    except KeyboardInterrupt:
        print(f"python -m compare: interrupted; the rows measured so far are in {csv_path}",
              file=sys.stderr)
        return 130
    except ExecutorError as e:
        return _fail(str(e))
    except Exception as e:
        where = a.problem or "a built-in problem"
        return _fail(f"{where} failed while being measured: {type(e).__name__}: {e}")
    paths = pipeline.report(studies, settings) + written.get("vanishing", [])
    print(f"{studies[0].rows_written} rows in {time.perf_counter() - t0:.0f} s -> {csv_path}")
    print("\n".join(paths))
    return 0
