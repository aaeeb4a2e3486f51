"""Generic numba kernels that *apply* local partials. No op's formula lives here.

Contract (shapes follow DESIGN.md; `d` is an op's local partial, broadcastable to the output):

- ``smul(d, t)``: the strong-zero product. Zero whenever either factor is zero, even when the
  other is ``inf`` or ``nan``. Forward mode calls it with a tangent ``t = x_dot: (k, *shape)``,
  reverse mode with a cotangent ``t = out_bar: (m, *shape)``; one kernel serves both, so the
  convention is identical in the two modes by construction.
- ``smul_scaled(c, x, t)``: ``smul(c * x, t)`` in one pass (partials such as ``2 x``).
- ``smul_add(d1, t1, d2, t2)``: ``smul(d1, t1) + smul(d2, t2)`` fused in one pass (binary ops).
- ``unbroadcast(a, shape)``: sum a batched array ``(b, *bshape)`` down to ``(b, *shape)``, undoing
  numpy broadcasting. Used once, at each mode's single accumulation point.
- ``align(t, ndim)``: insert axes after the direction axis so ``(k, *shape)`` broadcasts against an
  output of ``ndim`` dimensions.

Why symmetric strong zero: ``np.where(x > 0, np.sqrt(x), 0.0)`` at ``x = 0`` must give 0, not NaN.
In reverse mode the masked branch gets cotangent 0 times ``sqrt``'s partial ``inf``; in forward mode
``where``'s partial 0 meets the tangent ``inf`` of ``sqrt``. Both products must be 0 (JAX #6636,
PyTorch #23395 report the NaN).
"""
from __future__ import annotations

import functools

import numpy as np
from numba import vectorize
from numba.extending import overload

class LazyKernel:
    """A numba kernel with fixed signatures, compiled (or loaded from numba's cache) on first use.

    Loading ~100 cached ufuncs eagerly costs seconds at import, and most programs touch a handful,
    so ``@lazy(vectorize, sigs)`` defers ``vectorize(sigs, cache=True)(fn)`` to the first call.
    """

    __slots__ = ("_decorator", "_sigs", "py_func", "_kernel", "__name__")

    def __init__(self, decorator, sigs, fn):
        self._decorator, self._sigs, self.py_func = decorator, sigs, fn
        self._kernel, self.__name__ = None, fn.__name__

    def compile(self):
        if self._kernel is None:
            kernel = self._decorator(self._sigs, cache=True)(self.py_func)
            # a vectorized kernel wraps a real numpy ufunc: calling it directly saves ~1.5 us
            self._kernel = getattr(kernel, "ufunc", kernel)
        return self._kernel

    def __call__(self, *args):
        kernel = self._kernel
        if kernel is None:
            kernel = self.compile()
        return kernel(*args)

    def __repr__(self):
        return f"<kernel {self.__name__}>"


def lazy(decorator, sigs):
    """``@lazy(vectorize, sigs)``: a module-level kernel with fixed signatures and ``cache=True``."""
    return lambda fn: LazyKernel(decorator, sigs, fn)


def numba_too(fn):
    """A helper of rule bodies, a Python function of numpy calls that numba also compiles where
    a body calling it is compiled (an ``overload`` whose implementation is ``fn`` itself), so
    the helper is written once for arrays, traced values and compiled loops.

    >>> from numba import njit
    >>> @numba_too
    ... def twice(x): return 2.0 * x
    >>> float(njit(lambda x: twice(x) + 1.0)(1.5)), float(twice(np.float64(1.5)))
    (4.0, 3.0)
    """
    # the typing function must show fn's own signature to numba (wraps sets __wrapped__)
    overload(fn, inline="always")(functools.wraps(fn)(lambda *args: fn))
    return fn


def scipy_kernel(ufunc, kernel: LazyKernel) -> LazyKernel:
    """``kernel`` (whose body calls ``ufunc`` on scalars, for numba code) run on arrays as the
    library's own ``ufunc``: the eager tier computes with scipy's loops, unchanged, while the
    compiled tier's fused loops compile the body.

    >>> import scipy.special as sc
    >>> k = scipy_kernel(sc.erf, LazyKernel(vectorize, ["float64(float64)"], lambda x: sc.erf(x)))
    >>> k._kernel is sc.erf
    True
    """
    kernel._kernel = ufunc
    return kernel


def select(cond, a, b):
    """``a`` where ``cond`` else ``b``: the one branch a partial rule may take on its values.

    On arrays (plain or traced by an outer level) it is ``np.where``, so an outer transform
    differentiates the chosen branch; inside a numba kernel it is the scalar ``a if cond else b``.
    Rules branch only through it, never with a Python ``if`` on a value.

    >>> select(np.array([True, False]), 1.0, 0.0).tolist()
    [1.0, 0.0]
    """
    return np.where(cond, a, b)


@overload(select)
def _select_scalar(cond, a, b):
    def impl(cond, a, b):
        return a if cond else b
    return impl


F2 = ["float32(float32, float32)", "float64(float64, float64)"]
F3 = ["float32(float32, float32, float32)", "float64(float64, float64, float64)"]
F4 = ["float32(float32, float32, float32, float32)", "float64(float64, float64, float64, float64)"]


@lazy(vectorize, F2)
def smul(d, t):
    # one select, no branch: loops using it (fused loops too) vectorize
    return select(np.logical_or(d == 0, t == 0), 0.0, d * t)


@lazy(vectorize, F4)
def smul_add(d1, t1, d2, t2):
    a = 0.0 if (d1 == 0 or t1 == 0) else d1 * t1
    b = 0.0 if (d2 == 0 or t2 == 0) else d2 * t2
    return a + b


@lazy(vectorize, F3)
def smul_scaled(c, x, t):
    d = c * x
    if d == 0 or t == 0:
        return 0.0
    return d * t


def align(t: np.ndarray, ndim: int) -> np.ndarray:
    """View ``t: (k, *shape)`` as ``(k, 1, ..., 1, *shape)`` with ``ndim`` trailing axes."""
    missing = ndim - (t.ndim - 1)
    if missing <= 0:
        return t
    return t.reshape(t.shape[:1] + (1,) * missing + t.shape[1:])


def unbroadcast(a: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``a: (b, *bshape)`` to ``(b, *shape)``, where ``shape`` broadcasts to ``bshape``.

    >>> unbroadcast(np.ones((2, 3, 4)), (4,)).tolist()
    [[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]
    """
    shape = tuple(shape)
    if a.shape[1:] == shape:
        return a
    extra = a.ndim - 1 - len(shape)
    if extra > 0:
        a = a.sum(axis=tuple(range(1, 1 + extra)))
    axes = tuple(i + 1 for i, s in enumerate(shape) if s == 1 and a.shape[i + 1] != 1)
    if axes:
        a = a.sum(axis=axes, keepdims=True)
    return a.reshape(a.shape[:1] + shape)


def full_batch(t: np.ndarray, shape: tuple) -> np.ndarray:
    """Broadcast ``t: (b, ...)`` to exactly ``(b, *shape)``."""
    target = t.shape[:1] + tuple(shape)
    if t.shape == target:
        return t
    return np.broadcast_to(align(t, len(shape)), target)
