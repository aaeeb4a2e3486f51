"""A Python loop unrolled by the trace, rolled back into one loop entry of the program.

Contract. :func:`rolled` ``(tape, leaves, outs)`` returns a new program ``(tape, leaves, outs)``
that computes the same outputs from the same leaves (same order, same shapes and dtypes), or
None when nothing repeats enough to roll. A run of entries that repeats one block ``T`` times
(``entries[s + j P + k]``, ``j < T``, ``k < P``: the same op, parameters, shape and dtype for
every ``j``) becomes one :class:`RolledLoop` entry, the loop ``adops.scan`` records
(:mod:`adops.compile.loopforms` runs it inside numba): its step program is the block replayed
once (:class:`adops.program.step.StepProgram`), and each of the block's reads is one of

- *internal*: an entry of the same step;
- *carried*: an entry of the step before (``r_j = r_{j-1} + P`` pointing one period back): a
  carry of the loop, started from the entry before the run;
- *invariant*: the same entry (before the run) or constant in every step: an input of the
  step (a constant stays one);
- *per step*: a read whose parameters change from step to step on an invariant operand
  (``inputs[t]``): the reads of all steps become one strided read before the loop, the loop's
  ``xs`` (:class:`StridedRead`); or a plain constant array that changes from step to step
  (``h + X[t]`` with ``X`` not traced): the constants stacked into one ``xs`` entry.

Entries after the run that read an entry of the run read the loop's last carry, or its ``ys``
(the step's value stacked over the steps): one row (``ys[j]``), or a run of rows joined by an
op (``np.stack(preds)``: :class:`StackedRun`). A run whose reads fit none of these (two steps
back, a guard inside the run) is not rolled. The roller repeats while a run is found, so a
second loop (a sum over the rows, say) is rolled too; the result must be smaller than the
program it replaces.

Why: a loop traced step by step would compile the same code once per step and name every
cross-step value in one function (LSTM over 1023 characters: 15 366 steps). As one loop the
step is compiled once, whatever ``T`` is.
"""
from __future__ import annotations

import numpy as np

from ..core.fpstate import quiet
from ..core.levels import any_traced, bind
from ..ops.registry import OPS, Op
from ..program.step import Layout, StepProgram
from ..program.tape import CONSTANT, Guard, Tape
from .loopforms import example_value
from .programview import freeze
from .runs import NotARun, find_run

#: loops rolled out of one program, at most
MAX_LOOPS = 8


class RolledLoop(Op):
    """A repeated block of a traced program as one loop (see module doc): the inputs are the
    carry's first values, the per-step ``xs`` (leading axis ``length``) and the invariants;
    the value is ``adops.scan``'s packed layout (last carry, then each ``y`` stacked), raveled
    into one flat array."""

    name = "rolled loop"
    doc = "a loop the trace unrolled, rolled back (the compiled tier's long programs)"
    numba = "loop"

    def value(self, *args, program, length, nc, nx, snapshots):
        carry, xs, rest = list(args[:nc]), args[nc:nc + nx], list(args[nc + nx:])
        ys = []
        with quiet():
            for t in range(length):
                outs = program.run(carry + [x[t] for x in xs] + rest, [])
                carry, y = list(outs[:nc]), outs[nc:]
                ys.append(y)
        layout = Layout(program, nc, length)
        return layout.pack(carry, layout.stacked(ys))


ROLLED = RolledLoop()


class _Shape:
    """What :meth:`Tape.push` reads of a value: its shape and dtype (no array is made)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)


# -------------------------------------------------------------------------- per-step reads
class StridedRead:
    """``x[i_j, *rest]`` over steps ``j``, with ``i_j = i_0 + j d``: one read
    ``xs = x[i_0::d]`` (``T`` rows) before the loop, and ``xs[j][rest]`` in step ``j``."""

    @staticmethod
    def split(params_seq, operand_shape):
        """``(outer, inner)`` parameters, inner None when the row is the read; None when the
        reads are not strided."""
        firsts, rests = [], set()
        for p in params_seq:
            index = p["index"]
            if not (isinstance(index, tuple) and index and _is_int(index[0])):
                return None
            if not all(isinstance(r, slice) or _is_int(r) for r in index[1:]):
                return None  # an advanced index would move axes: x[i][rest] != x[i, *rest]
            firsts.append(int(index[0]) % operand_shape[0])
            rests.add(freeze(index[1:]))
        steps = set(np.diff(firsts).tolist())
        if len(rests) != 1 or len(steps) != 1 or 0 in steps:
            return None
        d, T = steps.pop(), len(firsts)
        stop = firsts[0] + T * d
        outer = {"index": (slice(firsts[0], stop if stop >= 0 else None, d),)}
        rest = params_seq[0]["index"][1:]
        return outer, ({"index": rest} if rest else None)


class StackedRun:
    """``np.stack([..., ys[j0], ..., ys[j1], ...], axis)``: each run of consecutive rows of one
    ``ys`` is a slice of it (its axis moved to ``axis``), the other operands get the new axis,
    and the pieces are concatenated."""

    @staticmethod
    def join(build, parts, axis):
        pieces = []
        for part in parts:
            if part[0] == "rows":
                _, ys, j0, j1, T = part
                e = ys if (j0, j1) == (0, T) else build.emit(
                    "getitem", [ys], index=(slice(j0, j1),))
                if axis:
                    nd = len(build.tape.shapes[e])
                    axes = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, nd))
                    e = build.emit("transpose", [e], axes=axes)
            else:
                shape = list(build.shape_of(part[1]))
                shape.insert(axis, 1)
                e = build.emit("reshape", [part[1]], shape=tuple(shape))
            pieces.append(e)
        return pieces[0] if len(pieces) == 1 else build.emit("concatenate", pieces, axis=axis)


#: ops with a per-step form (reads) or that join a run of rows (joins)
READS = {"getitem": StridedRead}
JOINS = {"stack": StackedRun}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# -------------------------------------------------------------------------- the new program
def _evaluate(op, args, params):
    """An entry's value: bound on traced arguments, else computed (a constant entry too)."""
    if any_traced(args):
        return bind(op, *args, **params)
    value = getattr(op, "value", None)
    return value(*args, **params) if value is not None else op.linearize(*args, **params)[0]


class _Build:
    """The new tape, entry by entry: ``old -> new`` entries, and entries made here."""

    def __init__(self, tape):
        self.old = tape
        self.tape = Tape(tape.level, linearize=False)
        self.map = {}

    def shape_of(self, e):
        return self.tape.shapes[e]

    def push(self, op, params, refs, shape, dtype) -> int:
        return self.tape.push(op, params, tuple(refs), None, _Shape(shape, dtype))

    def emit(self, name, refs, **params) -> int:
        """A new entry of op ``name`` on entries ``refs``; its shape and dtype are the op's on
        zeros of theirs."""
        t = self.tape
        out = OPS[name].value(*[np.zeros(t.shapes[r], t.dtypes[r]) for r in refs], **params)
        return self.push(OPS[name], params, refs, out.shape, out.dtype)

    def copy(self, e, refs):
        o = self.old
        self.map[e] = self.push(o.ops[e], o.params[e], refs, o.shapes[e], o.dtypes[e])
        if o.ops[e] is None:
            self.tape.leaves.append(self.map[e])

    def ref(self, r):
        return self.map[r] if type(r) is int else r


class _Rolled:
    """One run rolled: the step program, the loop entry and what reads it (see module doc)."""

    def __init__(self, run, build):
        self.run, self.b = run, build
        P = run.P
        #: per-step inputs: strided reads (an entry each), then per-step constants (a read each)
        self.xs = [k for k in range(P) if run.varies[k]]
        self.reads = [self._strided(k) for k in self.xs]
        self.xconsts = [(k, i) for k in range(P) for i, (kind, _) in enumerate(run.reads[k])
                        if kind == "xconst"]
        # a strided read's operand is read before the loop, not by the step
        self.invariants = sorted({r for k, row in enumerate(run.reads) if not run.varies[k]
                                  for kind, r in row if kind == "invariant"})
        self.ys = []

    def _strided(self, k):
        run, tape = self.run, self.run.tape
        e = run.s + k
        reader = READS.get(getattr(tape.ops[e], "name", None))
        kind, operand = run.reads[k][0] if len(run.reads[k]) == 1 else (None, None)
        if reader is None or kind != "invariant":
            raise NotARun("a per-step read the op cannot stride")
        params = [tape.params[e + j * run.P] for j in range(run.T)]
        split = reader.split(params, tape.shapes[operand])
        if split is None:
            raise NotARun("per-step reads that are not strided")
        return operand, split

    def outputs_after(self, refs_after):
        """The step's ``y`` positions: those read after the run other than as the last carry."""
        run = self.run
        ys = set()
        for r in refs_after:
            j, k = divmod(r - run.s, run.P)
            if not (j == run.T - 1 and k in run.init):
                ys.add(k)
        self.ys = sorted(ys)

    def step_program(self):
        run, tape = self.run, self.run.tape
        nc, ns = len(run.carried), len(self.xs)
        leaves = [example_value(tape.shapes[run.s + k], tape.dtypes[run.s + k])
                  for k in run.carried]
        # a strided read slices axis 0, so its row is the operand's entry shape
        leaves += [example_value(tape.shapes[operand][1:], tape.dtypes[operand])
                   for operand, _ in self.reads]
        leaves += [example_value(run.reads[k][i][1].shape[1:], run.reads[k][i][1].dtype)
                   for k, i in self.xconsts]
        leaves += [example_value(tape.shapes[r], tape.dtypes[r]) for r in self.invariants]
        at_carry = {k: i for i, k in enumerate(run.carried)}
        at_x = {k: nc + i for i, k in enumerate(self.xs)}
        at_xc = {ki: nc + ns + i for i, ki in enumerate(self.xconsts)}
        at_inv = {r: nc + ns + len(self.xconsts) + i for i, r in enumerate(self.invariants)}

        def step(xs):
            vals = []
            for k in range(run.P):
                e = run.s + k
                if k in at_x:
                    inner = self.reads[self.xs.index(k)][1][1]
                    row = xs[at_x[k]]
                    vals.append(row if inner is None else _evaluate(tape.ops[e], [row], inner))
                    continue
                args = []
                for i, (kind, what) in enumerate(run.reads[k]):
                    args.append(what.value if kind == "const" else
                                vals[what] if kind == "internal" else
                                xs[at_carry[what]] if kind == "carried" else
                                xs[at_xc[(k, i)]] if kind == "xconst" else xs[at_inv[what]])
                vals.append(_evaluate(tape.ops[e], args, tape.params[e] or {}))
            return [vals[k] for k in run.carried] + [vals[k] for k in self.ys]
        try:
            with quiet():
                return StepProgram(step, leaves, "a rolled loop's step")
        except Exception as e:  # an op that refuses the example values (a Cholesky factor
            raise NotARun(f"the step at example values: {e}") from e  # of 0.5s): unrolled

    def emit(self):
        """The loop entry and its unpacked results; ``{(k, j): entry}`` for the last carry."""
        run, b = self.run, self.b
        program = self.step_program()
        if program.consts or program.tape.guards:
            raise NotARun("the step reads an outer value or branches")
        dtypes = {np.dtype(d) for d in program.out_dtypes}
        if len(dtypes) != 1:
            raise NotARun("results of several dtypes")  # the packed value has one
        dtype = dtypes.pop()
        xs = [b.emit("getitem", [b.ref(operand)], **outer) for operand, (outer, _) in self.reads]
        for k, i in self.xconsts:
            stacked = run.reads[k][i][1]
            xs.append(b.push(CONSTANT, {"value": stacked}, (), stacked.shape, stacked.dtype))
        refs = [b.ref(run.init[k]) for k in run.carried] + xs + \
            [b.ref(r) for r in self.invariants]
        nc = len(run.carried)
        shapes = [tuple(s) for s in program.out_shapes[:nc]] + \
            [(run.T,) + tuple(s) for s in program.out_shapes[nc:]]
        size = sum(int(np.prod(s)) for s in shapes)
        loop = b.push(ROLLED, {"program": program, "length": run.T, "nc": nc, "nx": len(xs),
                               "snapshots": None}, refs, (size,), dtype)
        parts, at = [], 0
        for shape in shapes:
            n = int(np.prod(shape))
            e = b.emit("getitem", [loop], index=(slice(at, at + n),))
            parts.append(e if shape == (n,) else b.emit("reshape", [e], shape=shape))
            at += n
        self.last = {k: parts[i] for i, k in enumerate(run.carried)}
        self.rows = {k: parts[nc + i] for i, k in enumerate(self.ys)}
        self.row_cache = {}

    def read(self, r):
        """The new entry for old entry ``r`` of the run, read after it."""
        run = self.run
        j, k = divmod(r - run.s, run.P)
        if j == run.T - 1 and k in self.last:
            return self.last[k]
        if (k, j) not in self.row_cache:
            self.row_cache[(k, j)] = self.b.emit("getitem", [self.rows[k]], index=(j,))
        return self.row_cache[(k, j)]

    def joined(self, e):
        """Entry ``e`` (after the run) as a join of row runs, or None."""
        run, tape = self.run, self.run.tape
        joiner = JOINS.get(getattr(tape.ops[e], "name", None))
        if joiner is None:
            return None
        parts, inside = [], 0
        for r in tape.refs[e]:
            if type(r) is int and run.s <= r < run.stop and \
                    divmod(r - run.s, run.P)[1] in self.rows:
                j, k = divmod(r - run.s, run.P)
                last = parts[-1] if parts else None
                if last and last[0] == "rows" and last[1] == self.rows[k] and last[3] == j:
                    parts[-1] = ("rows", last[1], last[2], j + 1, run.T)
                else:
                    parts.append(("rows", self.rows[k], j, j + 1, run.T))
                inside += 1
            else:
                parts.append(("one", self.b.ref(r) if type(r) is int else None))
        if inside < 2 or any(p[0] == "one" and p[1] is None for p in parts):
            return None
        return joiner.join(self.b, parts, **(tape.params[e] or {}))


def _roll_once(tape, leaves, outs):
    run = find_run(tape)
    if run is None:
        return None
    try:
        return _rebuild(run, tape, leaves, outs)
    except NotARun:
        return None


def _rebuild(run, tape, leaves, outs):
    b = _Build(tape)
    roll = _Rolled(run, b)
    inside = lambda r: type(r) is int and run.s <= r < run.stop  # noqa: E731
    after = [r for e in range(run.stop, len(tape.ops)) for r in tape.refs[e] if inside(r)]
    after += [r for r in [*outs, *(r for g in tape.guards for r in g.refs)] if inside(r)]
    roll.outputs_after(after)
    for e in range(run.s):
        b.copy(e, [b.ref(r) for r in tape.refs[e]])
    roll.emit()
    read = lambda r: roll.read(r) if inside(r) else b.ref(r)  # noqa: E731
    guards = sorted(tape.guards, key=lambda g: g.position)
    g = 0
    for e in range(run.stop, len(tape.ops) + 1):
        while g < len(guards) and guards[g].position <= e:
            guard = guards[g]
            refs = tuple(map(read, guard.refs))  # made before the position the guard takes
            at = guard.position if guard.position <= run.s else len(b.tape.ops)
            b.tape.guards.append(Guard(at, guard.func, refs, guard.kwargs, guard.result))
            g += 1
        if e == len(tape.ops):
            break
        joined = roll.joined(e) if any(inside(r) for r in tape.refs[e]) else None
        if joined is not None:
            b.map[e] = joined
            continue
        b.copy(e, [read(r) for r in tape.refs[e]])
    new_outs = [None if o is None else read(o) for o in outs]
    return b.tape, [b.map[e] for e in leaves], new_outs


def rolled(tape, leaves, outs):
    """``(tape, leaves, outs)`` with each repeated run rolled into a loop entry (see module
    doc), or None when none was.

    Example:
        >>> import numpy as np
        >>> from adops.program.tape import Trace
        >>> def f(x):
        ...     h = x
        ...     for _ in range(40):
        ...         h = np.tanh(h * 0.9 + 0.1)
        ...     return h
        >>> t = Trace(f, (np.ones(3),), {}, (0,), "example", linearize=False)
        >>> new, _, _ = rolled(t.tape, t.leaves, t.outs)
        >>> len(t.tape), len(new), [op.name for op in new.ops if op is not None][:3]
        (121, 3, ['rolled loop', 'getitem'])
    """
    current, changed = (tape, list(leaves), list(outs)), False
    for _ in range(MAX_LOOPS):
        new = _roll_once(*current)
        if new is None or len(new[0]) >= len(current[0]):
            break
        current, changed = new, True
    return current if changed else None
