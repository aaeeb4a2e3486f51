"""Dual numbers with k tangent directions at once (chunked forward mode, as in ForwardDiff.jl).

Contract: a :class:`Dual` holds a primal ``x: (*shape)``, a tangent ``x_dot: (k, *shape)`` (the
directional derivatives of ``x`` along k input directions) and the :class:`~adops.core.levels.Level`
of the transform that made it. Applying any op of :mod:`adops` gives ``out`` and
``out_dot = lin.jvp(x_dots): (k, *out.shape)``: one pass pushes all k directions. Values of other
levels are constants here (their tangent is None), so nested transforms never confuse their
perturbations; a primal or tangent may itself be traced by a lower level. This module holds no
derivative maths.
"""
from __future__ import annotations

import numpy as np

from adops import Traced
from adops.core.levels import Level


class Dual(Traced):
    """A primal array and its tangents along k directions, at one transform level.

    Example:
        >>> import numpy as np
        >>> x = Dual(np.array([1.0, 2.0]), np.array([[1.0, 0.0]]), Level("example"))
        >>> y = np.sin(x) * x
        >>> y.tangent.shape
        (1, 2)
    """

    __slots__ = ("primal", "tangent", "level")
    _mode = "forward mode (dualad)"

    def __init__(self, primal, tangent, level: Level):
        self.primal, self.tangent, self.level = primal, tangent, level
        self._view, self._version = None, 0

    @property
    def _primal(self):
        return self.primal

    @classmethod
    def _bind(cls, op, args, params, level):
        xs, ts = [], []
        for a in args:
            if a.__class__ is cls and a.level is level:
                xs.append(a.primal)
                ts.append(a.tangent)
            else:
                xs.append(a)
                ts.append(None)
        out, lin = op.linearize(*xs, **params)
        out_dot = lin.jvp(ts)
        if out_dot is None:
            return out
        return cls(out, out_dot, level)

    def _zero_tangent(self, value):
        return np.zeros((self.tangent.shape[0],) + tuple(value.shape), dtype=value.dtype)

    def _assign(self, new):
        if new.__class__ is Dual and new.level is self.level:
            self.primal, self.tangent = new.primal, new.tangent
        else:
            new = new if isinstance(new, Traced) else np.asarray(new)
            self.primal, self.tangent = new, self._zero_tangent(new)

    def _copy(self):
        return Dual(self.primal, self.tangent, self.level)

    def _constant_like(self, value):
        return Dual(value, self._zero_tangent(value), self.level)

    def __repr__(self):
        return (f"Dual(primal={self.primal!r}, tangent shape={self.tangent.shape}, "
                f"level={self.level.number})")
