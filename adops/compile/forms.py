"""How a structural op is emitted inside one numba function (its *form*).

Contract. Whole-program code (:mod:`adops.compile.whole`) holds every value as a flat array
``v: (n,)`` and every tangent or cotangent as rows ``(k, n)``. An op declares its form where it
is defined (``deflinear(..., numba="gather")``, ``defbilinear(..., numba="contract")``); the
form turns one tape entry into source lines for its value, its JVP and its VJP, and puts what
depends on sizes (index arrays, block sizes) into the program's run-time tables, so the source
is the same for every size of a problem and one compile serves them all:

- :class:`Gather`: each output entry is one input entry. The map is read off the op's own
  primal applied to entry numbers, so indexing of every kind, transposes, broadcasts,
  concatenation and functional ``setitem`` share one loop (:func:`adops.compile.rows.gather`);
  the transpose scatters back.
- :class:`SumInto`: each input entry adds into one output entry (sums over axes, ``einsum`` of
  one operand), read off the op's transpose; the transpose gathers.
- :class:`Same`: the flat entries do not change (reshape) or change dtype only (cast).
- :class:`Contract`: ``einsum`` of two operands, as ``np.dot`` of 2-D blocks (BLAS), one per
  entry of the batch letters, and permutations of rows.
- :class:`~adops.compile.reduceforms.Reduce` (``max``, ``min``, ``prod``: the op's own partial
  rule compiled by numba), :class:`~adops.compile.reduceforms.Scan` (``cumsum``) and
  :class:`~adops.compile.reduceforms.IndexAdd`, in :mod:`adops.compile.reduceforms`; what all
  forms share is in :mod:`adops.compile.formbase`.

A form that cannot serve an entry raises :class:`Unsupported`; the program then runs its
structural ops from Python (:mod:`adops.compile.codegen`). Each form checks the map it read off
against the op's own primal at trace time.
"""
from __future__ import annotations

import numpy as np

from ..ops.einsum_spec import parse_spec
from ..ops.registry import ElementwiseOp
from .codegen import fusable
from .formbase import (Form, Tables, Unsupported, block_run, check_map, entry_ids,  # noqa: F401
                       size_of)
from .loopforms import StepLoop
from .matrixforms import Matrix
from .reduceforms import REDUCERS, IndexAdd, Reduce, Scan


class Gather(Form):
    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        offsets = np.cumsum([0] + [size_of(s) for s in self.shapes])
        idx = [entry_ids(s, o) for s, o in zip(self.shapes, offsets)]
        try:
            ids = np.asarray(self.op.value(*idx, **self.params))
        except Exception as exc:  # noqa: BLE001 (an op whose primal refuses integers)
            raise Unsupported(f"{self.op.name}: {exc}") from None
        if ids.dtype.kind not in "iu" or ids.shape != self.out_shape:
            raise Unsupported(f"{self.op.name}: not a gather")
        ids = ids.ravel().astype(np.int64)
        self.parts = []  # (input j, positions in the output, entries of input j)
        for j, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:])):
            pos = np.nonzero((ids >= lo) & (ids < hi))[0]
            self.parts.append((j, pos, ids[pos] - lo))
        if sum(len(p) for _, p, _ in self.parts) != self.n_out:
            raise Unsupported(f"{self.op.name}: not every output entry is an input entry")

        def ref(xs):
            flat = np.concatenate([x.ravel() for x in xs]) if xs else np.zeros(0)
            return flat[ids]
        check_map(self.op, self.params, self.shapes, ref)
        self.single = len(self.refs) == 1
        t = self.tables
        self.n = t.size(self.n_out)
        self.n_in = [t.size(size_of(s)) for s in self.shapes]
        # a contiguous run of one input's entries (x[1:], a row, a block of a parameter vector)
        # is a view of it: no fresh array, whose first touch of each page costs more than the
        # copy; its transpose adds into a slice. Neither needs an index table.
        self.run = None
        if self.single and len(ids) and np.array_equal(ids, np.arange(ids[0], ids[0] + len(ids))):
            self.run = (t.size(ids[0]), t.size(ids[0] + len(ids)))
        # (one input's gather reads its ids, not these per-input tables)
        self.names = [] if self.single else [(j, t.array(pos), t.array(src))
                                             for j, pos, src in self.parts]
        # one input broadcast along one run of axes (np.broadcast_to, a keepdims sum's
        # transpose): its blocks repeated, with no table of the output's size
        self.blocks = None
        if self.single and not self.run and len(ids) and \
                int(ids.max()) + 1 == size_of(self.shapes[0]):
            run = block_run(ids)
            self.blocks = None if run is None else tuple(t.size(v) for v in run)
        self.ids = t.array(ids) if self.single and not self.run and not self.blocks else None

    def _spread(self, rows):
        return f"spread_blocks({rows}, {self.blocks[0]}, {self.blocks[1]}, {self.n})"

    def passes_through(self):
        return self.run is not None

    def takes_strided_tangent(self):
        return self.run is not None

    def column_offset(self, offset_in):
        if self.run is None:
            return None
        return self.run[0] if offset_in is None else f"{offset_in} + {self.run[0]}"

    def value(self, args):
        if self.run is not None:
            return [f"{{out}} = {args[0]}[{self.run[0]}:{self.run[1]}]"]
        if self.blocks:
            return [f"{{out}} = {self._spread(f'{args[0]}.reshape((1, {args[0]}.shape[0]))')}[0]"]
        if self.single:
            return [f"{{out}} = gather({args[0]}.reshape((1, {args[0]}.shape[0])), {self.ids})[0]"]
        lines = [f"{{out}}_ = np.empty((1, {self.n}), dtype=np.{self.dtype})"]
        for j, pos, src in self.names:
            lines.append(f"put({{out}}_, {args[j]}.reshape((1, {args[j]}.shape[0])), {pos}, {src})")
        return lines + ["{out} = {out}_[0]"]

    def jvp(self, args, tans):
        if self.run is not None:  # the run's columns of the rows: a view, as the value is
            # (copying (k, n) rows cost more than the loops that read them: Rosenbrock k = 8)
            return [f"{{out}} = {tans[0]}[:, {self.run[0]}:{self.run[1]}]"]
        if self.blocks:
            return [f"{{out}} = {self._spread(tans[0])}"]
        if self.single:
            return [f"{{out}} = gather({tans[0]}, {self.ids})"]
        live = next(t for t in tans if t is not None)
        lines = [f"{{out}} = np.zeros(({live}.shape[0], {self.n}), dtype=np.{self.dtype})"]
        for j, pos, src in self.names:
            if tans[j] is not None:
                lines.append(f"put({{out}}, {tans[j]}, {pos}, {src})")
        return lines

    def vjp(self, args, b, needed):
        if self.run is not None:  # a contiguous run: a slice of the input's cotangent
            return [], [(0, f"slice_add({b}, {self.run[0]}, {self.n_in[0]})")]
        if self.blocks:
            B, R = self.blocks
            return [], [(0, f"sum_blocks({b}, {B}, {R}, {self.n_in[0]})")]
        if self.single:
            return [], [(0, f"scatter_add({b}, {self.ids}, {self.n_in[0]})")]
        lines, outs = [], []
        for j, pos, src in self.names:
            if needed[j]:
                lines += [f"c{self.e}_{j} = np.zeros(({b}.shape[0], {self.n_in[j]}), "
                          f"dtype=np.{self.dtypes[j]})",
                          f"scatter_add_at(c{self.e}_{j}, {b}, {pos}, {src})"]
                outs.append((j, f"c{self.e}_{j}"))
        return lines, outs


class SumInto(Form):
    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        if len(self.refs) != 1:
            raise Unsupported(f"{self.op.name}: a sum of one input")
        seed = entry_ids(self.out_shape)[None]
        try:
            ids = self.op.transpose(seed, self.shapes, **self.params)[0]
        except Exception as exc:  # noqa: BLE001
            raise Unsupported(f"{self.op.name}: {exc}") from None
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise Unsupported(f"{self.op.name}: not a sum")
        ids = np.broadcast_to(ids, (1,) + self.shapes[0]).ravel().astype(np.int64)

        def ref(xs):
            out = np.zeros(self.n_out)
            np.add.at(out, ids, xs[0].ravel())
            return out
        check_map(self.op, self.params, self.shapes, ref)
        # a sum of everything needs no table (every entry goes to, and comes from, entry 0),
        # nor does a sum over one run of axes (blocks of entries added in turn: the same order,
        # so the same bits, as the table's scatter_add; no table of the input's size to read)
        run = block_run(ids) if self.n_out != 1 else None
        self.blocks = None if run is None else tuple(tables.size(v) for v in run)
        self.ids = tables.array(ids) if self.n_out != 1 and run is None else None
        self.n = tables.size(self.n_out)
        self.n_in = tables.size(size_of(self.shapes[0]))

    def sums_everything(self):
        return self.n_out == 1

    def value(self, args):
        return [f"{{out}} = {self._rows(f'{args[0]}.reshape((1, {args[0]}.shape[0]))')}[0]"]

    def jvp(self, args, tans):
        return [f"{{out}} = {self._rows(tans[0])}"]

    def _rows(self, t):
        # a sum of everything adds as numpy does (pairwise): the same bits, and faster
        if self.n_out == 1:
            return f"sum_rows({t})"
        if self.blocks is not None:
            return f"sum_blocks({t}, {self.blocks[0]}, {self.blocks[1]}, {self.n})"
        return f"scatter_add({t}, {self.ids}, {self.n})"

    def vjp(self, args, b, needed):
        if self.n_out == 1:
            return [], [(0, f"spread({b}, {self.n_in})")]
        if self.blocks is not None:  # into a block the workspace can hold (not a fresh one)
            name = f"sp{self.e}"
            return [f"{name} = np.empty(({b}.shape[0], {self.n_in}), dtype=np.{self.dtype})",
                    f"spread_blocks_into({name}, {b}, {self.blocks[0]}, {self.blocks[1]})"], \
                [(0, name)]
        return [], [(0, f"gather({b}, {self.ids})")]


class Same(Form):
    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        if len(self.refs) != 1 or size_of(self.shapes[0]) != self.n_out:
            raise Unsupported(f"{self.op.name}: not a relabelling")
        # (a cast to a narrower dtype rounds: the reference rounds to the primal's dtype)
        check_map(self.op, self.params, self.shapes, lambda xs: xs[0].ravel().astype(
            np.asarray(self.op.value(xs[0], **self.params)).dtype).astype(float))

    def _cast(self, x, dtype):
        return x if dtype == self.dtypes[0] == self.dtype else f"{x}.astype(np.{dtype})"

    def passes_through(self):
        return self.dtypes[0] == self.dtype

    def takes_strided_tangent(self):
        return self.passes_through()

    def column_offset(self, offset_in):
        return offset_in if self.passes_through() else None

    def value(self, args):
        return [f"{{out}} = {self._cast(args[0], self.dtype)}"]

    def jvp(self, args, tans):
        return [f"{{out}} = {self._cast(tans[0], self.dtype)}"]

    def vjp(self, args, b, needed):
        return [], [(0, self._cast(b, self.dtypes[0]))]


def _unbroadcast(ops):
    """``[(letters, shape)]`` of two operands with each size-1 letter the other operand has at a
    larger size dropped (numpy's einsum broadcasts it: its entries do not change)."""
    out = []
    for j, (letters, shape) in enumerate(ops):
        other = dict(zip(*ops[1 - j]))
        keep = [i for i, l in enumerate(letters) if not (shape[i] == 1 and other.get(l, 1) > 1)]
        out.append(("".join(letters[i] for i in keep), tuple(shape[i] for i in keep)))
    return out


class Contract(Form):
    """``einsum(spec, a, b)``: letters split into batch, kept-from-a, contracted and
    kept-from-b; blocks ``(batch, rows, cols)`` multiplied by ``np.dot`` per batch entry."""

    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        if len(self.refs) != 2:
            raise Unsupported("einsum of two operands")
        (la, lb), lo = parse_spec(self.params["spec"])
        if len(set(la)) < len(la) or len(set(lb)) < len(lb):
            raise Unsupported("einsum with repeated letters")
        ops = _unbroadcast([(la, self.shapes[0]), (lb, self.shapes[1])])
        # a letter summed in one operand only is summed first (a sum-into of that operand)
        self.pre = []
        for j, (letters, shape) in enumerate(ops):
            other = ops[1 - j][0]
            gone = [l for l in letters if l not in other and l not in lo]
            self.pre.append(self._presum(letters, shape, gone) if gone else None)
            keep = [i for i, l in enumerate(letters) if l not in gone]
            ops[j] = ("".join(letters[i] for i in keep), tuple(shape[i] for i in keep))
        (la, sa), (lb, sb) = ops
        size = {}
        for letters, shape in ((la, sa), (lb, sb)):
            for l, s in zip(letters, shape):
                if size.setdefault(l, s) != s:
                    raise Unsupported("einsum with letters of two sizes")
        self.size, t = size, tables
        self._ids, self._folded = {}, {}
        self.const = [type(r) is not int for r in self.refs]
        batch = [l for l in lo if l in la and l in lb]
        keep_a = [l for l in la if l in lo and l not in batch]
        contr = [l for l in la if l in lb and l not in lo]
        keep_b = [l for l in lb if l in lo and l not in batch]
        prod = lambda ls: int(np.prod([size[l] for l in ls], dtype=np.int64)) if ls else 1
        self.nb, self.pa, self.pc, self.pb = (t.size(prod(ls)) for ls in (batch, keep_a, contr,
                                                                             keep_b))
        # no batch and a vector kept from b (W @ x): b's cotangent rows are rows @ A
        self.vector = prod(batch) == 1 and prod(keep_b) == 1
        A, B, O = batch + keep_a + contr, batch + contr + keep_b, batch + keep_a + keep_b
        la, lb, lo = list(la), list(lb), list(lo)
        self.a_in, self.b_in, self.to_out = self._perm(la, A), self._perm(lb, B), self._perm(O, lo)
        self.out_in = self._perm(lo, O)
        self.a_back, self.b_back = self._perm(A, la), self._perm(B, lb)
        self.b_T = self._perm(B, batch + keep_b + contr)   # B's blocks transposed
        self.a_T = self._perm(A, batch + contr + keep_a)   # A's blocks transposed

    def _presum(self, letters, shape, gone):
        """``(ids, n)``: each entry of the operand adds into the entry of the operand summed over
        the letters ``gone`` (a sum-into, as :class:`SumInto`)."""
        kept = tuple(s if l not in gone else 1 for l, s in zip(letters, shape))
        ids = np.broadcast_to(entry_ids(kept), shape).ravel()
        return self.tables.array(ids), self.tables.size(size_of(kept))

    def _summed(self, j, x, rows):
        """Operand ``j``'s value (``rows`` False) or rows with its one-sided letters summed."""
        if self.pre[j] is None:
            return x
        ids, n = self.pre[j]
        if rows:
            return f"scatter_add({x}, {ids}, {n})"
        return f"scatter_add({x}.reshape((1, {x}.shape[0])), {ids}, {n})[0]"

    def _spread(self, j, bar):
        """The transpose of :meth:`_summed` on cotangent rows: each entry reads its sum's."""
        return bar if self.pre[j] is None else f"gather({bar}, {self.pre[j][0]})"

    def _perm(self, have, want):
        """A gather of rows from letter order ``have`` to ``want``, or None for the same order."""
        if have == want:
            return None
        shape = tuple(self.size[l] for l in have)
        ids = np.transpose(entry_ids(shape), [have.index(l) for l in want]).ravel()
        name = self.tables.array(ids)
        self._ids[name] = ids
        return name

    def _fixed(self, j, x, *perms):
        """Operand ``j``'s flat entries (``x``, after :meth:`_operands`) permuted by ``perms``;
        for a constant operand (``W`` in ``W @ x``) the permuted entries are computed here
        once, as a table, instead of gathered at every call."""
        if not self.const[j] or self.pre[j] is not None:
            for p in perms:
                x = self._flat(x, p)
            return x
        key = (j,) + perms
        if key not in self._folded:
            v = np.asarray(self.refs[j].value).reshape(-1).astype(self.dtype)
            for p in perms:
                v = v if p is None else v[self._ids[p]]
            self._folded[key] = self.tables.array(v)
        return self._folded[key]

    @staticmethod
    def _rows(x, perm):
        return x if perm is None else f"gather({x}, {perm})"

    def _flat(self, x, perm):
        return x if perm is None else f"gather({x}.reshape((1, {x}.shape[0])), {perm})[0]"

    def _operands(self, args):
        """Lines binding the operands with their one-sided letters summed, and their names."""
        lines, names = [], list(args)
        for j in (0, 1):
            if self.pre[j] is not None:
                lines.append(f"p{self.e}_{j} = {self._summed(j, args[j], False)}")
                names[j] = f"p{self.e}_{j}"
            names[j] = self._cast(j, names[j])
        return lines, names

    def _cast(self, j, x):
        """Operand ``j`` (or its tangent rows) in the output's dtype: numba's ``np.dot`` takes
        one dtype (numpy promotes float32 @ float64 to float64 the same way)."""
        return x if self.dtypes[j] == self.dtype else f"{x}.astype(np.{self.dtype})"

    def value(self, args):
        lines, args = self._operands(args)
        A, B = self._fixed(0, args[0], self.a_in), self._fixed(1, args[1], self.b_in)
        dims = f"{self.nb}, {self.pa}, {self.pc}, {self.pb}"
        if self.to_out is None:  # into an np.empty the entry's workspace can hold: a kept
            # residual is then no fresh block per call (GMM d = 64: 51 MB, 12 500 page faults)
            return lines + [
                f"{{out}}_ = np.empty((1, {self.tables.size(self.n_out)}), dtype=np.{self.dtype})",
                f"bmm_rows_into({A}.reshape((1, {A}.shape[0])), {B}, {dims}, {{out}}_)",
                "{out} = {out}_[0]"]
        r = f"bmm_rows({A}.reshape((1, {A}.shape[0])), {B}, {dims})"
        return lines + [f"{{out}} = {self._rows(r, self.to_out)}[0]"]

    def jvp(self, args, tans):  # after value(): the summed operands are bound
        args = self._operands(args)[1]
        A, B = self._fixed(0, args[0], self.a_in), self._fixed(1, args[1], self.b_in)
        dims = f"{self.nb}, {self.pa}, {self.pc}, {self.pb}"
        terms = []
        if tans[0] is not None:
            t = self._cast(0, self._summed(0, tans[0], True))
            terms.append(f"bmm_rows({self._rows(t, self.a_in)}, {B}, {dims})")
        if tans[1] is not None:
            t = self._cast(1, self._summed(1, tans[1], True))
            if self.vector and self.const[0] and self.pre[0] is None:
                # a constant A: rows @ A^T with A^T's table as is (left_rows' product and bits)
                AT = self._fixed(0, args[0], self.a_in, self.a_T)
                terms.append(f"matmul2({self._rows(t, self.b_in)}, "
                             f"{AT}.reshape(({self.pc}, {self.pa})))")
            else:
                terms.append(f"bmm_left_rows({A}, {self._rows(t, self.b_in)}, {dims})")
        return [f"{{out}} = {self._rows(' + '.join(terms), self.to_out)}"]

    def vjp(self, args, b, needed):
        lines, args = self._operands(args)
        lines.append(f"o{self.e} = {self._rows(b, self.out_in)}")
        outs = []
        if needed[0]:  # a_bar blocks = ob blocks (pa, pb) @ B^T (pb, pc)
            BT = self._fixed(1, args[1], self.b_in, self.b_T)
            r = f"bmm_rows(o{self.e}, {BT}, {self.nb}, {self.pa}, {self.pb}, {self.pc})"
            outs.append((0, self._spread(0, self._rows(r, self.a_back))))
        if needed[1] and self.vector and self.const[0] and self.pre[0] is None:
            # a constant A: rows @ A with A's table as is (the product left_rows makes of A^T,
            # and its bits, without transposing A back at every call)
            A = self._fixed(0, args[0], self.a_in)
            r = f"matmul2(o{self.e}, {A}.reshape(({self.pa}, {self.pc})))"
            outs.append((1, self._spread(1, self._rows(r, self.b_back))))
        elif needed[1]:  # b_bar blocks = A^T (pc, pa) @ ob blocks (pa, pb)
            AT = self._fixed(0, args[0], self.a_in, self.a_T)
            r = f"bmm_left_rows({AT}, o{self.e}, {self.nb}, {self.pc}, {self.pa}, {self.pb})"
            outs.append((1, self._spread(1, self._rows(r, self.b_back))))
        return lines, outs


#: the form of each ``numba=`` name an op declares
FORMS = {"gather": Gather, "sum": SumInto, "same": Same, "contract": Contract,
         "scan": Scan, "index_add": IndexAdd, "matrix": Matrix, "loop": StepLoop,
         **{name: Reduce for name in REDUCERS}}


def form_of(prog, e, tables) -> Form:
    """The form of entry ``e`` (:class:`Unsupported` when its op declares none)."""
    op = prog.ops[e]
    cls = FORMS.get(getattr(op, "numba", None))
    if cls is None:
        raise Unsupported(f"{op.name}: no numba form")
    return cls(prog, e, tables)


def without_form(ops) -> dict:
    """``{name: why}`` for the ops of ``ops`` (the registry) that a whole program cannot hold:
    structural ops that declare no form, elementwise ops with no fused float64 loop (a rule
    numba does not compile). A program holding one keeps its Python driver.

    >>> from adops.ops.registry import OPS
    >>> without_form(OPS)["digamma"]
    'ElementwiseOp: a rule numba does not compile'
    """
    out = {}
    for name, op in sorted(ops.items()):
        if isinstance(op, ElementwiseOp):
            if not fusable(op, np.dtype(np.float64)):
                out[name] = f"{type(op).__name__}: a rule numba does not compile"
        elif FORMS.get(getattr(op, "numba", None)) is None:
            out[name] = f"{type(op).__name__}: no numba form"
    return out
