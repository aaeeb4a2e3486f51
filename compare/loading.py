"""What ``package.module:function`` names on the command line (``--problem``, ``recommend``,
``graph``): a built-in problem, a problem factory ``make(n, m, xp, rng) -> (f, x)``, or a plain
function; and the one-line error (:class:`CliError`) every subcommand reports instead of a
traceback.

Contract: :func:`load_problem(spec)` -> a :class:`compare.problems.Problem` (a plain f(x) gets
x drawn with n entries); :func:`load_callable(spec, what)` -> the callable itself (``graph``
takes functions of several arguments); each raises CliError naming the module, the function and
the way out.
"""
from __future__ import annotations

import importlib
import inspect

FACTORY_PARAMS = ("n", "m", "xp", "rng")
PROBLEM_RULE = ("a built-in name or package.module:function; a function whose required "
                "positional parameters are exactly (n, m, xp, rng) is a problem factory "
                "returning (f, x), any other function is the plain f(x) itself (x drawn with n "
                "entries), so f(x, scale=1.0) is a plain f(x)")


class CliError(Exception):
    """A user error the CLI reports in one line (no traceback), exit code 2."""


def is_factory(fn, spec, what, plain_only: bool = True) -> bool:
    """The rule: a factory iff its required positional parameters are exactly n, m, xp, rng;
    with ``plain_only``, any other function must be a plain f(x) (one required argument)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):     # builtins and ufuncs without a signature: plain f(x)
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = tuple(p.name for p in sig.parameters.values()
                     if p.kind in positional and p.default is inspect.Parameter.empty)
    if required == FACTORY_PARAMS:
        return True
    if not plain_only:
        return False
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
    fn = load_callable(spec, what)
    if is_factory(fn, spec, what):
        return Problem(spec, fn, doc=fn.__doc__ or "")

    def make(n, m, xp, rng):
        return fn, rng.normal(size=n)
    return Problem(spec, make, doc=fn.__doc__ or "")


def load_callable(spec: str, what: str):
    """``package.module:function`` (or a built-in problem's factory) -> the callable."""
    from .problems import PROBLEMS
    if spec in PROBLEMS:
        return PROBLEMS[spec].make
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
    return fn
