"""Elementwise numpy functions that need more than their op: ``power``, ``where``, ``clip``,
``round``. Each handler binds an elementwise op or composes them; no derivative formula here.

Conventions: ``x**2`` is the ``square`` op (exact, one kernel cheaper than ``power``); ``where``
evaluates a traced condition on primals (reverse mode records the mask for replay); ``clip`` is
``minimum(maximum(x, a_min), a_max)``, so its ties follow theirs.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase, bind
from ..ops.registry import OPS
from .routes import implements

SQUARE, POWER, WHERE = OPS["square"], OPS["power"], OPS["where"]


@implements(np.power)
def _power(cls, a, b):
    # x**2 is the most common power: the square op is exact and one kernel cheaper
    if not isinstance(b, TracedBase) and np.ndim(b) == 0 and float(b) == 2.0:
        return bind(SQUARE, a)
    return bind(POWER, a, b)


@implements(np.where)
def _where(cls, cond, a=None, b=None):
    if isinstance(cond, TracedBase):
        # through the non-differentiable route, so reverse mode records the mask for replay
        cond = np.not_equal(cond, 0)
    if a is None and b is None:
        return np.nonzero(cond)
    return bind(WHERE, np.asarray(cond).astype(bool), a, b)


@implements(np.clip)
def _clip(cls, x, a_min=None, a_max=None, **kw):
    a_min = kw.pop("min", a_min)
    a_max = kw.pop("max", a_max)
    if a_min is not None:
        x = np.maximum(x, a_min)
    if a_max is not None:
        x = np.minimum(x, a_max)
    return x


@implements(np.round, np.around)
def _round(cls, x, decimals=0):
    if decimals == 0:
        return np.rint(x)
    scale = 10.0 ** decimals
    return np.rint(x * scale) / scale
