"""Products on traced arrays, all lowered onto the ``einsum`` op: ``matmul``, ``dot``, ``inner``,
``outer``, ``vdot``, ``tensordot`` and ``einsum`` itself.

Contract: each handler writes numpy's product as an einsum spec over explicit lower-case letters
(``a @ b`` for ``a: (n, k)``, ``b: (k, m)`` is ``'xy,yw->xw'``) and binds the two-operand op
``einsum`` (or ``einsum1`` for one operand), so every product shares one derivative. ``einsum``
accepts numpy's forms (sublists, implicit output, ``'...'``, spaces; parsed by
:mod:`adops.ops.einsum_spec`); a letter repeated within one operand (``'ii->i'``) is first taken as
a diagonal; more than two operands are contracted left to right.
"""
from __future__ import annotations

import numpy as np

from ..ops.einsum_spec import (LOWER, canonical, explicit, format_spec, from_sublists, has_repeat,
                          parse_spec)
from ..core.levels import bind, top_tracer
from ..ops.registry import OPS, shape_of
from .routes import implements, no_out, unsupported

EINSUM, EINSUM1 = OPS["einsum"], OPS["einsum1"]


def _ndim(x) -> int:
    return len(shape_of(x))


def _einsum_bind(spec, a, b):
    la, lb = parse_spec(spec)[0]
    if has_repeat(la) or has_repeat(lb):
        cls = type(top_tracer([a, b]))
        raise unsupported(f"numpy.einsum('{spec}') with a repeated index in one operand",
                          cls._mode, "take np.diagonal or np.trace first")
    return bind(EINSUM, a, b, spec=spec)


def matmul_spec(nd_a: int, nd_b: int) -> str:
    """Einsum spec of ``a @ b`` for operands of ``nd_a`` and ``nd_b`` dimensions.

    Example:
        >>> matmul_spec(3, 1)
        'axy,y->ax'
    """
    if nd_a == 0 or nd_b == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (0-d)")
    batch = LOWER[:max(nd_a, nd_b, 2) - 2]
    i, j, k = "xyw"
    a = j if nd_a == 1 else batch[len(batch) - (nd_a - 2):] + i + j
    b = j if nd_b == 1 else batch[len(batch) - (nd_b - 2):] + j + k
    out = batch if (nd_a > 1 or nd_b > 1) else ""
    if nd_a == 1 and nd_b > 1:
        out = batch[len(batch) - (nd_b - 2):] + k
    elif nd_b == 1 and nd_a > 1:
        out = batch[len(batch) - (nd_a - 2):] + i
    elif nd_a > 1 and nd_b > 1:
        out = batch + i + k
    return f"{a},{b}->{out}"


def _check_matmul(a, b):
    sa, sb = shape_of(a), shape_of(b)
    ka = sa[-1] if len(sa) else None
    kb = sb[-2] if len(sb) > 1 else (sb[0] if len(sb) else None)
    if ka != kb:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align: the last axis of the "
                         f"first ({ka}) must equal the {'second-to-last' if len(sb) > 1 else 'only'}"
                         f" axis of the second ({kb})")


@implements(np.matmul)
def _matmul(cls, a, b, **kw):
    """numpy's gufunc keywords ``axes``/``axis`` would move the matrix axes: refused, not
    ignored."""
    if kw.get("axes") is not None or kw.get("axis") is not None:
        raise unsupported("numpy.matmul(..., axes=...)", cls._mode,
                          "move the matrix axes last with np.moveaxis, then use @")
    _check_matmul(a, b)
    return _einsum_bind(matmul_spec(_ndim(a), _ndim(b)), a, b)


@implements(np.dot)
def _dot(cls, a, b, out=None):
    no_out(cls, "dot", out)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    if nb == 1 or na == 1 and nb <= 2:
        return _matmul(cls, a, b)
    sa, sb = shape_of(a), shape_of(b)
    if sa[-1] != sb[-2]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (dim {na - 1}) != "
                         f"{sb[-2]} (dim {nb - 2})")
    la = LOWER[:na - 1] + "z"
    lb = LOWER[na - 1:na - 1 + nb - 2] + "z" + "y"
    return _einsum_bind(format_spec([la, lb], la[:-1] + lb[:-2] + "y"), a, b)


@implements(np.inner)
def _inner(cls, a, b):
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    la = LOWER[:na - 1] + "z"
    lb = LOWER[na - 1:na - 1 + nb - 1] + "z"
    return _einsum_bind(format_spec([la, lb], la[:-1] + lb[:-1]), a, b)


@implements(np.outer)
def _outer(cls, a, b, out=None):
    no_out(cls, "outer", out)
    return _einsum_bind("i,j->ij", np.ravel(a), np.ravel(b))


@implements(np.vdot)
def _vdot(cls, a, b):
    return _einsum_bind("i,i->", np.ravel(a), np.ravel(b))


@implements(np.tensordot)
def _tensordot(cls, a, b, axes=2):
    na, nb = _ndim(a), _ndim(b)
    if np.ndim(axes) == 0:
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = [np.atleast_1d(v).tolist() for v in axes]
    ax_a, ax_b = [x % na for x in ax_a], [x % nb for x in ax_b]
    la, lb = list(LOWER[:na]), list(LOWER[na:na + nb])
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [l for i, l in enumerate(la) if i not in ax_a] + \
          [l for j, l in enumerate(lb) if j not in ax_b]
    return _einsum_bind(format_spec(["".join(la), "".join(lb)], "".join(out)), a, b)


# ======================================================================== einsum
def _take_repeats_as_diagonals(ins, operands):
    """Each letter repeated within one operand's subscripts (``'ii'``) becomes that operand's
    diagonal, its letter moved last as ``np.diagonal`` puts it. Subscripts with ``'...'`` are
    left as they are."""
    ins, operands = list(ins), list(operands)
    for i, sub in enumerate(ins):
        if "." in sub:
            continue
        while has_repeat(sub):
            letter = next(c for c in sub if sub.count(c) > 1)
            p = sub.index(letter)
            q = sub.index(letter, p + 1)
            operands[i] = np.diagonal(operands[i], axis1=p, axis2=q)
            sub = sub[:p] + sub[p + 1:q] + sub[q + 1:] + letter
        ins[i] = sub
    return ins, operands


@implements(np.einsum)
def _einsum(cls, *args, out=None, optimize=False, **kw):
    if not isinstance(args[0], str):
        spec, operands = from_sublists(args)
    else:
        spec, operands = args[0], list(args[1:])
    ins, res = parse_spec(explicit(spec))
    ins, operands = _take_repeats_as_diagonals(ins, operands)
    no_out(cls, "einsum", out)
    spec = canonical(format_spec(ins, res), [_ndim(x) for x in operands])
    ins, res = parse_spec(spec)
    if len(operands) == 1:
        if has_repeat(ins[0]):
            raise unsupported(f"numpy.einsum('{spec}') with a repeated index", cls._mode,
                              "take np.diagonal or np.trace first")
        return bind(EINSUM1, operands[0], spec=spec)
    if len(operands) == 2:
        return _einsum_bind(spec, *operands)
    # more operands: contract left to right, keeping every letter still needed later
    acc, acc_l = operands[0], ins[0]
    for i in range(1, len(operands)):
        later = set("".join(ins[i + 1:]) + res)
        keep = "".join(dict.fromkeys(l for l in acc_l + ins[i] if l in later))
        acc = _einsum_bind(format_spec([acc_l, ins[i]], keep), acc, operands[i])
        acc_l = keep
    return acc if acc_l == res else bind(EINSUM1, acc, spec=f"{acc_l}->{res}")
