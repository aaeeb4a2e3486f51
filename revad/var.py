"""Var: a traced array of reverse mode, recording each op on its tape.

Contract: a :class:`Var` holds a primal ``x: (*shape)`` (itself traced by a lower level when
transforms nest), its :class:`~revad.tape.Tape` and its entry index; its level is the tape's.
Applying an op of :mod:`adops` computes ``out, lin = op.linearize(...)`` and pushes ``lin`` on the
tape; the sweep later calls ``lin.vjp(out_bar)`` with cotangents ``(m, *out.shape)``. Values of
other levels are constants of the tape. This module holds no derivative maths.
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

    __slots__ = ("tape", "index", "primal", "level")
    _mode = "reverse mode (revad)"

    def __init__(self, tape, index, primal):
        self.tape, self.index, self.primal, self.level = tape, index, primal, tape.level
        self._view, self._version = None, 0

    @property
    def _primal(self):
        return self.primal

    @classmethod
    def _bind(cls, op, args, params, level):
        tape, refs, values = _refs(args, level)
        out, lin = op.linearize(*values, **params)
        return Var(tape, tape.push(op, params, refs, lin, out), out)

    @classmethod
    def _nondiff(cls, func, args, kwargs, level):
        tape, refs, values = _refs(args, level)
        kwargs = {k: (v.primal if v.__class__ is Var and v.level is level else v)
                  for k, v in kwargs.items()}
        result = func(*values, **kwargs)
        if tape is not None:
            tape.guard(func, refs, kwargs, result)
        return result

    def __bool__(self):
        if self._view is not None:
            self._refresh()
        result = bool(self.primal)
        self.tape.guard(_truth, (self.index,), {}, result)
        return result

    def _assign(self, new):
        if new.__class__ is Var and new.level is self.level:
            self.tape, self.index, self.primal = new.tape, new.index, new.primal
        else:
            new = new if isinstance(new, Traced) else np.asarray(new)
            self.index = self.tape.push(CONSTANT, {"value": new}, (), None, new)
            self.primal = new

    def _copy(self):
        return Var(self.tape, self.index, self.primal)

    def _constant_like(self, value):
        return Var(self.tape, self.tape.push(CONSTANT, {"value": value}, (), None, value), value)

    def __repr__(self):
        return f"Var({self.primal!r}, entry {self.index}, level {self.level.number})"


def _truth(x):
    return bool(x)


class _ConstantOp:
    """A tape entry holding a constant (``x[:] = 0`` made a Var constant); no derivative."""

    name = "constant"

    @staticmethod
    def linearize(value):
        return value, None


CONSTANT = _ConstantOp()


def _refs(args, level):
    """The tape of ``level``, and each argument as an entry index (a Var of this level) or a
    :class:`Const` (anything else, including values traced by other levels)."""
    tape, refs, values = None, [], []
    for a in args:
        if a.__class__ is Var and a.level is level:
            tape = a.tape
            refs.append(a.index)
            values.append(a.primal)
        else:
            refs.append(Const(a))
            values.append(a)
    return tape, tuple(refs), values
