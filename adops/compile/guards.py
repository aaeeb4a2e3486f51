"""Guards inside whole-program code: the comparisons and masks a trace recorded, re-evaluated.

Contract. A trace records a guard for each non-differentiable call on traced values (``x > 0``,
``np.isnan(x)``, ``bool(x)``...): the function, its arguments and the result it gave
(:class:`adops.program.tape.Guard`). The program is right only while every guard gives the
same result. :class:`GuardStep` emits that check as numba code at the point its inputs exist:
``ok &= same(np.greater(a, b), recorded)``. The caller reads ``ok`` and traces again when it is
False (:class:`adops.program.BranchChanged`), so a stale program is never used. Functions with
no numba form here (:data:`UFUNCS`, truth, a function declaring a
:class:`~adops.ops.kinds.MatrixCall` as ``func.matrix``: ``slogdet``'s sign) make the program keep
its Python driver.
"""
from __future__ import annotations

import numpy as np

from ..program.tape import truth
from .forms import Unsupported, entry_ids
from .matrixforms import MatrixLoop

#: ufuncs a guard may call inside numba (comparisons and predicates numba compiles)
UFUNCS = frozenset(["greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
                    "isnan", "isinf", "isfinite", "signbit", "logical_not", "logical_and",
                    "logical_or"])


class GuardStep:
    """One recorded guard as a check of ``ok`` (see module doc)."""

    def __init__(self, whole, guard, view):
        prog, t = whole.prog, whole.tables
        func, result = guard.func, np.asarray(guard.result)
        self.lines = []
        if func is truth and len(view.refs) == 1 and type(view.refs[0]) is int:
            r = view.refs[0]
            self.lines.append(f"ok &= (v{r}[0] != 0) == {bool(result)}")
            return
        name = getattr(func, "__name__", None)
        spec = getattr(func, "matrix", None)
        if spec is not None and not guard.kwargs and \
                all(type(r) is int for r in view.refs):
            shapes = [tuple(prog.shapes[r]) for r in view.refs]
            now = f"guard{len(t.slots)}"  # a name no other guard of the program takes
            loop = MatrixLoop(t, now, spec, shapes, [prog.dtypes[r] for r in view.refs],
                              result.dtype, name, ())
            self.lines += [line.replace("{out}", now)
                           for line in loop.lines([f"v{r}" for r in view.refs])]
            self.lines.append(f"ok &= same({now}, {t.array(result.reshape(-1))})")
            return
        if not isinstance(func, np.ufunc) or name not in UFUNCS or guard.kwargs or \
                result.dtype != np.bool_:
            raise Unsupported(f"a guard by {name or func!r}")
        args = []
        for r in view.refs:
            if type(r) is int:
                shape, read = tuple(prog.shapes[r]), f"v{r}"
            else:
                value = np.asarray(r.value)
                shape, read = value.shape, t.array(value.reshape(-1))
            if shape != result.shape and int(np.prod(shape, dtype=np.int64)) != 1:
                padded = (1,) * (result.ndim - len(shape)) + shape
                ids = np.broadcast_to(entry_ids(shape).reshape(padded), result.shape).ravel()
                read = f"gather({read}.reshape((1, {read}.shape[0])), {t.array(ids)})[0]"
            args.append(read)
        recorded = t.array(result.reshape(-1))
        self.lines.append(f"ok &= same(np.{name}({', '.join(args)}), {recorded})")

    def touches(self, depends):
        return False

    def defines(self):
        return []

    def passes(self):
        return None, None  # defines no value

    def value(self, src):
        for line in self.lines:
            src(line, 1)
