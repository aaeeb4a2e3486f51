"""The one reverse sweep (mode-neutral: it walks any linearizing :class:`Tape`; reverse mode
(:mod:`revad`) uses it, and so do ops of :mod:`adops` that need a VJP of a user function inside
their own rule, such as ``adops.scipy.integrate.odeint(..., adjoint=True)``).

Contract: given a tape, an output entry ``out`` and cotangent seeds ``out_bar: (m, *out_shape)``
(m seeds at once: vector reverse mode), return ``x_bar: (m, *x_shape)`` for each requested entry,
where ``x_bar[j] = out_bar[j]^T d out / d x``. The sweep walks the tape backwards once, iteratively
(no recursion, so a chain of a million ops works), calls each entry's ``lin.vjp`` and accumulates
at one point, which undoes broadcasting (``adops.unbroadcast``) there and nowhere else. Cotangents
of entries that are done are freed as the sweep passes them.
"""
from __future__ import annotations

import numpy as np

from ..core.fpstate import quiet
from ..core.kernels import unbroadcast
from .tape import Tape


def backward(tape: Tape, out: int, out_bar, wrt, lins=None) -> list:
    """Cotangents ``(m, *shape)`` of the entries ``wrt`` (None where no path leads to them).

    ``lins`` are the linearizations to sweep (a replay's); by default the recorded ones."""
    return sweep(tape, {out: out_bar}, wrt, lins)


def sweep(tape: Tape, seeds: dict, wrt, lins=None) -> list:
    """As :func:`backward`, with several seeded entries ``{entry: out_bar (m, *shape)}`` at once
    (a function with several outputs)."""
    with quiet():
        return _sweep(tape, seeds, wrt, lins=lins)


def _sweep(tape, seeds, wrt, order=None, lins=None):
    out = max(seeds)
    bars = [None] * (out + 1)
    owned = bytearray(out + 1)
    for entry, bar in seeds.items():
        bars[entry] = bar
    keep = set(wrt)
    lins = tape.lins if lins is None else lins
    refs, shapes = tape.refs, tape.shapes
    for i in range(out, -1, -1):
        bar = bars[i]
        if bar is None:
            continue
        lin = lins[i]
        if lin is None:
            continue
        if order is not None:
            order.append(i)
        rs = refs[i]
        if len(rs) == 1 and type(rs[0]) is int and type(bar) is np.ndarray and \
                getattr(getattr(lin, "op", None), "transpose_add", None) is not None:
            # a slice's cotangent is added into the parent's in place, not scattered into zeros
            r = rs[0]
            if bars[r] is None:
                bars[r], owned[r] = np.zeros(bar.shape[:1] + shapes[r], dtype=bar.dtype), 1
            if owned[r] and type(bars[r]) is np.ndarray and bars[r].dtype == bar.dtype and \
                    lin.vjp_add(bars[r], bar):
                if i not in keep:
                    bars[i] = None
                continue
        for r, c in zip(rs, lin.vjp(bar, [type(r) is int for r in rs])):
            if c is None or type(r) is not int:
                continue
            c = unbroadcast(c, shapes[r])
            prev = bars[r]
            if prev is None:
                bars[r] = c
            elif owned[r] and type(prev) is np.ndarray and type(c) is np.ndarray and \
                    prev.dtype == np.result_type(prev, c):
                np.add(prev, c, out=prev)
            else:
                bars[r] = prev + c
                owned[r] = 1
        if i not in keep:
            bars[i] = None
    if order is not None:
        return bars + [None] * (len(tape) - len(bars))
    return [bars[w] if w <= out else None for w in wrt]


def adjoints(tape: Tape, out: int, out_bar: np.ndarray):
    """Every entry's cotangent (not just the leaves'), and the order the sweep visits them.

    For teaching views: returns ``(bars, order)`` where ``bars[i]`` is ``(m, *shape_i)`` or None
    and ``order`` lists the entries whose ``lin.vjp`` ran, in sweep order.
    """
    order = []
    with quiet():
        bars = _sweep(tape, {out: out_bar}, range(len(tape)), order)
    return bars, order
