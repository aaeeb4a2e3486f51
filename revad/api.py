"""Reverse-mode transforms with JAX's names and shapes: vjp, grad, value_and_grad, jacrev, and
record/replay.

Contract: for ``f: R^(*in_shape) -> R^(*out_shape)`` written with plain numpy,
- ``vjp(f, x)`` returns ``(f(x), vjp_fn)``; ``vjp_fn(u)`` is ``(u^T J,)`` with ``u: (*out_shape)``
  and the result ``(*in_shape)``; ``vjp_fn(u, batched=True)`` takes ``u: (m, *out_shape)`` and
  returns ``(m, *in_shape)``: m seeds in one sweep;
- ``grad(f)(x)``: f returns a scalar; the gradient has ``x``'s shape;
- ``jacrev(f)(x)``: the Jacobian, ``out_shape + in_shape``, from one recording and
  ``ceil(m / chunk)`` sweeps;
- ``record(f, x0)`` traces once; the :class:`Recording` evaluates value and gradient at new
  inputs of the same shapes without tracing again.
"""
from __future__ import annotations

import numpy as np

from adops.registry import quiet
from adops.inputs import (argnums_tuple as _argnums, as_primal, auto_chunk, check_seed,
                          identity_chunks)
from .backward import backward
from .tape import BranchChanged, Tape
from .var import Var


def _trace(f, args, nums):
    """Run ``f`` with the arguments ``nums`` traced on a new tape."""
    tape = Tape()
    xs = list(args)
    for i in nums:
        xs[i] = tape.leaf(as_primal(args[i], f"argument {i}"))
    with quiet():
        out = f(*xs)
    return tape, [xs[i] for i in nums], out


def _check_out(out, where):
    if isinstance(out, Var):
        return
    if isinstance(out, (np.ndarray, float, int, np.number)):
        return
    raise TypeError(f"{where}: the function returned {type(out).__name__}; it must return an "
                    "array or a scalar")


def _seeds_to_bars(tape, leaves, out, seeds):
    """x_bar for each leaf, ``(m, *leaf_shape)``; zeros where the output does not depend on it."""
    m = seeds.shape[0]
    if not isinstance(out, Var):
        return [np.zeros((m,) + x.shape, dtype=x.primal.dtype) for x in leaves]
    bars = backward(tape, out.index, seeds, [x.index for x in leaves])
    return [np.zeros((m,) + x.shape, dtype=x.primal.dtype) if b is None
            else np.ascontiguousarray(np.broadcast_to(b, (m,) + x.shape))
            for b, x in zip(bars, leaves)]


def _primal(out):
    return out.primal if isinstance(out, Var) else np.asarray(out)


def vjp(f, *primals):
    """Vector-Jacobian product: ``(f(*primals), vjp_fn)``.

    Args:
        f: a function of ``len(primals)`` arrays written with numpy, returning one array.
        *primals: inputs (scalars or arrays; ints become float64, float32 stays float32).

    Returns:
        ``(out, vjp_fn)``. ``vjp_fn(u)`` returns a tuple with one cotangent per primal, each of
        its primal's shape; ``vjp_fn(u, batched=True)`` takes ``u: (m, *out.shape)`` and returns
        ``(m, *primal.shape)`` each.

    Example:
        >>> import numpy as np
        >>> out, vjp_fn = vjp(lambda x: x ** 2, np.array([1.0, 2.0]))
        >>> vjp_fn(np.array([1.0, 1.0]))[0].tolist()
        [2.0, 4.0]
    """
    tape, leaves, out = _trace(f, primals, range(len(primals)))
    _check_out(out, "vjp")
    value = _primal(out)

    def vjp_fn(cotangent, *, batched: bool = False):
        seeds = check_seed(cotangent, value.shape, value.dtype, batched, "cotangent")
        bars = _seeds_to_bars(tape, leaves, out, seeds)
        return tuple(b if batched else b[0, ...] for b in bars)

    vjp_fn.tape = tape
    return value, vjp_fn


def value_and_grad(f, argnums=0):
    """``(f(x), grad f(x))`` for a scalar-valued ``f`` in one trace and one sweep.

    Example:
        >>> import numpy as np
        >>> value_and_grad(lambda w: np.sum(w ** 2))(np.array([1.0, 3.0]))
        (array(10.), array([2., 6.]))
    """
    def vg(*args):
        multiple, nums = _argnums(argnums, len(args))
        tape, leaves, out = _trace(f, args, nums)
        _check_out(out, "grad")
        value = _primal(out)
        if value.shape != ():
            raise TypeError(f"grad requires f to return a scalar (shape ()), but it returned "
                            f"shape {value.shape}; reduce it (e.g. np.sum) or use jacrev/vjp")
        seeds = np.ones((1,), dtype=value.dtype)
        grads = tuple(b[0, ...] for b in _seeds_to_bars(tape, leaves, out, seeds))
        return value, (grads if multiple else grads[0])
    vg.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return vg


def grad(f, argnums=0):
    """Gradient of a scalar-valued ``f``, with each argument's shape.

    Example:
        >>> import numpy as np
        >>> grad(lambda x: (3 * x + 1) ** 2)(2.0)
        array(42.)
    """
    vg = value_and_grad(f, argnums)

    def g(*args):
        return vg(*args)[1]
    g.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return g


def jacrev(f, argnums=0, *, chunk: int | None = None):
    """Jacobian of ``f`` by reverse mode, shape ``out.shape + in.shape``.

    One recording, then ``ceil(m / chunk)`` sweeps that each seed ``chunk`` rows of the identity
    (``chunk=None``: :func:`adops.inputs.auto_chunk`); every chunk gives the same Jacobian.

    Example:
        >>> import numpy as np
        >>> jacrev(lambda x: x[::-1] * 2.0)(np.zeros(2)).tolist()
        [[0.0, 2.0], [2.0, 0.0]]
    """
    def jac(*args):
        multiple, nums = _argnums(argnums, len(args))
        tape, leaves, out = _trace(f, args, nums)
        _check_out(out, "jacrev")
        value = _primal(out)
        m = value.size
        k = auto_chunk(m, value.dtype.itemsize) if chunk is None else int(chunk)
        if k < 1:
            raise ValueError(f"jacrev: chunk must be a positive integer, got {chunk!r}")
        rows = [[] for _ in leaves]
        for start, seeds in identity_chunks(m, k, value.dtype):
            width = seeds.shape[0]
            bars = _seeds_to_bars(tape, leaves, out, seeds.reshape((width,) + value.shape))
            for acc, b in zip(rows, bars):
                # the seed buffer is reused by the next chunk (f = identity returns it)
                acc.append(b.copy() if np.may_share_memory(b, seeds) else b)
        res = tuple(np.concatenate(r, axis=0).reshape(value.shape + x.shape) if r
                    else np.zeros(value.shape + x.shape) for r, x in zip(rows, leaves))
        return res if multiple else res[0]
    jac.__name__ = f"jacrev({getattr(f, '__name__', 'f')})"
    return jac


class Recording:
    """``f`` traced once at ``x0``; value and gradient at new inputs by replaying the tape.

    Replay skips Python and dispatch: it re-runs each recorded op's ``linearize`` in order.
    Comparisons, masks and orderings are re-checked: if one evaluates differently, the recorded
    program is not ``f`` at the new input, and the replay raises :class:`BranchChanged`
    (``rerecord=False``, the default) or traces ``f`` again at the new input (``rerecord=True``).

    Example:
        >>> import numpy as np
        >>> rec = record(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]))
        >>> rec.value_and_grad(np.array([2.0, 1.0]))
        (array(9.), array([12.,  3.]))
    """

    def __init__(self, f, *x0, rerecord: bool = False):
        self.f, self.rerecord = f, rerecord
        self._record(x0)

    def _record(self, xs):
        self.tape, self.leaves, out = _trace(self.f, xs, range(len(xs)))
        _check_out(out, "record")
        if not isinstance(out, Var):
            raise TypeError("record: the function's output does not depend on its inputs")
        self.out, self.out_var = out.index, out
        self.shapes = [x.shape for x in self.leaves]

    def vjp(self, cotangent, *, batched: bool = False):
        """Sweep the tape at the recorded point (no replay): one cotangent per input, as
        :func:`vjp`'s ``vjp_fn``. Reverse mode's two phases, recording and sweeping, can so be
        timed apart."""
        value = self.out_var.primal
        seeds = check_seed(cotangent, value.shape, value.dtype, batched, "cotangent")
        bars = _seeds_to_bars(self.tape, self.leaves, self.out_var, seeds)
        return tuple(b if batched else b[0, ...] for b in bars)

    def _replay(self, xs):
        xs = [as_primal(x, f"input {i}") for i, x in enumerate(xs)]
        try:
            values = self.tape.replay(xs)
        except BranchChanged:
            if not self.rerecord:
                raise
            self._record(xs)
            values = self.tape.replay(xs)
        return values

    def value(self, *xs):
        """f at new inputs, by replay."""
        return self._replay(xs)[self.out]

    def value_and_grad(self, *xs):
        """(f, gradient) at new inputs; f must be scalar. One input gives one gradient array,
        several give a tuple."""
        value = self._replay(xs)[self.out]
        if value.shape != ():
            raise TypeError(f"value_and_grad requires a scalar output, got shape {value.shape}")
        bars = backward(self.tape, self.out, np.ones((1,), dtype=value.dtype), self.tape.leaves)
        grads = tuple(np.zeros(s) if b is None else np.broadcast_to(b, (1,) + s)[0]
                      for b, s in zip(bars, self.shapes))
        return value, grads[0] if len(grads) == 1 else grads

    def grad(self, *xs):
        return self.value_and_grad(*xs)[1]


def record(f, *x0, rerecord: bool = False) -> Recording:
    """Trace ``f`` at ``x0`` once for replay at new inputs (see :class:`Recording`)."""
    return Recording(f, *x0, rerecord=rerecord)
