"""Structural ops: each a linear (or bilinear) map, its batched form and its transpose.

Contract: a linear op maps primal inputs ``xs[i]: (*shape_i)`` to ``out: (*out_shape)``. Its
batched map takes tangents with a leading direction axis, ``x_dot_i: (k, *shape_i)`` to
``out_dot: (k, *out_shape)``; its transpose takes cotangents ``out_bar: (m, *out_shape)`` to
``x_bar_i: (m, *shape_i)``. Axis parameters are non-negative, normalized by
:mod:`adops.numpy_api`, and shift by one on the batched arrays. The dot-product test
``<u, A v> = <A^T u, v>`` (tests/test_adops.py) proves each transpose is the adjoint.

``einsum`` is the one bilinear op (linear in each operand): matmul, dot, inner, outer, vdot,
tensordot and einsum itself are all lowered onto it, so their derivatives are written once.
Einsum specs here use explicit lower-case letters only; ``Z`` names the direction axis.
"""
from __future__ import annotations

import functools

import numpy as np

from .einsum_spec import parse_spec
from ..core.kernels import full_batch, unbroadcast
from ..core.levels import bind
from .kinds import defbilinear, deflinear
from .registry import OPS


def _shift(axes):
    return tuple(a + 1 for a in axes)


# ------------------------------------------------------------------------------ sum
def _sum_T(ob, shapes, axis, keepdims):
    (shape,) = shapes
    if not keepdims:
        ob = np.expand_dims(ob, _shift(axis))
    return (np.broadcast_to(ob, ob.shape[:1] + shape),)


deflinear("sum",
          lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
          lambda t, axis, keepdims: np.sum(t, axis=_shift(axis), keepdims=keepdims),
          _sum_T, numpy=[np.sum],
          doc="Sum over `axis` (a tuple); transpose broadcasts back.",
          numba="sum")

# -------------------------------------------------------------------------- reshape
deflinear("reshape",
          lambda x, shape: np.reshape(x, shape),
          lambda t, shape: t.reshape(t.shape[:1] + shape),
          lambda ob, shapes, shape: (ob.reshape(ob.shape[:1] + shapes[0]),),
          numpy=[np.reshape, np.ravel],
          writeback=lambda base, view, shape: np.reshape(view, base.shape),
          doc="Reshape to a resolved `shape` (no -1); transpose reshapes back.",
          numba="same")

# ------------------------------------------------------------------------ transpose
deflinear("transpose",
          lambda x, axes: np.transpose(x, axes),
          lambda t, axes: np.transpose(t, (0,) + _shift(axes)),
          lambda ob, shapes, axes: (np.transpose(ob, (0,) + _shift(np.argsort(axes))),),
          numpy=[np.transpose],
          writeback=lambda base, view, axes: np.transpose(view, tuple(np.argsort(axes))),
          doc="Permute axes by `axes` (a full permutation); transpose applies the inverse.",
          numba="gather")

# --------------------------------------------------------------------- broadcast_to
deflinear("broadcast_to",
          lambda x, shape: np.broadcast_to(x, shape),
          lambda t, shape: full_batch(t, shape),
          lambda ob, shapes, shape: (unbroadcast(ob, shapes[0]),),
          numpy=[np.broadcast_to],
          doc="Broadcast to `shape`; transpose sums over the broadcast axes.",
          numba="gather")


# ------------------------------------------------------------------------- indexing
def is_basic_index(index: tuple) -> bool:
    """True when ``index`` (a normalized tuple) selects a view: ints, slices and None only."""
    return all(i is None or isinstance(i, (int, np.integer, slice)) for i in index)


def take(t, index):
    """``t[index]`` on a batched ``t: (b, *shape)``, keeping the direction axis first."""
    if is_basic_index(index):
        return t[(slice(None),) + index]
    # the direction axis goes last so advanced-index broadcast dims land where numpy puts them
    return np.moveaxis(np.moveaxis(t, 0, -1)[index], -1, 0)


def _selected_shape(shape, index):
    return np.broadcast_to(np.empty((), dtype=np.int8), shape)[index].shape


def scatter_add(base, index, v):
    """``base`` with ``base[index] += v`` (repeats accumulate, as ``np.add.at``), batched: ``base:
    (b, *shape)``, ``v`` broadcastable to ``(b, *shape[index])``. A fresh array; through the
    ``index_add`` op, so it also runs on traced values."""
    return _batched_index_op(OPS["index_add"], base, index, v)


def _batched_index_op(op, base, index, v):
    """``op(base, v, index)`` (index_add or setitem) on batched arrays: the direction axis stays
    first, and goes last for advanced indices, where numpy moves broadcast dimensions."""
    sel = (base.shape[0],) + _selected_shape(base.shape[1:], index)
    v = np.broadcast_to(align_to(v, len(sel) - 1), sel)
    if is_basic_index(index):
        return bind(op, base, v, index=(slice(None),) + index)
    moved = bind(op, np.moveaxis(base, 0, -1), np.moveaxis(v, 0, -1), index=index)
    return np.moveaxis(moved, -1, 0)


def _index_add_primal(base, v, index):
    # a transpose scatters into zeros (a stride-0 zero): allocate, do not copy
    zero = base.ndim > 0 and not any(base.strides) and base.size and base.flat[0] == 0
    out = np.zeros(base.shape, dtype=base.dtype) if zero else np.array(base, copy=True)
    if is_basic_index(index):
        view = out[index]
        np.add(view, v, out=view, casting="unsafe")
    else:
        np.add.at(out, index, v)
    return out


def _index_add_apply(tb, tv, index):
    return scatter_add(tb, index, tv)


def _index_add_T(ob, shapes, index):
    return ob, unbroadcast(take(ob, index), shapes[1])


def _getitem_T(ob, shapes, index):
    if type(ob) is np.ndarray:
        zeros = np.zeros(ob.shape[:1] + shapes[0], dtype=ob.dtype)
        _getitem_T_add(zeros, ob, index)
        return (zeros,)
    zero = np.broadcast_to(np.zeros((), dtype=ob.dtype), ob.shape[:1] + shapes[0])
    return (scatter_add(zero, index, ob),)


def _getitem_T_add(acc, ob, index):
    if is_basic_index(index):
        view = acc[(slice(None),) + index]
        np.add(view, ob, out=view)
    else:
        np.add.at(np.moveaxis(acc, 0, -1), index, np.moveaxis(ob, 0, -1))


deflinear("getitem",
          lambda x, index: x[index],
          lambda t, index: take(t, index),
          _getitem_T, numpy=[], transpose_add=_getitem_T_add,
          writeback=lambda base, view, index: bind(OPS["setitem"], base, view, index=index),
          doc="x[index]: basic, advanced and boolean indexing (index normalized, no Ellipsis). "
              "The transpose scatters with np.add.at, so repeated indices accumulate.",
          numba="gather")

deflinear("index_add", _index_add_primal, _index_add_apply, _index_add_T, numpy=[],
          doc="out = x with out[index] += v (np.add.at: repeated indices accumulate). Linear in "
              "(x, v): the transpose of getitem; its own transpose is (out_bar, out_bar[index]).",
          numba="index_add")


def _setitem_primal(x, v, index):
    out = np.array(x, copy=True)
    out[index] = v  # numpy casts v to x's dtype, and keeps the last of repeated writes
    return out


def _setitem_batched(tx, tv, index):
    """``tx`` with ``tx[index] = tv`` on batched arrays, through the setitem op (so traced too)."""
    return _batched_index_op(OPS["setitem"], tx, index, tv)


def last_writes(shape, index):
    """Which entries of ``x[index] = v`` land (numpy keeps the last of repeated writes): a bool
    array of the selection's shape, or None when every write lands (no repeats)."""
    if is_basic_index(index):
        return None
    sel = _selected_shape(shape, index)
    order = np.arange(int(np.prod(sel)), dtype=np.intp).reshape(sel)
    owner = np.full(shape, -1, dtype=np.intp)
    owner[index] = order
    landed = owner[index] == order
    return None if landed.all() else landed


def align_to(t, ndim):
    missing = ndim - (t.ndim - 1)
    return t.reshape(t.shape[:1] + (1,) * missing + t.shape[1:]) if missing > 0 else t


def _setitem_T(ob, shapes, index):
    x_shape, v_shape = shapes
    x_bar = _setitem_batched(ob, np.zeros((1,), dtype=ob.dtype), index)
    v_bar = take(ob, index)
    landed = last_writes(x_shape, index)
    if landed is not None:
        v_bar = v_bar * landed.astype(ob.dtype)
    if v_bar.ndim - 1 >= len(v_shape):
        return x_bar, unbroadcast(v_bar, v_shape)
    return x_bar, v_bar.reshape(ob.shape[:1] + v_shape)


deflinear("setitem", _setitem_primal, _setitem_batched, _setitem_T, numpy=[],
          doc="out = x with out[index] = v (functional update, v cast to x's dtype). Linear in "
              "(x, v). With a repeated advanced index numpy keeps the last write; only the "
              "entries of v that land get a cotangent, so both modes agree with numpy.",
          numba="gather")


# ----------------------------------------------------------------------------- cast
def _cast_T(ob, shapes, dtype, source):
    return (ob.astype(source) if np.dtype(source) != ob.dtype else ob,)


deflinear("cast",
          lambda x, dtype, source: x.astype(dtype),
          lambda t, dtype, source: t.astype(dtype),
          _cast_T, numpy=[],
          doc="x.astype(dtype) between float32 and float64: tangents cast the same way, "
              "cotangents back to the source dtype.",
          numba="same")


# ------------------------------------------------------------------ concatenate / stack
def _concat_T(ob, shapes, axis):
    cuts = np.cumsum([s[axis] for s in shapes])[:-1]
    return tuple(np.split(ob, cuts, axis=axis + 1))


deflinear("concatenate",
          lambda *xs, axis: np.concatenate(xs, axis=axis),
          lambda *ts, axis: np.concatenate(ts, axis=axis + 1),
          _concat_T, numpy=[np.concatenate],
          doc="Join along an existing `axis`; transpose splits.",
          numba="gather")

deflinear("stack",
          lambda *xs, axis: np.stack(xs, axis=axis),
          lambda *ts, axis: np.stack(ts, axis=axis + 1),
          lambda ob, shapes, axis: tuple(np.take(ob, i, axis=axis + 1) for i in range(len(shapes))),
          numpy=[np.stack],
          doc="Join along a new `axis`; transpose takes slices.",
          numba="gather")

# --------------------------------------------------------------------------- cumsum
deflinear("cumsum",
          lambda x, axis: np.cumsum(x, axis=axis),
          lambda t, axis: np.cumsum(t, axis=axis + 1),
          lambda ob, shapes, axis: (np.flip(np.cumsum(np.flip(ob, axis + 1), axis + 1), axis + 1),),
          numpy=[np.cumsum],
          doc="Running sum along `axis`; transpose is the reversed running sum.", numba="scan")


# ------------------------------------------------------------------------- diagonal
def _diagonal_T(ob, shapes, offset, axis1, axis2):
    (shape,) = shapes
    n = ob.shape[-1]
    rows = np.arange(n) + max(0, -offset)
    cols = np.arange(n) + max(0, offset)
    moved_shape = tuple(s for i, s in enumerate(shape) if i not in (axis1, axis2)) + \
        (shape[axis1], shape[axis2])
    zeros = np.zeros(ob.shape[:1] + moved_shape, dtype=ob.dtype)
    index = (slice(None),) * (len(shape) - 2) + (rows, cols)
    z = scatter_add(zeros, index, ob)
    return (np.moveaxis(z, (-2, -1), (axis1 + 1, axis2 + 1)),)


deflinear("diagonal",
          lambda x, offset, axis1, axis2: np.diagonal(x, offset, axis1, axis2),
          lambda t, offset, axis1, axis2: np.diagonal(t, offset, axis1 + 1, axis2 + 1),
          _diagonal_T, numpy=[np.diagonal],
          doc="Diagonal of axes (axis1, axis2) with `offset`; transpose writes it into zeros.",
          numba="gather")


# ---------------------------------------------------------------------------- einsum
def contract(spec: str, *operands):
    """``np.einsum(spec, *operands)``: two operands go through one batched matmul (BLAS), others
    through numpy's einsum. (``np.einsum(optimize=...)`` re-plans the path on every call, which
    costs more than a small matmul; ``optimize=False`` never uses BLAS.)"""
    if len(operands) != 2:
        return np.einsum(spec, *operands)
    (la, lb), lo = parse_spec(spec)
    a, b = operands
    return _contract2(la, lb, lo, a, b)


def _contract2(la, lb, lo, a, b):
    p = _plan(la, lb, lo, tuple(a.shape), tuple(b.shape))
    if p.a_sum:
        a = a.sum(axis=p.a_sum)
    if p.b_sum:
        b = b.sum(axis=p.b_sum)
    at = np.transpose(a, p.perm_a) if p.perm_a is not None else a
    bt = np.transpose(b, p.perm_b) if p.perm_b is not None else b
    if p.full_a is not None:
        at = np.broadcast_to(at, p.full_a)
    if p.full_b is not None:
        bt = np.broadcast_to(bt, p.full_b)
    res = np.matmul(at.reshape(p.mat_a), bt.reshape(p.mat_b)).reshape(p.res)
    return np.transpose(res, p.perm_out) if p.perm_out is not None else res


class _Plan:
    """How a two-operand einsum runs as one batched matmul (computed once per spec and shapes)."""

    __slots__ = ("a_sum", "b_sum", "perm_a", "perm_b", "full_a", "full_b", "mat_a", "mat_b",
                 "res", "perm_out")


@functools.lru_cache(maxsize=4096)
def _plan(la, lb, lo, sa, sb):
    p = _Plan()
    # letters summed within one operand only go first
    a_only = [l for l in la if l not in lb and l not in lo]
    b_only = [l for l in lb if l not in la and l not in lo]
    p.a_sum = tuple(la.index(l) for l in a_only)
    p.b_sum = tuple(lb.index(l) for l in b_only)
    sa = tuple(n for i, n in enumerate(sa) if i not in p.a_sum)
    sb = tuple(n for i, n in enumerate(sb) if i not in p.b_sum)
    la = "".join(l for l in la if l not in a_only)
    lb = "".join(l for l in lb if l not in b_only)
    batch = [l for l in lo if l in la and l in lb]
    contr = [l for l in la if l in lb and l not in lo]
    keep_a = [l for l in la if l in lo and l not in lb]
    keep_b = [l for l in lb if l in lo and l not in la]
    size = _sizes([(la, sa), (lb, sb)])  # a length 0 is a size, not a broadcast 1
    perm_a = [la.index(l) for l in batch + keep_a + contr]
    perm_b = [lb.index(l) for l in batch + contr + keep_b]
    p.perm_a = tuple(perm_a) if perm_a != sorted(perm_a) else None
    p.perm_b = tuple(perm_b) if perm_b != sorted(perm_b) else None
    bshape = tuple(size[l] for l in batch)
    ta = tuple(sa[i] for i in perm_a)
    tb = tuple(sb[i] for i in perm_b)
    p.full_a = bshape + ta[len(batch):] if ta[:len(batch)] != bshape else None
    p.full_b = bshape + tb[len(batch):] if tb[:len(batch)] != bshape else None
    prod = lambda ls: int(np.prod([size[l] for l in ls])) if ls else 1
    p.mat_a = bshape + (prod(keep_a), prod(contr))
    p.mat_b = bshape + (prod(contr), prod(keep_b))
    p.res = bshape + tuple(size[l] for l in keep_a) + tuple(size[l] for l in keep_b)
    have = batch + keep_a + keep_b
    perm_out = [have.index(l) for l in lo]
    p.perm_out = tuple(perm_out) if perm_out != sorted(perm_out) else None
    return p


def _sizes(letters_shapes):
    sizes = {}
    for letters, shape in letters_shapes:
        for l, s in zip(letters, shape):
            if s != 1 or l not in sizes:
                sizes[l] = s
    return sizes


def _einsum_T(ob, out, others, target, target_shape):
    """Cotangent of the operand ``target`` of ``einsum(...->out)`` given the other operands."""
    known = set(out).union(*[set(l) for l, _ in others])
    missing = [l for l in dict.fromkeys(target) if l not in known]
    sizes = _sizes([(target, target_shape)])
    operands = [ob] + [x for _, x in others] + [np.ones(sizes[l], dtype=ob.dtype) for l in missing]
    spec = ",".join([f"Z{out}"] + [l for l, _ in others] + missing) + f"->Z{target}"
    res = contract(spec, *operands)
    return unbroadcast(res, target_shape)


def _einsum2(spec, a, b, batched):
    (la, lb), lo = parse_spec(spec)
    za, zb = ("Z" if batched == 0 else ""), ("Z" if batched == 1 else "")
    return contract(f"{za}{la},{zb}{lb}->Z{lo}", a, b)


def _einsum2_T_left(ob, b, a_shape, spec):
    (la, lb), lo = parse_spec(spec)
    return _einsum_T(ob, lo, [(lb, b)], la, a_shape)


def _einsum2_T_right(ob, a, b_shape, spec):
    (la, lb), lo = parse_spec(spec)
    return _einsum_T(ob, lo, [(la, a)], lb, b_shape)


defbilinear("einsum",
            lambda a, b, spec: contract(spec, a, b),
            lambda a_dot, b, spec: _einsum2(spec, a_dot, b, 0),
            lambda a, b_dot, spec: _einsum2(spec, a, b_dot, 1),
            _einsum2_T_left, _einsum2_T_right, numpy=[],
            doc="einsum of two operands with explicit letters (no repeated letter in one operand). "
                "matmul, dot, inner, outer, vdot and tensordot lower onto it.",
            numba="contract")


def _einsum1_apply(t, spec):
    (la,), lo = parse_spec(spec)
    return np.einsum(f"Z{la}->Z{lo}", t)


def _einsum1_T(ob, shapes, spec):
    (la,), lo = parse_spec(spec)
    return (_einsum_T(ob, lo, [], la, shapes[0]),)


deflinear("einsum1",
          lambda x, spec: np.einsum(spec, x),
          _einsum1_apply, _einsum1_T, numpy=[],
          doc="einsum of one operand (a sum and/or permutation), no repeated letter.",
          numba="sum")
