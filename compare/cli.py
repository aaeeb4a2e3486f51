"""Every subcommand of ``python -m compare`` (or ``adcompare``): its arguments, their checks and
its one-line errors, in one module; the work is done by :mod:`compare.pipeline`, the studies
and the tools.

    python -m compare                       # default grid, a few minutes, into reports/
    python -m compare --quick --out /tmp/r  # reduced grid, under a minute
    python -m compare --problem mypkg.mod:f --n 100 --m 1    # your own function
    python -m compare --executor dask://HOST:PORT            # the grid on a Dask cluster
    python -m compare plot reports/results.csv               # redraw plots from the CSV only
    python -m compare recommend mypkg.mod:f --n 1000         # which mode and tier for your f
    python -m compare graph mypkg.mod:f --x 2.0 --x 0.5      # the computation as a picture
    python -m compare graph mypkg.mod:f --x 2.0 --code       # and the derivative's generated code
    python -m compare vanishing                              # gradient norm per layer study
    python -m compare hessian                                # Hessians: the four compositions
    python -m compare standard                               # GMM, BA, HT, LSTM (ADBench sizes)

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
import importlib
import inspect
import os
import shlex
import sys
import time

import numpy as np

DEFAULT_OUT = "reports"
FACTORY_PARAMS = ("n", "m", "xp", "rng")
PROBLEM_RULE = ("a built-in name or package.module:function; a function whose required "
                "positional parameters are exactly (n, m, xp, rng) is a problem factory "
                "returning (f, x), any other function is the plain f(x) itself (x drawn with n "
                "entries), so f(x, scale=1.0) is a plain f(x)")


class CliError(Exception):
    """A user error the CLI reports in one line (no traceback), exit code 2."""


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


def _index(name):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            v = -1
        if v < 0:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= 0, got {s!r}")
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


def _is_factory(fn, spec, what) -> bool:
    """The rule: a factory iff its required positional parameters are exactly n, m, xp, rng."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):     # builtins and ufuncs without a signature: plain f(x)
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = tuple(p.name for p in sig.parameters.values()
                     if p.kind in positional and p.default is inspect.Parameter.empty)
    if required == FACTORY_PARAMS:
        return True
    try:
        sig.bind(None)
    except TypeError:
        raise CliError(f"{what} {spec!r}: {getattr(fn, '__name__', 'function')}{sig} is neither "
                       f"a plain f(x) (one required argument) nor a problem factory "
                       f"make(n, m, xp, rng) (required parameters named exactly n, m, xp, rng)")
    return False


def load_problem(spec: str, what: str = "--problem"):
    """A built-in name or ``package.module:function`` -> a Problem; CliError (one line) if not."""
    from .problems import PROBLEMS, Problem
    if spec in PROBLEMS:
        return PROBLEMS[spec]
    mod_name, _, fn_name = spec.partition(":")
    if not mod_name or not fn_name:
        raise CliError(f"{what} {spec!r}: expected package.module:function, or one of "
                       f"{sorted(PROBLEMS)}")
    if mod_name.startswith("."):
        raise CliError(f"{what} {spec!r}: relative module names are not supported; give the "
                       f"absolute name (package.module:function) and run from the folder that "
                       f"holds the package, or add that folder to PYTHONPATH")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and (mod_name == e.name or mod_name.startswith(e.name + ".")):
            raise CliError(f"{what} {spec!r}: cannot import {mod_name!r} ({e}); run from the "
                           f"folder that holds it, or add that folder to PYTHONPATH") from None
        raise CliError(f"{what} {spec!r}: importing {mod_name} raised ModuleNotFoundError: "
                       f"{e}; install what it needs") from None
    except SyntaxError as e:
        raise CliError(f"{what} {spec!r}: syntax error in {e.filename}, line {e.lineno}: "
                       f"{e.msg}; fix the module") from None
    except (Exception, SystemExit) as e:
        raise CliError(f"{what} {spec!r}: importing {mod_name} raised {type(e).__name__}: {e}; "
                       f"fix the module so that it imports cleanly") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise CliError(f"{what} {spec!r}: {mod_name} has no function {fn_name!r}")
    if _is_factory(fn, spec, what):
        return Problem(spec, fn, doc=fn.__doc__ or "")

    def make(n, m, xp, rng):
        return fn, rng.normal(size=n)
    return Problem(spec, make, doc=fn.__doc__ or "")


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
               "at ADBench's sizes.")
    _add_out(ap)
    ap.add_argument("--quick", action="store_true", help="reduced grid, under a minute")
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
    _add_blas_threads(ap)
    a = ap.parse_args(argv)
    from .common.timing import fixed_threads
    from .tools.recommend import CALLS, recommend
    problem = load_problem(a.problem, "recommend")
    try:
        f, x = problem.make(a.n, a.m, np, np.random.default_rng(0))
        with fixed_threads(a.blas_threads):
            print(recommend(f, x, compiled=not a.no_compiled, calls=a.calls or CALLS))
    except Exception as e:
        return _fail(f"{a.problem}: {type(e).__name__}: {e}")
    return 0


def _graph(argv) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m compare graph",
        description="Draw a function's computation at a point: values, local partials, forward "
                    "tangents (dualad) and reverse adjoints (revad), as PNG, SVG and a clickable "
                    "HTML page that steps through the backward sweep.")
    ap.add_argument("function", help="package.module:function taking one or more arrays (or "
                                     "a factory make(n, m, xp, rng), see python -m compare -h)")
    ap.add_argument("--x", action="append", required=True,
                    help="an argument: a number or comma-separated numbers; repeat per argument")
    ap.add_argument("--wrt", type=_index("--wrt"), default=0,
                    help="argument whose tangent is seeded")
    _add_out(ap, os.path.join(DEFAULT_OUT, "graph"))
    ap.add_argument("--code", action="store_true",
                    help="print the generated code of the derivative (the compiled tier's "
                         "program: fused numba loops) on stdout, the paths on stderr")
    a = ap.parse_args(argv)
    from .teaching.graph import draw, generated_code
    problem = load_problem(a.function, "graph")
    out = _out_dir(a.out)
    try:
        f = problem.make(1, 1, np, np.random.default_rng(0))[0]
        xs = [np.array([float(v) for v in s.split(",")]) if "," in s else float(s) for s in a.x]
        paths = "\n".join(draw(f, *xs, out_dir=out, wrt=a.wrt))
        if a.code:
            print(paths, file=sys.stderr)
            print(generated_code(f, *xs), end="")
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


SUBCOMMANDS = {"plot": _plot, "recommend": _recommend, "graph": _graph, "vanishing": _vanishing,
               "standard": _standard, "hessian": _hessian}


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
