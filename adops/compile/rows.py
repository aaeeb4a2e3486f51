"""numba helpers that whole-program code (:mod:`adops.compile.whole`) calls on rows of entries.

Contract. Inside one compiled program every value is a flat C-contiguous array of its entries
(``(n,)``), every tangent and cotangent a block of rows ``(k, n)``: one row per direction or
seed. A structural op that moves entries is an index array ``ids`` read off the op itself when
the program is traced (:mod:`adops.compile.forms`), so these few loops serve every shape:

- :func:`gather` ``(k, n_in) -> (k, len(ids))``: ``out[q, j] = t[q, ids[j]]``;
- :func:`put` writes ``t[q, ids[i]]`` at ``out[q, pos[i]]`` (one input of several);
- :func:`scatter_add` ``(k, n_in) -> (k, n_out)``: ``out[q, ids[i]] += t[q, i]`` (a sum's
  value, a gather's transpose), :func:`scatter_add_into` the same added into an existing
  block, and :func:`scatter_add_at` its several-input form; :func:`slice_add` and
  :func:`slice_add_into` the same for one contiguous run, without a table;
- :func:`spread` ``(k, 1) -> (k, n_out)``, a full sum's transpose;
- :func:`dot_rows` multiplies blocks of rows by a matrix with ``np.dot`` (BLAS);
- nonlinear reductions on rows ``x: (s, L)``: :func:`row_reduce` ``-> (s,)`` (max, min or
  prod of each row, nan propagating), :func:`rule_rows` (the op's own partial
  rule compiled), :func:`reduce_jvp` and :func:`reduce_vjp` (the partial times tangents or
  cotangents, strong zero); :func:`cumsum_rows` (running sums of runs of ``n`` entries).

All are ``nogil`` and cached on disk, and none raises: indices were checked at trace time.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .runtime import SMUL
from .sums import numpy_sum

_OPTS = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@njit(**_OPTS)
def gather(t, ids):
    """``out[q, j] = t[q, ids[j]]``.

    >>> gather(np.array([[1.0, 2.0, 3.0]]), np.array([2, 0])).tolist()
    [[3.0, 1.0]]
    """
    k, n = t.shape[0], ids.shape[0]
    out = np.empty((k, n), dtype=t.dtype)
    for q in range(k):
        for j in range(n):
            out[q, j] = t[q, ids[j]]
    return out


@njit(**_OPTS)
def put(out, t, pos, ids):
    """``out[q, pos[i]] = t[q, ids[i]]`` in place (converting to ``out``'s dtype)."""
    for q in range(out.shape[0]):
        for i in range(pos.shape[0]):
            out[q, pos[i]] = t[q, ids[i]]


@njit(**_OPTS)
def scatter_add(t, ids, n_out):
    """``out[q, ids[i]] += t[q, i]`` into zeros ``(k, n_out)``.

    >>> scatter_add(np.array([[1.0, 2.0, 3.0]]), np.array([1, 0, 1]), 2).tolist()
    [[2.0, 4.0]]
    """
    k = t.shape[0]
    out = np.zeros((k, n_out), dtype=t.dtype)
    for q in range(k):
        for i in range(ids.shape[0]):
            out[q, ids[i]] += t[q, i]
    return out


@njit(**_OPTS)
def scatter_add_into(out, t, ids):
    """``out[q, ids[i]] += t[q, i]`` in place: a contribution added into a running cotangent
    without a temporary array.

    >>> out = np.ones((1, 2))
    >>> scatter_add_into(out, np.array([[1.0, 2.0, 3.0]]), np.array([1, 0, 1]))
    >>> out.tolist()
    [[3.0, 5.0]]
    """
    for q in range(out.shape[0]):
        for i in range(ids.shape[0]):
            out[q, ids[i]] += t[q, i]


@njit(**_OPTS)
def spread_blocks_into(out, t, B, R):
    """A broadcast along one run of axes, with no index table: rows ``(k, n // B)`` read as
    ``(outer, R)`` blocks, each repeated ``B`` times, into rows ``out: (k, n)`` (a workspace's):
    ``out[q, (o * B + b) * R + r] = t[q, o * R + r]`` (``(K, d, 1) -> (K, d, N)``: B = N,
    R = 1)."""
    k, n = out.shape
    outer = n // (B * R) if B * R > 0 else 0
    for q in range(k):
        if R == 1:  # each entry repeated B times: a fill per entry, not a loop of one
            for o in range(outer):
                v = t[q, o]
                for b in range(B):
                    out[q, o * B + b] = v
            continue
        for o in range(outer):
            for b in range(B):
                at = (o * B + b) * R
                for r in range(R):
                    out[q, at + r] = t[q, o * R + r]


@njit(**_OPTS)
def spread_blocks(t, B, R, n):
    """:func:`spread_blocks_into` a fresh ``(k, n)``.

    >>> spread_blocks(np.array([[1.0, 2.0, 3.0, 4.0]]), 2, 2, 8).tolist()
    [[1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]]
    """
    out = np.empty((t.shape[0], n), dtype=t.dtype)
    spread_blocks_into(out, t, B, R)
    return out


@njit(**_OPTS)
def sum_blocks(c, B, R, n_in):
    """The transpose of :func:`spread_blocks`: rows ``(m, n_in * B)`` summed over each block's
    ``B`` repeats, in order, into ``(m, n_in)``.

    >>> sum_blocks(np.array([[1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]]), 2, 2, 4).tolist()
    [[2.0, 4.0, 6.0, 8.0]]
    """
    m = c.shape[0]
    out = np.zeros((m, n_in), dtype=c.dtype)
    outer = n_in // R if R > 0 else 0
    for q in range(m):
        if R == 1:  # B consecutive entries into one: numpy's pairwise sum of a contiguous run
            # (its bits, as the eager tier's np.sum gives them; a running sum in one register
            # waited on each add: GMM d = 10's (250, 1000) took 198 us)
            row = c[q]
            for o in range(outer):
                out[q, o] = numpy_sum(row[o * B:(o + 1) * B])
            continue
        for o in range(outer):
            for b in range(B):
                at = (o * B + b) * R
                for r in range(R):
                    out[q, o * R + r] += c[q, at + r]
    return out


@njit(**_OPTS)
def spread(t, n_out):
    """``(k, 1) -> (k, n_out)``: each row's one entry everywhere (a full sum's transpose).

    >>> spread(np.array([[1.0], [2.0]]), 3).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    out = np.empty((t.shape[0], n_out), dtype=t.dtype)
    for q in range(t.shape[0]):
        out[q, :] = t[q, 0]
    return out


@njit(**_OPTS)
def slice_add(t, lo, n_out):
    """``out[:, lo:lo + t.shape[1]] = t`` in zeros ``(k, n_out)``: the transpose of a gather of
    one contiguous run (``x[1:]``), with no index table.

    >>> slice_add(np.array([[1.0, 2.0]]), 1, 4).tolist()
    [[0.0, 1.0, 2.0, 0.0]]
    """
    out = np.zeros((t.shape[0], n_out), dtype=t.dtype)
    out[:, lo:lo + t.shape[1]] = t
    return out


@njit(**_OPTS)
def slice_add_into(out, t, lo):
    """``out[:, lo:lo + t.shape[1]] += t`` in place."""
    w = t.shape[1]
    for q in range(out.shape[0]):
        for i in range(w):
            out[q, lo + i] += t[q, i]


@njit(**_OPTS)
def pad_into(out, t, lo):
    """``out[:] = 0; out[:, lo:lo + t.shape[1]] = t`` in one pass over ``out``: a slice's
    transpose onto zeros, each entry written once (zeros then an add would write it twice)."""
    w, n = t.shape[1], out.shape[1]
    for q in range(out.shape[0]):
        for i in range(lo):
            out[q, i] = 0
        for i in range(w):
            out[q, lo + i] = t[q, i]
        for i in range(lo + w, n):
            out[q, i] = 0


@njit(**_OPTS)
def scatter_add_at(out, t, pos, ids):
    """``out[q, ids[i]] += t[q, pos[i]]`` in place: an input's share of a gather's transpose."""
    for q in range(out.shape[0]):
        for i in range(pos.shape[0]):
            out[q, ids[i]] += t[q, pos[i]]


@njit(**_OPTS)
def scratch(W, at, n):
    """``n`` entries of workspace ``W`` from ``at``, or a fresh array when ``W`` is too short: a
    small call is handed empty workspaces (:mod:`adops.compile.workspace`), its few blocks from
    malloc's free lists costing less than a pool's bookkeeping."""
    if at + n <= W.shape[0]:
        return W[at:at + n]
    return np.empty(n, dtype=W.dtype)


@njit(**_OPTS)
def zeros_rows(k, n, like):
    """Zeros ``(k, n)`` of ``like``'s dtype."""
    return np.zeros((k, n), dtype=like.dtype)


@njit(**_OPTS)
def matmul2_into(a, b, out):
    """``out[...] = a @ b`` (2-D; ``out`` C-contiguous) by ``np.dot``: operands copied to C order
    when needed; an empty operand gives zeros (numba's BLAS call refuses it)."""
    if a.shape[0] == 0 or a.shape[1] == 0 or b.shape[1] == 0:
        out[...] = 0
    elif a.shape[1] == 1 and b.shape[1] == 1:
        # a column times a number: the loop over rows alone (an inner loop of one entry per
        # row took 1.5 us for (1000, 1) @ (1, 1), this 0.5)
        b00 = b[0, 0]
        for i in range(a.shape[0]):
            out[i, 0] = a[i, 0] * b00
    elif a.shape[1] == 1:
        # an outer product: one rounded product per entry, as BLAS gives it, without BLAS's
        # call (0.8 us for (1000, 1) @ (1, 1), twice the loop)
        for i in range(a.shape[0]):
            ai = a[i, 0]
            for j in range(b.shape[1]):
                out[i, j] = ai * b[0, j]
    else:
        np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b), out)


@njit(**_OPTS)
def matmul2(a, b):
    """``a @ b`` of two 2-D blocks (:func:`matmul2_into`), a fresh array."""
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    matmul2_into(a, b, out)
    return out


@njit(**_OPTS)
def batched_matmul_into(a, b, nb, pa, pc, pb, out):
    """``nb`` products ``(pa, pc) @ (pc, pb)`` of flat blocks, written in place into ``out``."""
    a3 = a.reshape((nb, pa, pc))
    b3 = b.reshape((nb, pc, pb))
    o3 = out.reshape((nb, pa, pb))
    for i in range(nb):
        matmul2_into(a3[i], b3[i], o3[i])


@njit(**_OPTS)
def batched_matmul(a, b, nb, pa, pc, pb):
    """``nb`` products ``(pa, pc) @ (pc, pb)`` of flat blocks, stacked: ``(nb * pa * pb,)``."""
    out = np.empty(nb * pa * pb, dtype=a.dtype)
    batched_matmul_into(a, b, nb, pa, pc, pb, out)
    return out


@njit(**_OPTS)
def left_rows(a, rows, pc, pb):
    """Rows ``(k, pc * pb)`` each read as a ``(pc, pb)`` block ``B_q``: ``a @ B_q`` for
    ``a: (pa, pc)``, as rows ``(k, pa * pb)`` (one BLAS call when ``pb`` is 1)."""
    k, pa = rows.shape[0], a.shape[0]
    if pb == 1:
        if k == 0 or pa == 0 or pc == 0:
            return np.zeros((k, pa), dtype=rows.dtype)
        return matmul2(rows, np.ascontiguousarray(a.T))
    out = np.empty((k, pa * pb), dtype=rows.dtype)
    for q in range(k):
        out[q] = matmul2(a, rows[q].reshape((pc, pb))).reshape(pa * pb)
    return out


@njit(**_OPTS)
def bmm_rows_into(rows, y, nb, p, q, r, out):
    """Rows ``(k, nb * p * q)`` each read as ``nb`` blocks ``(p, q)``, times the blocks ``(q, r)``
    of ``y: (nb * q * r,)``, into rows ``out: (k, nb * p * r)`` (one BLAS call when ``nb`` is 1)."""
    k = rows.shape[0]
    if nb == 1:
        matmul2_into(rows.reshape((k * p, q)), y.reshape((q, r)), out.reshape((k * p, r)))
    else:
        for i in range(k):
            batched_matmul_into(rows[i], y, nb, p, q, r, out[i])


@njit(**_OPTS)
def bmm_rows(rows, y, nb, p, q, r):
    """:func:`bmm_rows_into` into fresh rows."""
    out = np.empty((rows.shape[0], nb * p * r), dtype=rows.dtype)
    bmm_rows_into(rows, y, nb, p, q, r, out)
    return out


@njit(**_OPTS)
def bmm_left_rows(x, rows, nb, p, q, r):
    """The blocks ``(p, q)`` of ``x: (nb * p * q,)`` times rows ``(k, nb * q * r)`` each read as
    ``nb`` blocks ``(q, r)``: rows ``(k, nb * p * r)``."""
    k = rows.shape[0]
    if nb == 1:
        return left_rows(x.reshape((p, q)), rows, q, r)
    out = np.empty((k, nb * p * r), dtype=rows.dtype)
    for i in range(k):
        out[i] = batched_matmul(x, rows[i], nb, p, q, r)
    return out


@njit(**_OPTS)
def same(now, recorded):
    """Whether a guard's result now equals the recorded one, entry by entry (a size-1 result
    stands for every entry)."""
    n = recorded.shape[0]
    if now.size == 1 and n != 1:
        v = now.ravel()[0]
        for i in range(n):
            if v != recorded[i]:
                return False
        return True
    flat = now.ravel()
    if flat.shape[0] != n:
        return False
    for i in range(n):
        if flat[i] != recorded[i]:
            return False
    return True


@njit(**_OPTS)
def sum_rows(t):
    """The sum of each row ``(k, n) -> (k, 1)``, as numpy sums a contiguous array.

    >>> sum_rows(np.arange(6.0).reshape(2, 3)).tolist()
    [[3.0], [12.0]]
    """
    k = t.shape[0]
    out = np.empty((k, 1), dtype=t.dtype)
    for q in range(k):
        out[q, 0] = numpy_sum(t[q])
    return out


# ------------------------------------------------------------------ nonlinear reductions
# A reduction runs on rows ``x: (s, L)`` (the reduced axes moved last): its value is numpy's
# reduction of each row, its partial ``d: (s, L)`` the op's own rule compiled by numba
# (:func:`rule_rows`), and ``d`` enters the tangents and cotangents by the strong-zero product.
_RULES: dict = {}


def rule_rows(rule):
    """The op's partial rule ``rule(rows, out)`` (:mod:`adops.ops.reductions`) compiled by numba:
    the very function the eager tier runs, not a second formula (memoized per rule).

    >>> from adops.ops.reductions import prod_rows
    >>> rule_rows(prod_rows)(np.array([[2.0, 0.0, 5.0]]), np.zeros((1, 1))).tolist()
    [[0.0, 10.0, 0.0]]
    """
    fn = _RULES.get(rule)
    if fn is None:
        fn = _RULES[rule] = njit(**_OPTS)(rule)
    return fn


@njit(**_OPTS)
def row_reduce(x, kind):
    """Each row of ``x: (s, L)`` reduced in order as numba's ``np.max`` (``kind`` 0),
    ``np.min`` (1) or ``np.prod`` (2) reduce it: the first extremum kept, a nan returned as
    soon as met, products left to right. One loop over the block (a call of ``np.max`` per row
    costs a view per row: 47 us against 6 us for 1000 rows of 5).

    >>> row_reduce(np.array([[1.0, 3.0, 2.0], [4.0, np.nan, 5.0]]), 0).tolist()
    [3.0, nan]
    >>> row_reduce(np.array([[1.0, 3.0, 2.0]]), 2).tolist()
    [6.0]
    """
    s, L = x.shape
    out = np.empty(s, dtype=x.dtype)
    for i in range(s):
        if L == 0:  # only a product reaches here with no entries (numpy refuses max of none)
            out[i] = 1
            continue
        acc = x[i, 0]  # 1 * x[i, 0] is x[i, 0]: the product as numba's, which starts at 1
        if kind == 2:
            for j in range(1, L):
                acc = acc * x[i, j]
            out[i] = acc
            continue
        for j in range(1, L):
            if acc != acc:
                break
            v = x[i, j]
            if v != v or (v > acc if kind == 0 else v < acc):
                acc = v
        out[i] = acc
    return out


@njit(**_OPTS)
def reduce_jvp(d, t):
    """``out[q, i] = sum_j smul(d[i, j], t[q, i * L + j])`` for ``d: (s, L)``, ``t: (k, s * L)``."""
    s, n = d.shape
    out = np.zeros((t.shape[0], s), dtype=t.dtype)
    for q in range(t.shape[0]):
        for i in range(s):
            for j in range(n):
                out[q, i] += SMUL(d[i, j], t[q, i * n + j])
    return out


@njit(**_OPTS)
def reduce_vjp(d, b):
    """``out[q, i * L + j] = smul(d[i, j], b[q, i])`` for ``d: (s, L)``, ``b: (m, s)``."""
    s, n = d.shape
    out = np.empty((b.shape[0], s * n), dtype=b.dtype)
    for q in range(b.shape[0]):
        for i in range(s):
            for j in range(n):
                out[q, i * n + j] = SMUL(d[i, j], b[q, i])
    return out


@njit(**_OPTS)
def cumsum_rows(t, n):
    """Each row of ``t: (k, s * n)`` read as ``s`` runs of ``n`` entries, each summed running
    (``np.cumsum`` along the run, in its order)."""
    out = np.empty_like(t)
    zero = np.zeros(1, dtype=t.dtype)[0]
    for q in range(t.shape[0]):
        for i in range(0, t.shape[1], max(n, 1)):
            acc = zero
            for j in range(i, i + n):
                acc = acc + t[q, j]
                out[q, j] = acc
    return out
