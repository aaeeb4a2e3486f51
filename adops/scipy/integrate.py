"""``adops.scipy.integrate.odeint``: scipy's ``odeint`` signature, an adaptive Dormand-Prince
5(4) solver, differentiable in both modes with respect to ``y0``, the arrays in ``args`` and ``t``.

How it is differentiated (the design, and why here):

1. **Plan** (untraced): the adaptive Dormand-Prince loop runs on the plain values of ``y0``,
   ``t`` and ``args``. Step acceptance and step sizes are decided on floats, so no step decision
   becomes a guard of its own; what comes out is the grid of accepted steps, as fractions of
   each output interval ``[t[i-1], t[i]]``. The plan is one non-differentiable call
   (:func:`adops.dispatch.nondiff_call`), so reverse mode records the grid as a single replay
   guard: a replay (``revad.record``) or a compiled program at another input re-plans and, if
   the grid differs, records or traces again: it never reuses step sizes chosen for another
   input.
2. **Replay** (traced): the same Dormand-Prince steps are taken on the traced values, with the
   grid's fractions as constants (step ``h_j = (s_{j+1} - s_j) (t[i] - t[i-1])``, so ``t`` is
   differentiable too). This is plain numpy code calling ``func``, so both modes, and their
   nestings (Hessians), differentiate it with no formula written here. Forward mode through
   these steps *is* the integration of the tangent (sensitivity) system ``d/dt ydot =
   J_f ydot + f_p pdot`` by the same Runge-Kutta scheme on the same steps; reverse mode through
   them is the discrete adjoint of the accepted steps (exact for the computed solution, which
   is within the tolerance of the true one).

``func`` may close over traced values (``lambda y, t: -k * y`` with ``k`` differentiated):
``f0 = func(y0, t[0])`` then is traced and takes part in the guard. A replay of such a
recording at another input cannot plan new steps (``func`` holds the recorded call's values)
and raises ``BranchChanged`` (``revad.record(..., rerecord=True)`` records again); parameters
passed through ``args`` have no such limit, and the plan then runs on plain values only (a
closure also records the planning run's operations on reverse mode's tape). The compiled tier
runs ``odeint`` calls eagerly (a compiled program would be compiled again for each new grid).

``adops`` may not import ``dualad`` or ``revad``, and this design needs neither: ``func`` is run
on whatever traced values come in. Reverse mode's memory here grows with the number of accepted
steps, each holding ``func``'s record for 6 stages.

3. **``adjoint=True``** (:mod:`adops.scipy.ode_adjoint`): under reverse mode alone, the solve is
   one op whose transpose integrates the adjoint system ``a' = -a df/dy``, ``g' = -a df/dp``
   backward (Chen et al. 2018, JAX's ``jax.experimental.ode.odeint``), restarting ``y`` from
   the stored solution at each output time (a checkpointed adjoint): reverse mode keeps
   ``O(len(t) * y0.size)``, whatever the number of steps, and a replay at another input simply
   solves again (no step grid to guard). Its gradients are those of the true solution, so they
   agree with ``adjoint=False``'s to the solver's tolerance, not to rounding. The VJP of
   ``func`` inside it comes from a fresh :class:`adops.program.Trace` swept by
   :func:`adops.program.sweep.sweep` (the one reverse sweep, mode-neutral). Forward mode alone
   takes the replay (2.); reverse mode nested with another transform (Hessians) is refused,
   naming ``adjoint=False``, which differentiates to any order; parameters must come through
   ``args`` (a closure over a traced value is refused: its gradient would be lost).

Stiff problems are out of scope: an explicit method needs tiny steps on them, and ``mxstep``
stops it with an :class:`ODEintError` naming the time reached and the step size, never a
silently truncated result. LSODA-specific options of scipy's ``odeint`` (``Dfun``,
``col_deriv``, ``ml``, ``mu``, ``ixpr``, ``mxhnil``, ``mxordn``, ``mxords``, ``printmessg``,
``tcrit``) are accepted and ignored. Array parameters in ``args`` must be top-level entries
(``args=(W, b)``), not inside a list or dict, to be differentiated.

Example:
    >>> import numpy as np, revad
    >>> t = np.array([0.0, 1.0, 2.0])
    >>> y = odeint(lambda y, t, k: -k * y, np.array([1.0]), t, args=(0.5,))
    >>> np.allclose(y[:, 0], np.exp(-0.5 * t))
    True
    >>> g = revad.grad(lambda k: odeint(lambda y, t, k: -k * y, np.array([1.0]), t,
    ...                                 args=(k,))[-1, 0])(0.5)
    >>> bool(np.isclose(g, -2.0 * np.exp(-1.0)))   # d/dk exp(-2k) = -2 exp(-2k)
    True
    >>> g = revad.grad(lambda k: odeint(lambda y, t, k: -k * y, np.array([1.0]), t,
    ...                                 args=(k,), adjoint=True)[-1, 0])(0.5)
    >>> bool(np.isclose(g, -2.0 * np.exp(-1.0)))   # the same, memory flat in the steps
    True
"""
from __future__ import annotations

import numpy as np

from ..numpy_api.dispatch import nondiff_call
from ..core.levels import LeakedTracer, TracedBase, any_traced
from .ode_adjoint import SECOND_ORDER, adjoint_odeint, adjoint_route, probe
from .dopri import (A, C, DEFAULT_MXSTEP, DEFAULT_TOL, ODEintError, as_state, bottom,  # noqa: F401
                    deep_bottom, solve)
from ..program import BranchChanged

__all__ = ["odeint", "ODEintError"]

def _plan(y0, t, f0, *args, func, options):
    """The grid of accepted steps (a replay guard under reverse mode; see the module doc), and
    the value of ``f0 = func(y0, t[0])``: values ``func`` closes over reach the guard through it
    (a replay where ``f0`` differs is refused too)."""
    if any_traced((y0, t, f0) + args):
        return nondiff_call(_plan, (y0, t, f0) + args, {"func": func, "options": options})
    plain = tuple(deep_bottom(a) for a in args)
    key = _plan_key(func, options, (y0, t, f0) + plain)
    if key is not None and key in _PLANS:
        return _PLANS[key][1]
    try:
        grids = solve(func, np.asarray(bottom(y0), dtype=np.float64),
                       np.asarray(bottom(t), dtype=np.float64), plain, **options)[1]
    except LeakedTracer:
        # a replay re-plans with func, which closes over a value traced by the recorded call
        raise BranchChanged(
            "replay: odeint's func closes over a value traced when the program was recorded, "
            "so the step sizes cannot be chosen again at the new input; record again "
            "(revad.record(f, x) or rerecord=True), or pass the value through odeint's args, "
            "which a replay can re-plan with") from None
    result = grids + (np.asarray(f0, dtype=np.float64),)
    if key is not None:
        _PLANS[key] = (func, result)  # func kept alive: its id cannot be reused meanwhile
        while len(_PLANS) > 8:
            _PLANS.pop(next(iter(_PLANS)))
    return result


#: The last few plans, by function and input values: a replay at the recorded point (or a
#: repeated call) finds its grid without solving again, also when func closes over values
#: traced by the recorded call (which cannot be evaluated again).
_PLANS: dict = {}


def _plan_key(func, options, values):
    parts = [id(func), tuple(sorted(options.items()))]
    for v in values:
        try:
            a = np.asarray(v)
        except TypeError:
            return None
        if a.dtype == object:
            return None
        parts.append((a.shape, a.dtype.str, a.tobytes()))
    return tuple(parts)


def _any_traced_deep(x):
    if isinstance(x, (list, tuple)):
        return any(_any_traced_deep(v) for v in x)
    if isinstance(x, dict):
        return any(_any_traced_deep(v) for v in x.values())
    return isinstance(x, TracedBase)


def _run_eagerly_if_compiled(values):
    """The compiled tier would compile a new program for every step grid (each new input):
    hand the call back to the eager tier, which the transforms do with the same numbers."""
    for v in values:
        while isinstance(v, TracedBase):
            tape = getattr(v, "tape", None)
            if tape is not None and tape.linearize is False:
                from ..compile import RunEagerly
                raise RunEagerly()
            v = v._primal


def odeint(func, y0, t, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None,
           rtol=None, atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0,
           mxhnil=0, mxordn=12, mxords=5, printmessg=0, tfirst=False, adjoint=False):
    """Integrate ``dy/dt = func(y, t, *args)`` from ``y(t[0]) = y0``; ``scipy.integrate.odeint``'s
    signature and result shape ``(len(t), *y0.shape)``.

    An adaptive Dormand-Prince 5(4) method (non-stiff problems) with the error per step below
    ``atol + rtol |y|`` (root mean square over components), landing exactly on each ``t[i]``.
    Differentiable in both modes, to any order, with respect to ``y0``, the arrays in ``args``
    and ``t`` (see the module docstring for how). ``mxstep`` (default 500) bounds the steps per
    output interval; exceeding it or a step size underflow raises :class:`ODEintError` with the
    time reached and the step size. ``full_output=True`` also returns a dict with ``nst`` (steps
    to each output time, cumulative), ``nfe`` (calls of ``func``) and ``message``.
    ``adjoint=True`` differentiates in reverse mode by the continuous adjoint method, memory
    flat in the number of steps (first order; differentiated parameters through ``args``); the
    default ``False`` differentiates the accepted steps, to any order.

    Example:
        >>> import numpy as np, dualad
        >>> t = np.linspace(0.0, 1.0, 3)
        >>> f = lambda y0: odeint(lambda y, t: -y, y0, t)[-1]
        >>> bool(np.allclose(dualad.jacfwd(f)(np.array([1.0, 2.0])), np.exp(-1.0) * np.eye(2)))
        True
    """
    if callable(Dfun) or tcrit is not None:
        pass  # LSODA options: accepted and ignored (see the module docstring)
    rtol = DEFAULT_TOL if rtol is None else float(rtol)
    atol = DEFAULT_TOL if atol is None else float(atol)
    mxstep = DEFAULT_MXSTEP if not mxstep else int(mxstep)
    if not isinstance(args, tuple):
        args = (args,)
    t_plain = np.asarray(bottom(t), dtype=np.float64)
    if t_plain.ndim != 1 or len(t_plain) == 0:
        raise ValueError(f"odeint: t must be a non-empty 1-d array, got shape {t_plain.shape}")
    d = np.diff(t_plain)
    if not (np.all(d >= 0) or np.all(d <= 0)):
        raise ValueError("odeint: t must be monotonic (increasing or decreasing)")
    options = dict(rtol=rtol, atol=atol, mxstep=mxstep, h0=h0, hmax=hmax, hmin=hmin,
                   tfirst=bool(tfirst))
    if adjoint not in (True, False):
        raise TypeError(f"odeint: adjoint must be True or False, got {adjoint!r}")
    if adjoint:
        value = probe(func, y0, t, args, bool(tfirst))
        route = adjoint_route((y0, t) + args + (value,))
        if route != "plain":
            _run_eagerly_if_compiled((y0, t) + args)
        if route == "mixed":
            raise NotImplementedError(SECOND_ORDER)
        if route == "reverse":
            ys = adjoint_odeint(func, y0, t, args, options, _any_traced_deep(value))
            if full_output:
                steps = solve(func, np.asarray(deep_bottom(y0), dtype=np.float64), t_plain,
                              tuple(deep_bottom(a) for a in args), **options)[3]
                return ys, _info(steps, None)
            return ys
    def first(y, s):
        return as_state(func(s, y, *args) if tfirst else func(y, s, *args), None)
    f0 = first(y0, t[0])  # on the values as given: traced when func closes over traced values
    traced = any_traced((y0, t) + args) or _any_traced_deep(f0)
    if not traced:
        y0a = np.asarray(deep_bottom(y0), dtype=np.float64)
        ys, grids, nfev, steps = solve(func, y0a, t_plain, tuple(deep_bottom(a) for a in args),
                                        **options)
        return (ys, _info(steps, nfev)) if full_output else ys
    _run_eagerly_if_compiled((y0, t, f0) + args)
    grids = _plan(y0, t, f0, *args, func=func, options=options)[:-1]
    ys = _replay(func, y0, t, args, grids, bool(tfirst))
    if full_output:
        steps = [len(g) - 1 for g in grids]
        return ys, _info(steps, None)
    return ys


def _info(steps, nfev):
    return {"nst": np.cumsum([0] + list(steps)), "nfe": nfev,
            "message": "Integration successful."}


def _replay(func, y0, t, args, grids, tfirst):
    """The accepted steps again, on traced values: numpy code both modes differentiate."""
    if not isinstance(y0, TracedBase):
        y0 = np.asarray(y0, dtype=np.float64)
    shape = tuple(y0.shape)

    def f(y, s):
        r = func(s, y, *args) if tfirst else func(y, s, *args)
        return as_state(r, shape)

    y = y0 * 1.0
    ys = [y]
    k1 = f(y, t[0]) if len(grids) else None
    for i, grid in enumerate(grids, start=1):
        ta, span = t[i - 1], t[i] - t[i - 1]
        for j in range(len(grid) - 1):
            start, step = ta + grid[j] * span, (grid[j + 1] - grid[j]) * span
            ks = [k1]
            for s in range(1, 7):
                incr = None
                for a, k in zip(A[s], ks):
                    if a != 0.0:
                        incr = a * k if incr is None else incr + a * k
                yi = y + step * incr
                if s < 6:
                    ks.append(f(yi, start + C[s] * step))
            y = yi
            k1 = f(y, start + step) if (j + 2 < len(grid) or i < len(grids)) else None
        ys.append(y)
    return np.stack(ys)
