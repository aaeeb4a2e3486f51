"""The compiled tier, timed: each mode's full Jacobian with ``compiled=True``, its compile time,
and the calls after which compiling pays off.

Contract: :func:`measure(f, x, ...)` returns rows like :func:`compare.common.timing.measure`'s
(the columns of ``results.csv``), one per mode of the compiled tier (:mod:`adops.compile`):

- ``forward-compiled`` / ``jacobian``: ``dualad.jacfwd(f, chunk=k, compiled=True)(x)`` at the
  automatic width ``k = auto_chunk(n)`` (one program serves every width, so only that one is
  timed);
- ``reverse-compiled`` / ``jacobian``: ``revad.jacrev(f, chunk=k, compiled=True)(x)``, one
  compiled forward pass and ``ceil(m / k)`` compiled sweeps, ``k = auto_chunk(m)``.

Each row has ``tier = "compiled"``; ``first_call_seconds`` is the first call (trace, code
generation, numba compilation of that mode's whole program, :func:`adops.compile.whole_after`
set to 1, one run) and ``compile_seconds`` that minus
the best later call: the one-off cost of the tier. Each mode compiles its own copy of ``f``, so
neither inherits the other's trace. Rows of the eager tier get ``tier = "eager"``
(:func:`tag_eager`). :func:`cold_cache` gives the block a fresh ``ADOPS_CACHE_DIR``, so a compile
time is that of a first run, not a warm start from the disk cache. :func:`payoff`: calls after
which compiling wins (used by the tiers study and by ``recommend``).
"""
from __future__ import annotations

import atexit
import contextlib
import math
import os
import shutil
import tempfile

import numpy as np

import dualad
import revad
from adops.compile import whole_after
from adops.program.inputs import as_primal, auto_chunk

from .timing import GRID_SECONDS, best_of

#: each mode of the eager tier and its compiled twin (the ``mode`` column of results.csv)
COMPILED = {"forward": "forward-compiled", "reverse": "reverse-compiled"}
PLOT = "tiers.png"


@contextlib.contextmanager
def cold_cache():
    """A fresh, temporary ``ADOPS_CACHE_DIR`` for the block (removed after), so the compiled
    tier's first calls compile instead of loading code a previous run left on disk.

    A program generated inside the block can compile a new signature after it (numba compiles
    lazily and writes its cache beside the generated module, making the folder again), so the
    folder is removed once more when the process exits."""
    before = os.environ.get("ADOPS_CACHE_DIR")
    path = tempfile.mkdtemp(prefix="adops-compare-")
    os.environ["ADOPS_CACHE_DIR"] = path
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("ADOPS_CACHE_DIR", None)
        else:
            os.environ["ADOPS_CACHE_DIR"] = before
        shutil.rmtree(path, ignore_errors=True)
        atexit.register(shutil.rmtree, path, ignore_errors=True)


def tag_eager(rows):
    """Mark our modes' rows as the eager tier (in place); returns the rows."""
    for r in rows:
        if r["mode"] in COMPILED:
            r["tier"] = "eager"
    return rows


def own_copy(f):
    """A new function object calling ``f``: the compiled tier keys its programs by function, so
    each mode (or probe) that gets its own copy pays, and reports, its own trace and compile."""
    def f_copy(x):
        return f(x)
    return f_copy


def measure(f, x, *, problem="user", n=None, m=None, repeat=3, versions="") -> list[dict]:
    """Time the full Jacobian of ``f`` at ``x`` in the compiled tier, both modes; see the module
    docstring. Call it inside :func:`compare.common.timing.fixed_threads` as the eager timings are.

    Example:
        >>> import numpy as np
        >>> rows = measure(lambda x: np.sin(x) * x, np.ones(3), repeat=1)
        >>> [(r["mode"], r["tier"], r["compile_seconds"] > 0) for r in rows]
        [('forward-compiled', 'compiled', True), ('reverse-compiled', 'compiled', True)]
    """
    x = as_primal(x, "x")
    n = x.size if n is None else n
    m = np.asarray(f(x)).size if m is None else m
    rows = []
    jacobians = {
        "forward": (auto_chunk(x.size),
                    lambda k: dualad.jacfwd(own_copy(f), chunk=k, compiled=True)),
        "reverse": (auto_chunk(max(m, 1)),
                    lambda k: revad.jacrev(own_copy(f), chunk=k, compiled=True)),
    }
    for mode, (k, make) in jacobians.items():
        jac = make(k)
        # the whole program is built at the first call, so the first call is the compile
        with whole_after(1):
            best, first = best_of(lambda: jac(x), repeat, min_seconds=GRID_SECONDS)
        rows.append(dict(problem=problem, mode=COMPILED[mode], n=n, m=m, chunk=k,
                         chunk_rule="auto", phase="jacobian", seconds=best, repeat=repeat,
                         first_call_seconds=first, peak_bytes="", tape_bytes="",
                         versions=versions, tier="compiled",
                         compile_seconds=max(first - best, 0.0)))
    return rows


def payoff(t_eager: float, t_compiled: float, compile_seconds: float):
    """Calls after which the compiled tier's total time (compile + calls x t_compiled) is below
    the eager tier's (calls x t_eager); None when the compiled call is not faster.

    >>> payoff(2.1e-3, 0.3e-3, 1.2)
    667
    """
    if t_compiled >= t_eager:
        return None
    return max(1, math.ceil(compile_seconds / (t_eager - t_compiled)))
