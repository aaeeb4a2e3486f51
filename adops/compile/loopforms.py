"""``adops.scan``'s loop inside one numba function: the step's maps traced into numba functions
of the whole program, called once per step (a loop, never unrolled).

Contract. The op (:class:`adops.control.scan.ScanOp`) takes the carry's leaves (``nc``), the
leaves of ``xs`` (``nx``, leading axis ``T``) and the constants the step reads; its value is
every result packed into one flat array: the last carry's leaves, then each ``y`` leaf stacked
over the ``T`` steps, in the op's dtype. Values are flat ``(n,)``, tangent and cotangent rows
``(k, n)``, as every form's (:mod:`adops.compile.formbase`).

- value: ``T`` calls of the step's primal, each step's input carry kept (``v{e}_{i}``, one row
  per step and carry leaf) for the tangents and the sweep;
- jvp: per step and chunk of :data:`STEP_DIRECTIONS` directions, one call of the step's JVP
  traced at that many directions (it returns the step's outputs and their tangents): the step's
  primal is recomputed once per chunk, not once per direction (LSTM over 16 characters,
  jacfwd of 266 directions: 12.7 ms, against 67 ms a direction at a time; a single direction
  0.17 ms either way);
- vjp: per seed, the steps backward, each one call of the step's VJP traced at one seed, which
  recomputes the step from its kept carry and pulls the seed back (the memory of the plain
  tape's loop: a carry per step, not a linearization).

The maps are the step program's own (``program.run``; ``program.linearize`` then ``push`` or
``pull``), traced into programs of ops at build time (:class:`SubProgram`): no formula is
written here. A loop with ``checkpoints`` (its memory bound is the point of it, and its
schedule runs in Python), a step that branches on values, and a scan inside a scan's step keep
the Python driver.
"""
from __future__ import annotations

import numpy as np

from .formbase import Form, Unsupported, size_of
from .matrixforms import SubProgram


#: directions per call of a step's JVP: the step's primal is recomputed once per chunk of
#: them, not once per direction (a single direction computes W - 1 zero tangents more)
STEP_DIRECTIONS = 8


def example_value(shape, dtype):
    """A value to trace a step at: its ops take no branch on values (a step that does is
    refused), so any value of the right shape and dtype gives the program (0.5 in floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.full(shape, 0.5, dtype=dtype)
    return np.zeros(shape, dtype=dtype)


def _kept(rows, shapes, dtypes) -> tuple:
    """``rows`` with zeros (one row) for the Nones: a traced tuple drops a None, and each
    position must stay where the loop reads it (a zero row is constant: not returned)."""
    return tuple(np.zeros((1,) + tuple(s), d) if r is None else r
                 for r, s, d in zip(rows, shapes, dtypes))


class StepLoop(Form):
    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        p = self.params
        self.program, self.T, self.nc, self.nx = p["program"], p["length"], p["nc"], p["nx"]
        if p["snapshots"] is not None:
            raise Unsupported("scan with checkpoints: its schedule runs in Python")
        if self.program.tape.guards:
            raise Unsupported("scan: its step branches on values")
        self.n_in = len(self.program.inputs)
        step = [s if j < self.nc or j >= self.nc + self.nx else s[1:]
                for j, s in enumerate(self.shapes)]
        self.examples = [example_value(s, d) for s, d in zip(step, self.dtypes)]
        t = tables
        self.out_shapes, self.out_dtypes = self.program.out_shapes, self.program.out_dtypes
        sizes = [size_of(s) for s in self.out_shapes]
        #: where each output leaf starts in the packed value (a y leaf: its T steps in a row)
        starts, at = [], 0
        for j, n in enumerate(sizes):
            starts.append(at)
            at += n if j < self.nc else self.T * n
        if at != self.n_out:
            raise Unsupported(f"scan: a packed result of {at} entries, not {self.n_out}")
        self.sz = [t.size(size_of(s)) for s in step]
        self.osz = [t.size(n) for n in sizes]
        self.at = [t.size(a) for a in starts]
        self.nT, self.N = t.size(self.T), t.size(self.n_out)
        self.subs = []
        self._subs = {}

    def extra_values(self):
        """The kept carries, which the sweep reads (names the whole program passes on)."""
        return [f"v{self.e}_{i}" for i in range(self.nc)]

    # ------------------------------------------------------------ the step's maps, traced
    def _sub(self, name, fn, extra):
        if name not in self._subs:
            sub = SubProgram.traced(f"r{self.e}{name}_", fn, [*self.examples, *extra],
                                    "adops.scan's step")
            self.subs.append(sub)
            self._subs[name] = sub
        return self._subs[name]

    def _split(self, a):
        return list(a[:self.n_in]), list(a[self.n_in:len(self.refs)]), a[len(self.refs):]

    def _leaves(self, args, carry, t):
        """The step's arguments at step ``t``: the carry, the ``xs`` rows, the constants."""
        xs = [f"{args[j]}[{t} * {self.sz[j]}:({t} + 1) * {self.sz[j]}]"
              for j in range(self.nc, self.nc + self.nx)]
        return [*carry, *xs, *args[self.nc + self.nx:]]

    @staticmethod
    def _call(sub, leaves, got):
        return f"_, {got} = {sub.name}primal(({''.join(x + ', ' for x in leaves)}), IX, ID, K)"

    @staticmethod
    def _outs(sub):
        """Per output of ``sub``: its index in the tuple the sub returns (only outputs that
        depend on the leaves are returned), or None."""
        live = [o is not None for o in sub.trace.outs]
        index = np.cumsum(live) - 1
        return [int(i) if is_live else None for i, is_live in zip(index, live)]

    # ------------------------------------------------------------------------ the value
    def value(self, args):
        program = self.program
        sub = self._sub("step", lambda *a: tuple(program.run(*self._split(a)[:2])), [])
        where = self._outs(sub)
        if any(w is None for w in where):
            raise Unsupported("scan: a step output does not depend on the step's inputs")
        e, dt, q = self.e, f"np.{self.dtype.name}", f"q{self.e}"
        lines = [f"{{out}} = np.empty({self.N}, dtype={dt})"]
        carry = [f"c{e}_{i}" for i in range(self.nc)]
        for i in range(self.nc):
            lines.append(f"{{out}}_{i} = np.empty(({self.nT}, {self.sz[i]}), "
                         f"dtype=np.{self.dtypes[i].name})")
            lines.append(f"{carry[i]} = {args[i]}")
        lines.append(f"for {q} in range({self.nT}):")
        for i in range(self.nc):
            lines.append(f"    {{out}}_{i}[{q}] = {carry[i]}")
        lines.append("    " + self._call(sub, self._leaves(args, carry, q), f"o{e}"))
        for i in range(self.nc):  # never written: it may be an input's array
            lines.append(f"    {carry[i]} = o{e}[{where[i]}]")
        for j in range(self.nc, len(self.out_shapes)):
            lines.append(f"    {{out}}[{self.at[j]} + {q} * {self.osz[j]}:{self.at[j]} + "
                         f"({q} + 1) * {self.osz[j]}] = o{e}[{where[j]}]")
        for i in range(self.nc):
            lines.append(f"{{out}}[{self.at[i]}:{self.at[i]} + {self.osz[i]}] = {carry[i]}")
        return lines

    # ------------------------------------------------------------------------ tangents
    def jvp(self, args, tans):
        program, nc, e, W = self.program, self.nc, self.e, STEP_DIRECTIONS
        # every carry has a tangent after the first step that reads a live input
        live = list(range(nc)) + [j for j in range(nc, len(self.refs)) if tans[j] is not None]

        def rule(*a):
            ins, consts, seeds = self._split(a)
            dots = [None] * len(self.refs)
            for j, seed in zip(live, seeds):
                dots[j] = seed
            _, lins = program.linearize(ins, consts)
            return _kept(program.push(lins, dots), self.out_shapes, self.out_dtypes)
        seeds = [np.zeros((W,) + self.examples[j].shape, dtype=self.dtypes[j]) for j in live]
        sub = self._sub("jvp" + "_".join(map(str, live)), rule, seeds)
        where = self._outs(sub)
        k, q, c, dt = f"k{e}", f"q{e}", f"ch{e}", f"np.{self.dtype.name}"
        nch, lo, nr = f"nch{e}", f"lo{e}", f"nr{e}"
        rows = next(t for t in tans if t is not None)
        lines = [f"{k} = {rows}.shape[0]", f"{nch} = ({k} + {W - 1}) // {W}",
                 f"{{out}} = np.zeros(({k}, {self.N}), dtype={dt})"]
        # W directions a call: the tangents of a chunk in one row of W * size entries, the
        # rows past k zero (their tangents are computed and dropped)
        packed = {}
        for j in live:
            name, sz, d = f"cd{e}_{j}", self.sz[j], f"np.{self.dtypes[j].name}"
            if j < nc or j >= nc + self.nx:
                lines.append(f"{name} = np.zeros(({nch}, {W} * {sz}), dtype={d})")
                if tans[j] is not None:
                    lines.append(f"{name}.reshape(({nch} * {W}, {sz}))[:{k}] = {tans[j]}")
                packed[j] = f"{name}[{c}]"
            else:  # an xs row per step: filled per step and chunk
                lines.append(f"{name} = np.zeros({W} * {sz}, dtype={d})")
                packed[j] = name
        lines += [f"for {q} in range({self.nT}):", f"    for {c} in range({nch}):",
                  f"        {lo} = {c} * {W}", f"        {nr} = min({W}, {k} - {lo})"]
        for j in live[nc:]:
            if j < nc + self.nx:
                sz = self.sz[j]
                lines += [f"        if {nr} < {W}:", f"            {packed[j]}[:] = 0",
                          f"        {packed[j]}.reshape(({W}, {sz}))[:{nr}] = "
                          f"{tans[j]}[{lo}:{lo} + {nr}, {q} * {sz}:({q} + 1) * {sz}]"]
        carry = [f"v{e}_{i}[{q}]" for i in range(nc)]
        dots = [packed[j] for j in live]
        lines.append("        " + self._call(sub, self._leaves(args, carry, q) + dots, f"o{e}"))
        for i in range(nc):
            lines.append(f"        {packed[i]} = " + ("0" if where[i] is None else
                                                      f"o{e}[{where[i]}]"))
        for j in range(nc, len(self.out_shapes)):
            if where[j] is not None:
                lines.append(f"        {{out}}[{lo}:{lo} + {nr}, {self.at[j]} + {q} * "
                             f"{self.osz[j]}:{self.at[j]} + ({q} + 1) * {self.osz[j]}] = "
                             f"o{e}[{where[j]}].reshape(({W}, {self.osz[j]}))[:{nr}]")
        for i in range(nc):
            lines.append(f"{{out}}[:, {self.at[i]}:{self.at[i]} + {self.osz[i]}] = "
                         f"cd{e}_{i}.reshape(({nch} * {W}, {self.sz[i]}))[:{k}]")
        return lines

    # ------------------------------------------------------------------------ the sweep
    def vjp(self, args, b, needed):
        program, nc, nx, e = self.program, self.nc, self.nx, self.e

        def rule(*a):
            ins, consts, seeds = self._split(a)
            _, lins = program.linearize(ins, consts)
            return _kept(program.pull(lins, list(seeds)), [x.shape for x in self.examples],
                         self.dtypes)
        seeds = [np.zeros((1,) + s, dtype=d) for s, d in zip(self.out_shapes, self.out_dtypes)]
        sub = self._sub("vjp", rule, seeds)
        where = self._outs(sub)
        r, q = f"r{e}", f"q{e}"
        lines = []
        bars = {}
        for j in range(len(self.refs)):
            if needed[j]:
                n = self.sz[j] if j < nc or j >= nc + nx else f"{self.nT} * {self.sz[j]}"
                bars[j] = f"bb{e}_{j}"
                lines.append(f"{bars[j]} = np.zeros(({b}.shape[0], {n}), "
                             f"dtype=np.{self.dtypes[j].name})")
        cb = [f"cb{e}_{i}" for i in range(nc)]
        lines.append(f"for {r} in range({b}.shape[0]):")
        for i in range(nc):
            lines.append(f"    {cb[i]} = {b}[{r}, {self.at[i]}:{self.at[i]} + {self.osz[i]}]"
                         f".astype(np.{self.dtypes[i].name})")
        lines.append(f"    for {q} in range({self.nT} - 1, -1, -1):")
        ys = [f"{b}[{r}, {self.at[j]} + {q} * {self.osz[j]}:{self.at[j]} + ({q} + 1) * "
              f"{self.osz[j]}].astype(np.{self.out_dtypes[j].name})"
              for j in range(nc, len(self.out_shapes))]
        carry = [f"v{e}_{i}[{q}]" for i in range(nc)]
        lines.append("        " + self._call(sub, self._leaves(args, carry, q) + cb + ys,
                                             f"o{e}"))
        for i in range(nc):
            lines.append(f"        {cb[i]} = " + (f"o{e}[{where[i]}]" if where[i] is not None
                                                  else f"np.zeros_like({cb[i]})"))
        for j in range(nc, len(self.refs)):
            if j in bars and where[j] is not None:
                at = f"{q} * {self.sz[j]}:({q} + 1) * {self.sz[j]}" if j < nc + nx else ":"
                lines.append(f"        {bars[j]}[{r}, {at}] += o{e}[{where[j]}]")
        for i in range(nc):
            if i in bars:
                lines.append(f"    {bars[i]}[{r}] = {cb[i]}")
        return lines, list(bars.items())
