"""How one step of a recorded program is run: eagerly (op by op) or by the compiled tier.

Contract: an engine wraps a :class:`adops.program.step.StepProgram` with three calls on the
program's flat arguments ``args`` (inputs, then the constant slots' values):

- ``run(args, where) -> outs``: the output leaves;
- ``linearize(args, where) -> (outs, pull)``: ``pull(out_bars) -> bars``, one cotangent
  ``(m, *shape)`` or None per argument for output cotangents ``(m, *out_shape_j)`` or None;
- ``push(args, dots, where) -> (outs, out_dots)``: tangents ``(k, *shape)`` or None in and out.

:func:`engine` picks the compiled tier when asked and every argument is a plain array: the step
program is traced by :func:`adops.compile.compiled` once and each step is one call of its
generated code (a loop of calls, never a program unrolled over the steps). Values traced by an
outer transform (a Hessian through a scan) run eagerly, as the compiled tier itself does.
"""
from __future__ import annotations

import numpy as np

from ..compile import compiled, use_compiled
from ..core.levels import any_traced
from ..program.tape import Recorded
from ..program.step import StepNode


class EagerStep:
    """Each step op by op (see module docstring)."""

    def __init__(self, program):
        self.program, self.n = program, len(program.inputs)

    def run(self, args, where):
        return self.program.run(args[:self.n], args[self.n:], where)

    def linearize(self, args, where):
        outs, lins = self.program.linearize(args[:self.n], args[self.n:], where)
        return outs, lambda out_bars: self.program.pull(lins, out_bars)

    def push(self, args, dots, where):
        outs, lins = self.program.linearize(args[:self.n], args[self.n:], where)
        return outs, self.program.push(lins, dots)


class CompiledStep:
    """Each step one call of the compiled tier's code for the step program."""

    def __init__(self, program):
        self.program = program
        self.replay = program.replay_function()
        self.cf = compiled(self.replay)

    def run(self, args, where):
        outs, _ = self.cf.primal(tuple(args), {})
        return outs

    def linearize(self, args, where):
        nums = tuple(range(len(args)))
        outs, pullback, _, _, _ = self.cf.vjp(tuple(args), {}, nums)
        shapes, dtypes = self.program.out_shapes, self.program.out_dtypes

        def pull(out_bars):
            m = next(b.shape[0] for b in out_bars if b is not None)
            seeds = [np.zeros((m,) + s, dtype=d) if b is None else b
                     for b, s, d in zip(out_bars, shapes, dtypes)]
            return pullback(seeds)
        return outs, pull

    def push(self, args, dots, where):
        nums = tuple(range(len(args)))
        k = next(d.shape[0] for d in dots if d is not None)
        tangents = [np.zeros((k,) + np.shape(a), dtype=np.asarray(a).dtype) if d is None else d
                    for a, d in zip(args, dots)]
        outs, tans, _ = self.cf.jvp(tuple(args), {}, nums, tangents)
        return outs, tans


def wants_compiled(values) -> bool:
    """Whether a scan or checkpoint met with ``values`` runs its steps compiled: the compiled
    tier is in force (:func:`adops.compile.tier`), or the values are traced by the compiled
    tier's trace of a whole function (a tape that records values only; a step being recorded
    by an enclosing scan is such a tape too, but not the compiled tier's)."""
    return use_compiled(None) or any(
        isinstance(v, Recorded) and not v.tape.linearize and not isinstance(v, StepNode)
        for v in values)


def engine(program, tier: bool, args):
    """The engine for ``program``: compiled when ``tier`` is set and ``args`` are plain."""
    if tier and not any_traced(args):
        cached = getattr(program, "compiled_step", None)
        if cached is None:
            cached = program.compiled_step = CompiledStep(program)
        return cached
    return EagerStep(program)
