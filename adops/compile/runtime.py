"""What generated code calls at run time: scalar rules as numba functions, and a few helpers.

- :func:`scalar` turns an elementwise op's primal or partial rule (a lazy kernel of
  :mod:`adops.kernels` with its Python body ``py_func``) into a numba function of scalars,
  compiled once per process and cached on disk, so a fused loop calls the very rule the eager
  tier applies elementwise: no formula is written again.
- :func:`accumulate` adds a cotangent into an entry's running sum (in place when it owns it);
  :func:`add_into` adds a slice's cotangent into it in place.
- :func:`check_guard` re-evaluates a recorded comparison, mask or ordering.
"""
from __future__ import annotations

import types

import numpy as np
from numba import njit

from ..core.kernels import smul, unbroadcast  # noqa: F401  (generated code imports them from here)
from ..program.tape import BranchChanged, same as _same
from ..program.transform import as_rows

_SCALARS: dict = {}


def scalar(kernel):
    """The numba scalar function of a lazy kernel's body (memoized per kernel).

    >>> from adops.elementwise import sin_d
    >>> float(scalar(sin_d)(0.0, 0.0))
    1.0
    """
    fn = _SCALARS.get(kernel)
    if fn is None:
        py = kernel.py_func
        # a copy with its own qualname: numba names cache files by function, and the eager
        # ufunc built from the same body must not share (or shadow) the scalar's cache entries
        body = types.FunctionType(py.__code__, py.__globals__, py.__name__ + "_scalar",
                                  py.__defaults__, py.__closure__)
        body.__qualname__ = py.__qualname__ + "_scalar"
        body.__module__ = py.__module__
        # inlined at numba's IR level: a call per op per element cost more than the op itself
        fn = njit(cache=True, error_model="numpy", inline="always")(body)
        _SCALARS[kernel] = fn
    return fn


#: the strong-zero product inside fused loops (the same body as the eager kernel)
SMUL = scalar(smul)


def accumulate(bar, owned, c):
    """``(bar + c, owned)``: a running cotangent sum; ``bar`` None means nothing yet."""
    if bar is None:
        return c, False
    if owned and type(c) is np.ndarray and bar.dtype == np.result_type(bar, c) and \
            bar.shape == np.broadcast_shapes(bar.shape, c.shape):
        np.add(bar, c, out=bar)
        return bar, True
    return bar + c, True


def add_into(bar, owned, lin, ob, shape, dtype):
    """Add a slice's transpose of ``ob`` into the running cotangent in place (``transpose_add``),
    as the eager sweep does, instead of scattering into fresh zeros."""
    if type(ob) is not np.ndarray or ob.dtype != dtype:
        return accumulate(bar, owned, unbroadcast(lin.vjp(ob, (True,))[0], shape[1:]))
    if bar is None:
        bar, owned = np.zeros(shape, dtype=dtype), True
    elif not owned or bar.dtype != dtype or bar.shape != shape:
        bar, owned = np.array(np.broadcast_to(bar, shape), dtype=dtype), True
    lin.vjp_add(bar, ob)
    return bar, True


def check_guard(guard, *args):
    """Raise :class:`BranchChanged` when a recorded guard evaluates differently now."""
    if not _same(guard.func(*args, **guard.kwargs), guard.result):
        raise BranchChanged(
            f"{getattr(guard.func, '__name__', 'a comparison')}(...) evaluates differently than "
            "when the program was traced")


def flat_input(x, shape, kind):
    """A fused loop's view of an input: ``full`` (its own shape is the loop's), ``one`` (a single
    value) or ``broadcast`` (materialized to the loop's shape)."""
    x = np.asarray(x)
    if kind == "full":
        return x if x.ndim == 1 else x.reshape(-1)
    if kind == "one":  # a single value, or a constant of one value in every entry
        return x.reshape(-1)[:1]
    return np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1)


def flat_tangent(t, shape, kind):
    """The batched form of :func:`flat_input`: ``(k, n)`` for a tangent ``(k, *x.shape)``.
    Sizes are explicit (:func:`adops.transform.as_rows`): with k = 0 directions,
    ``reshape(k, -1)`` cannot infer n.

    >>> flat_tangent(np.zeros((0, 2, 3)), (2, 3), "full").shape
    (0, 6)
    """
    k = t.shape[0]
    if kind == "full":
        # a strided (k, n) view is read in place (slices of a seed are the common case)
        return t if t.ndim == 2 else as_rows(t)
    if kind == "one":
        return t.reshape(k, 1)
    nd = len(shape)
    t = t.reshape(t.shape[:1] + (1,) * (nd - (t.ndim - 1)) + t.shape[1:])
    return as_rows(np.ascontiguousarray(np.broadcast_to(t, (k,) + tuple(shape))))
