"""The adaptive Dormand-Prince 5(4) loop of ``adops.scipy.integrate.odeint`` on plain float64
values (no derivative here): the solution at the output times and the grid of accepted steps.
Shared by the forward solve, the plan of the replay and the backward integration of the adjoint
system (:mod:`adops.scipy.ode_adjoint`).
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase, any_traced

__all__ = ["ODEintError", "solve", "as_state", "bottom", "deep_bottom", "DEFAULT_TOL",
           "DEFAULT_MXSTEP"]

# Dormand-Prince 5(4): nodes, stages, 5th-order weights (FSAL: the 7th stage is f at the new
# point) and the error weights b - b_hat
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
A = ((),
     (1 / 5,),
     (3 / 40, 9 / 40),
     (44 / 45, -56 / 15, 32 / 9),
     (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
     (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
     (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
B = A[6]
E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)

DEFAULT_TOL = 1.49012e-8
DEFAULT_MXSTEP = 500
IGNORED = ("Dfun", "col_deriv", "ml", "mu", "ixpr", "mxhnil", "mxordn", "mxords", "printmessg",
           "tcrit")


class ODEintError(RuntimeError):
    """The solver could not reach an output time (``mxstep`` exceeded, step size underflow)."""


def bottom(x):
    while isinstance(x, TracedBase):
        x = x._primal
    return x


def deep_bottom(x):
    if isinstance(x, (list, tuple)):
        return type(x)(deep_bottom(v) for v in x)
    if isinstance(x, dict):
        return {k: deep_bottom(v) for k, v in x.items()}
    return bottom(x)


def as_state(r, shape):
    """``func``'s result as an array of the state's shape (a list of scalars is stacked)."""
    if isinstance(r, (list, tuple)):
        parts = [as_state(v, None) for v in r]
        r = np.stack(parts) if any_traced(parts) else np.asarray(parts, dtype=float)
    elif not isinstance(r, TracedBase):
        r = np.asarray(r, dtype=float)
    if shape is not None and tuple(r.shape) != tuple(shape):
        if int(np.prod(r.shape)) != int(np.prod(shape)):
            raise ValueError(f"odeint: func returned shape {tuple(r.shape)}, the state y0 has "
                             f"shape {tuple(shape)}")
        r = np.reshape(r, shape)
    return r


def rms(v):
    return float(np.sqrt(np.mean(v * v))) if v.size else 0.0


def solve(func, y0, t, args, rtol, atol, mxstep, h0, hmax, hmin, tfirst):
    """The adaptive loop on plain float64 values: the solution at ``t``, the grid of accepted
    steps (fractions of each interval, from 0 to 1) and the number of calls of ``func``."""
    shape = y0.shape
    nfev = [0]

    def f(y, s):
        nfev[0] += 1
        r = func(s, y.reshape(shape), *args) if tfirst else func(y.reshape(shape), s, *args)
        # a func closing over traced values returns traced ones: the plan needs their values
        return np.asarray(as_state(deep_bottom(r), shape), dtype=np.float64).ravel()

    y = y0.astype(np.float64).ravel()
    out = np.empty((len(t), y.size))
    out[0] = y
    grids, steps = [], []
    k1 = f(y, t[0]) if len(t) > 1 else None
    h = abs(float(h0))
    for i in range(1, len(t)):
        ta, tb = float(t[i - 1]), float(t[i])
        span = tb - ta
        if span == 0.0:
            grids.append(np.array([0.0]))
            out[i] = y
            steps.append(0)
            continue
        direction = 1.0 if span > 0 else -1.0
        if h == 0.0:
            h = initial_step(f, y, ta, k1, direction, rtol, atol)
        cur, positions, attempts = ta, [0.0], 0
        while True:
            remaining = tb - cur
            last = abs(h) >= abs(remaining)
            step = remaining if last else direction * h
            if hmax:
                step = direction * min(abs(step), abs(float(hmax)))
                last = abs(step) >= abs(remaining)
            attempts += 1
            if attempts > mxstep:
                raise ODEintError(
                    f"odeint: more than mxstep={mxstep} steps (accepted and rejected) between "
                    f"t={ta:g} and t={tb:g}; stopped at t={cur:.10g} with step size "
                    f"{abs(step):.3g}. The problem may be stiff (out of scope for this explicit "
                    "Dormand-Prince solver) or need a larger mxstep or looser rtol/atol")
            ks = [k1]
            for s in range(1, 7):
                yi = y + step * sum(a * k for a, k in zip(A[s], ks) if a != 0.0)
                ks.append(f(yi, cur + C[s] * step))
            y_new = yi  # the 7th stage point is the 5th-order solution (FSAL)
            err_vec = step * sum(e * k for e, k in zip(E, ks) if e != 0.0)
            scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
            with np.errstate(all="ignore"):
                err = rms(err_vec / scale)
            if not np.isfinite(err) or not np.all(np.isfinite(y_new)):
                err = np.inf
            if err <= 1.0:
                cur = tb if last else cur + step
                y, k1 = y_new, ks[6]
                positions.append(1.0 if last else (cur - ta) / span)
                factor = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err ** -0.2))
            else:
                factor = 0.2 if not np.isfinite(err) else max(0.2, 0.9 * err ** -0.2)
            h = abs(step) * factor
            if hmax:
                h = min(h, abs(float(hmax)))
            if hmin and h < abs(float(hmin)):
                h = abs(float(hmin))
            if err <= 1.0 and last:
                break
            if h <= 16 * np.finfo(float).eps * max(abs(cur), abs(tb), 1e-300):
                raise ODEintError(
                    f"odeint: step size underflow at t={cur:.10g} (step size {h:.3g}) between "
                    f"t={ta:g} and t={tb:g}: the solution may blow up or have a singularity, "
                    "or func returned non-finite values")
        grids.append(np.array(positions))
        out[i] = y
        steps.append(len(positions) - 1)
    return out.reshape((len(t),) + shape), tuple(grids), nfev[0], steps


def initial_step(f, y, t0, f0, direction, rtol, atol):
    """Hairer, Norsett & Wanner's starting step (II.4, order 5)."""
    scale = atol + rtol * np.abs(y)
    d0, d1 = rms(y / scale), rms(f0 / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = f(y + direction * h0 * f0, t0 + direction * h0)
    d2 = rms((f1 - f0) / scale) / h0
    h1 = (max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15 else (0.01 / max(d1, d2)) ** 0.2)
    return min(100 * h0, h1)
