"""Record once, replay at new inputs: ``record(f, x0)`` traces ``f`` once; the
:class:`Recording` evaluates value and gradient at new inputs of the same shapes without
tracing again (re-running each recorded op's ``linearize``), its guards checked at every replay.

Contract: for ``f: R^(*in_shape) -> R`` (one array out), ``rec.value_and_grad(*xs)`` is
``(f(xs), grad f(xs))``, each gradient of its input's shape; ``rec.vjp(u)`` sweeps at the
recorded point, as :func:`revad.vjp`'s ``vjp_fn``. Results are fresh arrays the caller owns.
"""
from __future__ import annotations

import numpy as np

from adops.program.inputs import as_primal
from adops.program.transform import own, result_dtype
from .api import pull_back
from .var import BranchChanged, Tape, Trace


class Recording:
    """``f`` traced once at ``x0``; value and gradient at new inputs by replaying the tape.

    Replay skips Python and dispatch: it re-runs each recorded op's ``linearize`` in order.
    Comparisons, masks and orderings are re-checked: if one evaluates differently, the recorded
    program is not ``f`` at the new input, and the replay raises :class:`BranchChanged`
    (``rerecord=False``, the default) or traces ``f`` again at the new input (``rerecord=True``).

    A recording has no hidden state: a replay keeps its values and linearizations to itself, so
    :meth:`vjp` always sweeps at the recorded point, a failed replay changes nothing, and one
    recording serves many threads at once. Inputs whose dtype cannot be cast safely to the
    recorded one (float64 into a float32 recording) are refused.

    Example:
        >>> import numpy as np
        >>> rec = record(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]))
        >>> rec.value_and_grad(np.array([2.0, 1.0]))
        (array(9.), array([12.,  3.]))
    """

    def __init__(self, f, *x0, rerecord: bool = False):
        self.f, self.rerecord = f, rerecord
        self._trace = self._record(x0)

    def _record(self, xs):
        trace = Trace(self.f, xs, {}, range(len(xs)), "revad.record")
        if trace.is_tree:
            raise TypeError("record: the function must return one array (not a tuple or list)")
        return trace

    @property
    def tape(self) -> Tape:
        """The recorded tape."""
        return self._trace.tape

    @property
    def recorded_value(self):
        """f at the recorded point (a copy: the tape may hold the output as a residual)."""
        return np.array(self._trace.values[0], copy=True)

    def vjp(self, cotangent, *, batched: bool = False):
        """Sweep the tape at the recorded point (no replay): one cotangent per input, as
        :func:`vjp`'s ``vjp_fn``. Reverse mode's two phases, recording and sweeping, can so be
        timed apart."""
        trace = self._trace
        leaves, seeds = trace.check_cotangent(cotangent, batched)
        bars = pull_back(trace, seeds)
        return tuple(own(b if batched else b[0], d, (*leaves, *seeds))
                     for b, d in zip(bars, trace.dtypes))

    def _replay(self, xs):
        """``(trace, values, lins)`` at new inputs: this call's own state."""
        trace = self._trace
        xs = [as_primal(x, f"input {i}") for i, x in enumerate(xs)]
        try:
            values, lins = trace.tape.replay(xs)
        except BranchChanged:
            if not self.rerecord:
                raise
            trace = self._record(xs)
            self._trace = trace  # one assignment: other threads see the old or the new trace
            values, lins = trace.tape.replay(xs)
        return trace, values, lins

    def value(self, *xs):
        """f at new inputs, by replay."""
        trace, values, _ = self._replay(xs)
        return own(_output(trace, values), guards=xs)

    def value_and_grad(self, *xs):
        """(f, gradient) at new inputs; f must be scalar. One input gives one gradient array,
        several give a tuple."""
        trace, values, lins = self._replay(xs)
        value = _output(trace, values)
        if value.shape != ():
            raise TypeError(f"value_and_grad requires a scalar output, got shape {value.shape}")
        seeds = [np.ones((1,), dtype=result_dtype(value.dtype))]
        grads = tuple(own(b[0], d, xs) for b, d in zip(pull_back(trace, seeds, lins),
                                                        trace.dtypes))
        return own(value, guards=xs), grads[0] if len(grads) == 1 else grads

    def grad(self, *xs):
        """The gradient at new inputs, by replay (see :meth:`value_and_grad`)."""
        return self.value_and_grad(*xs)[1]


def _output(trace, values):
    """The output at a replay: its entry's value, or the constant f returned."""
    entry = trace.outs[0]
    return trace.values[0] if entry is None else values[entry]


def record(f, *x0, rerecord: bool = False) -> Recording:
    """Trace ``f`` at ``x0`` once for replay at new inputs (see :class:`Recording`).

    Example:
        >>> import numpy as np
        >>> rec = record(lambda x: np.sum(np.sin(x)), np.zeros(2))
        >>> rec.grad(np.zeros(2)).tolist()
        [1.0, 1.0]
    """
    return Recording(f, *x0, rerecord=rerecord)
