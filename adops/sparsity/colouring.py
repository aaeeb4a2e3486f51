"""Sparse Jacobians by colouring: a few batched passes instead of n (forward) or m (reverse).

Mode-neutral: this module knows a sparsity *pattern* and a callable that pushes seeds through
one mode; it imports neither mode (only numpy and scipy).

Contract, for a Jacobian ``J: (m, n)`` whose nonzeros lie inside a boolean pattern ``P: (m, n)``:

- **Forward (columns).** Columns ``j, j'`` are *structurally orthogonal* when no row holds both
  (``P[:, j] & P[:, j'] == 0``). A colouring ``c: (n,)`` gives each column a colour so that
  columns of one colour are orthogonal: a distance-1 colouring of the column intersection graph
  ``P^T P``. The seed ``S: (n_colours, n)`` has ``S[k, j] = 1`` iff ``c[j] == k``; one batched
  JVP gives the compressed product ``B = J S^T: (m, n_colours)`` (pushed as ``(n_colours, m)``),
  and ``J[i, j] = B[i, c[j]]`` for every ``(i, j)`` in the pattern, exactly (no substitution).
- **Reverse (rows).** The same on ``P^T``: rows of one colour share no column (colouring of the
  row intersection graph ``P P^T``); ``S: (n_colours, m)``, one batched VJP gives
  ``C = S J: (n_colours, n)``, and ``J[i, j] = C[c[i], j]``.
- The number of colours is at least the largest number of nonzeros in a row (forward) or column
  (reverse), and the greedy colouring uses at most one more than the largest degree in the
  intersection graph. A banded matrix of bandwidth w (w nonzero diagonals) needs w colours.

The greedy colouring visits vertices in a chosen order and gives each the smallest colour not
used by a coloured neighbour (ColPack's ``GreedyPartialD2Coloring``), in O(nnz) work without
building the intersection graph. Orders: ``largest_first`` (decreasing degree, neighbours
counted with multiplicity; the default), ``smallest_last`` (Matula's degeneracy order, often
fewer colours; it builds the intersection graph), ``natural``.

A pattern is a ``scipy.sparse`` matrix or a dense array (nonzero entries are structural); the
value of a pattern entry is ignored. :func:`sparse_jacobian` returns ``scipy.sparse.csr_matrix``
with exactly the pattern's entries stored (structural zeros that evaluate to 0.0 stay stored).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MODES = ("forward", "reverse")
ORDERS = ("largest_first", "smallest_last", "natural")


def as_pattern(pattern) -> sp.csr_matrix:
    """A boolean CSR ``(m, n)`` pattern from a scipy sparse matrix or a dense array.

    Example:
        >>> as_pattern(np.eye(2)).toarray().tolist()
        [[True, False], [False, True]]
    """
    if sp.issparse(pattern):
        p = sp.csr_matrix(pattern, copy=True)
    else:
        a = np.asarray(pattern)
        if a.ndim != 2:
            raise ValueError(f"a sparsity pattern is a 2-d (m, n) matrix; got shape {a.shape}")
        p = sp.csr_matrix(a != 0)
    p.eliminate_zeros()
    p.sum_duplicates()
    p.sort_indices()
    p.data = np.ones(p.nnz, dtype=bool)
    return p


def pattern_from_jacobian(J, tol: float = 0.0) -> sp.csr_matrix:
    """The pattern ``|J| > tol`` of a known (dense or sparse) Jacobian: for tests, and for
    patterns found by probing. Structural detection from a traced program is not done here.

    Example:
        >>> pattern_from_jacobian(np.array([[1.0, 0.0], [2.0, 3.0]])).nnz
        3
    """
    if sp.issparse(J):
        J = sp.csr_matrix(J, copy=True)
        J.data = np.abs(J.data) > tol
        return as_pattern(J)
    return as_pattern(np.abs(np.asarray(J)) > tol)


def _intersection_graph(p: sp.csr_matrix) -> sp.csr_matrix:
    """Adjacency of the column intersection graph ``P^T P`` (diagonal removed), CSR."""
    pi = p.astype(np.int32)
    g = (pi.T @ pi).tocsr()
    g.setdiag(0)
    g.eliminate_zeros()
    g.sort_indices()
    return g


def _order(p: sp.csr_matrix, order: str) -> np.ndarray:
    n = p.shape[1]
    if order == "natural":
        return np.arange(n)
    if order == "largest_first":
        # degree counted with multiplicity (a neighbour sharing two rows counts twice): it
        # needs no intersection graph, which for a row of many columns (a camera in BA seen by
        # a thousand observations) has millions of edges
        row_deg = np.diff(p.indptr).astype(np.int64)
        deg = p.T.astype(np.int64) @ (row_deg - 1)
        return np.argsort(-deg, kind="stable")
    if order == "smallest_last":
        g = _intersection_graph(p)
        return _smallest_last(g, np.diff(g.indptr))
    raise ValueError(f"order must be one of {ORDERS}, got {order!r}")


def _smallest_last(g, deg):
    """Matula-Beck degeneracy order: repeatedly remove a vertex of least remaining degree; colour
    in the reverse order of removal. Buckets keep it O(vertices + edges)."""
    n = g.shape[0]
    deg = deg.astype(np.int64).tolist()
    indptr, indices = g.indptr, g.indices
    buckets = [set() for _ in range(max(deg, default=0) + 1)]
    for v, d in enumerate(deg):
        buckets[d].add(v)
    removed = bytearray(n)
    out = []
    low = 0
    for _ in range(n):
        low = max(low - 1, 0)
        while not buckets[low]:
            low += 1
        v = buckets[low].pop()
        removed[v] = 1
        out.append(v)
        for u in indices[indptr[v]:indptr[v + 1]].tolist():
            if not removed[u]:
                d = deg[u]
                buckets[d].discard(u)
                deg[u] = d - 1
                buckets[d - 1].add(u)
    return np.array(out[::-1], dtype=np.int64)


def _greedy(p: sp.csr_matrix, order: np.ndarray) -> tuple[np.ndarray, int]:
    """Colour the columns of ``p`` in ``order``. Each row keeps the set of colours its coloured
    columns use as the bits of a Python int, so a column's forbidden colours are the OR over
    its rows: O(nnz) work, without building the intersection graph."""
    csc = p.tocsc()
    ip, ix = csc.indptr.tolist(), csc.indices.tolist()
    masks = [0] * p.shape[0]
    colour = [0] * p.shape[1]
    for v in order.tolist():
        rows = ix[ip[v]:ip[v + 1]]
        taken = 0
        for i in rows:
            taken |= masks[i]
        c = (~taken & (taken + 1)).bit_length() - 1           # lowest colour not taken
        bit = 1 << c
        for i in rows:
            masks[i] |= bit
        colour[v] = c
    colour = np.array(colour, dtype=np.int64)
    return colour, int(colour.max(initial=-1)) + 1


def colour_columns(pattern, order: str = "largest_first") -> tuple[np.ndarray, int]:
    """Greedy distance-1 colouring of the column intersection graph (forward mode).

    Args:
        pattern: ``(m, n)`` scipy sparse or dense; nonzeros are structural.
        order: ``largest_first``, ``smallest_last`` or ``natural``.

    Returns:
        ``(colours: (n,) int, n_colours)``; columns of one colour share no row.

    Example:
        >>> colour_columns(np.array([[1, 1, 0], [0, 1, 1]]))
        (array([1, 0, 1]), 2)
    """
    p = as_pattern(pattern)
    return _greedy(p, _order(p, order))


def colour_rows(pattern, order: str = "largest_first") -> tuple[np.ndarray, int]:
    """Greedy distance-1 colouring of the row intersection graph (reverse mode): rows of one
    colour share no column. Returns ``(colours: (m,) int, n_colours)``.

    Example:
        >>> colour_rows(np.array([[1, 0], [1, 0], [0, 1]]))
        (array([0, 1, 0]), 2)
    """
    return colour_columns(as_pattern(pattern).T.tocsr(), order)


def is_valid_colouring(pattern, colours, mode: str = "forward") -> bool:
    """Whether ``colours`` makes every colour class structurally orthogonal (columns for
    ``forward``, rows for ``reverse``).

    Example:
        >>> is_valid_colouring(np.ones((1, 2)), np.array([0, 0]))
        False
    """
    p = as_pattern(pattern)
    if mode == "reverse":
        p = p.T.tocsr()
    elif mode != "forward":
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    colours = np.asarray(colours)
    rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
    keys = rows.astype(np.int64) * (int(colours.max(initial=0)) + 1) + colours[p.indices]
    return np.unique(keys).size == keys.size


def seed_matrix(colours, n_colours: int | None = None, dtype=np.float64) -> np.ndarray:
    """The 0/1 compression seed ``S: (n_colours, len(colours))``, ``S[k, j] = (colours[j] == k)``.

    Example:
        >>> seed_matrix(np.array([1, 0, 1])).tolist()
        [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    """
    colours = np.asarray(colours)
    k = int(colours.max(initial=-1)) + 1 if n_colours is None else int(n_colours)
    S = np.zeros((k, colours.size), dtype=dtype)
    S[colours, np.arange(colours.size)] = 1
    return S


def recover_columns(compressed, pattern, colours) -> sp.csr_matrix:
    """``J`` from ``B = J S^T: (m, n_colours)`` of a column colouring: ``J[i, j] = B[i, c[j]]``.

    Example:
        >>> J = np.array([[2.0, 0.0], [0.0, 3.0]])
        >>> c = np.array([0, 0])
        >>> recover_columns(J @ seed_matrix(c).T, J != 0, c).toarray().tolist()
        [[2.0, 0.0], [0.0, 3.0]]
    """
    p = as_pattern(pattern)
    B = np.asarray(compressed)
    if B.ndim != 2 or B.shape[0] != p.shape[0] or B.shape[1] <= int(np.max(colours, initial=-1)):
        raise ValueError(f"compressed Jacobian has shape {B.shape}; expected (m, n_colours) "
                         f"with m = {p.shape[0]}")
    rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
    vals = B[rows, np.asarray(colours)[p.indices]]
    return sp.csr_matrix((vals, p.indices.copy(), p.indptr.copy()), shape=p.shape)


def recover_rows(compressed, pattern, colours) -> sp.csr_matrix:
    """``J`` from ``C = S J: (n_colours, n)`` of a row colouring: ``J[i, j] = C[c[i], j]``.

    Example:
        >>> J = np.array([[2.0, 0.0], [0.0, 3.0]])
        >>> c = np.array([0, 0])
        >>> recover_rows(seed_matrix(c) @ J, J != 0, c).toarray().tolist()
        [[2.0, 0.0], [0.0, 3.0]]
    """
    p = as_pattern(pattern)
    C = np.asarray(compressed)
    if C.ndim != 2 or C.shape[1] != p.shape[1]:
        raise ValueError(f"compressed Jacobian has shape {C.shape}; expected (n_colours, n) "
                         f"with n = {p.shape[1]}")
    rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
    vals = C[np.asarray(colours)[rows], p.indices]
    return sp.csr_matrix((vals, p.indices.copy(), p.indptr.copy()), shape=p.shape)


@dataclass(frozen=True)
class Colouring:
    """A pattern coloured for one mode: seeds to push and the recovery of ``J``.

    ``mode``: ``forward`` (columns coloured; seeds ``(n_colours, n)``) or ``reverse`` (rows;
    seeds ``(n_colours, m)``). Compute once per pattern with :func:`colour`, reuse at every x.
    """

    pattern: sp.csr_matrix
    mode: str
    colours: np.ndarray
    n_colours: int

    def seeds(self, dtype=np.float64) -> np.ndarray:
        return seed_matrix(self.colours, self.n_colours, dtype)

    def recover(self, pushed) -> sp.csr_matrix:
        """``J`` from the pushed seeds, ``(n_colours, m)`` forward or ``(n_colours, n)``
        reverse (the modes' batched layout: one row per seed)."""
        m, n = self.pattern.shape  # explicit: reshape(0, -1) of no colours is ambiguous
        pushed = np.asarray(pushed).reshape(self.n_colours, m if self.mode == "forward" else n)
        if self.mode == "forward":
            return recover_columns(pushed.T, self.pattern, self.colours)
        return recover_rows(pushed, self.pattern, self.colours)


def colour(pattern, mode: str = "forward", order: str = "largest_first") -> Colouring:
    """Colour ``pattern`` for ``mode`` (columns for forward, rows for reverse).

    Example:
        >>> c = colour(np.eye(4), "reverse")
        >>> c.n_colours, c.seeds().shape
        (1, (1, 4))
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    p = as_pattern(pattern)
    colours, k = (colour_columns if mode == "forward" else colour_rows)(p, order)
    return Colouring(p, mode, colours, k)


class Colourings:
    """The colourings one transform has made, by the pattern's structure: a sparse Jacobian
    called again with the same ``(m, n)`` pattern (the same object or an equal one) is not
    coloured again, and a pattern changed in place is coloured anew, since the key is its
    entries, not its identity. Hashing the structure is O(nnz); greedy colouring costs about as
    much as a banded Jacobian itself. Keeps the last ``keep`` patterns.

    Example:
        >>> memo = Colourings()
        >>> P = np.eye(3)
        >>> first = memo.of(P, "forward")
        >>> first is memo.of(P.astype(bool), "forward")
        True
        >>> P[0, 1] = 1
        >>> memo.of(P, "forward").n_colours
        2
    """

    def __init__(self, keep: int = 8):
        self.keep, self._kept = keep, {}

    def of(self, pattern, mode: str) -> Colouring:
        p = as_pattern(pattern)
        digest = hashlib.sha1(p.indptr.tobytes())
        digest.update(p.indices.tobytes())
        key = (mode, p.shape, digest.digest())
        found = self._kept.get(key)
        if found is None:
            found = colour(p, mode)
            while len(self._kept) >= self.keep:
                self._kept.pop(next(iter(self._kept)), None)
            self._kept[key] = found
        return found


def fewest_colours(pattern) -> dict:
    """The fewest colours each mode's colouring can have: the entries of the fullest row
    (forward: the columns meeting in a row need a colour each) and of the fullest column
    (reverse).

    Example:
        >>> fewest_colours(np.array([[1, 1, 1], [0, 1, 0]]))
        {'forward': 3, 'reverse': 2}
    """
    p = as_pattern(pattern)
    return {"forward": int(np.diff(p.indptr).max(initial=0)),
            "reverse": int(np.diff(p.tocsc().indptr).max(initial=0))}


def colour_counts(pattern, colouring=None, ratio: float = 2.0):
    """Colours per mode, ``(counts, bounds)``: the mode with the lower :func:`fewest_colours` is
    coloured, the other only when its bound is at most ``ratio`` times those colours (else
    ``bounds`` gives that bound: it needs more, whatever the colouring). ``colouring(mode)``
    colours (default :func:`colour` of ``pattern``; a :class:`~adops.sparsity.Pattern`'s kept
    colouring, say). Colouring BA's rows cost 0.5 s to learn 1300 colours against 14.

    Example:
        >>> arrow = np.eye(5, dtype=bool); arrow[:, 0] = True   # every output reads x[0]
        >>> colour_counts(arrow)
        ({'forward': 2}, {'reverse': 5})
    """
    colouring = colouring or (lambda mode: colour(pattern, mode))
    bounds = fewest_colours(pattern)
    first = min(bounds, key=bounds.get)
    other = "reverse" if first == "forward" else "forward"
    counts = {first: colouring(first).n_colours}
    if bounds[other] <= ratio * counts[first]:
        counts[other] = colouring(other).n_colours
        return counts, {}
    return counts, {other: bounds[other]}


def sparse_jacobian(push, pattern, mode: str = "forward", *, order: str = "largest_first",
                    dtype=np.float64) -> sp.csr_matrix:
    """The Jacobian ``(m, n)`` as CSR from ``n_colours`` seeds pushed in one batched call.

    Args:
        push: forward: a batched JVP, seeds ``(k, n) -> (k, m)`` (or ``(k, *out_shape)``);
            reverse: a batched VJP, seeds ``(k, m) -> (k, n)``. For example
            ``lambda S: dualad.jvp(f, (x,), (S,), batched=True)[1]`` or, with
            ``_, vjp_fn = revad.vjp(f, x)``, ``lambda U: vjp_fn(U, batched=True)[0]``.
        pattern: the structural pattern ``(m, n)`` (scipy sparse or dense), or a
            :class:`Colouring` already computed for ``mode``.
        mode: ``forward`` (colour columns) or ``reverse`` (colour rows).
        order: greedy order when the pattern is coloured here.

    Returns:
        ``scipy.sparse.csr_matrix`` equal to the dense Jacobian on the pattern.

    Example:
        >>> x = np.array([1.0, 2.0, 3.0])
        >>> jvp = lambda S: S * np.cos(x)          # f = sin, elementwise: J = diag(cos x)
        >>> J = sparse_jacobian(jvp, np.eye(3), "forward")
        >>> bool(np.allclose(J.toarray(), np.diag(np.cos(x))))
        True
    """
    c = pattern if isinstance(pattern, Colouring) else colour(pattern, mode, order)
    if c.mode != mode:
        raise ValueError(f"the colouring was computed for {c.mode} mode, not {mode}")
    pushed = np.asarray(push(c.seeds(dtype)))
    width = c.pattern.shape[0] if mode == "forward" else c.pattern.shape[1]
    if pushed.shape[0] != c.n_colours or pushed.size != c.n_colours * width:
        raise ValueError(f"push returned shape {pushed.shape} for {c.n_colours} seeds; expected "
                         f"({c.n_colours}, {width}) ({'JVP' if mode == 'forward' else 'VJP'} "
                         "with one row per seed)")
    return c.recover(pushed)
