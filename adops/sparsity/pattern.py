"""Sparsity detection: which outputs of a traced program depend on which inputs.

Contract: :func:`detect` ``(f, x)`` traces ``f`` once (:class:`adops.program.Trace`) and returns
the structural pattern of its Jacobian as a boolean ``scipy.sparse.csr_matrix`` of shape
``(out.size, x.size)`` (flattened, C order), plus the trace's guards. The pattern is
*structural*: an entry is present when some op on a path can carry a derivative, whatever its
value at this point (``x[0] * x[1]`` at ``x = 0`` still depends on both), so it holds wherever the
same program runs. Branches can change the program: :class:`Pattern` keeps the guards and
:meth:`Pattern.holds_at` re-checks them at a new point (by one trace), as a recording does.

How each entry's dependency rows ``D_e: (size_e, n)`` are propagated, per kind of op:

- gathers (indexing, reshape, transpose, broadcast, concatenate, stack, setitem, diagonal,
  cast): the op's own primal applied to input *positions* gives, for each output entry, the one
  input entry it copies: ``D_out = D_in[positions]``;
- elementwise ops: the union over inputs, each broadcast to the output; an input whose partial
  is not differentiable (``where``'s condition) adds nothing;
- sums and the nonlinear reductions (max, min, prod): each output depends on its reduced slice;
- other linear and bilinear maps (einsum, cumsum, index_add...): their linearization applied to
  an identity of nonnegative tangents (bilinear ops with the other operand's nonzero structure),
  so no entries cancel; beyond :data:`DENSE_LIMIT` entries, and for any other op, every output
  depends on every input the op reads (conservative: a superset keeps colouring exact).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..core.fpstate import quiet
from ..program.inputs import as_primal
from ..program.tape import Trace
from ..ops.kinds import BilinearOp, LinearOp, ReduceOp
from ..ops.registry import ElementwiseOp

#: largest (input entries x output entries) map whose structure is computed exactly
DENSE_LIMIT = 4_000_000

GATHERS = {"getitem", "reshape", "transpose", "broadcast_to", "concatenate", "stack",
           "setitem", "diagonal", "cast"}


class Pattern:
    """A detected pattern with the guards of the trace it came from."""

    def __init__(self, f, pattern, trace, kwargs, args, argnum):
        self.f, self.pattern, self.trace = f, pattern, trace
        self.kwargs, self.args, self.argnum = kwargs, args, argnum
        self._colourings = {}

    def colouring(self, mode: str):
        """The colouring of the pattern for ``mode`` (:func:`adops.sparsity.colour`), computed at
        the first request and kept: a coloured Jacobian called again with this pattern does not
        colour it again (greedy colouring of a tridiagonal n = 10^4 pattern costs about as much
        as the Jacobian itself).

        Example:
            >>> import numpy as np
            >>> from adops.sparsity import detect
            >>> p = detect(lambda x: x[1:] * x[:-1], np.ones(6))
            >>> p.colouring("forward") is p.colouring("forward"), p.colouring("forward").n_colours
            (True, 2)
        """
        from .colouring import colour
        found = self._colourings.get(mode)
        if found is None:
            found = self._colourings[mode] = colour(self.pattern, mode)
        return found

    def holds_at(self, *args, **kwargs) -> bool:
        """Whether the comparisons and masks of the trace evaluate alike at ``args`` (then the
        program, and so its pattern, is the same): by one trace, none when the trace has no
        guards and the arguments have its shapes and dtypes (the program cannot differ then)."""
        sig = _signature(args, kwargs)
        if not self.trace.tape.guards and sig is not None and \
                sig == _signature(self.args, self.kwargs):
            return True
        args = list(args)
        try:
            args[self.argnum] = as_primal(args[self.argnum], f"argument {self.argnum}")
            with quiet():
                fresh = Trace(self.f, args, kwargs, (self.argnum,), "adops.sparsity",
                              linearize=False)
        except Exception:
            return False
        return _same_guards(self.trace.tape.guards, fresh.tape.guards)


def _signature(args, kwargs):
    """Shapes and dtypes of array arguments; other arguments by type and value (None when one
    cannot be compared), so equal signatures trace the same program when it has no guards."""
    def key(a):
        if isinstance(a, (np.ndarray, np.generic, float, int, complex, bool)):
            a = np.asarray(a)
            return ("array", a.shape, a.dtype.str)
        return None
    keys = [key(a) for a in args] + [(k, key(v)) for k, v in sorted(kwargs.items())]
    return None if any(k is None or (type(k) is tuple and k[-1] is None) for k in keys) \
        else tuple(keys)


def _same_guards(a, b):
    from ..program.tape import same
    return len(a) == len(b) and all(
        g.func is h.func and same(g.result, h.result) for g, h in zip(a, b))


def detect(f, *args, argnum: int = 0, **kwargs) -> Pattern:
    """The Jacobian's structural pattern of ``f`` w.r.t. ``args[argnum]``, at ``args``.

    Example:
        >>> import numpy as np
        >>> p = detect(lambda x: x[1:] * x[:-1], np.ones(4))
        >>> p.pattern.toarray().astype(int).tolist()
        [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    """
    args = list(args)
    args[argnum] = as_primal(args[argnum], f"argument {argnum}")
    with quiet():
        trace = Trace(f, args, kwargs, (argnum,), "adops.sparsity", linearize=False)
        n = int(np.prod(trace.shapes[0]))
        deps = propagate(trace, n)
    rows = []
    for entry, value in zip(trace.outs, trace.values):
        size = int(np.prod(np.shape(value)))
        rows.append(sp.csr_matrix((size, n), dtype=bool) if entry is None else deps[entry])
    pattern = sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, n), dtype=bool)
    pattern.eliminate_zeros()
    return Pattern(f, pattern.astype(bool), trace, kwargs, args, argnum)


def propagate(trace, n: int) -> dict:
    """``{entry: D_e}`` for every entry that depends on the leaf (see module doc)."""
    tape = trace.tape
    leaf = trace.leaves[0]
    deps = {leaf: sp.identity(n, dtype=bool, format="csr")}
    for e, op in enumerate(tape.ops):
        if op is None or op.name == "constant":
            continue
        refs = tape.refs[e]
        if not any(type(r) is int and r in deps for r in refs):
            continue
        size = int(np.prod(tape.shapes[e]))
        deps[e] = _rule(op, tape, e, refs, deps, size, n).tocsr().astype(bool)
    return deps


def _shape(tape, r):
    return tape.shapes[r] if type(r) is int else np.shape(r.value)


def _dep(deps, r, size, n):
    """Rows of input ``r`` (empty for constants)."""
    if type(r) is int and r in deps:
        return deps[r]
    return sp.csr_matrix((size, n), dtype=bool)


def _rule(op, tape, e, refs, deps, size, n):
    params = tape.params[e] or {}
    shapes = [tuple(_shape(tape, r)) for r in refs]
    sizes = [int(np.prod(s)) for s in shapes]
    if isinstance(op, LinearOp) and op.name in GATHERS:
        # each output entry copies one input entry: the op on positions says which
        offsets = np.cumsum([0] + sizes)
        positions = [np.arange(a, a + s).reshape(shape)
                     for a, s, shape in zip(offsets, sizes, shapes)]
        extra = {"dtype": np.dtype(np.int64), "source": np.dtype(np.int64)} \
            if op.name == "cast" else {}
        index = np.asarray(op.primal(*positions, **{**params, **extra})).ravel()
        stacked = sp.vstack([_dep(deps, r, s, n) for r, s in zip(refs, sizes)], format="csr")
        return stacked[index]
    if isinstance(op, ElementwiseOp):
        out_shape = tuple(tape.shapes[e])
        acc = sp.csr_matrix((size, n), dtype=bool)
        for r, s, shape, partial in zip(refs, sizes, shapes, op.partials):
            if partial is None or not (type(r) is int and r in deps):
                continue
            index = np.broadcast_to(np.arange(s).reshape(shape), out_shape).ravel()
            acc = acc + deps[r][index]
        return acc
    if (isinstance(op, LinearOp) and op.name == "sum") or isinstance(op, ReduceOp):
        return _reduction(tape, e, refs[0], deps, params, n)
    if size * sum(sizes) <= DENSE_LIMIT and isinstance(op, (LinearOp, BilinearOp)):
        return _linear_structure(op, tape, e, refs, deps, shapes, sizes, size, n)
    # anything else: every output depends on everything the op reads
    union = sp.csr_matrix((1, n), dtype=bool)
    for r, s in zip(refs, sizes):
        if type(r) is int and r in deps:
            union = union + sp.csr_matrix(deps[r].sum(axis=0) > 0)
    return sp.vstack([union] * size, format="csr") if size else sp.csr_matrix((0, n), dtype=bool)


def _reduction(tape, e, r, deps, params, n):
    shape = tuple(tape.shapes[r])
    axes = tuple(params.get("axis", range(len(shape))))
    kept = tuple(a for a in range(len(shape)) if a not in axes)
    coords = np.indices(shape).reshape(len(shape), -1)
    kept_shape = tuple(shape[a] for a in kept)
    rows = np.ravel_multi_index(tuple(coords[a] for a in kept), kept_shape) if kept else \
        np.zeros(coords.shape[1], dtype=np.intp)
    size_out = int(np.prod(kept_shape)) if kept else 1
    reduce = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, np.arange(len(rows)))),
                           shape=(size_out, int(np.prod(shape))))
    return _compose(reduce, deps[r])


def _linear_structure(op, tape, e, refs, deps, shapes, sizes, size, n):
    """The map's matrix from its linearization on identity tangents (nonnegative structure)."""
    acc = sp.csr_matrix((size, n), dtype=bool)
    values = [np.abs(np.asarray(r.value, dtype=float)) if type(r) is not int
              else np.ones(shape) for r, shape in zip(refs, shapes)]
    for j, (r, s, shape) in enumerate(zip(refs, sizes, shapes)):
        if not (type(r) is int and r in deps):
            continue
        # other operands: their nonzero structure (traced ones could be anything: ones)
        vals = [v if k != j else np.ones(shape) for k, v in enumerate(values)]
        _, lin = op.linearize(*vals, **(tape.params[e] or {}))
        tangents = [np.eye(s).reshape((s,) + shape) if k == j else None
                    for k in range(len(refs))]
        block = lin.jvp(tangents)  # (s, *out_shape)
        matrix = sp.csr_matrix(np.abs(np.asarray(block)).reshape(s, size).T > 0)
        acc = acc + _compose(matrix, deps[r])
    return acc


def _compose(structure, rows):
    """Which inputs each output reaches through ``structure: (out, in)`` given the inputs'
    dependence ``rows: (in, n)`` (a boolean matrix product)."""
    return (structure.astype(np.int64) @ rows.astype(np.int64)) > 0


def sparse_jacobian_of(f, args, kwargs, argnum, sparsity, mode, push_for, colourings=None):
    """The mode-neutral driver behind ``jacfwd``/``jacrev(..., sparsity=...)``: the pattern
    (``"auto"``: detected here, at ``args``; else a given ``(m, n)`` pattern or a
    :class:`Pattern`), its colouring for ``mode``, and one batched push of the colour seeds,
    ``push_for(x) -> push(seeds)``. Returns a ``scipy.sparse.csr_matrix`` ``(out.size, x.size)``.
    A :class:`Pattern` keeps its own colouring; a given ``(m, n)`` pattern's is kept in
    ``colourings`` (:class:`~adops.sparsity.colouring.Colourings`, one per transform) when given.
    """
    from .colouring import colour, sparse_jacobian
    if isinstance(sparsity, str):
        if sparsity != "auto":
            raise ValueError(f"sparsity must be 'auto', a (m, n) pattern (scipy sparse or a "
                             f"dense bool array) or an adops.sparsity.Pattern; got {sparsity!r}")
        sparsity = detect(f, *args, argnum=argnum, **kwargs)
    elif isinstance(sparsity, Pattern):
        if not sparsity.holds_at(*args, **kwargs):
            raise ValueError(
                "the sparsity pattern was detected at a point where the function's comparisons "
                "or masks evaluate differently: its program, and possibly its pattern, changed; "
                "detect it again (sparsity='auto')")
    pattern = sparsity.pattern if isinstance(sparsity, Pattern) else sparsity
    x = as_primal(args[argnum], f"argument {argnum}")
    shape = np.shape(pattern) if not sp.issparse(pattern) else pattern.shape
    if len(shape) != 2 or shape[1] != x.size:
        raise ValueError(f"the sparsity pattern has shape {shape}, but the Jacobian is "
                         f"(out.size, {x.size}): pass a 2-d pattern with one column per input")
    colouring = sparsity.colouring(mode) if isinstance(sparsity, Pattern) else \
        (colourings.of(pattern, mode) if colourings is not None else colour(pattern, mode))
    return sparse_jacobian(push_for(x), colouring, mode, dtype=x.dtype)
