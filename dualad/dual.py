"""Dual numbers with k tangent directions at once (chunked forward mode, as in ForwardDiff.jl).

Contract: a :class:`Dual` holds a primal ``x: (*shape)`` and a tangent ``x_dot: (k, *shape)``,
the directional derivatives of ``x`` along k input directions. Applying any op of :mod:`adops`
gives ``out`` and ``out_dot = lin.jvp(x_dots): (k, *out.shape)``: one pass pushes all k
directions, fused with the primal in the op's kernels. This module holds no derivative maths.
"""
from __future__ import annotations

import numpy as np

from adops import Traced
from adops.numpy_api import primal


class Dual(Traced):
    """A primal array and its tangents along k directions.

    Example:
        >>> import numpy as np
        >>> x = Dual(np.array([1.0, 2.0]), np.array([[1.0, 0.0]]))
        >>> y = np.sin(x) * x
        >>> y.tangent.shape
        (1, 2)
    """

    __slots__ = ("primal", "tangent")
    _mode = "forward mode (dualad)"

    def __init__(self, primal: np.ndarray, tangent: np.ndarray):
        self.primal, self.tangent = primal, tangent

    @property
    def _primal(self):
        return self.primal

    @classmethod
    def _bind(cls, op, args, params):
        out, lin = op.linearize(*[primal(a) for a in args], **params)
        out_dot = lin.jvp([a.tangent if isinstance(a, Dual) else None for a in args])
        if out_dot is None:
            return out
        return cls(out, out_dot)

    def _assign(self, new):
        if isinstance(new, Dual):
            self.primal, self.tangent = new.primal, new.tangent
        else:
            self.primal, self.tangent = new, np.zeros((self.tangent.shape[0],) + new.shape,
                                                      dtype=new.dtype)

    def __repr__(self):
        return f"Dual(primal={self.primal!r}, tangent shape={self.tangent.shape})"
