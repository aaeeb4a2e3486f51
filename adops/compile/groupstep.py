"""A fused loop's step in a whole program (:mod:`adops.compile.whole`): its inputs read, its
outputs allocated, its three kernels called (:mod:`adops.compile.loops`).

Contract. ``GroupStep(whole, g, gi)`` for group ``g`` (number ``gi``) of the program's schedule
writes source lines at depth 1: ``value(src)`` the values ``v{e}`` of its outputs, ``jvp(src)``
also their tangent rows ``t{e}: (k, n)``, ``vjp(src, acc)`` the cotangent rows of its inputs
added into ``acc`` (:class:`adops.compile.whole._Cotangents`). The loops read every input at the
loop's ``n`` entries: an input of fewer entries (numpy broadcasting) is read in place by a
nest of loops when it repeats blocks along one run of axes (:func:`nest_broadcasts`,
:mod:`adops.compile.nested`; its cotangent rows are its own size), else spread first, as
repeated blocks (:func:`adops.compile.formbase.block_run`) or through an index table, and its
cotangent summed back the same way. An input that is a run of another entry
(``Group.into``, :func:`adops.compile.inplace.run_cotangents`) has its cotangent added by the
loop into that entry's rows at the run's offset. A program of one output number (a loss) calls
the loops' one-seed path (``vjp_one``) only: its sweeps take one seed.
"""
from __future__ import annotations

import numpy as np

from .formbase import block_run, entry_ids, size_of
from .loops import padded, vector_entries
from .nested import NESTED, buffers


class GroupStep:
    """A run of elementwise entries: one fused loop per entry point."""

    def __init__(self, whole, g, gi):
        prog, t = whole.prog, whole.tables
        self.whole, self.g, self.gi = whole, g, gi
        self.n = t.size(size_of(g.shape))
        self.reads, self.ids, self.blocks = [], {}, {}
        #: the entry each input's values, tangents and cotangents are named by: an absorbed
        #: slice transpose's source (its loop reads it at an offset, within bounds ``bounds``)
        self.entry = [whole.pads[key][0] if k in padded(g) else key
                      for k, key in enumerate(g.inputs)]
        self.bounds = [b for k in padded(g) for b in whole.pads[g.inputs[k]][1:]]
        if g.nest:  # the nested inputs' repeats (:mod:`adops.compile.nested`)
            self.bounds += [t.size(g.nest[0]), t.size(g.nest[1])]
        for k, key in enumerate(g.inputs):
            if type(key) is int:
                self.reads.append(f"v{self.entry[k]}")
                if g.kinds[k] == "broadcast":
                    self._plan_spread(k, prog.shapes[key])
            else:  # a constant array operand, stored at the loop's shape
                _, e, j = key
                value = np.asarray(prog.refs[e][j].value)
                if g.kinds[k] == "broadcast":
                    value = np.broadcast_to(value, g.shape)
                elif g.kinds[k] == "one":  # one value in every entry: the loop reads one
                    value = value.reshape(-1)[:1]
                self.reads.append(t.array(value.reshape(-1)))
        self.tin = [k for k, key in enumerate(g.inputs) if type(key) is int and
                    key in whole.depends]
        self.touts = [e for e in g.outputs if e in whole.depends]

    def _plan_spread(self, k, shape):
        """How input ``k`` (of ``shape``) is broadcast to the loop's entries: repeated blocks
        when numpy broadcasts along one run of axes (no table), else gathered by an index table
        of the loop's size."""
        t = self.whole.tables
        ids = _broadcast_ids(shape, self.g.shape)
        run = block_run(ids)
        if run is not None:
            self.blocks[k] = (t.size(run[0]), t.size(run[1]))
        else:
            self.ids[k] = t.array(ids)

    def _spread(self, src, k, name, rows, n_rows, flat=False):
        """Lines binding ``name`` to the rows ``rows`` (``n_rows`` of them) of input ``k``
        spread to the loop's entries (``flat``: ``rows`` is the flat value, and ``name`` a flat
        array). Repeated blocks go into an array of their own, which the entry's workspace holds
        unless it is returned: a fresh block of the loop's size costs its page faults (GMM
        d = 64: 51 MB, 20 ms)."""
        dt = self.whole.prog.dtypes[self.g.inputs[k]]
        if flat:
            rows = f"{rows}.reshape((1, {rows}.shape[0]))"
        if k in self.blocks:
            B, R = self.blocks[k]
            if flat:
                src(f"{name} = np.empty({self.n}, dtype=np.{dt})", 1)
                out = f"{name}.reshape((1, {self.n}))"
            else:
                src(f"{name} = np.empty(({n_rows}, {self.n}), dtype=np.{dt})", 1)
                out = name
            src(f"spread_blocks_into({out}, {rows}, {B}, {R})", 1)
        else:
            src(f"{name} = gather({rows}, {self.ids[k]}){'[0]' if flat else ''}", 1)

    def _buffers(self, src, rows, tangents=(), cotangents=()):
        """Lines allocating a nested loop's :func:`adops.compile.nested.buffers` (the entry's
        workspace holds them), and their names."""
        names = []
        for c, k in buffers(self.g, tangents, cotangents):
            dt = self.whole.prog.dtypes[self.g.inputs[k]] if c != "cx" else self.g.dtype
            shape = self.n if c == "ax" else f"({rows}, {self.n})"
            names.append(f"{c}{k}g{self.gi}")
            src(f"{names[-1]} = np.empty({shape}, dtype=np.{dt})", 1)
        return names

    def touches(self, depends):
        return any(e in depends for e in self.g.entries)

    def passes(self):
        return None, None  # its loops write fresh arrays

    def defines(self):
        return [f"v{e}" for e in self.g.outputs] + \
            [f"a{self.gi}_{k}" for k in range(len(self.g.inputs))]

    def _inputs(self, src):
        for k, read in enumerate(self.reads):
            if k in self.blocks or k in self.ids:
                self._spread(src, k, f"a{self.gi}_{k}", read, 1, flat=True)
            else:
                src(f"a{self.gi}_{k} = {read}", 1)
        for e in self.g.outputs:
            src(f"v{e} = np.empty({self.n}, dtype=np.{self.g.dtype})", 1)

    def value(self, src):
        self._inputs(src)
        args = [f"a{self.gi}_{k}" for k in range(len(self.g.inputs))] + self.bounds + \
            [f"v{e}" for e in self.g.outputs]
        src(f"g{self.gi}_primal({self.n}, {', '.join(args)})", 1)

    def jvp(self, src):
        self._inputs(src)
        g, gi = self.g, self.gi
        for k in self.tin:
            r = self.entry[k]
            if g.kinds[k] == "broadcast":  # (a spread reads C rows)
                self._spread(src, k, f"u{gi}_{k}", self.whole.rows(r), f"t{r}.shape[0]")
            elif k in g.offsets:  # the wider rows, read at the offset (numba: C rows, which
                src(f"u{gi}_{k} = t{self.whole.views[r][0]}", 1)  # vectorize; a view's do not)
            else:
                src(f"u{gi}_{k} = t{r}", 1)
        k0 = self.entry[self.tin[0]]
        for e in self.touts:
            src(f"t{e} = np.empty((t{k0}.shape[0], {self.n}), dtype=np.{g.dtype})", 1)
        args = [f"a{gi}_{k}" for k in range(len(g.inputs))] + self.bounds + \
            [f"u{gi}_{k}" for k in self.tin] + \
            [self.whole.views[self.entry[k]][1] for k in g.offsets] + \
            [f"v{e}" for e in g.outputs] + [f"t{e}" for e in self.touts] + \
            self._buffers(src, f"t{k0}.shape[0]", tangents=self.tin)
        src(f"g{gi}_jvp({self.n}, t{k0}.shape[0], {', '.join(args)})", 1)

    def vjp(self, src, acc):
        g, gi, prog = self.g, self.gi, self.whole.prog
        if not any(e in acc.assigned for e in self.touts):
            return
        for e in self.touts:
            src(f"q{e} = {f'b{e}' if e in acc.assigned else f'np.zeros((m, {self.n}), dtype=np.{g.dtype})'}", 1)
        into = {}  # input -> the rows of the entry it is a run of, which the loop adds into
        for k in sorted(g.into):
            r, _ = g.into[k]
            into[k] = acc.own(r, self.whole.tables.size(size_of(prog.shapes[r])), g.dtype)
        for k in self.tin:
            if k in into:
                continue
            alloc, n = ("zeros", "1") if g.kinds[k] == "one" else ("empty", self.n)
            if g.kinds[k] in NESTED:  # its own entries, summed into by the loop
                alloc, n = "zeros", self.whole.tables.size(size_of(prog.shapes[self.entry[k]]))
            if g.kinds[k] == "pad":  # the source's rows: each entry written once by the loop
                n = self.whole.tables.size(size_of(prog.shapes[self.entry[k]]))
            src(f"cg{gi}_{k} = np.{alloc}((m, {n}), dtype=np.{g.dtype})", 1)
        # a spread of repeated blocks is made again here, in the sweep's workspace, rather than
        # kept from the forward pass as a fresh block of the loop's size
        ins = [f"aw{gi}_{k}" if k in self.blocks else f"a{gi}_{k}" for k in range(len(g.inputs))]
        for k in self.blocks:
            self._spread(src, k, ins[k], self.reads[k], 1, flat=True)
        args = ins + self.bounds + [f"q{e}" for e in self.touts] + \
            [into.get(k, f"cg{gi}_{k}") for k in self.tin] + [g.into[k][1] for k in sorted(g.into)] + \
            self._buffers(src, "m", cotangents=self.tin)
        src(f"g{gi}_{'vjp_one' if self.whole.one_seed else 'vjp'}({self.n}, m, "
            f"{', '.join(args)})", 1)
        for k in self.tin:
            if k in into:
                continue
            r = self.entry[k]
            if k in self.ids or k in self.blocks:
                n_r = self.whole.tables.size(size_of(prog.shapes[r]))
                acc.add(r, f"scatter_add(cg{gi}_{k}, {self.ids[k]}, {n_r})" if k in self.ids
                        else f"sum_blocks(cg{gi}_{k}, {', '.join(self.blocks[k])}, {n_r})")
            else:
                acc.add(r, f"cg{gi}_{k}")


def nest_broadcasts(prog, steps):
    """Marks the broadcast inputs a fused loop of a whole program reads in place
    (:mod:`adops.compile.nested`): those that repeat blocks along one run of axes
    (:func:`adops.compile.formbase.block_run`) as the group's first such input does, in a group
    without vector entries or runs added into wider rows. The others are spread as before."""
    for kind, g in steps:
        if kind != "group" or g.into or vector_entries(prog, g):
            continue
        runs = {k: block_run(_broadcast_ids(prog.shapes[key], g.shape))
                for k, key in enumerate(g.inputs) if type(key) is int and
                g.kinds[k] == "broadcast"}
        first = next((run for run in runs.values() if run is not None), None)
        if first is None:
            continue
        g.nest = first
        for k, run in runs.items():
            if run == first:
                g.kinds[k] = "repeat" if first[1] == 1 else "tile"


def _broadcast_ids(shape, to):
    shape, to = tuple(shape), tuple(to)
    padded = (1,) * (len(to) - len(shape)) + shape
    return np.broadcast_to(entry_ids(shape).reshape(padded), to).ravel()
