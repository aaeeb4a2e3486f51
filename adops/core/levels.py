"""Transform levels: what lets transforms nest without confusing their perturbations.

Every transform call (a ``jvp``, one sweep of ``jacfwd``, a ``grad``, a ``vjp`` trace...) opens a
:class:`Level` with a number larger than every level opened before it. A traced value carries the
level that made it. When an op meets traced values of several levels, the *highest* level binds
it and treats the others as constants, whose own values may be traced by lower levels (JAX's
trace levels, ForwardDiff's tags). Its linearization then runs numpy code on those lower-level
values, which the lower levels differentiate in turn. So an inner derivative never takes an outer
perturbation for its own: d/dx [x * d/dy (x + y)] = 1, in every composition of the two modes.

A level closes when its transform returns. A traced value of a closed level (stored in a list or
on an object during an earlier call) raises :class:`LeakedTracer` when used, never a stale
derivative.

Contract: :func:`bind` ``(op, *args, **params)`` applies an op of :mod:`adops` to any mix of
plain and traced arguments; with no traced argument it is the op's plain value.
"""
from __future__ import annotations

import itertools

_numbers = itertools.count(1)


class LeakedTracer(RuntimeError):
    """A traced value was used after the transform that made it had returned."""


class TracedBase:
    """Base of every traced value (``adops.Traced``); defined here so that the op machinery can
    recognise traced values without importing the numpy protocol code."""

    __slots__ = ()


class Level:
    """One transform call's level. ``with Level('grad') as level:`` opens and closes it.

    Example:
        >>> a, b = Level("jvp"), Level("grad")
        >>> b.number > a.number, a.active
        (True, True)
        >>> a.close(); a.active
        False
    """

    __slots__ = ("number", "active", "name")

    def __init__(self, name: str):
        self.number, self.active, self.name = next(_numbers), True, name

    def close(self):
        self.active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.active = False

    def __repr__(self):
        return f"<level {self.number} ({self.name}){'' if self.active else ' closed'}>"


def leaked(value) -> LeakedTracer:
    return LeakedTracer(
        f"a traced {type(value).__name__} made by {value.level.name} (level {value.level.number}) "
        "was used after that transform returned: it leaked out of the function being "
        "differentiated (kept in a list, a global or an attribute). Its derivative belongs to "
        "the finished call; return the value from the function instead, or recompute it inside "
        "the new transform")


def top_tracer(args):
    """The traced value of the highest open level among ``args`` (None when all are plain).

    Views whose base was written since they were taken are brought up to date first (numpy's
    aliasing, see :mod:`adops.numpy_api.traced`)."""
    top = None
    for a in args:
        if isinstance(a, TracedBase):
            if not a.level.active:
                raise leaked(a)
            if a._view is not None:
                a._refresh()
            if top is None or a.level.number > top.level.number:
                top = a
    return top


def is_traced(x) -> bool:
    return isinstance(x, TracedBase)


def any_traced(xs) -> bool:
    for x in xs:
        if isinstance(x, TracedBase):
            return True
    return False


def bind(op, *args, **params):
    """Apply ``op`` to ``args`` (plain or traced, any levels) with ``params``.

    Example:
        >>> import numpy as np, adops
        >>> bind(adops.OPS["sin"], np.zeros(2)).tolist()
        [0.0, 0.0]
    """
    top = top_tracer(args)
    if top is None:
        return op.value(*args, **params)
    return type(top)._apply(op, args, params, top.level)
