"""A step function recorded once and replayed: the body of ``adops.scan`` and ``revad.checkpoint``.

Contract: :class:`StepProgram` ``(g, leaves, name)`` runs ``g(xs) -> out leaves`` once on values
traced on a :class:`StepTape` (a level of its own; values only, no partials). The program's
*inputs* are the leaves ``xs`` (``(*shape_i)`` each) and its *constants slots*: every value
traced by an outer transform that the function meets (a closure over the parameters being
differentiated, ``W`` in ``h = tanh(W @ h + x)``) becomes an extra input of the program, named
in :attr:`StepProgram.consts`; plain values it closes over are constants. Ops that touch only
outer values (``W.T`` inside the step) run at the outer level when the step is recorded, once:
they are hoisted out of the loop. The recording is made at the bottom (plain) values, so it
leaves nothing on an outer tape.

Replaying the program (:meth:`StepProgram.run`, :meth:`StepProgram.linearize`) takes the inputs
and the constants' current values, plain or traced by any open transform: each entry is the
op bound again (``adops.core.levels.bind``) or linearized (``op.linearize``), so the outer
transforms differentiate a replay as they would the function itself. The replay checks the
recorded guards (comparisons, masks, ``bool``): a step that branches differently from the
recording raises :class:`StepBranchChanged` naming the step, since the program would no longer
be the function (``jax.lax.scan`` refuses Python branches on traced values for the same reason).
:meth:`StepProgram.pull` sweeps a linearized replay (the one reverse sweep,
:func:`adops.program.sweep.sweep`), :meth:`StepProgram.push` pushes tangents through it. No
derivative formula lives here.
"""
from __future__ import annotations

import numpy as np

from ..core.fpstate import quiet
from ..core.levels import Level, TracedBase, bind
from ..numpy_api.traced import bottom
from .inputs import as_primal
from .sweep import sweep
from .tape import Const, MetOuterLevel, Recorded, Tape, guard_fails
from ..numpy_api.conversions import call_traced


class StepBranchChanged(ValueError):
    """A replayed step met a comparison, mask or ordering whose result differs from the
    recording (see the module docstring)."""


class StepNode(Recorded):
    """A value of a step being recorded (on a tape that records values only). Values traced by
    other (outer) transforms become inputs of the program (its constant slots), and the op runs
    on their plain values."""

    __slots__ = ()
    _mode = "a step function (adops.scan / revad.checkpoint) being recorded"

    @staticmethod
    def _entries_of(args, level):
        return _step_refs(args, level)


class StepTape(Tape):
    """The tape a step is recorded on: values only, outer traced values as constant slots."""

    __slots__ = ("slots", "consts", "const_entries")
    node = StepNode
    level_name = "a step function's recording"

    def __init__(self, level):
        super().__init__(level, linearize=False)
        self.slots, self.consts, self.const_entries = {}, [], []

    def slot(self, value) -> int:
        """The entry of the outer traced ``value`` (a new input of the program when first met)."""
        entry = self.slots.get(id(value))
        if entry is None:
            entry = self.push(None, None, (), None, np.asarray(bottom(value)))
            self.slots[id(value)] = entry
            self.consts.append(value)  # kept: ids stay unique while the tape lives
            self.const_entries.append(entry)
        return entry


def _step_refs(args, level):
    tape = next((a.tape for a in args if isinstance(a, Recorded) and a.level is level), None)
    refs, values = [], []
    for a in args:
        if isinstance(a, Recorded) and a.level is level:
            refs.append(a.index)
            values.append(a.primal)
        elif isinstance(a, TracedBase) and tape is not None:
            refs.append(tape.slot(a))
            values.append(np.asarray(bottom(a)))
        else:
            refs.append(Const(a))
            values.append(a)
    return tape, tuple(refs), values


class StepProgram:
    """``g`` recorded once on ``leaves`` (see the module docstring).

    Attributes: ``consts`` (outer traced values the step reads: pass their current values to
    every replay), ``out_shapes``/``out_dtypes`` per output leaf, ``name`` (in messages).

    Example:
        >>> import numpy as np
        >>> p = StepProgram(lambda xs: [np.sin(xs[0]) * 2.0], [np.zeros(2)], "example")
        >>> p.run([np.full(2, np.pi / 2)], [])[0].tolist()
        [2.0, 2.0]
    """

    def __init__(self, g, leaves, name: str):
        self.name = name
        level = Level(name)
        self.tape = tape = StepTape(level)
        with level, quiet():
            xs = [tape.leaf(as_primal(bottom(v), f"{name}: input {i}"))
                  for i, v in enumerate(leaves)]
            try:
                outs = call_traced(g, [xs], {})
            except MetOuterLevel:
                raise ValueError(
                    f"{name}: the step writes a value traced by an outer transform into an "
                    "array of its own (x[...] = w); compute with it instead (np.where, "
                    "concatenate)") from None
            self.inputs = [x.index for x in xs]
            self.outs, self.values = [], []
            for o in outs:
                if isinstance(o, Recorded) and o.level is level:
                    if o._view is not None:
                        o._refresh()
                    self.outs.append(o.index)
                    self.values.append(o.primal)
                elif isinstance(o, TracedBase):
                    self.outs.append(tape.slot(o))
                    self.values.append(np.asarray(bottom(o)))
                else:
                    self.outs.append(None)
                    self.values.append(np.asarray(o))
        level.close()
        self.consts, self.const_entries = tape.consts, tape.const_entries
        self.out_shapes = [v.shape for v in self.values]
        self.out_dtypes = [v.dtype for v in self.values]

    @property
    def wrt(self) -> list:
        """The entries whose cotangents a sweep returns: inputs, then constant slots."""
        return self.inputs + self.const_entries

    def _plan(self):
        plan = getattr(self, "_entries", None)
        if plan is None:
            tape = self.tape
            plan = self._entries = [
                (i, op, tape.refs[i], tape.params[i] or {}, getattr(op, "value", None) is not None)
                for i, op in enumerate(tape.ops) if op is not None]
        return plan

    def _evaluate(self, inputs, consts, linearize: bool, where: str):
        tape = self.tape
        values = [None] * len(tape.ops)
        lins = [None] * len(tape.ops) if linearize else None
        for e, v in zip(self.wrt, list(inputs) + list(consts)):
            values[e] = v
        guards, g = tape.guards, 0
        for i, op, refs, params, has_value in self._plan():
            while g < len(guards) and guards[g].position <= i:
                self._check(guards[g], values, where)
                g += 1
            args = [values[r] if type(r) is int else r.value for r in refs]
            if linearize or not has_value:
                out, lin = op.linearize(*args, **params)
                values[i] = out
                if linearize:
                    lins[i] = lin
            else:
                values[i] = bind(op, *args, **params)
        for guard in guards[g:]:
            self._check(guard, values, where)
        outs = [values[e] if e is not None else v for e, v in zip(self.outs, self.values)]
        return outs, lins

    def _check(self, guard, values, where):
        name = guard_fails(guard, values)
        if name is not None:
            raise StepBranchChanged(
                f"{self.name}: {name}(...) evaluates differently {where} than when the step was "
                "recorded (a branch, mask or ordering changed); the step is recorded once and "
                "replayed, so write data-dependent choices with np.where, np.maximum or "
                "np.clip, which are differentiable and need no branch")

    def run(self, inputs, consts, where: str = "at a later step"):
        """The output leaves at ``inputs`` and constant values ``consts`` (plain or traced).
        Callers run a loop of steps inside one ``adops.core.fpstate.quiet()`` block."""
        return self._evaluate(inputs, consts, False, where)[0]

    def linearize(self, inputs, consts, where: str = "at a later step"):
        """``(outs, lins)``: the outputs and every entry's linearization, for :meth:`pull` and
        :meth:`push` (inside ``quiet()``, as :meth:`run`)."""
        return self._evaluate(inputs, consts, True, where)

    def pull(self, lins, out_bars) -> list:
        """Cotangents ``(m, *shape)`` (or None) of the inputs then the constant slots, for output
        cotangents ``out_bars[j]: (m, *out_shape_j)`` or None."""
        seeds = {}
        for e, b in zip(self.outs, out_bars):
            if e is not None and b is not None:
                seeds[e] = seeds[e] + b if e in seeds else b
        if not seeds:
            return [None] * len(self.wrt)
        return sweep(self.tape, seeds, self.wrt, lins)

    def push(self, lins, dots) -> list:
        """Output tangents ``(k, *out_shape_j)`` (or None) for tangents ``dots`` of the inputs
        then the constant slots (None for a constant)."""
        tape = self.tape
        t = [None] * len(tape.ops)
        for e, d in zip(self.wrt, dots):
            t[e] = d
        for i, lin in enumerate(lins):
            if lin is None:
                continue
            args = [t[r] if type(r) is int else None for r in tape.refs[i]]
            if any(a is not None for a in args):
                t[i] = lin.jvp(args)
        return [t[e] if e is not None else None for e in self.outs]

    def replay_function(self):
        """``h(*inputs_then_consts) -> tuple of outputs``: the program as a plain function, for
        the compiled tier to trace once and run per step."""
        n = len(self.inputs)

        def replay(*args):
            return tuple(self.run(args[:n], args[n:], "in the compiled tier's trace"))
        return replay


class Layout:
    """Where each result lives in the packed output: the carry's leaves, then each ``y`` leaf
    stacked over the ``T`` steps, all raveled into one flat array of one dtype."""

    def __init__(self, program, nc, T):
        self.nc, self.T = nc, T
        self.c_shapes, self.c_dtypes = program.out_shapes[:nc], program.out_dtypes[:nc]
        self.y_shapes, self.y_dtypes = program.out_shapes[nc:], program.out_dtypes[nc:]
        self.dtype = np.result_type(*program.out_dtypes) if program.out_dtypes else np.float64
        shapes = list(self.c_shapes) + [(T,) + s for s in self.y_shapes]
        sizes = [int(np.prod(s)) for s in shapes]
        self.shapes, self.stops = shapes, np.cumsum([0] + sizes).tolist()

    def pack(self, carry, ys, lead=()):
        """One flat array (``(*lead, size)``) of the carry and the stacked ``ys``."""
        parts = [np.reshape(p, lead + (-1,)) for p in list(carry) + list(ys)]
        if not parts:
            return np.zeros(lead + (0,), self.dtype)
        return np.concatenate([p if p.dtype == self.dtype else p.astype(self.dtype)
                               for p in parts], axis=-1)

    def unpack(self, packed, lead=()):
        """``(carry leaves, ys leaves)`` from a packed array (``lead`` axes first)."""
        out = []
        dtypes = list(self.c_dtypes) + list(self.y_dtypes)
        for a, b, shape, dt in zip(self.stops, self.stops[1:], self.shapes, dtypes):
            part = np.reshape(packed[..., a:b], lead + shape)
            out.append(part if part.dtype == dt else part.astype(dt))
        return out[:self.nc], out[self.nc:]

    def stacked(self, ys):
        """Each ``y`` leaf stacked over the steps, from ``ys[t]``: the step's ``y`` leaves."""
        if not ys:
            return [np.zeros((0,) + s, d) for s, d in zip(self.y_shapes, self.y_dtypes)]
        return [np.stack([y[j] for y in ys]) for j in range(len(ys[0]))]


def fingerprint(carry):
    """A sum per leaf: what a recomputed step is checked against (8 bytes per leaf, where the
    values themselves are not kept)."""
    return [float(np.asarray(bottom(c)).sum()) for c in carry]


def differs(a: float, b: float) -> bool:
    """Whether two fingerprints differ (nan equals nan)."""
    return a != b and not (a != a and b != b)
