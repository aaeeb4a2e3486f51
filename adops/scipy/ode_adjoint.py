"""``odeint(..., adjoint=True)``: the continuous adjoint method (Chen et al. 2018, as in JAX's
``jax.experimental.ode.odeint``), reverse mode's memory flat in the number of steps.

The solve is one op (a :class:`adops.ops.kinds.RuleOp`, not registered in the op table: it is
reached only through ``odeint``) with inputs ``y0``, ``t`` and the traced top-level entries of
``args``. Reverse mode records it as one tape entry whose residuals are the inputs and the
solution at the output times, ``O(len(t) * y0.size)``, whatever the number of accepted steps.
Its transpose integrates, interval by interval from ``t[-1]`` back to ``t[0]``, the augmented
system (in forward time)::

    y' = f(y, t),    a' = -a df/dy,    g' = -a df/dp

with the same adaptive solver and tolerances, ``m`` cotangents at once (``a: (m, n)``). The
state ``y`` restarts at every ``t[i]`` from the stored forward solution (a *checkpointed*
adjoint: re-integrating ``y`` backward over the whole span is unstable for dissipative
systems). At ``t[i]`` (``i > 0``) the output's cotangent is added to ``a``; ``a`` at ``t[0]``
is ``y0``'s cotangent (plus ``t[0]``'s output cotangent); ``g`` integrates the parameters';
the output times' cotangents are ``ybar_i . f(y_i, t_i)`` for ``i > 0`` and ``-a(t0) .
f(y0, t0)`` for ``t[0]`` (moving ``t0`` moves the start of the trajectory: exact, also for a
non-autonomous ``f``). The result agrees with differentiating the accepted steps
(``adjoint=False``) to the solver's tolerance, not to rounding: it is the derivative of the
true solution, computed by another integration.

**The VJP of ``func``** inside the backward integration (``a df/dy`` and ``a df/dp`` at a
state): ``func`` runs on values traced on a fresh mode-neutral tape
(:class:`adops.program.Trace`, a level of its own) and :func:`adops.program.sweep.sweep`, the one
reverse sweep, pulls the ``m`` cotangents back. The sweep reads only an adops ``Tape`` and its
entries' linearizations, so it lives in :mod:`adops.program` (``revad.backward`` re-exports it)
and no registration hook from ``revad`` is needed: ``adops`` imports no mode, and nothing here
is per-call mutable state.

**Where it applies.** ``odeint`` binds this op only when reverse mode is the one transform
tracing its inputs (``revad.grad``, ``vjp``, ``jacrev``, ``record``). Forward mode alone
(``dualad``) takes the replay of the accepted steps (the tangent system on the same steps:
forward mode's memory does not grow anyway). Reverse mode together with another transform
(a Hessian, any nesting with reverse mode) is refused with an error naming ``adjoint=False``,
which differentiates the accepted steps to any order: the transpose here is numpy on plain
values. Parameters must come in through ``args`` as top-level entries: a ``func`` closing over a
traced value, or a traced value inside a list in ``args``, would lose its gradient, so both are
refused with the way out named. The op's own ``jvp`` (read only by tools that push tangents
through reverse mode's tape, such as the teaching views) is the transpose of the adjoint:
the full Jacobian from ``len(t) * y0.size`` adjoint seeds, for small problems.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase, any_traced, bind
from ..ops.kinds import RuleOp
from ..program.sweep import sweep
from ..program.tape import Recorded, Trace
from .dopri import as_state, bottom, deep_bottom, solve

__all__ = ["adjoint_route", "adjoint_odeint", "probe", "SECOND_ORDER"]

SECOND_ORDER = (
    "odeint(adjoint=True) differentiates in reverse mode, first order only: here reverse mode "
    "meets another transform (a Hessian, or a transform nested with reverse mode); use "
    "adjoint=False, which differentiates the accepted steps to any order")


def _tracers(x, out):
    if isinstance(x, (list, tuple)):
        for v in x:
            _tracers(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _tracers(v, out)
    else:
        while isinstance(x, TracedBase):
            out.append(x)
            x = x._primal
    return out


def adjoint_route(values) -> str:
    """``'plain'``, ``'reverse'`` (reverse mode the one transform: the adjoint op), ``'forward'``
    (no reverse mode: the replay) or ``'mixed'`` (reverse mode with another transform)."""
    tracers = _tracers(values, [])
    if not tracers:
        return "plain"
    reverse = [x for x in tracers if isinstance(x, Recorded) and x.tape.linearize]
    if not reverse:
        return "forward"
    if len({id(x.level) for x in tracers}) == 1:
        return "reverse"
    return "mixed"


def adjoint_odeint(func, y0, t, args, options, closure):
    """The solution at ``t`` as one op reverse mode records (see the module docstring);
    ``closure``: whether ``func`` on plain values returned a traced value (:func:`probe`)."""
    if isinstance(y0, (list, tuple)):
        y0 = as_state(y0, None)
    slots, dyn = [], []
    for j, a in enumerate(args):
        if isinstance(a, TracedBase):
            slots.append(j)
            dyn.append(a)
        elif _tracers(a, []):
            raise ValueError(
                f"odeint(adjoint=True): args[{j}] holds traced values inside a "
                f"{type(a).__name__}; pass each differentiated array as a top-level entry of "
                "args (args=(W, b)), or use adjoint=False")
    if closure:
        raise ValueError(
            "odeint(adjoint=True): func closes over a traced value, whose gradient the adjoint "
            "method cannot see; pass it through args (odeint(f, y0, t, args=(k,)) with "
            "f(y, t, k)), or use adjoint=False")
    static = tuple(None if j in slots else a for j, a in enumerate(args))
    return bind(ADJOINT, y0, t, *dyn, func=func, options=options, static=static,
                slots=tuple(slots))


def probe(func, y0, t, args, tfirst):
    """``func`` at ``(y0, t[0])`` on the plain values of the inputs: traced only when ``func``
    closes over a traced value."""
    plain = tuple(deep_bottom(a) for a in args)
    y, t0 = np.asarray(deep_bottom(y0), dtype=np.float64), bottom(t)[0]
    return func(t0, y, *plain) if tfirst else func(y, t0, *plain)


def args_with(static, slots, values):
    args = list(static)
    for j, v in zip(slots, values):
        args[j] = v
    return tuple(args)


def _primal(y0, t, *dyn, func, options, static, slots):
    return solve(func, np.asarray(y0, dtype=np.float64), np.asarray(t, dtype=np.float64),
                 args_with(static, slots, dyn), **options)[0]


def _vjp_of_func(func, shape, args, slots, wanted, tfirst):
    """``(f(y, s), [a df/dy, a df/dp_j for the wanted slots])`` for ``a: (m, n)``, flat."""
    n = int(np.prod(shape))

    def g(y, *ps):
        full = args_with(args, [slots[j] for j in wanted], ps)
        r = func(s_now[0], y, *full) if tfirst else func(y, s_now[0], *full)
        return as_state(r, shape)

    s_now = [0.0]
    sizes = [int(np.size(args[slots[j]])) for j in wanted]

    def vjp(y, s, a):
        s_now[0] = s
        m = a.shape[0]
        leaves = (y.reshape(shape),) + tuple(np.asarray(args[slots[j]], dtype=np.float64)
                                              for j in wanted)
        tr = Trace(g, leaves, {}, tuple(range(len(leaves))), "odeint's adjoint (a VJP of func)")
        fy = np.asarray(tr.values[0], dtype=np.float64).ravel()
        if tr.outs[0] is None:
            bars = [None] * len(leaves)
        else:
            bars = sweep(tr.tape, {tr.outs[0]: a.reshape((m,) + tuple(shape))}, tr.leaves)
        flat = [np.zeros((m, k)) if b is None else np.asarray(b, dtype=np.float64).reshape(m, k)
                for b, k in zip(bars, [n] + sizes)]
        return fy, flat
    return vjp, sizes


def _vjp_rule(out_bar, xs, out, res, needed, func, options, static, slots):
    if any_traced((out_bar, out) + tuple(xs)):
        raise NotImplementedError(SECOND_ORDER)
    y0, t, dyn = np.asarray(xs[0], dtype=np.float64), np.asarray(xs[1], dtype=np.float64), xs[2:]
    shape, n, nt, m = y0.shape, y0.size, len(t), out_bar.shape[0]
    ys = np.asarray(out, dtype=np.float64).reshape(nt, n)
    bar = np.asarray(out_bar, dtype=np.float64).reshape(m, nt, n)
    args = args_with(static, slots, [np.asarray(d, dtype=np.float64) for d in dyn])
    wanted = [j for j in range(len(dyn)) if needed[2 + j]]
    vjp, sizes = _vjp_of_func(func, shape, args, slots, wanted, options["tfirst"])
    solve_options = dict(options, tfirst=False)

    def f(y, s):
        r = func(s, y.reshape(shape), *args) if options["tfirst"] else func(y.reshape(shape), s,
                                                                           *args)
        return np.asarray(as_state(r, shape), dtype=np.float64).ravel()

    def augmented(z, s):
        fy, bars = vjp(z[:n], s, z[n:n + m * n].reshape(m, n))
        return np.concatenate([fy] + [-b.ravel() for b in bars])

    a = bar[:, -1].copy()
    gs = np.zeros(m * sum(sizes))
    t_bar = np.zeros((m, nt))
    for i in range(nt - 1, 0, -1):
        if needed[1]:
            t_bar[:, i] = bar[:, i] @ f(ys[i], t[i])
        if t[i] != t[i - 1]:
            z0 = np.concatenate([ys[i], a.ravel(), np.zeros_like(gs)])
            z = solve(augmented, z0, np.array([t[i], t[i - 1]]), (), **solve_options)[0][-1]
            a = z[n:n + m * n].reshape(m, n)
            gs = gs + z[n + m * n:]
        if i > 1:
            a = a + bar[:, i - 1]
    if needed[1] and nt > 1:
        t_bar[:, 0] = -(a @ f(ys[0], t[0]))
    y0_bar = (a + bar[:, 0]) if nt > 1 else bar[:, 0]
    x_bars = [y0_bar.reshape((m,) + shape) if needed[0] else None,
              t_bar if needed[1] else None] + [None] * len(dyn)
    start = 0
    for j, k in zip(wanted, sizes):
        x_bars[2 + j] = gs[start * m:(start + k) * m].reshape((m,) + np.shape(dyn[j]))
        start += k
    return x_bars


def _jvp_rule(x_dots, xs, out, res, **params):
    """The transpose of the adjoint: the full Jacobian (small problems; see the docstring)."""
    size = int(np.size(out))
    eye = np.eye(size).reshape((size,) + tuple(np.shape(out)))
    bars = _vjp_rule(eye, xs, out, res, [d is not None for d in x_dots], **params)
    total = None
    for d, b in zip(x_dots, bars):
        if d is not None:
            term = np.reshape(d, (d.shape[0], -1)) @ np.reshape(b, (size, -1)).T
            total = term if total is None else total + term
    return np.reshape(total, (total.shape[0],) + tuple(np.shape(out)))


ADJOINT = RuleOp("odeint_adjoint", _primal, _jvp_rule, _vjp_rule,
                 doc="odeint's solve, differentiated by the continuous adjoint method")
