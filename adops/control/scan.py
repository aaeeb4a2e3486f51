"""``adops.scan``: ``jax.lax.scan``'s loop, one op of the recorded program, with checkpointing.

Contract: ``scan(f, init, xs=None, length=None, checkpoints=None) -> (carry, ys)`` with
``f(carry, x) -> (carry, y)``; ``carry`` a tree whose leaves keep their shapes and dtypes from
step to step, ``xs`` a tree of arrays with a leading axis of length ``T`` (``x = xs[t]``), ``ys``
the tree of ``y`` stacked along a new leading axis ``(T, *y_shape)``. As JAX's: ``length`` gives
``T`` when ``xs`` is None (``f`` then gets ``x = None``).

How. ``f`` is recorded once (:class:`adops.program.step.StepProgram`; values traced by outer
transforms that it closes over become inputs of the program), and the loop is one op,
:data:`SCAN`, whose inputs are the carry's leaves, the leaves of ``xs`` and those closed-over
values, and whose output is every result packed into one flat array (unpacked by slicing, as
``eigh``'s are). So every mode and nesting differentiates the loop through the op:

- ``value``: the loop, each step a replay of the program;
- ``lin.jvp`` (forward mode): the loop again, each step linearized and its tangents pushed; it
  keeps nothing, so ``checkpoints`` does not change it (a loop bound by forward mode, ``keep``
  False, is linearized by its value alone: no step's linearization is kept);
- ``lin.vjp`` (reverse mode): with ``checkpoints=None`` every step's linearization is kept by the
  forward pass (the plain tape's memory) and swept backward; with ``checkpoints=s`` the forward
  pass keeps at most ``s`` carries, as the binomial schedule of
  :mod:`adops.control.schedule` says, and the sweep recomputes the other steps from them, taking
  the fewest extra forward steps possible. The arithmetic of each step is the same either way,
  so the numbers are identical to the last bit.

A recomputed step's carry is compared with the forward pass's (a sum per leaf, kept per step):
a step that is not pure (it reads state that changed since, an op whose primal is random)
raises an error naming the step. A second sweep of the same linearization (``jacrev`` in
chunks, a ``vjp_fn`` called twice) first repeats the forward pass, since the first sweep gave its
snapshots up as the schedule moved them (the count of kept carries never exceeds ``s``).

In the compiled tier (``compiled=True``, or :func:`adops.compile.tier`) the step program is
compiled once by :func:`adops.compile.compiled` and each step is one call of its generated
code; the loop is never unrolled into a program. A compiled whole-function trace that meets a
scan records it as this one op: a whole numba program runs the loop inside numba, the step's
maps traced into functions of its module (:mod:`adops.compile.loopforms`); a program that
keeps its Python driver (a loop with ``checkpoints``, say) runs the steps compiled. :func:`counting` reports the
steps taken, the recomputations and the most carries kept (for tests and the benchmark).
"""
from __future__ import annotations

import itertools

import numpy as np

from checkpoint_schedules import Copy, EndForward, Forward, Move, Reverse

from ..core.fpstate import quiet
from ..core.levels import TracedBase, bind, top_tracer
from ..numpy_api.traced import bottom
from ..ops.registry import Op
from ..program.inputs import as_primal
from ..program.tape import Recorded
from ..program.tree import path_names, tree_flatten, tree_unflatten
from .engine import engine, wants_compiled
from .schedule import actions, snapshots
from .stats import count as _count
from ..program.step import Layout, StepProgram, differs as _differs, fingerprint as _fingerprint


def scan(f, init, xs=None, length=None, checkpoints=None):
    """Loop ``f(carry, x) -> (carry, y)`` over the leading axis of ``xs`` (``jax.lax.scan``).

    Args:
        f: the step, written with numpy; recorded once and replayed, so a data-dependent choice
            must be written with ``np.where`` (a Python branch that changes raises).
        init: the first carry, an array or a tree of arrays.
        xs: a tree of arrays with leading axis ``T``, or None (then give ``length``).
        length: ``T``; must agree with ``xs`` when both are given.
        checkpoints: reverse mode's memory: None keeps every step (the plain tape); an integer
            ``s >= 1`` keeps at most ``s`` carries and recomputes the rest by the binomial
            schedule; ``"sqrt"`` (``ceil(sqrt(T))``) or ``"log"`` (``ceil(log2 T)``) pick ``s``.

    Returns:
        ``(carry, ys)``: the last carry (``init``'s structure) and ``ys``, the ``y`` of every
        step stacked along a new leading axis.

    Example:
        >>> import numpy as np, revad
        >>> def loss(w):
        ...     h, _ = scan(lambda h, x: (np.tanh(w * h + x), None), np.zeros(2),
        ...                 np.ones((4, 2)), checkpoints=2)
        ...     return np.sum(h)
        >>> def unrolled(w):
        ...     h = np.zeros(2)
        ...     for x in np.ones((4, 2)):
        ...         h = np.tanh(w * h + x)
        ...     return np.sum(h)
        >>> w = np.array([0.5, -0.5])
        >>> bool(np.array_equal(revad.grad(loss)(w), revad.grad(unrolled)(w)))
        True
    """
    carry_leaves, carry_def = tree_flatten(init)
    carry_names = path_names(carry_def, "init")
    carry_leaves = [as_primal(c, n) for c, n in zip(carry_leaves, carry_names)]
    x_leaves, x_def = tree_flatten(xs) if xs is not None else ([], None)
    x_leaves = [as_primal(x, n) for x, n in zip(x_leaves, path_names(x_def, "xs"))
                ] if xs is not None else []
    T = _length(x_leaves, x_def, length)
    s = snapshots(checkpoints, T)
    nc, nx = len(carry_leaves), len(x_leaves)
    shapes = {}

    def step(flat):
        c = tree_unflatten(carry_def, flat[:nc])
        x = tree_unflatten(x_def, flat[nc:]) if xs is not None else None
        out = f(c, x)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"adops.scan: f must return a pair (carry, y), got "
                            f"{type(out).__name__}")
        new, y = out
        new_leaves, new_def = tree_flatten(new)
        if new_def != carry_def:
            raise TypeError(f"adops.scan: f returned a carry of structure {new_def}, but init "
                            f"has structure {carry_def}; the carry must keep its structure")
        y_leaves, shapes["y"] = tree_flatten(y)
        return list(new_leaves) + list(y_leaves)

    first = [bottom(x)[0] if T else np.zeros(x.shape[1:], x.dtype) for x in x_leaves]
    program = StepProgram(step, carry_leaves + first, "adops.scan's step function")
    _check_carry(program, carry_leaves, carry_names)
    y_def = shapes["y"]
    layout = Layout(program, nc, T)
    if T == 0:
        carry = [c if isinstance(c, TracedBase) else np.array(c, copy=True) for c in carry_leaves]
        ys = [np.zeros((0,) + sh, dt) for sh, dt in zip(layout.y_shapes, layout.y_dtypes)]
    else:
        inputs = carry_leaves + x_leaves + list(program.consts)
        tier = wants_compiled(inputs)
        # forward mode binds the loop (a value that is not on a tape): it keeps nothing
        keep = isinstance(top_tracer(inputs), Recorded)
        packed = bind(SCAN, *inputs, program=program, length=T, snapshots=s, tier=tier,
                      nc=nc, nx=nx, keep=keep)
        carry, ys = layout.unpack(packed)
    return tree_unflatten(carry_def, carry), tree_unflatten(y_def, ys)


def _length(x_leaves, x_def, length) -> int:
    lengths = {x.shape[0] if x.ndim else None for x in x_leaves}
    if None in lengths:
        raise ValueError("adops.scan: every leaf of xs needs a leading axis to scan over; a "
                         "scalar has none (pass a constant the step uses by closing over it)")
    if len(lengths) > 1:
        raise ValueError(f"adops.scan: the leaves of xs have different leading lengths "
                         f"{sorted(lengths)}; they must agree (one x per step)")
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"adops.scan: length must be an integer >= 0, not {length!r}")
        if lengths and int(length) != next(iter(lengths)):
            raise ValueError(f"adops.scan: length={length} disagrees with xs, whose leading "
                             f"axis is {next(iter(lengths))}; pass one of them, or make them "
                             "agree")
        return int(length)
    if not lengths:
        raise ValueError("adops.scan: give xs or length (the number of steps)")
    return next(iter(lengths))


def _check_carry(program, carry_leaves, names):
    for j, (c, name) in enumerate(zip(carry_leaves, names)):
        got_shape, got_dtype = program.out_shapes[j], program.out_dtypes[j]
        if got_shape != c.shape or got_dtype != c.dtype:
            raise TypeError(
                f"adops.scan: the carry {name} enters the step with shape {c.shape} and dtype "
                f"{c.dtype} but leaves it with shape {got_shape} and dtype {got_dtype}; the "
                "carry must keep its shape and dtype from step to step (as jax.lax.scan's): "
                "reshape or cast it inside f (x.astype(init.dtype)), or start from an init of "
                "the step's result type")


class _Loop:
    """One scan's arguments as the op sees them: the carry, the ``xs`` and the constants."""

    def __init__(self, args, program, length, nc, nx, tier):
        self.program, self.T, self.nc = program, length, nc
        self.init, self.xs, self.consts = list(args[:nc]), list(args[nc:nc + nx]), \
            list(args[nc + nx:])
        self.engine = engine(program, tier, args)
        self.layout = Layout(program, nc, length)

    def args(self, carry, t):
        return list(carry) + [x[t] for x in self.xs] + self.consts

    def where(self, t):
        return f"at step {t}"


class ScanOp(Op):
    """The loop as one op (see the module docstring); not registered: reached through scan."""

    name = "scan"
    doc = "adops.scan's loop: f(carry, x) -> (carry, y) over T steps"
    #: its form in whole-program code (:mod:`adops.compile.loopforms`)
    numba = "loop"

    def value(self, *args, program, length, snapshots, tier, nc, nx, keep):
        loop = _Loop(args, program, length, nc, nx, tier)
        carry, ys = loop.init, []
        with quiet():
            for t in range(length):
                outs = loop.engine.run(loop.args(carry, t), loop.where(t))
                carry, y = outs[:nc], outs[nc:]
                ys.append(y)
        _count(steps=length)
        return loop.layout.pack(carry, loop.layout.stacked(ys))

    def linearize(self, *args, program, length, snapshots, tier, nc, nx, keep):
        if not keep:      # forward mode: the tangents are pushed by recomputing each step
            out = self.value(*args, program=program, length=length, snapshots=snapshots,
                             tier=tier, nc=nc, nx=nx, keep=keep)
            return out, ScanLin(_Loop(args, program, length, nc, nx, tier), snapshots)
        loop = _Loop(args, program, length, nc, nx, tier)
        lin = ScanLin(loop, snapshots)
        ys = [None] * length if loop.layout.y_shapes else None
        with quiet():
            lin.store, lin.deps = lin.forward_phase(ys, first=True)
        return loop.layout.pack(lin.last, loop.layout.stacked(ys or [])), lin


class ScanLin:
    """The loop's linearization: the snapshots and step linearizations the forward pass kept,
    and the schedule's reverse part (see the module docstring)."""

    def __init__(self, loop, s):
        self.loop, self.s = loop, s
        sched = actions(loop.T, s) if s is not None else (Forward(0, loop.T, False, True, None),
                                                          EndForward(), Reverse(loop.T, 0, True))
        # the cached schedule is read in place (a slice would copy ~4 T references per call)
        self.sched = sched
        self.end = next(i for i, a in enumerate(sched) if isinstance(a, EndForward))
        self.fingerprints = np.zeros((loop.T, loop.nc))
        self.store, self.deps, self.last = None, None, None

    def forward_phase(self, ys, first: bool):
        """Run the schedule's forward part from the initial carry: ``(snapshots, step
        linearizations)``; the outputs ``y`` into ``ys`` (when given)."""
        loop, store, deps = self.loop, {}, {}
        carry = loop.init
        for a in itertools.islice(self.sched, self.end):
            if a.write_ics:
                store[a.n0] = carry
            for t in a:
                carry, y = self._advance(carry, t, a.write_adj_deps, deps, check=False)
                if ys is not None:
                    ys[t] = y
            _count(kept=len(store))
        self.last = carry
        _count(steps=loop.T, recomputed=0 if first else loop.T)
        return store, deps

    def _advance(self, carry, t, linearize, deps, check):
        loop, nc = self.loop, self.loop.nc
        if linearize:
            outs, deps[t] = loop.engine.linearize(loop.args(carry, t), loop.where(t))
        else:
            outs = loop.engine.run(loop.args(carry, t), loop.where(t))
        carry = outs[:nc]
        fp, known = _fingerprint(carry), self.fingerprints[t]
        if check:
            if any(_differs(a, float(b)) for a, b in zip(fp, known)):
                raise ValueError(
                    f"adops.scan: recomputing step {t} from a checkpoint gave a carry that "
                    "differs from the forward pass's: the step function is not pure (it reads "
                    "state that changed since, such as an array it closes over that was "
                    "written, or draws random numbers). Pass what changes through the carry "
                    "or xs, or use checkpoints=None, which recomputes nothing")
        else:
            for j, a in enumerate(fp):
                known[j] = a
        return carry, outs[nc:]

    def vjp(self, out_bar, needed=None):
        loop, nc, T = self.loop, self.loop.nc, self.loop.T
        m = out_bar.shape[0]
        carry_bar, ys_bar = loop.layout.unpack(out_bar, (m,))
        store, self.store = self.store, None
        deps = dict(self.deps or {})
        if store is None and (self.s is not None or self.deps is None):
            # a second sweep (the snapshots were used up) or a loop bound by forward mode
            store, deps = self.forward_phase(None, first=False)
        x_bars = [[None] * T for _ in loop.xs]
        c_bars = [None] * len(loop.consts)
        with quiet():
            carry_bar, c_bars, recomputed = self._reverse(store, deps, carry_bar, ys_bar,
                                                          x_bars, c_bars)
        _count(steps=recomputed, recomputed=recomputed, sweeps=1)
        needed = needed if needed is not None else [True] * (nc + len(loop.xs) + len(c_bars))
        out = list(carry_bar) + [_stack_bars(b, m, x) for b, x in zip(x_bars, loop.xs)] + c_bars
        return [o if n else None for o, n in zip(out, needed)]

    def _reverse(self, store, deps, carry_bar, ys_bar, x_bars, c_bars):
        """The schedule's reverse part: sweeps, restores and recomputations."""
        loop, nc = self.loop, self.loop.nc
        work, recomputed = None, 0
        for a in itertools.islice(self.sched, self.end + 1, None):
            if isinstance(a, Reverse):
                for t in a:
                    pull = deps[t] if self.s is None else deps.pop(t)
                    bars = pull(list(carry_bar) + [b[:, t] for b in ys_bar])
                    carry_bar = bars[:nc]
                    for j, b in enumerate(bars[nc:nc + len(loop.xs)]):
                        x_bars[j][t] = b
                    c_bars = [b if acc is None else (acc if b is None else acc + b)
                              for acc, b in zip(c_bars, bars[nc + len(loop.xs):])]
            elif isinstance(a, (Copy, Move)):
                work = store[a.n] if isinstance(a, Copy) else store.pop(a.n)
            elif isinstance(a, Forward):
                if a.write_ics:
                    store[a.n0] = work
                for t in a:
                    work, _ = self._advance(work, t, a.write_adj_deps, deps, check=True)
                    recomputed += 1
                _count(kept=len(store))
        return carry_bar, c_bars, recomputed

    def jvp(self, x_dots):
        loop, nc, nx = self.loop, self.loop.nc, len(self.loop.xs)
        if all(d is None for d in x_dots):
            return None
        k = next(d.shape[0] for d in x_dots if d is not None)
        carry, carry_dot = loop.init, list(x_dots[:nc])
        xs_dot, c_dots = x_dots[nc:nc + nx], list(x_dots[nc + nx:])
        y_dots = []
        with quiet():
            for t in range(loop.T):
                dots = carry_dot + [None if d is None else d[:, t] for d in xs_dot] + c_dots
                outs, out_dots = loop.engine.push(loop.args(carry, t), dots, loop.where(t))
                carry, carry_dot = outs[:nc], list(out_dots[:nc])
                y_dots.append(out_dots[nc:])
        _count(steps=loop.T)
        layout = loop.layout
        c_full = [_zeros_if_none(d, k, s, layout.dtype) for d, s in zip(carry_dot,
                                                                          layout.c_shapes)]
        y_full = [np.stack([_zeros_if_none(y[j], k, s, layout.dtype) for y in y_dots], axis=1)
                  for j, s in enumerate(layout.y_shapes)]
        return layout.pack(c_full, y_full, (k,))

    @property
    def nbytes(self) -> int:
        return sum(np.asarray(bottom(c)).nbytes for carry in (self.store or {}).values()
                   for c in carry)


def _zeros_if_none(d, k, shape, dtype):
    return np.zeros((k,) + shape, dtype) if d is None else d


def _stack_bars(bars, m, x):
    if all(b is None for b in bars):
        return None
    zeros = np.zeros((m,) + tuple(x.shape[1:]), dtype=np.asarray(bottom(x)).dtype)
    return np.stack([zeros if b is None else b for b in bars], axis=1)


SCAN = ScanOp()

