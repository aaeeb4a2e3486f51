"""Linear algebra ops (``numpy.linalg``): each a primal, a JVP map linear in the input's tangent,
and that map's transpose, written with numpy calls (JAX's way), so nested transforms
differentiate the rules themselves (second order) with no formula written twice.

Contract (batched over leading axes as numpy is; ``mT`` swaps the last two axes):

- a matrix input ``a: (..., m, n)``; its tangent ``a_dot: (k, ..., m, n)``; the output's
  cotangent ``out_bar: (m_seeds, *out.shape)``. Every rule broadcasts over the leading axes, so
  the direction axis is just one more batch axis;
- ops with several results (``eigh``, ``svd``, ``qr``) return them *packed*: each result
  flattened over its matrix axes and concatenated along one last axis. The numpy handlers unpack
  with slices and reshapes (linear ops), so one linearization serves all results;
- ``cholesky`` and ``eigh`` read one triangle of ``a`` only, as LAPACK does: their derivative is
  that of numpy's function, a map of the triangle read (the other triangle gets cotangent 0).
  For a symmetric ``a`` built from other values (``x @ x.T``), the total derivative is the usual
  symmetric one.

Conventions where the maths has no derivative:

- ``eigh`` at a repeated eigenvalue: the eigenvectors of that eigenvalue are not unique, so their
  derivative is ``inf``/``nan`` there (as in JAX); a program that uses only the eigenvalues of
  ``eigh`` still gets finite derivatives (the unused eigenvector cotangent is a strong zero).
  ``eigvalsh`` at a repeated eigenvalue gives the derivative along the eigenbasis LAPACK returns:
  exact for functions symmetric in the repeated eigenvalues (their sum, ``trace``, ``logdet``),
  while a single one of them is not differentiable there.
- ``svd`` likewise: ``u`` and ``vh`` need distinct nonzero singular values (``inf``/``nan``
  otherwise, unused ones cost nothing); ``s`` alone (``compute_uv=False``, ``svdvals``, matrix
  norms) needs them distinct and nonzero for a derivative of each, with the same caveat as
  ``eigvalsh`` at a repeated one. ``full_matrices=True`` of a non-square matrix is refused: the
  extra columns span a null space and have no unique derivative.
- ``det``, ``slogdet``, ``inv``, ``solve``, ``qr``, ``cholesky`` need a nonsingular
  (``cholesky``: positive definite) matrix; ``pinv`` and ``lstsq`` a matrix of constant rank
  near the point (full rank, in practice).
"""
from __future__ import annotations

import numpy as np

from ..core.kernels import align, unbroadcast
from ..core.levels import bind
from .kinds import MatrixCall, defrule
from .registry import apply_partial


def mT(x):
    """Swap the last two axes (a batched matrix transpose).

    >>> mT(np.zeros((2, 3, 4))).shape
    (2, 4, 3)
    """
    return np.swapaxes(x, -1, -2)


def _eye(n, like):
    return np.eye(n, dtype=like.dtype)


def _diag(x):
    return np.diagonal(x, axis1=-2, axis2=-1)


def _diag_embed(v):
    """``(..., n) -> (..., n, n)`` with ``v`` on the diagonal."""
    n = v.shape[-1]
    return v[..., :, None] * _eye(n, v)


def _sum_to(x_bar, shape):
    """A batched cotangent ``(m, *bshape)`` summed to ``(m, *shape)`` (numpy's batch broadcast)."""
    return unbroadcast(x_bar, tuple(shape))


# ------------------------------------------------------------------ packing several results
def pack(parts, nbatch):
    """Results ``parts[i]: (*batch, *tail_i)`` as one array ``(*batch, sum_i size(tail_i))``.

    >>> pack([np.zeros((5, 2)), np.ones((5, 2, 2))], nbatch=1).shape
    (5, 6)
    """
    return np.concatenate([np.reshape(p, tuple(p.shape[:nbatch]) + (-1,)) for p in parts],
                          axis=-1)


def unpack(packed, tails):
    """Inverse of :func:`pack`: ``(*batch, N) -> [(*batch, *tail_i)]``.

    >>> [p.shape for p in unpack(np.zeros((5, 6)), [(2,), (2, 2)])]
    [(5, 2), (5, 2, 2)]
    """
    out, start = [], 0
    for tail in tails:
        size = int(np.prod(tail, dtype=int))
        piece = packed[..., start:start + size]
        out.append(np.reshape(piece, tuple(piece.shape[:-1]) + tuple(tail)))
        start += size
    return out


# ------------------------------------------------------------------ triangles LAPACK reads
def _masks(n, lower, like):
    """Float masks of the triangle read (diagonal included) and of its strict part."""
    tri = np.tri(n, dtype=like.dtype)
    strict = np.tri(n, k=-1, dtype=like.dtype)
    return (tri, strict) if lower else (tri.T, strict.T)


def _sym(t, lower):
    """The symmetric matrix LAPACK sees when it reads one triangle of ``t``."""
    tri, strict = _masks(t.shape[-1], lower, t)
    return t * tri + mT(t * strict)


def _sym_T(s_bar, lower):
    """Transpose of :func:`_sym`."""
    tri, strict = _masks(s_bar.shape[-1], lower, s_bar)
    return s_bar * tri + mT(s_bar) * strict


def _gap_inverse(w):
    """``F[..., i, j] = 1 / (w_j - w_i)`` off the diagonal, 0 on it (inf where w_i == w_j)."""
    eye = _eye(w.shape[-1], w)
    with np.errstate(divide="ignore"):
        return 1.0 / (eye + w[..., None, :] - w[..., :, None]) - eye


# ================================================================================ inv
def _inv_jvp(x_dots, xs, out, res):
    return -(out @ x_dots[0] @ out)


def _inv_vjp(out_bar, xs, out, res, needed):
    out_T = mT(out)
    return (-(out_T @ out_bar @ out_T),)


INV = defrule("inv", lambda a: np.linalg.inv(a), _inv_jvp, _inv_vjp,
              matrix=MatrixCall("np.linalg.inv({0})", core=2),
              doc="inv(a): d inv = -inv da inv; transpose -inv^T g inv^T. a nonsingular.")


# ============================================================================== solve
def _solve_jvp(x_dots, xs, out, res):
    a = xs[0]
    # a and b may broadcast against each other's batch axes: the direction axis stays first
    a_dot, b_dot = (None if t is None else align(t, len(out.shape)) for t in x_dots)
    if a_dot is None:
        rhs = b_dot
    elif b_dot is None:
        rhs = -(a_dot @ out)
    else:
        rhs = b_dot - a_dot @ out
    return np.linalg.solve(a, rhs)


def _solve_vjp(out_bar, xs, out, res, needed):
    a, b = xs
    b_bar = np.linalg.solve(mT(a), out_bar)
    a_bar = _sum_to(-(b_bar @ mT(out)), a.shape) if needed[0] else None
    return a_bar, (_sum_to(b_bar, b.shape) if needed[1] else None)


SOLVE = defrule("solve", lambda a, b: np.linalg.solve(a, b), _solve_jvp, _solve_vjp,
                matrix=MatrixCall("np.linalg.solve({0}, {1})", core=2),
                doc="solve(a, b) = x with a x = b, b a stack of matrices (..., n, r) (the numpy "
                    "handler turns a vector into one column): dx = solve(a, db - da x); "
                    "transpose b_bar = solve(a^T, g), a_bar = -b_bar x^T.")


# ========================================================================= det, slogdet
def _det_residuals(xs, out):
    return (out[..., None, None] * mT(np.linalg.inv(xs[0])),)


def _inv_T_residuals(xs, out):
    return (mT(np.linalg.inv(xs[0])),)


def _trace_product_jvp(x_dots, xs, out, res):
    return np.sum(res[0] * x_dots[0], axis=(-2, -1))


def _trace_product_vjp(out_bar, xs, out, res, needed):
    return (out_bar[..., None, None] * res[0],)


DET = defrule("det", lambda a: np.linalg.det(a), _trace_product_jvp, _trace_product_vjp,
              residuals=_det_residuals, matrix=MatrixCall("np.linalg.det({0})", core=0),
              doc="det(a): d det = sum(C * da) with the cofactor matrix C = det(a) inv(a)^T "
                  "(a nonsingular; at a singular a the cofactors exist but are not computed).")
LOGABSDET = defrule("slogdet", lambda a: np.linalg.slogdet(a)[1], _trace_product_jvp,
                    _trace_product_vjp, residuals=_inv_T_residuals,
                    matrix=MatrixCall("np.linalg.slogdet({0})[1]", core=0),
                    doc="log|det(a)| (slogdet's second result; its sign has derivative 0): "
                        "d = sum(inv(a)^T * da).")


def slogdet_sign(a):
    """The sign of ``det(a)`` (piecewise constant; evaluated on primals).

    >>> float(slogdet_sign(-np.eye(3)))
    -1.0
    """
    return np.linalg.slogdet(a)[0]


#: the compiled tier re-evaluates the sign (a guard of the program) inside numba
slogdet_sign.matrix = MatrixCall("np.linalg.slogdet({0})[0]", core=0)


# ============================================================================ cholesky
def _phi(x):
    """Strict lower triangle plus half the diagonal (the map ``Phi`` of Murray 2016)."""
    n = x.shape[-1]
    return x * (np.tri(n, k=-1, dtype=x.dtype) + 0.5 * _eye(n, x))


def _chol_jvp(x_dots, xs, out, res):
    s = _sym(x_dots[0], lower=True)
    y = np.linalg.solve(out, s)              # L^-1 S
    x = mT(np.linalg.solve(out, mT(y)))      # L^-1 S L^-T
    return out @ _phi(x)


def _chol_vjp(out_bar, xs, out, res, needed):
    x_bar = _phi(mT(out) @ out_bar)
    z = np.linalg.solve(mT(out), x_bar)      # L^-T X_bar
    s_bar = mT(np.linalg.solve(mT(out), mT(z)))  # L^-T X_bar L^-1
    return (_sym_T(s_bar, lower=True),)


CHOLESKY = defrule("cholesky", lambda a: np.linalg.cholesky(a), _chol_jvp, _chol_vjp,
                   matrix=MatrixCall("np.linalg.cholesky({0})", core=2),
                   doc="L = cholesky(a), a positive definite, lower triangle read: "
                       "dL = L Phi(L^-1 S L^-T), S the symmetric matrix of da's lower "
                       "triangle, Phi = strict lower part + half the diagonal.")


# =============================================================================== eigh
def _eigh_tails(n):
    return [(n,), (n, n)]


def _eigh_primal(a, UPLO):
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return pack([w, v], a.ndim - 2)


def _eigh_residuals(xs, out, UPLO):
    n = xs[0].shape[-1]
    w, v = unpack(out, _eigh_tails(n))
    return w, v, _gap_inverse(w)


def _eigh_jvp(x_dots, xs, out, res, UPLO):
    w, v, f = res
    s = _sym(x_dots[0], lower=UPLO == "L")
    m = mT(v) @ s @ v
    dv = v @ apply_partial(f, m)
    return pack([_diag(m), dv], len(dv.shape) - 2)


def _eigh_vjp(out_bar, xs, out, res, needed, UPLO):
    w, v, f = res
    w_bar, v_bar = unpack(out_bar, _eigh_tails(w.shape[-1]))
    m_bar = _diag_embed(w_bar) + apply_partial(f, mT(v) @ v_bar)
    return (_sym_T(v @ m_bar @ mT(v), lower=UPLO == "L"),)


def _lower_read(params):
    return None if params["UPLO"] == "L" else "numba's eigh reads the lower triangle only"


EIGH = defrule("eigh", _eigh_primal, _eigh_jvp, _eigh_vjp, residuals=_eigh_residuals,
               matrix=MatrixCall("eigh_packed({0})", core=1, exact=_lower_read),
               doc="eigh(a) packed as (w, v) (a symmetric, the UPLO triangle read): with "
                   "M = v^T S v, dw = diag(M), dv = v (F o M), F_ij = 1/(w_j - w_i) (0 on the "
                   "diagonal, inf at a repeated eigenvalue: its eigenvectors have no derivative; "
                   "applied with a strong zero, so unused eigenvectors cost nothing).")


def _eigvalsh_residuals(xs, out, UPLO):
    return (np.linalg.eigh(xs[0], UPLO=UPLO)[1],)


def _eigvalsh_jvp(x_dots, xs, out, res, UPLO):
    (v,) = res
    return _diag(mT(v) @ _sym(x_dots[0], lower=UPLO == "L") @ v)


def _eigvalsh_vjp(out_bar, xs, out, res, needed, UPLO):
    (v,) = res
    return (_sym_T((v * out_bar[..., None, :]) @ mT(v), lower=UPLO == "L"),)


EIGVALSH = defrule("eigvalsh", lambda a, UPLO: np.linalg.eigvalsh(a, UPLO=UPLO),
                   _eigvalsh_jvp, _eigvalsh_vjp, residuals=_eigvalsh_residuals,
                   matrix=MatrixCall("np.linalg.eigvalsh({0})", core=1, exact=_lower_read),
                   doc="eigvalsh(a): dw = diag(v^T S v). At a repeated eigenvalue: the "
                       "derivative along LAPACK's eigenbasis (exact for symmetric functions "
                       "of the repeated eigenvalues).")


# ================================================================================ svd
def _svd_tails(m, n):
    k = min(m, n)
    return [(m, k), (k,), (k, n)]


def _svd_primal(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return pack([u, s, vh], a.ndim - 2)


def _svd_residuals(xs, out):
    m, n = xs[0].shape[-2:]
    u, s, vh = unpack(out, _svd_tails(m, n))
    return u, s, vh, _gap_inverse(s * s)


def _svd_jvp(x_dots, xs, out, res):
    u, s, vh, f = res
    a_dot = x_dots[0]
    m, n = xs[0].shape[-2:]
    k = min(m, n)
    v = mT(vh)
    ds_mat = mT(u) @ a_dot @ v
    s_row, s_col = s[..., None, :], s[..., :, None]
    dss = ds_mat * s_row
    sds = s_col * ds_mat
    du = u @ apply_partial(f, dss + mT(dss))
    dv = v @ apply_partial(f, sds + mT(sds))
    if m > k:
        dav = a_dot @ v
        du = du + (dav - u @ (mT(u) @ dav)) / s_row
    if n > k:
        datu = mT(a_dot) @ u
        dv = dv + (datu - v @ (vh @ datu)) / s_row
    return pack([du, _diag(ds_mat), mT(dv)], len(du.shape) - 2)


def _svd_vjp(out_bar, xs, out, res, needed):
    u, s, vh, f = res
    m, n = xs[0].shape[-2:]
    k = min(m, n)
    u_bar, s_bar, vh_bar = unpack(out_bar, _svd_tails(m, n))
    v, v_bar = mT(vh), mT(vh_bar)
    s_row, s_col = s[..., None, :], s[..., :, None]
    j = apply_partial(f, mT(u) @ u_bar)
    kk = apply_partial(f, mT(v) @ v_bar)
    ds_bar = (j + mT(j)) * s_row + s_col * (kk + mT(kk)) + _diag_embed(s_bar)
    a_bar = u @ ds_bar @ vh
    if m > k:
        a_bar = a_bar + ((u_bar - u @ (mT(u) @ u_bar)) / s_row) @ vh
    if n > k:
        a_bar = a_bar + u @ mT((v_bar - v @ (vh @ v_bar)) / s_row)
    return (a_bar,)


SVD = defrule("svd", _svd_primal, _svd_jvp, _svd_vjp, residuals=_svd_residuals,
              matrix=MatrixCall("svd_packed({0})", core=1),
              doc="svd(a, full_matrices=False) packed as (u, s, vh): with dS = u^T da v, "
                  "ds = diag(dS), du = u (F o (dS S + S dS^T)) + (I - u u^T) da v / s, "
                  "dv = v (F o (S dS + dS^T S)) + (I - v v^T) da^T u / s, "
                  "F_ij = 1/(s_j^2 - s_i^2): needs distinct nonzero singular values.")


def _svdvals_residuals(xs, out):
    u, _, vh = np.linalg.svd(xs[0], full_matrices=False)
    return u, vh


def _svdvals_jvp(x_dots, xs, out, res):
    u, vh = res
    return _diag(mT(u) @ x_dots[0] @ mT(vh))


def _svdvals_vjp(out_bar, xs, out, res, needed):
    u, vh = res
    return ((u * out_bar[..., None, :]) @ vh,)


SVDVALS = defrule("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), _svdvals_jvp,
                  _svdvals_vjp, residuals=_svdvals_residuals,
                  matrix=MatrixCall("svdvals({0})", core=1),
                  doc="Singular values s (compute_uv=False): ds = diag(u^T da v); "
                      "transpose u diag(g) v^T.")


# =============================================================================== pinv
def _pinv_residuals(xs, out, rcond):
    a, p = xs[0], out
    m, n = a.shape[-2:]
    return p @ mT(p), mT(p) @ p, _eye(m, a) - a @ p, _eye(n, a) - p @ a


def _pinv_jvp(x_dots, xs, out, res, rcond):
    ppt, ptp, q, r = res
    a_dot_T = mT(x_dots[0])
    return -(out @ x_dots[0] @ out) + ppt @ a_dot_T @ q + r @ a_dot_T @ ptp


def _pinv_vjp(out_bar, xs, out, res, needed, rcond):
    ppt, ptp, q, r = res
    g_T = mT(out_bar)
    p_T = mT(out)
    return (-(p_T @ out_bar @ p_T) + q @ g_T @ ppt + ptp @ g_T @ r,)


PINV = defrule("pinv", lambda a, rcond: np.linalg.pinv(a, rcond=rcond), _pinv_jvp, _pinv_vjp,
               residuals=_pinv_residuals,
               matrix=MatrixCall("pinv({0}, {rcond!r})", core=2, exact=lambda p: None if
                                 np.isfinite(p["rcond"]) else "a cut-off of inf or nan"),
               doc="p = pinv(a) at constant rank: dp = -p da p + p p^T da^T (I - a p) "
                   "+ (I - p a) da^T p^T p (Golub & Pereyra).")


# ================================================================================= qr
def _qr_tails(m, n):
    return [(m, n), (n, n)]


def _qr_primal(a):
    q, r = np.linalg.qr(a, mode="reduced")
    return pack([q, r], a.ndim - 2)


def _qr_residuals(xs, out):
    m, n = xs[0].shape[-2:]
    return tuple(unpack(out, _qr_tails(m, n)))


def _qr_jvp(x_dots, xs, out, res):
    q, r = res
    n = r.shape[-1]
    b = mT(np.linalg.solve(mT(r), mT(x_dots[0])))   # da r^-1
    c = mT(q) @ b
    low = c * np.tri(n, k=-1, dtype=c.dtype)
    omega = low - mT(low)
    dq = q @ (omega - c) + b
    dr = (c - omega) @ r
    return pack([dq, dr], len(dq.shape) - 2)


def _qr_vjp(out_bar, xs, out, res, needed):
    q, r = res
    m, n = xs[0].shape[-2:]
    q_bar, r_bar = unpack(out_bar, _qr_tails(m, n))
    omega_bar = mT(q) @ q_bar - r_bar @ mT(r)
    low_bar = omega_bar - mT(omega_bar)
    c_bar = -omega_bar + low_bar * np.tri(n, k=-1, dtype=low_bar.dtype)
    b_bar = q_bar + q @ c_bar
    return (mT(np.linalg.solve(r, mT(b_bar))),)


QR = defrule("qr", _qr_primal, _qr_jvp, _qr_vjp, residuals=_qr_residuals,
             matrix=MatrixCall("qr_packed({0})", core=1),
             doc="qr(a) reduced, a (..., m, n) with m >= n and full rank, packed as (q, r): "
                 "with B = da r^-1, C = q^T B, Omega = tril(C, -1) - tril(C, -1)^T: "
                 "dq = q (Omega - C) + B, dr = (C - Omega) r (Walter & Lehmann; a wide "
                 "matrix goes through the handler as qr of its square block).")


# ======================================================================== for handlers
def eigh(a, UPLO="L"):
    """``(w, v)`` of :data:`EIGH`, unpacked (plain or traced ``a``).

    >>> eigh(np.diag([2.0, 1.0]))[0].tolist()
    [1.0, 2.0]
    """
    n = a.shape[-1]
    return unpack(bind(EIGH, a, UPLO=UPLO), _eigh_tails(n))


def svd(a):
    """``(u, s, vh)`` of :data:`SVD` (``full_matrices=False``), unpacked.

    >>> svd(np.diag([1.0, 3.0]))[1].tolist()
    [3.0, 1.0]
    """
    m, n = a.shape[-2:]
    return unpack(bind(SVD, a), _svd_tails(m, n))


def qr_tall(a):
    """``(q, r)`` of :data:`QR` for ``m >= n``, unpacked.

    >>> [x.shape for x in qr_tall(np.ones((4, 2)))]
    [(4, 2), (2, 2)]
    """
    m, n = a.shape[-2:]
    return unpack(bind(QR, a), _qr_tails(m, n))
