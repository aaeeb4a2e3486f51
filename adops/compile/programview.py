"""The traced program as code generation reads it (:class:`ProgramView`): repeated structural
entries aliased to their first (:data:`ALIAS`), and entries that reach no output and no guard
dropped (their op None). Shapes, dtypes and parameters are the tape's own.
"""
from __future__ import annotations

import numpy as np

from ..ops.kinds import LinearOp


class _Alias:
    """An entry that repeats an earlier one (same op, inputs and parameters): not computed."""

    name = "alias"


ALIAS = _Alias()


def freeze(v):
    """A hashable key for op parameters (arrays by content, never by a truncated repr)."""
    if isinstance(v, np.ndarray):
        return ("array", v.shape, v.dtype.str, v.tobytes())
    if isinstance(v, (tuple, list)):
        return (type(v).__name__,) + tuple(freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, freeze(x)) for k, x in v.items()))
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, np.dtype):
        return ("dtype", v.str)
    hash(v)
    return v


class ProgramView:
    """The tape as code generation reads it, after common-subexpression elimination of repeated
    structural entries (``x[:-1]`` written twice is sliced, and its cotangent scattered, once)."""

    def __init__(self, tape, outs):
        self.ops, self.refs = list(tape.ops), [tuple(r) for r in tape.refs]
        self.params, self.shapes, self.dtypes = tape.params, tape.shapes, tape.dtypes
        self.leaves, seen, canon = tape.leaves, {}, {}
        for e, op in enumerate(self.ops):
            self.refs[e] = tuple(canon.get(r, r) if type(r) is int else r for r in self.refs[e])
            if not isinstance(op, LinearOp) or any(type(r) is not int for r in self.refs[e]):
                continue
            try:
                key = (id(op), self.refs[e], freeze(self.params[e] or {}))
            except TypeError:
                continue
            if key in seen:
                canon[e] = seen[key]
                self.ops[e] = ALIAS
            else:
                seen[key] = e
        self.canon = canon
        self.guards = [_GuardView(g, canon) for g in tape.guards]
        self.outs = [canon.get(o, o) if o is not None else None for o in outs]
        self._drop_dead()

    def _drop_dead(self):
        """Entries that reach no output and no guard are not computed (``grad(f)`` traced into
        an ``hvp`` records ``f``'s value, which only its ``value_and_grad`` hands back)."""
        live = {o for o in self.outs if type(o) is int}
        live.update(r for g in self.guards for r in g.refs if type(r) is int)
        for e in range(len(self.ops) - 1, -1, -1):
            if e in live:
                live.update(r for r in self.refs[e] if type(r) is int)
            elif self.ops[e] is not None and self.ops[e] is not ALIAS and e not in self.leaves:
                self.ops[e] = None


class _GuardView:
    __slots__ = ("refs",)

    def __init__(self, guard, canon):
        self.refs = tuple(canon.get(r, r) if type(r) is int else r for r in guard.refs)
