"""check_grads: verify derivatives three ways, for users' tests and ours.

For ``f`` at ``args`` (all positional arguments differentiated):

1. forward vs reverse: ``dualad.jvp`` along random directions ``v`` and ``revad.vjp`` along random
   seeds ``u`` must satisfy the dot-product identity ``<u, J v> = <J^T u, v>``;
2. forward vs central finite differences: ``J v ~ (f(x + h v) - f(x - h v)) / 2h``;
3. when the Jacobian is small, full ``jacfwd`` and ``jacrev`` agree entry by entry.

Errors are measured as ``|a - b| / (atol + rtol |b|)``; a check passes when that is at most 1.

``order=2`` (``f`` returns a scalar; the arguments are flattened into one vector ``z`` of size n)
runs the checks above, then the Hessian ``H: (n, n)`` by each of the four compositions of the
modes (:data:`COMPOSITIONS`: ``jacfwd(grad)``, ``jacrev(grad)``, ``jacfwd(jacfwd)``,
``jacrev(jacfwd)``):

4. each against central differences of ``revad.grad``:
   ``H p ~ (grad(z + h p) - grad(z - h p)) / 2h``;
5. the four against each other;
6. each for symmetry, ``H = H^T``.

When n is at most ``max_hessian`` the full Hessians are compared (``p`` runs over the unit
vectors); above it, their projections ``P H P^T`` onto ``2 * directions`` random directions ``P``,
computed by the same four compositions of ``jvp``/``vjp`` without forming ``H``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import dualad
import revad
from adops.program.inputs import as_primal
from adops.program.tree import flat_args, ravel_output


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
                max_jacobian: int = 4096, raise_on_failure: bool = True, order: int = 1,
                max_hessian: int = 64, chunk: int | None = None):
    """Check ``f``'s derivatives at ``args`` in both modes and by finite differences.

    Args:
        f: function of array arguments, written with numpy, returning one array. Arguments
            and the output may be trees of arrays (:mod:`adops.tree`): the checks then run on
            their leaves, the output raveled to one vector.
        *args: the point; every argument is differentiated.
        rtol, atol: tolerances (default 1e-5 / 1e-7 for float64, 2e-2 / 1e-3 for float32).
        eps: finite-difference step (default ``eps_machine**(1/3) * max(1, max|x|)``).
        directions: random directions ``v`` and seeds ``u`` per check.
        seed: random seed.
        max_jacobian: compare full jacfwd/jacrev when ``n * m`` is at most this.
        raise_on_failure: raise ``AssertionError`` with the report when a check fails.
        order: 1 checks first derivatives; 2 also checks the Hessian (``f`` scalar) by the four
            compositions of the modes (see the module docstring).
        max_hessian: with ``order=2``, compare full Hessians when the total input size n is at
            most this, else their projections onto random directions.
        chunk: with ``order=2``, the ``chunk`` of every driver of the full Hessians (None:
            automatic); a small chunk exercises the chunk loops of nested transforms.

    Returns:
        A :class:`GradCheckReport` (``order=1``) or a :class:`HessianCheckReport` (``order=2``).

    Example:
        >>> import numpy as np
        >>> check_grads(lambda x: np.sin(x) * x, np.array([0.5, 1.5])).ok
        True
        >>> check_grads(lambda x: np.sum(np.sin(x) * x), np.array([0.5, 1.5]), order=2).ok
        True
        >>> check_grads(lambda p: {"y": p["w"] * p["b"]}, {"w": np.ones(2), "b": 2.0}).ok
        True
    """
    if order not in (1, 2):
        raise ValueError(f"check_grads: order must be 1 or 2, got {order!r}")
    f, args = _over_leaves(f, args)
    if order == 2:
        first = check_grads(f, *args, rtol=rtol, atol=atol, eps=eps, directions=directions,
                            seed=seed, max_jacobian=max_jacobian, raise_on_failure=False)
        report = _check_hessians(f, args, first, rtol=rtol, atol=atol, eps=eps,
                                 directions=directions, seed=seed, max_hessian=max_hessian,
                                 chunk=chunk)
        if raise_on_failure and not report.ok:
            raise AssertionError(str(report))
        return report
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


def _over_leaves(f, args):
    """``(g, leaves)``: ``f`` as a function of its arguments' leaves, returning its output
    raveled to one vector when it is a tree (:mod:`adops.tree`); ``f`` itself when every
    argument is an array and ``f`` returns one."""
    fa = flat_args(f, args, tuple(range(len(args))))
    h = f if fa is None else fa.f
    if fa is not None:
        args = fa.args

    def g(*xs):
        return ravel_output(h(*xs))
    g.__name__ = getattr(f, "__name__", "f")
    g.original = f  # h (a tree wrapper) calls f weakly: g keeps it
    return g, tuple(args)


# ----------------------------------------------------------------------------- second order
COMPOSITIONS = ("forward-over-reverse", "reverse-over-reverse", "forward-over-forward",
                "reverse-over-forward")


@dataclass
class HessianCheckReport:
    """``check_grads(order=2)``: the first-order report and, per Hessian check, the max scaled
    error (<= 1 passes) of each composition (or pair of compositions)."""

    first_order: GradCheckReport
    finite_differences: dict   # composition -> error against central differences of grad
    agreement: dict            # "a vs b" -> error between two compositions
    symmetry: dict             # composition -> error of H against H^T
    full: bool                 # full Hessians, or projections onto random directions
    details: dict = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        """One line per failed check, naming it (empty when all pass)."""
        out = [] if self.first_order.ok else ["first order (see above)"]
        for title, errs in (("Hessian vs central differences of revad.grad",
                             self.finite_differences),
                            ("compositions agree", self.agreement),
                            ("Hessian symmetric", self.symmetry)):
            out += [f"{title}: {name} (scaled error {e:.3g})" for name, e in errs.items()
                    if not e <= 1.0]
        return out

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self):
        what = "full Hessians" if self.full else "Hessians projected onto random directions"
        lines = [f"check_grads(order=2): {'ok' if self.ok else 'FAILED'} ({what})",
                 str(self.first_order)]
        for title, errs in (("Hessian vs central differences of revad.grad",
                             self.finite_differences),
                            ("compositions agree", self.agreement),
                            ("Hessian symmetric (H = H^T)", self.symmetry)):
            lines.append(f"  {title}:")
            for name, e in errs.items():
                lines.append(f"    {name}: scaled error {e:.3g} ({'ok' if e <= 1 else 'FAIL'})")
        for k, v in self.details.items():
            lines.append(f"  {k}: {v}")
        if self.failures:
            lines.append("  failed: " + "; ".join(self.failures))
        return "\n".join(lines)


def _flatten_args(f, xs):
    """``(g, z)``: ``g(z) = f(*xs)`` with every argument cut from the one vector ``z``."""
    bounds = np.cumsum([0] + [x.size for x in xs])
    dtype = np.result_type(*[x.dtype for x in xs])
    z = np.concatenate([x.ravel() for x in xs]).astype(dtype)

    def g(z):
        return f(*[z[a:b].reshape(x.shape) for a, b, x in zip(bounds, bounds[1:], xs)])
    return g, z


def _full_hessians(g, z, chunk):
    """``{composition: H (n, n)}`` by the public drivers, as a user writes them."""
    return {"forward-over-reverse": lambda: dualad.jacfwd(revad.grad(g), chunk=chunk)(z),
            "reverse-over-reverse": lambda: revad.jacrev(revad.grad(g), chunk=chunk)(z),
            "forward-over-forward":
                lambda: dualad.jacfwd(dualad.jacfwd(g, chunk=chunk), chunk=chunk)(z),
            "reverse-over-forward":
                lambda: revad.jacrev(dualad.jacfwd(g, chunk=chunk), chunk=chunk)(z)}


def _projected_hessians(g, z, P):
    """``{composition: P H P^T (p, p)}`` for directions ``P: (p, n)``, without forming H."""
    def along(y):     # (p,): the directional derivatives grad g(y) . p_j, one forward pass
        return dualad.jvp(g, (y,), (P,), batched=True)[1]
    return {"forward-over-reverse":
                lambda: P @ dualad.jvp(revad.grad(g), (z,), (P,), batched=True)[1].T,
            "reverse-over-reverse":
                lambda: revad.vjp(revad.grad(g), z)[1](P, batched=True)[0] @ P.T,
            "forward-over-forward": lambda: dualad.jvp(along, (z,), (P,), batched=True)[1],
            "reverse-over-forward": lambda: P @ revad.jacrev(along)(z).T}


def _check_hessians(f, args, first, *, rtol, atol, eps, directions, seed, max_hessian, chunk):
    xs = [as_primal(a, f"argument {i}") for i, a in enumerate(args)]
    if not xs:
        raise TypeError("check_grads(order=2): give at least one argument to differentiate")
    g, z = _flatten_args(f, xs)
    out = np.asarray(f(*xs))
    if out.size != 1 or out.ndim:
        raise TypeError(f"check_grads(order=2): f must return a scalar (shape ()) for a Hessian, "
                        f"but it returned shape {out.shape}; reduce it (e.g. np.sum)")
    f32 = z.dtype == np.float32
    rtol = rtol if rtol is not None else (2e-2 if f32 else 1e-5)
    atol = atol if atol is not None else (1e-3 if f32 else 1e-7)
    n = z.size
    full = n <= max_hessian
    rng = np.random.default_rng(seed + 1)
    P = np.eye(n, dtype=z.dtype) if full else \
        rng.standard_normal((2 * directions, n)).astype(z.dtype)
    runs = _full_hessians(g, z, chunk) if full else _projected_hessians(g, z, P)
    hs, details = {}, {}
    for name, run in runs.items():
        try:
            hs[name] = np.asarray(run(), dtype=np.float64).reshape(len(P), len(P))
        except Exception as e:  # a composition that raises is a failed check, named in the report
            details[f"{name} raised"] = f"{type(e).__name__}: {e}"

    # central differences of the (exact) gradient along each row p of P: H p
    grad = revad.grad(g)
    z64 = z.astype(np.float64)
    h = eps if eps is not None else \
        np.finfo(z.dtype).eps ** (1 / 3) * max(1.0, float(np.max(np.abs(z64), initial=0)))
    cols = np.array([(np.asarray(grad(z64 + h * p), dtype=np.float64)
                      - np.asarray(grad(z64 - h * p), dtype=np.float64)) / (2 * h) for p in P])
    fd = P.astype(np.float64) @ cols.T
    big = float(np.max(np.abs(fd), initial=0))
    fd_tol = max(rtol, 1e-4) if not f32 else rtol
    fd_atol = max(atol, 1e-6 * (1 + big))
    # cancellation in a large Hessian leaves noise proportional to its entries
    h_atol = atol * max(1.0, big)
    fd_errs = {name: (_scaled(hs[name], fd, fd_tol, fd_atol) if name in hs else np.inf)
               for name in COMPOSITIONS}
    agree = {}
    for i, a in enumerate(COMPOSITIONS):
        for b in COMPOSITIONS[i + 1:]:
            agree[f"{a} vs {b}"] = (_scaled(hs[a], hs[b], rtol, h_atol)
                                    if a in hs and b in hs else np.inf)
    sym = {name: (_scaled(hs[name], hs[name].T, rtol, h_atol) if name in hs else np.inf)
           for name in COMPOSITIONS}
    details["n"] = n
    return HessianCheckReport(first, fd_errs, agree, sym, full, details)
