"""What every form shares (:mod:`adops.compile.forms`): the run-time tables, the error that
sends a program back to its Python driver, entry numbering, and the trace-time check of a map
read off an op against the op's own primal.

Contract: a form is built from one tape entry ``e`` of a program view and the program's
:class:`Tables`; it gives source lines (see :class:`Form`). Values are flat ``(n,)``, tangent
and cotangent rows ``(k, n)``.
"""
from __future__ import annotations

import numpy as np


class Unsupported(Exception):
    """An entry no form can emit inside numba: the program keeps its Python driver."""


class Tables:
    """The run-time tables of one program, named in its source: integer index arrays, packed
    into one array ``ID`` whose slices ``IX`` locates; sizes, also in ``IX``; other constant arrays
    packed as bytes into one array ``K`` (``uint8``), each read back as a slice viewed in its
    dtype. Few arrays cross into numba per call (each one costs its unboxing: a tuple of four
    constant arrays cost 0.6 us more per call than one array)."""

    #: each constant's bytes start at a multiple of this (the widest numpy scalar's alignment)
    ALIGN = 16

    def __init__(self):
        self.slots, self.parts, self.offset = [], [], 0
        self.consts, self.bytes = [], 0

    def array(self, a) -> str:
        a = np.ascontiguousarray(a)
        if a.dtype == np.int64 and a.ndim == 1:
            i = len(self.slots)
            self.slots += [self.offset, self.offset + a.shape[0]]
            self.parts.append(a)
            self.offset += a.shape[0]
            return f"ID[IX[{i}]:IX[{i + 1}]]"
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        raw = a.reshape(-1).view(np.uint8)
        i = len(self.slots)
        self.slots += [self.bytes, self.bytes + raw.shape[0]]
        self.consts.append(raw)
        self.bytes += -(-raw.shape[0] // self.ALIGN) * self.ALIGN
        view = "np.bool_" if a.dtype.kind == "b" else f"np.{a.dtype.name}"
        read = f"K[IX[{i}]:IX[{i + 1}]].view({view})"
        return read if a.ndim == 1 else f"{read}.reshape({tuple(a.shape)})"

    def size(self, n) -> str:
        self.slots.append(int(n))
        return f"IX[{len(self.slots) - 1}]"

    def runtime(self):
        """``(IX, ID, K)``: what the entry points take after their own arguments."""
        ID = np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int64)
        K = np.zeros(self.bytes, dtype=np.uint8)
        at = 0
        for raw in self.consts:
            K[at:at + raw.shape[0]] = raw
            at += -(-raw.shape[0] // self.ALIGN) * self.ALIGN
        return np.array(self.slots, dtype=np.int64), ID, K


def size_of(shape):
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


def entry_ids(shape, offset=0):
    return np.arange(size_of(shape), dtype=np.int64).reshape(shape) + offset


def block_run(ids):
    """``(B, R)`` when ``ids`` (an index per input entry) send blocks of ``R`` consecutive entries,
    ``B`` blocks in a row, onto the same ``R`` outputs: ``ids[i] = (i // (B * R)) * R + i % R``
    (a sum over one run of axes, or the transpose of a broadcast along one); else None.

    >>> block_run(np.array([0, 1, 0, 1, 2, 3, 2, 3])), block_run(np.array([0, 0, 1, 1]))
    ((2, 2), (2, 1))
    >>> block_run(np.array([0, 1, 1, 0])) is None
    True
    """
    n = ids.shape[0]
    if n == 0 or ids[0] != 0:
        return None
    step = np.flatnonzero(ids != np.arange(n))
    R = int(step[0]) if len(step) else n
    n_out = int(ids.max()) + 1
    if n_out % R or n % n_out:
        return None
    B = n // n_out
    i = np.arange(n)
    return (B, R) if np.array_equal(ids, (i // (B * R)) * R + i % R) else None


def check_map(op, params, xs_shapes, ref_out, rng=np.random.default_rng(0)):
    """The op's primal on random inputs, flat, beside the map read off (``ref_out(xs)``): they
    must agree, else :class:`Unsupported`.

    >>> from adops.ops.registry import OPS
    >>> check_map(OPS["reshape"], {"shape": (6,)}, [(2, 3)], lambda xs: xs[0].ravel())
    """
    xs = [rng.standard_normal(s) for s in xs_shapes]
    want = np.asarray(op.value(*xs, **params), dtype=float).ravel()
    got = ref_out(xs)
    # sums may add in another order than numpy's pairwise summation: equal to rounding
    if want.shape != got.shape or not np.allclose(want, got, rtol=1e-12, atol=1e-12):
        raise Unsupported(f"{op.name}: its map is not a {type(op).__name__}")


class Form:
    """One entry's emission. ``args`` name the inputs' flat values, ``tans`` their tangent rows
    (None: no tangent), ``b`` the output's cotangent rows. ``value``/``jvp`` give lines that set
    ``{out}``; ``vjp`` gives ``(lines, [(input j, expression of its cotangent rows)])``."""

    #: module-level lines the form's code needs (imports, compiled rules), once per program
    prelude = ()

    def passes_through(self) -> bool:
        """Whether the value (and tangent) lines may bind ``{out}`` to input 0's own array
        rather than a fresh one (so an output reached this way is copied before it is handed
        back: it could be the caller's input or seed, or a table of the program)."""
        return False

    def sums_everything(self) -> bool:
        """Whether the op adds every entry of its one input into one output (``np.sum(x)``): its
        transpose gives each entry the output's cotangent, a column ``(m, 1)`` the fused loop
        that made the input can read as it is (:func:`adops.compile.inplace.column_seeded`)."""
        return False

    def pad(self):
        """``(source entry, lo, hi)`` when the output is zeros but for the source's entries at
        ``lo .. hi`` (table sizes), in order: a fused loop that reads the output can read the
        source at an offset instead (:func:`adops.compile.inplace.absorbed_pads`); else None."""
        return None

    def extra_values(self):
        """Names the value lines bind besides ``{out}`` that the sweep reads (a loop's kept
        carries): the forward pass hands them on as residuals."""
        return []

    def takes_strided_tangent(self) -> bool:
        """Whether the jvp lines take the inputs' tangent rows as column views of wider rows
        (non-contiguous arrays); when not, they are given contiguous copies."""
        return False

    def column_offset(self, offset_in):
        """Where the output's tangent rows start within the rows they are a column view of
        (source text), given that offset of the input's (None: the input's rows are its own);
        None when the output's tangent rows are their own array."""
        return None

    def __init__(self, prog, e, tables: Tables):
        self.e, self.prog, self.tables = e, prog, tables
        self.op, self.params = prog.ops[e], prog.params[e] or {}
        self.refs = prog.refs[e]
        self.shapes = [tuple(prog.shapes[r]) if type(r) is int else np.shape(r.value)
                       for r in self.refs]
        self.dtypes = [np.dtype(prog.dtypes[r]) if type(r) is int else np.asarray(r.value).dtype
                       for r in self.refs]
        self.out_shape, self.dtype = tuple(prog.shapes[e]), np.dtype(prog.dtypes[e])
        self.n_out = size_of(self.out_shape)
