"""``python -m compare`` (or ``adcompare``): the forward-vs-reverse comparison.

    python -m compare                       # default grid, a few minutes, into reports/
    python -m compare --quick --out /tmp/r  # reduced grid, under a minute
    python -m compare --problem mypkg.mod:f --n 100 --m 1    # your own function
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
exits with 130.
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
               "the four compositions of the modes and hvp.")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: reports/)")
    ap.add_argument("--quick", action="store_true", help="reduced grid, under a minute")
    ap.add_argument("--problem", help="one problem: " + PROBLEM_RULE)
    ap.add_argument("--n", type=_positive("--n"), nargs="+", help="input sizes for --problem")
    ap.add_argument("--m", type=_positive("--m"), nargs="+", default=[1],
                    help="output sizes for --problem (ignored by scalar problems)")
    ap.add_argument("--repeat", type=_positive("--repeat"), default=None, help="best of R runs")
    ap.add_argument("--no-peers", action="store_true", help="skip JAX/PyTorch even if installed")
    ap.add_argument("--no-compiled", action="store_true",
                    help="time the eager tier only (the compiled tier costs a compile, seconds, "
                         "per problem size and mode)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_blas_threads(ap)
    return ap


def _fail(msg: str) -> int:
    print(f"python -m compare: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return 2


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
    from .recommend import CALLS, recommend
    from .timing import fixed_threads
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
    ap.add_argument("--wrt", type=int, default=0, help="argument whose tangent is seeded")
    ap.add_argument("--out", default=os.path.join(DEFAULT_OUT, "graph"))
    ap.add_argument("--code", action="store_true",
                    help="print the generated code of the derivative (the compiled tier's "
                         "program: fused numba loops) on stdout, the paths on stderr")
    a = ap.parse_args(argv)
    from .graph import draw, generated_code
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
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--depth", type=_positive("--depth"), default=50)
    ap.add_argument("--width", type=_positive("--width"), default=16)
    a = ap.parse_args(argv)
    from .vanishing import write
    print("\n".join(write(_out_dir(a.out), a.depth, a.width)))
    return 0


def _standard(argv) -> int:
    from .standard_run import main as standard_main
    return standard_main(argv)


def _hessian(argv) -> int:
    from .second_order import main as hessian_main
    return hessian_main(argv)


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
    from . import peers as peers_mod
    from .problems import PROBLEMS
    from .report import write_report
    from .run import Grid, default_grid, quick_grid, run_grid

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
    if a.repeat:
        grid.repeat = a.repeat
    grid.blas_threads = a.blas_threads
    out = _out_dir(a.out)
    if a.no_peers:      # do not even import them
        peers, note = [], "; ".join(f"{k}: skipped (--no-peers)" for k in peers_mod.PEERS)
    else:
        status = peers_mod.available()
        peers = [peers_mod.PEERS[k] for k, why in status.items() if why is None]
        note = "; ".join(f"{k}: {why or 'timed'}" for k, why in status.items())
    csv_path = os.path.join(out, "results.csv")
    command = "python -m compare " + " ".join(shlex.quote(s) for s in argv)
    t0 = time.perf_counter()
    try:
        n_rows = run_grid(grid, csv_path, peers=peers, progress=not a.no_progress,
                          problems=problems)
    except KeyboardInterrupt:
        print(f"python -m compare: interrupted; the rows measured so far are in {csv_path}",
              file=sys.stderr)
        return 130
    except Exception as e:
        where = a.problem or "a built-in problem"
        return _fail(f"{where} failed while being measured: {type(e).__name__}: {e}")
    from .vanishing import write as write_vanishing
    extra = write_vanishing(out, depth=50 if not a.quick else 20) if not a.problem else []
    paths = write_report(csv_path, out, command=command.strip(), peers_note=note) + extra
    if not a.problem:
        from .standard_run import default_section
        paths += default_section(out, peers=not a.no_peers, quick=a.quick)
    print(f"{n_rows} rows in {time.perf_counter() - t0:.0f} s -> {csv_path}")
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
