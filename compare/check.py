"""check_grads: verify derivatives three ways, for users' tests and ours.

For ``f`` at ``args`` (all positional arguments differentiated):

1. forward vs reverse: ``dualad.jvp`` along random directions ``v`` and ``revad.vjp`` along random
   seeds ``u`` must satisfy the dot-product identity ``<u, J v> = <J^T u, v>``;
2. forward vs central finite differences: ``J v ~ (f(x + h v) - f(x - h v)) / 2h``;
3. when the Jacobian is small, full ``jacfwd`` and ``jacrev`` agree entry by entry.

Errors are measured as ``|a - b| / (atol + rtol |b|)``; a check passes when that is at most 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import dualad
import revad
from adops.inputs import as_primal


@dataclass
class GradCheckReport:
    """Max scaled errors of each check (<= 1 passes) and the raw numbers behind them."""

    dot_product: float
    finite_differences: float
    jacobians: float | None
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(e <= 1.0 for e in (self.dot_product, self.finite_differences,
                                      self.jacobians or 0.0))

    def __str__(self):
        lines = [f"check_grads: {'ok' if self.ok else 'FAILED'}"]
        for name, err in (("forward vs reverse, <u, J v> = <J^T u, v>", self.dot_product),
                          ("forward vs central finite differences", self.finite_differences),
                          ("jacfwd vs jacrev", self.jacobians)):
            if err is not None:
                lines.append(f"  {name}: scaled error {err:.3g} "
                             f"({'ok' if err <= 1 else 'FAIL'})")
        for k, v in self.details.items():
            lines.append(f"  {k}: {v}")
        return "\n".join(lines)


def _scaled(a, b, rtol, atol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    err = np.abs(a - b) / (atol + rtol * np.abs(b))
    err = np.where(np.isnan(a) & np.isnan(b), 0.0, err)
    return float(np.nanmax(np.where(np.isnan(err), np.inf, err)))


def check_grads(f, *args, rtol: float | None = None, atol: float | None = None,
                eps: float | None = None, directions: int = 3, seed: int = 0,
                max_jacobian: int = 4096, raise_on_failure: bool = True) -> GradCheckReport:
    """Check ``f``'s derivatives at ``args`` in both modes and by finite differences.

    Args:
        f: function of array arguments, written with numpy, returning one array.
        *args: the point; every argument is differentiated.
        rtol, atol: tolerances (default 1e-5 / 1e-7 for float64, 2e-2 / 1e-3 for float32).
        eps: finite-difference step (default ``eps_machine**(1/3) * max(1, max|x|)``).
        directions: random directions ``v`` and seeds ``u`` per check.
        seed: random seed.
        max_jacobian: compare full jacfwd/jacrev when ``n * m`` is at most this.
        raise_on_failure: raise ``AssertionError`` with the report when a check fails.

    Returns:
        A :class:`GradCheckReport`.

    Example:
        >>> import numpy as np
        >>> check_grads(lambda x: np.sin(x) * x, np.array([0.5, 1.5])).ok
        True
    """
    xs = [as_primal(a, f"argument {i}") for i, a in enumerate(args)]
    f32 = any(x.dtype == np.float32 for x in xs)
    rtol = rtol if rtol is not None else (2e-2 if f32 else 1e-5)
    atol = atol if atol is not None else (1e-3 if f32 else 1e-7)
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal((directions,) + x.shape).astype(x.dtype) for x in xs]
    out, jv = dualad.jvp(f, tuple(xs), tuple(vs), batched=True)
    out = np.asarray(out)
    us = rng.standard_normal((directions,) + out.shape).astype(out.dtype)
    _, vjp_fn = revad.vjp(f, *xs)
    xbars = vjp_fn(us, batched=True)

    lhs = np.einsum("ki,ki->k", us.reshape(directions, -1), np.asarray(jv).reshape(directions, -1))
    rhs = sum(np.einsum("ki,ki->k", xb.reshape(directions, -1), v.reshape(directions, -1))
              for xb, v in zip(xbars, vs))
    scale = np.abs(lhs) + np.abs(rhs) + 1.0
    dot_err = _scaled(lhs / scale, rhs / scale, rtol, atol)

    fd_errs = []
    for j in range(directions):
        big = max([1.0] + [float(np.max(np.abs(x))) if x.size else 1.0 for x in xs])
        h = eps if eps is not None else np.finfo(np.float64 if not f32 else np.float32).eps ** (1 / 3) * big
        plus = np.asarray(f(*[x.astype(np.float64) + h * v[j] for x, v in zip(xs, vs)]), dtype=np.float64)
        minus = np.asarray(f(*[x.astype(np.float64) - h * v[j] for x, v in zip(xs, vs)]), dtype=np.float64)
        fd = (plus - minus) / (2 * h)
        fd_tol = max(rtol, 1e-4) if not f32 else rtol
        fd_errs.append(_scaled(np.asarray(jv)[j], fd, fd_tol, max(atol, 1e-6 * (1 + np.abs(fd).max(initial=0)))))
    fd_err = max(fd_errs) if fd_errs else 0.0

    jac_err = None
    n_total = sum(x.size for x in xs)
    if n_total * max(out.size, 1) <= max_jacobian and xs:
        nums = tuple(range(len(xs)))
        jf = dualad.jacfwd(f, argnums=nums)(*xs)
        jr = revad.jacrev(f, argnums=nums)(*xs)
        jac_err = max(_scaled(a, b, rtol, atol) for a, b in zip(jf, jr))

    report = GradCheckReport(dot_err, fd_err, jac_err, details={
        "<u, J v> (forward)": np.round(lhs, 10).tolist(),
        "<J^T u, v> (reverse)": np.round(rhs, 10).tolist()})
    if raise_on_failure and not report.ok:
        raise AssertionError(str(report))
    return report
