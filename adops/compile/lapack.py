"""numpy.linalg calls inside whole programs where numba's ``np.linalg`` does not return what
numpy's call does as it is: each takes one 2-D float matrix ``a: (m, n)`` (one batch entry, as
:class:`~adops.compile.matrixforms.MatrixLoop` hands it) and returns numpy's result.

- the factorizations ``eigh``, ``svd`` (``full_matrices=False``) and ``qr`` (reduced) return
  their results *packed* as the ops do (:mod:`adops.ops.linalg`): one vector, each result
  flattened in C order, in numpy's order (``eigh_packed -> (n + n*n,)``);
- ``svdvals`` runs LAPACK's ``gesdd`` without vectors, as numpy's ``svd(compute_uv=False)``
  does (the values with vectors differ in the last bits);
- ``pinv`` is numpy's algorithm (the singular values above ``rcond * max(s)`` inverted, the rest
  0, then ``vh^T (s^+ u^T)``), not numba's, whose cut-off and product order differ.

numba calls the same LAPACK routines numpy does (``syevd``, ``gesdd``, ``geqrf``/``orgqr``), so
in float64 the factors are numpy's bit for bit, eigenvector and singular vector signs included;
float32 agrees to its precision (the two libraries ship different OpenBLAS builds).
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.np.linalg import _compute_singular_values


@njit(cache=True, nogil=True)
def eigh_packed(a):
    """``numpy.linalg.eigh(a)`` (lower triangle read) as ``[w, v.ravel()]``."""
    w, v = np.linalg.eigh(a)
    return np.concatenate((w, v.ravel()))


@njit(cache=True, nogil=True)
def svd_packed(a):
    """``numpy.linalg.svd(a, full_matrices=False)`` as ``[u.ravel(), s, vh.ravel()]``."""
    u, s, vh = np.linalg.svd(a, False)
    return np.concatenate((u.ravel(), s, vh.ravel()))


@njit(cache=True, nogil=True)
def svdvals(a):
    """``numpy.linalg.svd(a, compute_uv=False)``."""
    return _compute_singular_values(a)


@njit(cache=True, nogil=True)
def qr_packed(a):
    """``numpy.linalg.qr(a)`` (reduced; ``m >= n``) as ``[q.ravel(), r.ravel()]``."""
    q, r = np.linalg.qr(a)
    return np.concatenate((q.ravel(), r.ravel()))


@njit(cache=True, nogil=True)
def pinv(a, rcond):
    """``numpy.linalg.pinv(a, rcond)``, numpy's cut-off and product order."""
    u, s, vh = np.linalg.svd(a, False)
    cutoff = rcond * s.max()
    for i in range(s.size):
        s[i] = 1 / s[i] if s[i] > cutoff else 0
    return np.dot(vh.T, s.reshape((-1, 1)) * u.T)

