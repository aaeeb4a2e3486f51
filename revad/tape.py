"""The tape (Wengert list): what reverse mode records, and its replay.

Contract: entry ``i`` of a :class:`Tape` is one op application: the op, its parameters, its
input references (an int: an earlier entry; a :class:`Const`: a constant), the linearization
``lin`` that ``op.linearize`` returned (the local partials or residuals the sweep needs) and the
output shape ``(*shape_i)``. Leaves (the inputs being differentiated) have ``lin = None``.

Every non-differentiable call on traced values (comparisons, ``argmax``, ``bool(x)``...) is
recorded as a *guard* with its result. :meth:`Tape.replay` re-runs the ops on new inputs and
re-evaluates each guard; a guard whose result differs (a branch taken the other way, a mask or
an ordering that changed) raises :class:`BranchChanged`, so a replay never returns a gradient
of a different program.

A tape belongs to the :class:`Var` values that reference it: there is no global tape, two threads
record on two tapes, and a tape is freed with its last Var. A tape is one transform level
(:mod:`adops.levels`): values of other levels are its constants.

A recorded tape is never changed by a replay: :meth:`Tape.replay` returns the values and
linearizations of that one call, so recordings can be replayed from many threads at once, and a
replay that fails changes nothing.
"""
from __future__ import annotations

import numpy as np


class BranchChanged(RuntimeError):
    """A replay met a comparison, mask or ordering whose result differs from the recording."""


class Const:
    """A constant input of a tape entry."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Guard:
    __slots__ = ("position", "func", "refs", "kwargs", "result")

    def __init__(self, position, func, refs, kwargs, result):
        self.position, self.func, self.refs = position, func, refs
        self.kwargs, self.result = kwargs, result


class Tape:
    """A Wengert list of op applications (see module docstring).

    Example:
        >>> import numpy as np, revad
        >>> tape = revad.Tape()
        >>> x = tape.leaf(np.array([1.0, 2.0]))
        >>> y = np.sum(x * x)
        >>> len(tape), tape.nbytes > 0
        (3, True)
    """

    __slots__ = ("ops", "params", "refs", "lins", "shapes", "dtypes", "leaves", "guards",
                 "level", "__weakref__")

    def __init__(self, level=None):
        from adops.levels import Level
        self.ops, self.params, self.refs, self.lins = [], [], [], []
        self.shapes, self.dtypes, self.leaves, self.guards = [], [], [], []
        self.level = level if level is not None else Level("a revad.Tape")

    def __len__(self):
        return len(self.lins)

    def leaf(self, value: np.ndarray):
        """Start tracing ``value`` (already a float array): a new input Var of this tape."""
        from .var import Var
        index = self.push(None, None, (), None, value)
        self.leaves.append(index)
        return Var(self, index, value)

    def push(self, op, params, refs, lin, out) -> int:
        self.ops.append(op)
        self.params.append(params)
        self.refs.append(refs)
        self.lins.append(lin)
        self.shapes.append(out.shape)
        self.dtypes.append(out.dtype)
        return len(self.lins) - 1

    def guard(self, func, refs, kwargs, result):
        self.guards.append(Guard(len(self.lins), func, refs, kwargs, result))

    @property
    def nbytes(self) -> int:
        """Bytes of arrays the tape holds (local partials, residuals, constants, guard results)."""
        total = sum(getattr(g.result, "nbytes", 0) for g in self.guards)
        for lin, refs in zip(self.lins, self.refs):
            if lin is not None:
                total += lin.nbytes
            for r in refs:
                if type(r) is Const:
                    total += getattr(r.value, "nbytes", 0)
        return total

    # ---------------------------------------------------------------------------- replay
    def replay(self, inputs):
        """Re-run every entry on new leaf values ``inputs`` (same shapes and dtypes as recorded).

        Returns ``(values, lins)``: every entry's value and linearization at the new inputs, for
        this call only; the tape itself is not changed.

        Raises:
            BranchChanged: a guard (comparison, mask, ordering) evaluates differently.
            ValueError: an input's shape differs from the recording.
            TypeError: an input's dtype cannot be cast safely to the recorded one.
        """
        from adops.registry import quiet
        with quiet():
            return self._replay(inputs)

    def _replay(self, inputs):
        if len(inputs) != len(self.leaves):
            raise ValueError(f"replay takes {len(self.leaves)} inputs, got {len(inputs)}")
        values = [None] * len(self.lins)
        lins = [None] * len(self.lins)
        for leaf, x in zip(self.leaves, inputs):
            if x.shape != self.shapes[leaf]:
                raise ValueError(f"replay input has shape {x.shape} but was recorded with shape "
                                 f"{self.shapes[leaf]}; record again for new shapes")
            want = self.dtypes[leaf]
            if x.dtype != want:
                if not np.can_cast(x.dtype, want, "safe"):
                    raise TypeError(
                        f"replay input has dtype {x.dtype} but the recording is {want}: casting "
                        f"would lose precision or overflow; record again with a {x.dtype} input "
                        f"(revad.record(f, x.astype({x.dtype.name!r}))) or pass {want} values")
                x = x.astype(want)
            values[leaf] = x
        guards, g = self.guards, 0
        for i, op in enumerate(self.ops):
            while g < len(guards) and guards[g].position <= i:
                self._check(guards[g], values)
                g += 1
            if op is None:
                continue
            args = [values[r] if type(r) is int else r.value for r in self.refs[i]]
            values[i], lins[i] = op.linearize(*args, **self.params[i])
        for guard in guards[g:]:
            self._check(guard, values)
        return values, lins

    @staticmethod
    def _check(guard, values):
        args = [values[r] if type(r) is int else r.value for r in guard.refs]
        now = guard.func(*args, **guard.kwargs)
        if not _same(now, guard.result):
            name = getattr(guard.func, "__name__", repr(guard.func))
            raise BranchChanged(
                f"replay: {name}(...) evaluates differently at the new input than when the tape "
                "was recorded (a branch, mask or ordering changed), so the recorded program is "
                "not f at this input; record again (revad.record(f, x)) or use "
                "Recording(..., rerecord=True)")


def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(_same, a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all((a == b) | ((a != a) & (b != b))))
