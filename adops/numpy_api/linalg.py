"""``numpy.linalg`` on traced arrays: each function is one op of :mod:`adops.ops.linalg` or a
composite of ops (``matrix_power``, ``multi_dot``, ``lstsq``, ``cond``, matrix norms, the array
API names), so no derivative formula is written here.

Results follow numpy's: the same shapes, the same named tuples (``EighResult``, ``SVDResult``,
``QRResult``, ``SlogdetResult``), numpy 2's rule that ``solve``'s ``b`` is a vector only when it
is 1-D. Values nothing can differentiate (``slogdet``'s sign, ``lstsq``'s rank, ``matrix_rank``)
are evaluated on primals (reverse mode records them as replay guards).
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from ..ops import linalg as L
from ..core.levels import bind
from .dispatch import nondiff_call
from .routes import implements, nondiff, unsupported
from .reductions import vector_or_frobenius_norm
from ..ops.registry import normalize_axis, shape_of

EighResult = type(np.linalg.eigh(np.eye(1)))
SVDResult = type(np.linalg.svd(np.eye(1)))
QRResult = type(np.linalg.qr(np.eye(1)))
SlogdetResult = type(np.linalg.slogdet(np.eye(1)))

nondiff(np.linalg.matrix_rank)


def _square(cls, name, a):
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError(f"numpy.linalg.{name}: last 2 dimensions of the array must "
                                    f"be square, got shape {shape}")


@implements(np.linalg.inv)
def _inv(cls, a):
    _square(cls, "inv", a)
    return bind(L.INV, a)


@implements(np.linalg.solve)
def _solve(cls, a, b):
    _square(cls, "solve", a)
    if len(shape_of(b)) == 1:  # numpy >= 2: b is a vector only when it is 1-D
        return bind(L.SOLVE, a, np.reshape(b, (-1, 1)))[..., 0]
    return bind(L.SOLVE, a, b)


@implements(np.linalg.det)
def _det(cls, a):
    _square(cls, "det", a)
    return bind(L.DET, a)


@implements(np.linalg.slogdet)
def _slogdet(cls, a):
    _square(cls, "slogdet", a)
    sign = nondiff_call(L.slogdet_sign, (a,), {})
    return SlogdetResult(sign, bind(L.LOGABSDET, a))


@implements(np.linalg.cholesky)
def _cholesky(cls, a, *, upper=False):
    _square(cls, "cholesky", a)
    if upper:  # numpy's upper factor reads the upper triangle: the lower one of a^T
        return L.mT(bind(L.CHOLESKY, L.mT(a)))
    return bind(L.CHOLESKY, a)


def _uplo(UPLO):
    UPLO = str(UPLO).upper()
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return UPLO


@implements(np.linalg.eigh)
def _eigh(cls, a, UPLO="L"):
    _square(cls, "eigh", a)
    return EighResult(*L.eigh(a, _uplo(UPLO)))


@implements(np.linalg.eigvalsh)
def _eigvalsh(cls, a, UPLO="L"):
    _square(cls, "eigvalsh", a)
    return bind(L.EIGVALSH, a, UPLO=_uplo(UPLO))


@implements(np.linalg.svd)
def _svd(cls, a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        return bind(L.SVDVALS, a)
    m, n = shape_of(a)[-2:]
    if hermitian:
        raise unsupported("numpy.linalg.svd(hermitian=True) with compute_uv", cls._mode,
                          "call it with hermitian=False (same factors up to signs), or "
                          "numpy.linalg.eigh for a symmetric matrix")
    if full_matrices and m != n:
        raise unsupported("numpy.linalg.svd(full_matrices=True) of a non-square matrix",
                          cls._mode, "the extra columns of u or vh span a null space and have "
                          "no unique derivative; pass full_matrices=False")
    return SVDResult(*L.svd(a))


@implements(np.linalg.svdvals)
def _svdvals(cls, x):
    return bind(L.SVDVALS, x)


@implements(np.linalg.pinv)
def _pinv(cls, a, rcond=None, hermitian=False, **kw):
    rtol = kw.get("rtol", np._NoValue)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(shape_of(a)[-2:]) * np.finfo(a.dtype).eps
        else:
            rcond = rtol
    if np.ndim(rcond) != 0:
        raise unsupported("numpy.linalg.pinv with an array rcond", cls._mode, "pass a scalar")
    return bind(L.PINV, a, rcond=float(rcond))


@implements(np.linalg.qr)
def _qr(cls, a, mode="reduced"):
    m, n = shape_of(a)[-2:]
    if mode == "raw" or mode == "complete" and m > n:
        raise unsupported(f"numpy.linalg.qr(mode={mode!r})" + (" of a tall matrix"
                          if mode == "complete" else ""), cls._mode,
                          "use mode='reduced' (the complement of a tall q has no unique "
                          "derivative)")
    if m >= n:
        q, r = L.qr_tall(a)
    else:  # the first m columns fix q; the rest of r is q^T times the other columns
        q, r_head = L.qr_tall(a[..., :, :m])
        r = np.concatenate([r_head, L.mT(q) @ a[..., :, m:]], axis=-1)
    return r if mode == "r" else QRResult(q, r)


@implements(np.linalg.matrix_power)
def _matrix_power(cls, a, n):
    """Repeated squaring with matmul (and ``inv`` for negative ``n``), as numpy computes it."""
    _square(cls, "matrix_power", a)
    n = operator.index(n)
    if n == 0:
        return np.zeros_like(a) + np.eye(shape_of(a)[-1], dtype=a.dtype)
    if n < 0:
        a, n = np.linalg.inv(a), -n
    result = None
    while n:
        if n & 1:
            result = a if result is None else result @ a
        n >>= 1
        if n:
            a = a @ a
    return result


@implements(np.linalg.multi_dot)
def _multi_dot(cls, arrays, *, out=None):
    if out is not None:
        raise unsupported("numpy.linalg.multi_dot(..., out=...)", cls._mode,
                          "assign the result instead")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    return functools.reduce(np.matmul, arrays)


@implements(np.linalg.lstsq)
def _lstsq(cls, a, b, rcond=None):
    """``x = pinv(a) b`` (numpy's minimum-norm solution), with numpy's residuals, rank and
    singular values."""
    m, n = shape_of(a)[-2:]
    if rcond is None:
        rcond = np.finfo(a.dtype).eps * max(m, n)
    x = bind(L.PINV, a, rcond=float(rcond)) @ b
    rank = np.linalg.matrix_rank(a, rtol=rcond)
    if rank == n and m > n:
        r = b - a @ x
        residuals = np.sum(r * r, axis=0)
        if len(shape_of(b)) == 1:
            residuals = np.reshape(residuals, (1,))
    else:
        residuals = np.zeros((0,), dtype=a.dtype)
    return x, residuals, rank, bind(L.SVDVALS, a)


@implements(np.linalg.cond)
def _cond(cls, x, p=None):
    if p is None or p == 2 or p == -2:
        s = bind(L.SVDVALS, x)
        big, small = np.max(s, axis=-1), np.min(s, axis=-1)
        return small / big if p == -2 else big / small
    return np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p,
                                                                axis=(-2, -1))


# ------------------------------------------------------------------------- matrix norms
def matrix_norm(x, ord, axis, keepdims):
    """A matrix norm of ``x`` over ``axis = (row, col)`` as a composite of ops (plain or traced).

    Args:
        x: ``(..., m, ..., n, ...)``; ord: ``None``/``'fro'``, ``'nuc'``, 1, -1, 2, -2, inf, -inf.
        keepdims: keep the two reduced axes with length 1.

    Returns:
        The norms, ``x``'s shape without the two axes.

    >>> float(matrix_norm(np.array([[3.0, 0.0], [0.0, -4.0]]), "nuc", (0, 1), False))
    7.0
    """
    nd = len(shape_of(x))
    row, col = (a % nd for a in axis)
    if row == col:
        raise ValueError("Duplicate axes given.")
    if ord in (None, "fro", "f"):
        res = np.sqrt(np.sum(x * x, axis=(row, col)))
    elif ord == "nuc" or ord in (2, -2):
        s = bind(L.SVDVALS, np.moveaxis(x, (row, col), (-2, -1)))
        res = np.sum(s, axis=-1) if ord == "nuc" else \
            (np.max(s, axis=-1) if ord == 2 else np.min(s, axis=-1))
    elif ord in (1, -1, np.inf, -np.inf):
        inner, outer = (row, col) if ord in (1, -1) else (col, row)
        sums = np.sum(np.abs(x), axis=inner)
        outer -= outer > inner
        res = np.max(sums, axis=outer) if ord > 0 else np.min(sums, axis=outer)
    else:
        raise ValueError(f"Invalid norm order {ord!r} for matrices.")
    if keepdims:
        res = np.expand_dims(res, tuple(sorted((row, col))))
    return res


@implements(np.linalg.norm)
def _norm(cls, x, ord=None, axis=None, keepdims=False):
    """Vector norms and the Frobenius norm as before; the other matrix norms (``'nuc'``, 1, -1,
    2, -2, inf, -inf) through :func:`matrix_norm`."""
    nd = len(shape_of(x))
    two_axes = axis is not None and np.ndim(axis) == 1 and len(axis) == 2
    if ord not in (None, "fro") and (two_axes or axis is None and nd == 2):
        return matrix_norm(x, ord, tuple(axis) if two_axes else (0, 1), keepdims)
    return vector_or_frobenius_norm(cls, x, ord=ord, axis=axis, keepdims=keepdims)


@implements(np.linalg.matrix_norm)
def _matrix_norm(cls, x, /, *, keepdims=False, ord="fro"):
    return matrix_norm(x, ord, (-2, -1), keepdims)


@implements(np.linalg.vector_norm)
def _vector_norm(cls, x, /, *, axis=None, keepdims=False, ord=2):
    if axis is None:
        res = _norm(cls, np.ravel(x), ord=ord, axis=0)
        return np.reshape(res, (1,) * len(shape_of(x))) if keepdims else res
    if np.ndim(axis) == 1 and len(axis) != 1:  # several axes: a vector norm of their entries
        nd = len(shape_of(x))
        axes = normalize_axis(axis, nd)
        rest = tuple(a for a in range(nd) if a not in axes)
        moved = np.transpose(x, rest + axes)
        flat = np.reshape(moved, tuple(shape_of(moved)[:len(rest)]) + (-1,))
        res = _norm(cls, flat, ord=ord, axis=-1)
        return np.expand_dims(res, axes) if keepdims else res
    return _norm(cls, x, ord=ord, axis=int(np.ravel(axis)[0]), keepdims=keepdims)


# --------------------------------------------------------------- numpy 2's array API names
@implements(np.linalg.matmul)
def _la_matmul(cls, x1, x2, /):
    return np.matmul(x1, x2)


@implements(np.linalg.outer)
def _la_outer(cls, x1, x2, /):
    if len(shape_of(x1)) != 1 or len(shape_of(x2)) != 1:
        raise ValueError("numpy.linalg.outer: both inputs must be 1-dimensional")
    return np.outer(x1, x2)


@implements(np.linalg.tensordot)
def _la_tensordot(cls, x1, x2, /, *, axes=2):
    return np.tensordot(x1, x2, axes=axes)


@implements(np.linalg.vecdot, np.vecdot)
def _vecdot(cls, x1, x2, /, *, axis=-1, axes=None, keepdims=False):
    if axes is not None:
        raise unsupported("numpy.vecdot(..., axes=...)", cls._mode, "pass axis=")
    return np.sum(x1 * x2, axis=axis, keepdims=keepdims)


@implements(np.linalg.matrix_transpose, np.matrix_transpose)
def _matrix_transpose(cls, x, /):
    if len(shape_of(x)) < 2:
        raise ValueError("matrix_transpose: input must have at least 2 dimensions")
    return L.mT(x)


@implements(np.linalg.trace)
def _la_trace(cls, x, /, *, offset=0, dtype=None):
    return np.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


@implements(np.linalg.diagonal)
def _la_diagonal(cls, x, /, *, offset=0):
    return np.diagonal(x, offset=offset, axis1=-2, axis2=-1)


@implements(np.linalg.cross)
def _la_cross(cls, x1, x2, /, *, axis=-1):
    return np.cross(x1, x2, axis=axis)


@implements(np.linalg.tensorinv)
def _tensorinv(cls, a, ind=2):
    shape = shape_of(a)
    inv_shape = shape[ind:] + shape[:ind]
    rows = int(np.prod(shape[:ind]))
    return np.reshape(np.linalg.inv(np.reshape(a, (rows, -1))), inv_shape)


@implements(np.linalg.tensorsolve)
def _tensorsolve(cls, a, b, axes=None):
    nd = len(shape_of(a))
    if axes is not None:
        allaxes = list(range(nd))
        for k in axes:
            allaxes.remove(k)
            allaxes.insert(nd, k)
        a = np.transpose(a, allaxes)
    shape = shape_of(a)
    old = shape[-(nd - len(shape_of(b))):]
    prod = int(np.prod(old))
    x = np.linalg.solve(np.reshape(a, (prod, prod)), np.ravel(b))
    return np.reshape(x, old)
