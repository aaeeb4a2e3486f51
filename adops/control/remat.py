"""Rematerialization (``jax.checkpoint``): a function whose intermediate values reverse mode
does not keep; ``revad.checkpoint`` is this.

Contract: ``remat(f)(*args, **kwargs)`` equals ``f(*args, **kwargs)`` (same structure, same
numbers). ``f`` is recorded once per call (:class:`adops.program.step.StepProgram`); the call is
one op, :data:`REMAT`, whose inputs are the float leaves of ``args`` (ints, strings and other
leaves are passed to ``f`` as they are, like JAX's static arguments) and the values traced by
outer transforms that ``f`` closes over, and whose output packs ``f``'s output leaves into one
flat array. Its linearization keeps nothing but references to the inputs: reverse mode's sweep
replays ``f``'s program linearized and sweeps it (one recomputation, counted by
:func:`adops.control.counting`); forward mode replays it and pushes the tangents. Keyword
arguments are constants of the call. Nests with itself (an inner ``remat`` is one op of the
outer program) and with scans, in both tiers.
"""
from __future__ import annotations

import functools

import numpy as np

from ..core.fpstate import quiet
from ..core.levels import TracedBase, bind
from ..ops.registry import Op
from ..program.tree import tree_flatten, tree_unflatten
from .engine import engine, wants_compiled
from ..program.step import Layout
from .stats import count
from ..program.step import StepProgram, differs, fingerprint


def _is_input(leaf) -> bool:
    if isinstance(leaf, TracedBase):
        return True
    if isinstance(leaf, (float, np.floating)):
        return True
    return isinstance(leaf, np.ndarray) and np.issubdtype(leaf.dtype, np.floating)


def remat(f):
    """``f`` with its intermediates recomputed during reverse mode's sweep (``jax.checkpoint``).

    Example:
        >>> import numpy as np, revad
        >>> g = remat(lambda x: np.sin(np.sin(x)))
        >>> bool(np.allclose(revad.grad(lambda x: np.sum(g(x)))(np.ones(3)),
        ...                  np.cos(np.sin(1.0)) * np.cos(1.0)))
        True
    """
    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        leaves, treedef = tree_flatten(args)
        where = [i for i, leaf in enumerate(leaves) if _is_input(leaf)]
        shape = {}

        def g(flat):
            full = list(leaves)
            for i, v in zip(where, flat):
                full[i] = v
            out_leaves, shape["out"] = tree_flatten(f(*tree_unflatten(treedef, full), **kwargs))
            return out_leaves

        inputs = [leaves[i] for i in where]
        program = StepProgram(g, inputs, f"revad.checkpoint({getattr(f, '__name__', 'f')})")
        args_all = inputs + list(program.consts)
        tier = wants_compiled(args_all)
        n_out = len(program.outs)
        packed = bind(REMAT, *args_all, program=program, tier=tier)
        outs, _ = Layout(program, n_out, 0).unpack(packed)
        return tree_unflatten(shape["out"], outs)
    return wrapped


class RematOp(Op):
    """One call of a rematerialized function (see the module docstring); not registered."""

    name = "checkpoint"
    doc = "revad.checkpoint: f's program, its intermediates recomputed in the sweep"

    def value(self, *args, program, tier):
        with quiet():
            outs = engine(program, tier, args).run(list(args), "when recomputed")
        return Layout(program, len(outs), 0).pack(outs, [])

    def linearize(self, *args, program, tier):
        out = self.value(*args, program=program, tier=tier)
        return out, RematLin(args, program, tier, fingerprint([out]))


class RematLin:
    """Keeps the inputs only; both maps replay the program linearized."""

    __slots__ = ("args", "program", "tier", "sums")
    nbytes = 0

    def __init__(self, args, program, tier, sums):
        self.args, self.program, self.tier, self.sums = list(args), program, tier, sums

    def vjp(self, out_bar, needed=None):
        layout = Layout(self.program, len(self.program.outs), 0)
        bars, _ = layout.unpack(out_bar, (out_bar.shape[0],))
        with quiet():
            outs, pull = engine(self.program, self.tier, self.args).linearize(self.args,
                                                                              "when recomputed")
            self._check(outs)
            out = pull(bars)
        count(steps=1, recomputed=1, sweeps=1)
        return out if needed is None else [b if n else None for b, n in zip(out, needed)]

    def _check(self, outs):
        layout = Layout(self.program, len(outs), 0)
        if any(differs(a, b) for a, b in zip(fingerprint([layout.pack(outs, [])]), self.sums)):
            raise ValueError(
                f"{self.program.name}: recomputing f in the sweep gave results that differ from "
                "the forward pass's: f is not pure (it reads state that changed since, such as "
                "an array it closes over that was written, or draws random numbers); pass what "
                "changes as an argument, or call f without revad.checkpoint")

    def jvp(self, x_dots):
        if all(d is None for d in x_dots):
            return None
        k = next(d.shape[0] for d in x_dots if d is not None)
        with quiet():
            _, dots = engine(self.program, self.tier, self.args).push(self.args, list(x_dots),
                                                                      "when recomputed")
        layout = Layout(self.program, len(self.program.outs), 0)
        full = [np.zeros((k,) + s, layout.dtype) if d is None else d
                for d, s in zip(dots, layout.c_shapes)]
        return layout.pack(full, [], (k,))


REMAT = RematOp()
