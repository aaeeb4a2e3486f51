"""Forms of the ops that are not one gather, sum or contraction: nonlinear reductions (max, min,
prod), running sums (cumsum) and ``index_add``.

Contract (as :mod:`adops.compile.forms`): values flat ``(n,)``, tangent and cotangent rows
``(k, n)``; the map of each op is read off the op at trace time and checked against its primal.

- :class:`Reduce`: ``x`` as rows ``(s, L)`` (the reduced axes moved last by a gather); the
  value is numpy's reduction of each row compiled by numba; the partial ``d: (s, L)`` is the
  op's own rule (:mod:`adops.ops.reductions`) compiled by numba with
  :func:`adops.compile.rows.rule_rows`, so no derivative formula is written again; tangents are
  ``sum_j smul(d, t)`` per row, cotangents ``smul(d, b)``.
- :class:`Scan`: a running sum along one axis, and its transpose from the same pieces.
- :class:`IndexAdd`: ``base`` plus ``v`` scattered at ``index``.
"""
from __future__ import annotations

import numpy as np

from .formbase import Form, Unsupported, check_map, entry_ids, size_of
from .rows import rule_rows


class Reduce(Form):
    """A nonlinear reduction (max, min, prod): ``x`` as rows ``(s, L)`` (a gather moves the
    reduced axes last), each row reduced by numpy's reduction compiled by numba
    (:func:`adops.compile.rows.row_reduce`), and the partial ``d: (s, L)`` computed by
    the op's own rule compiled by numba (:func:`adops.compile.rows.rule_rows`): the rule is not
    written again. ``d`` is recomputed in the sweep from ``x`` and the value (it is piecewise
    cheap; the forward pass keeps no residual of its own)."""

    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        if len(self.refs) != 1 or self.dtypes[0] != self.dtype or self.dtype.kind != "f":
            raise Unsupported(f"{self.op.name}: a reduction of one floating input")
        shape, axis = self.shapes[0], tuple(self.params["axis"])
        order = tuple(a for a in range(len(shape)) if a not in axis) + axis
        perm = np.transpose(entry_ids(shape), order).ravel()
        s = size_of(self.out_shape)
        n = size_of(shape) // s if s else size_of([shape[a] for a in axis])

        def ref(xs):
            return self.op.reduce(xs[0].reshape(-1)[perm].reshape((s, n)), axis=1)
        check_map(self.op, self.params, self.shapes, ref)
        # reduced axes already last: no gather, whatever the sizes (one source for every size)
        identity = order == tuple(range(len(shape)))
        self.perm = None if identity else tables.array(perm)
        self.back = None if identity else tables.array(np.argsort(perm))
        self.s, self.n = tables.size(s), tables.size(n)
        rule = self.op.rule
        key = f"{rule.__module__}:{rule.__qualname__}"
        if "<" in key:
            raise Unsupported(f"{self.op.name}: its rule is not a module-level function")
        try:  # a rule numba cannot compile keeps the Python driver (no error deep in a kernel)
            rule_rows(rule)(np.ones((1, 1), self.dtype), np.ones((1, 1), self.dtype))
        except Exception as exc:  # noqa: BLE001
            raise Unsupported(f"{self.op.name}: numba does not compile its rule ({exc})") from None
        self.rule = f"rule_{rule.__name__}"
        self.prelude = [f"from adops.compile.rows import reduce_jvp, reduce_vjp, rule_rows, "
                        f"{REDUCERS[self.op.numba]}",
                        f"{self.rule} = rule_rows(RULES[{key!r}])"]

    def _rows(self, x):
        flat = x if self.perm is None else f"gather({x}.reshape((1, {x}.shape[0])), {self.perm})[0]"
        return f"xr{self.e} = {flat}.reshape(({self.s}, {self.n}))"

    def _partial(self):
        return f"dd{self.e} = {self.rule}(xr{self.e}, v{self.e}.reshape(({self.s}, 1)))"

    def value(self, args):
        return [self._rows(args[0]),
                f"{{out}} = {REDUCERS[self.op.numba]}(xr{self.e}, {KINDS[self.op.numba]})"]

    def jvp(self, args, tans):  # after value(): xr and v are set
        t = tans[0] if self.perm is None else f"gather({tans[0]}, {self.perm})"
        return [self._partial(), f"{{out}} = reduce_jvp(dd{self.e}, {t})"]

    def vjp(self, args, b, needed):
        bar = f"reduce_vjp(dd{self.e}, {b})"
        return [self._rows(args[0]), self._partial()], \
            [(0, bar if self.back is None else f"gather({bar}, {self.back})")]


class Scan(Form):
    """A running sum along one axis (``cumsum``): ``x`` as rows ``(s, L)`` (a gather moves the
    axis last), :func:`adops.compile.rows.cumsum_rows`, and the gather back. The transpose is the
    same pieces transposed: each row read reversed, summed running, and scattered back (the
    reversed running sum of the op's own transpose)."""

    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        if len(self.refs) != 1 or self.dtypes[0] != self.dtype:
            raise Unsupported(f"{self.op.name}: a running sum of one input")
        shape, axis = self.shapes[0], self.params["axis"]
        order = tuple(a for a in range(len(shape)) if a != axis) + (axis,)
        ids = np.transpose(entry_ids(shape), order)
        perm, rev = ids.ravel(), ids[..., ::-1].ravel()
        n = shape[axis] if shape else 1

        def ref(xs):
            rows = np.cumsum(xs[0].ravel()[perm].reshape((-1, max(n, 1))), axis=1).ravel()
            out = np.empty(perm.shape[0])
            out[perm] = rows
            return out
        check_map(self.op, self.params, self.shapes, ref)
        t = tables
        self.perm, self.back = t.array(perm), t.array(np.argsort(perm))
        self.rev, self.rback = t.array(rev), t.array(np.argsort(rev))
        self.n = t.size(n)

    def _run(self, rows, into, out_of):
        return f"gather(cumsum_rows(gather({rows}, {into}), {self.n}), {out_of})"

    def value(self, args):
        x = args[0]
        return [f"{{out}} = {self._run(f'{x}.reshape((1, {x}.shape[0]))', self.perm, self.back)}[0]"]

    def jvp(self, args, tans):
        return [f"{{out}} = {self._run(tans[0], self.perm, self.back)}"]

    def vjp(self, args, b, needed):
        return [], [(0, self._run(b, self.rev, self.rback))]

    prelude = ("from adops.compile.rows import cumsum_rows",)


class IndexAdd(Form):
    """``index_add(base, v, index)``: ``base`` with ``v`` (broadcast to ``base[index]``) added at
    ``index``, repeats accumulating. Each entry of ``base[index]`` names the output entry it adds
    into and the entry of ``v`` it reads, read off indexing entry numbers; the transpose gives
    ``base`` the cotangent and ``v`` the cotangent gathered back (summed over repeats)."""

    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        if len(self.refs) != 2 or len(set(self.dtypes + [self.dtype])) != 1:
            raise Unsupported(f"{self.op.name}: base and v of the output's dtype")
        (base, v), index = self.shapes, self.params["index"]
        try:
            into = entry_ids(base)[index]
            src = np.broadcast_to(entry_ids(v), into.shape)
        except Exception as exc:  # noqa: BLE001
            raise Unsupported(f"{self.op.name}: {exc}") from None
        into, src = into.ravel(), src.ravel()

        def ref(xs):
            out = xs[0].ravel().copy()
            np.add.at(out, into, xs[1].ravel()[src])
            return out
        check_map(self.op, self.params, self.shapes, ref)
        t = tables
        # v added into one contiguous run of base (a slice's transpose): slices, no tables
        self.lo = self.hi = None
        if len(into) and np.array_equal(src, np.arange(len(src))) and \
                np.array_equal(into, np.arange(into[0], into[0] + len(into))):
            self.lo, self.hi = t.size(int(into[0])), t.size(int(into[0]) + len(into))
        self.into, self.src = (t.array(into), t.array(src)) if self.lo is None else (None, None)
        self.n_v = t.size(size_of(v))
        # a constant base of zeros (a slice's transpose, traced inside a gradient) is made, not
        # copied: no read of the constant, and a fresh np.zeros a workspace can hold
        r = self.refs[0]
        self.n_base = t.size(size_of(base))
        self.zero_base = type(r) is not int and not np.any(np.asarray(r.value))

    def pad(self):
        v = self.refs[1]
        if self.zero_base and self.lo is not None and type(v) is int:
            return v, self.lo, self.hi
        return None

    def _add(self, out, t):
        if self.lo is not None:
            return f"slice_add_into({out}, {t}, {self.lo})"
        return f"scatter_add_at({out}, {t}, {self.src}, {self.into})"

    def takes_strided_tangent(self):
        return self.lo is not None  # a slice add reads any strides; a scatter reads C rows

    def _pad(self, out, rows, t):
        """A slice's transpose onto zeros: ``out`` made (an np.empty a workspace can hold) and
        written once by ``pad_into``, not zero-filled and then added into."""
        return [f"{out} = np.empty(({rows}, {self.n_base}), dtype=np.{self.dtype})",
                f"pad_into({out}, {t}, {self.lo})"]

    def value(self, args):
        base, v = args
        rows = f"{v}.reshape((1, {v}.shape[0]))"
        if self.zero_base and self.lo is not None:
            return self._pad("{out}_", 1, rows) + ["{out} = {out}_[0]"]
        start = f"{{out}}_ = np.zeros((1, {self.n_base}), dtype=np.{self.dtype})" \
            if self.zero_base else f"{{out}}_ = {base}.reshape((1, {base}.shape[0])).copy()"
        return [start, self._add("{out}_", rows), "{out} = {out}_[0]"]

    def jvp(self, args, tans):
        tb, tv = tans
        if tb is None and tv is not None and self.lo is not None:
            return self._pad("{out}", f"{tv}.shape[0]", tv)
        # zeros plus the slice, not slice_add's fresh rows: an np.zeros of the rows a workspace
        # can hold (a fresh (k, n) block faults in page by page, 0.4 ms at n = 10^5 here)
        live = tb if tb is not None else tv
        lines = [f"{{out}} = {tb}.copy()" if tb is not None else
                 f"{{out}} = np.zeros(({live}.shape[0], {self.n_base}), dtype=np.{self.dtype})"]
        if tv is not None:
            lines.append(self._add("{out}", tv))
        return lines

    def vjp(self, args, b, needed):
        lines, outs = [], []
        if needed[0]:
            outs.append((0, b))
        if needed[1] and self.lo is not None:
            outs.append((1, f"np.ascontiguousarray({b}[:, {self.lo}:{self.lo} + {self.n_v}])"))
        elif needed[1]:
            lines += [f"c{self.e}_1 = np.zeros(({b}.shape[0], {self.n_v}), dtype=np.{self.dtype})",
                      f"scatter_add_at(c{self.e}_1, {b}, {self.into}, {self.src})"]
            outs.append((1, f"c{self.e}_1"))
        return lines, outs


#: the compiled reduction of a row for each ``numba=`` name a :class:`ReduceOp` declares
REDUCERS = {"max": "row_reduce", "min": "row_reduce", "prod": "row_reduce"}
#: the ``kind`` argument of :func:`adops.compile.rows.row_reduce` for each reduction
KINDS = {"max": 0, "min": 1, "prod": 2}
