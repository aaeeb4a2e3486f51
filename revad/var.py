"""Var: a traced array of reverse mode, recording each op on its tape.

Contract: a :class:`Var` holds a primal ``x: (*shape)``, its :class:`~revad.tape.Tape` and its
entry index. Applying an op of :mod:`adops` computes ``out, lin = op.linearize(...)`` and
pushes ``lin`` on the tape; the sweep later calls ``lin.vjp(out_bar)`` with cotangents
``(m, *out.shape)``. This module holds no derivative maths.
"""
from __future__ import annotations

import numpy as np

from adops import Traced
from .tape import Const


class Var(Traced):
    """An array traced on a tape (create them with :meth:`Tape.leaf` or the revad transforms).

    Example:
        >>> import numpy as np
        >>> from revad import Tape
        >>> x = Tape().leaf(np.array(3.0))
        >>> (x * x).primal
        array(9.)
    """

    __slots__ = ("tape", "index", "primal")
    _mode = "reverse mode (revad)"

    def __init__(self, tape, index, primal):
        self.tape, self.index, self.primal = tape, index, primal

    @property
    def _primal(self):
        return self.primal

    @classmethod
    def _bind(cls, op, args, params):
        tape, refs, values = _refs(args)
        out, lin = op.linearize(*values, **params)
        return Var(tape, tape.push(op, params, refs, lin, out), out)

    @classmethod
    def _nondiff(cls, func, args, kwargs):
        tape, refs, values = _refs(args)
        kwargs = {k: (v.primal if isinstance(v, Var) else v) for k, v in kwargs.items()}
        result = func(*values, **kwargs)
        tape.guard(func, refs, kwargs, result)
        return result

    def __bool__(self):
        result = bool(self.primal)
        self.tape.guard(_truth, (self.index,), {}, result)
        return result

    def _assign(self, new):
        if isinstance(new, Var):
            self.tape, self.index, self.primal = new.tape, new.index, new.primal
        else:
            self.index = self.tape.push(_CONSTANT, {"value": new}, (), None, new)
            self.primal = new

    def __repr__(self):
        return f"Var({self.primal!r}, entry {self.index})"


def _truth(x):
    return bool(x)


class _ConstantOp:
    """A tape entry holding a constant (``x[:] = 0`` made a Var constant); no derivative."""

    name = "constant"

    @staticmethod
    def linearize(value):
        return value, None


_CONSTANT = _ConstantOp()


def _refs(args):
    tape, refs, values = None, [], []
    for a in args:
        if isinstance(a, Var):
            if tape is None:
                tape = a.tape
            elif a.tape is not tape:
                raise ValueError(
                    "this operation mixes Vars from two different tapes (two separate "
                    "vjp/grad traces); compute everything inside one traced function, and pass "
                    "values from another trace as plain arrays")
            refs.append(a.index)
            values.append(a.primal)
        else:
            refs.append(Const(a))
            values.append(a)
    return tape, tuple(refs), values
