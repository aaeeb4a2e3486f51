"""The program: a function traced once, the one recorder both modes and both tiers share.

Contract: entry ``i`` of a :class:`Tape` (a Wengert list) is one op application: the op, its
parameters, its input references (an int: an earlier entry; a :class:`Const`: a constant), the
linearization ``lin`` that ``op.linearize`` returned (what reverse mode's sweep needs), the output
shape ``(*shape_i)`` and dtype. Leaves (the inputs) have no op. A :class:`Recorded` is a value
traced on a tape (reverse mode's ``revad.Var`` is one); :class:`Trace` runs a function once on a
new tape and keeps its output entries. No mode is imported here: a tape makes values of its
class's ``node`` (``Recorded`` for the compiled tier and sparsity; revad's tape makes ``Var``).

Every non-differentiable call on traced values (comparisons, ``argmax``, ``bool(x)``...) is
recorded as a *guard* with its result. :meth:`Tape.replay` re-runs the ops on new inputs and
re-evaluates each guard; a guard whose result differs (a branch taken the other way, a mask or
an ordering that changed) raises :class:`BranchChanged`, so a replay never returns a derivative
of a different program. A replay returns its own values and linearizations: the tape is never
changed by it, so recordings can be replayed from many threads at once, and a failed replay
changes nothing.

Reverse mode sweeps a tape (:mod:`revad`); forward mode and the compiled tier
(:mod:`adops.compile`) read the same program. A tape belongs to the values that reference it:
there is no global tape, two threads record on two tapes, and a tape is freed with its last
value. A tape is one transform level (:mod:`adops.core.levels`): values of other levels are its
constants. This module holds no derivative maths.
"""
from __future__ import annotations

import numpy as np

from ..core.fpstate import quiet
from .inputs import as_primal, check_seed
from ..core.levels import Level
from ..numpy_api.traced import Traced
from .transform import check_output, flatten, result_dtype
from .tree import leaves_like
from ..numpy_api.conversions import call_traced


class BranchChanged(RuntimeError):
    """A replay met a comparison, mask or ordering whose result differs from the recording."""


class MetOuterLevel(RuntimeError):
    """Tracing a program (``linearize=False``: the compiled tier, sparsity detection), an op met
    a value traced by an open outer transform: a program cannot hold it as a constant (its
    derivative belongs to the outer transform), so the trace is dropped."""


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
        >>> import numpy as np
        >>> tape = Tape()
        >>> x = tape.leaf(np.array([1.0, 2.0]))
        >>> y = np.sum(x * x)
        >>> len(tape), tape.nbytes > 0
        (3, True)
    """

    __slots__ = ("ops", "params", "refs", "lins", "shapes", "dtypes", "leaves", "guards",
                 "level", "linearize", "__weakref__")
    #: the class of the values this tape records (a :class:`Recorded`; revad's tape: ``Var``)
    node: type
    #: the name of a tape's own level when none is given (in messages)
    level_name = "an adops.program.Tape"

    def __init__(self, level=None, linearize: bool = True):
        self.ops, self.params, self.refs, self.lins = [], [], [], []
        self.shapes, self.dtypes, self.leaves, self.guards = [], [], [], []
        self.level = level if level is not None else Level(self.level_name)
        #: False: record values only (no partials): a program for the compiled tier or for
        #: sparsity detection, which never sweeps this tape
        self.linearize = linearize

    def __len__(self):
        return len(self.lins)

    def leaf(self, value: np.ndarray):
        """Start tracing ``value`` (already a float array): a new input value of this tape."""
        index = self.push(None, None, (), None, value)
        self.leaves.append(index)
        return self.node(self, index, value)

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
        name = guard_fails(guard, values)
        if name is not None:
            raise BranchChanged(
                f"replay: {name}(...) evaluates differently at the new input than when the tape "
                "was recorded (a branch, mask or ordering changed), so the recorded program is "
                "not f at this input; record again (revad.record(f, x)) or use "
                "Recording(..., rerecord=True)")


def guard_holds(guard: Guard, values) -> bool:
    """Whether ``guard`` evaluates as recorded on the entries' new ``values``."""
    args = [values[r] if type(r) is int else r.value for r in guard.refs]
    return same(guard.func(*args, **guard.kwargs), guard.result)


def guard_fails(guard: Guard, values):
    """The name of the guard's function when it evaluates differently on ``values`` (for the
    message), else None."""
    if guard_holds(guard, values):
        return None
    return getattr(guard.func, "__name__", repr(guard.func))


def same(a, b) -> bool:
    """Whether two guard outcomes agree: equal shapes and entries, nan equal to nan, elementwise
    through tuples and lists."""
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(same, a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all((a == b) | ((a != a) & (b != b))))


class Recorded(Traced):
    """An array traced on a tape (create them with :meth:`Tape.leaf` or :class:`Trace`): the
    mode-neutral node of a recorded program. Applying an op computes ``out, lin =
    op.linearize(...)`` (or only ``out`` on a tape that does not linearize) and pushes it on the
    tape; values of other levels are constants of the tape. Reverse mode's ``revad.Var`` is this
    class under its mode's name.

    Example:
        >>> import numpy as np
        >>> x = Tape().leaf(np.array(3.0))
        >>> (x * x).primal
        array(9.)
    """

    __slots__ = ("tape", "index", "primal", "level")
    _mode = "a recorded program (the compiled tier or sparsity detection)"

    def __init__(self, tape, index, primal):
        self.tape, self.index, self.primal, self.level = tape, index, primal, tape.level
        self._view, self._version = None, 0

    @property
    def _primal(self):
        return self.primal

    @staticmethod
    def _entries_of(args, level):
        """The tape, refs and values of an op's arguments (a subclass may treat other levels'
        values its own way: ``adops.program.step`` makes them inputs of a step program)."""
        return _refs(args, level)

    @classmethod
    def _bind(cls, op, args, params, level):
        tape, refs, values = cls._entries_of(args, level)
        if tape.linearize:
            out, lin = op.linearize(*values, **params)
        else:
            out, lin = op.value(*values, **params), None
        return cls(tape, tape.push(op, params, refs, lin, out), out)

    @classmethod
    def _nondiff(cls, func, args, kwargs, level):
        tape, refs, values = cls._entries_of(args, level)
        kwargs = {k: (v.primal if v.__class__ is cls and v.level is level else v)
                  for k, v in kwargs.items()}
        result = func(*values, **kwargs)
        if tape is not None:
            tape.guard(func, refs, kwargs, result)
        return result

    def __bool__(self):
        if self._view is not None:
            self._refresh()
        result = bool(self.primal)
        self.tape.guard(truth, (self.index,), {}, result)
        return result

    def _assign(self, new):
        if new.__class__ is self.__class__ and new.level is self.level:
            self.tape, self.index, self.primal = new.tape, new.index, new.primal
        else:
            new = new if isinstance(new, Traced) else np.asarray(new)
            if not self.tape.linearize:
                _check_no_outer([new])
            self.index = self.tape.push(CONSTANT, {"value": new}, (), None, new)
            self.primal = new

    def _copy(self):
        return self.__class__(self.tape, self.index, self.primal)

    def _constant_like(self, value):
        return self.__class__(self.tape, self.tape.push(CONSTANT, {"value": value}, (), None,
                                                        value), value)

    def __repr__(self):
        return (f"{type(self).__name__}({self.primal!r}, entry {self.index}, "
                f"level {self.level.number})")


Tape.node = Recorded


def truth(x):
    """``bool(x)``: the function a guard records for a traced value used as a condition."""
    return bool(x)


class _ConstantOp:
    """A tape entry holding a constant (``x[:] = 0`` made a value constant); no derivative."""

    name = "constant"

    @staticmethod
    def linearize(value):
        return value, None


CONSTANT = _ConstantOp()


def _refs(args, level):
    """The tape of ``level``, and each argument as an entry index (a value of this level) or a
    :class:`Const` (anything else, including values traced by other levels)."""
    tape, refs, values = None, [], []
    for a in args:
        if isinstance(a, Recorded) and a.level is level:
            tape = a.tape
            refs.append(a.index)
            values.append(a.primal)
        else:
            refs.append(Const(a))
            values.append(a)
    if tape is not None and not tape.linearize:
        _check_no_outer(values)
    return tape, tuple(refs), values


def _check_no_outer(values):
    """A program's constants must be plain (see :class:`MetOuterLevel`)."""
    if any(isinstance(v, Traced) for v in values):
        raise MetOuterLevel(
            "an op of a traced program met a value traced by an outer transform (a closure over "
            "the outer transform's variable): the program cannot keep it as a constant; run "
            "this call eagerly (compiled=False), which nests")


class Trace:
    """One run of ``f(*args, **kwargs)`` on a new tape with the arguments ``nums`` traced: the
    leaves' entries, and each output leaf's entry (None for an output that does not depend on
    the leaves) and value. ``name`` names the transform (its level) in messages.

    Example:
        >>> import numpy as np
        >>> t = Trace(lambda x: (x * 2.0, 1.0), (np.ones(2),), {}, (0,), "example")
        >>> t.outs, t.is_tree
        ([1, None], True)
    """

    __slots__ = ("tape", "leaves", "shapes", "dtypes", "outs", "values", "rebuild", "is_tree")
    #: the tape this trace records on (revad's trace: a tape of ``Var``)
    tape_class = Tape

    def __init__(self, f, args, kwargs, nums, name, linearize: bool = True):
        level = Level(name)
        self.tape = tape = self.tape_class(level, linearize)
        with level, quiet():
            xs = list(args)
            self.leaves = []
            for i in nums:
                v = tape.leaf(as_primal(args[i], f"argument {i}"))
                xs[i] = v
                self.leaves.append(v.index)
            out = call_traced(f, xs, kwargs)
            leaves, self.rebuild = flatten(out)
            self.is_tree = self.rebuild.is_tree
            self.outs, self.values = [], []
            for o in leaves:
                check_output(o, name)
                if isinstance(o, Recorded) and o.level is level:
                    if o._view is not None:
                        o._refresh()
                    self.outs.append(o.index)
                    self.values.append(o.primal)
                else:
                    self.outs.append(None)
                    self.values.append(o if isinstance(o, Recorded) else np.asarray(o))
        self.shapes = [tape.shapes[i] for i in self.leaves]
        self.dtypes = [tape.dtypes[i] for i in self.leaves]

    def check_cotangent(self, cotangent, batched):
        """Cotangent leaves and seeds ``(m, *out_j.shape)`` matching the output structure."""
        return cotangent_seeds(self.rebuild, self.values, cotangent, batched)


def cotangent_seeds(rebuild, values, cotangent, batched):
    """Cotangent leaves and seeds ``(m, *out_j.shape)`` for outputs ``values`` of structure
    ``rebuild.treedef``: a tree cotangent must have the output's structure (both named
    otherwise); a bare output takes the cotangent whole (a list of numbers is one array)."""
    if rebuild.is_tree:
        leaves = leaves_like(cotangent, rebuild.treedef, "vjp: the cotangent",
                             "the function's output")
    else:
        leaves = [cotangent]
    seeds = []
    for j, (u, v) in enumerate(zip(leaves, values)):
        if not isinstance(v, Traced):
            v = np.asarray(v)
        name = f" {j}" if rebuild.is_tree else ""
        seeds.append(check_seed(u, v.shape, result_dtype(v.dtype), batched, "cotangent" + name,
                                given=v.dtype, of=f"output{name}" if name else "its output"))
    ks = {s.shape[0] for s in seeds}
    if len(ks) > 1:
        raise ValueError(f"vjp: cotangents carry different numbers of seeds {sorted(ks)}")
    return leaves, seeds
