"""The op registry: every differentiable operation both modes know, each defined exactly once.

An op turns primal inputs into a primal output and a *linearization*:

    out, lin = op.linearize(*xs, **params)
    out_dot = lin.jvp(x_dots)     # x_dots[i]: (k, *xs[i].shape) or None (a constant input)
    x_bars  = lin.vjp(out_bar, needed)  # out_bar: (m, *out.shape); x_bars[i] broadcastable to
                                  # (m, *xs[i].shape) or None; the caller unbroadcasts;
                                  # needed[i] False skips a constant input's cotangent

That is the only derivative entry point. Forward mode calls ``jvp``; reverse mode records ``lin``
on its tape and calls ``vjp`` in its sweep. Four kinds of op build their ``lin`` generically:

- :class:`ElementwiseOp`: a numba primal and one numba partial rule per input, ``d_i(*xs, out)``;
  ``jvp`` is ``sum_i smul(d_i, x_dot_i)``, ``vjp`` is ``smul(d_i, out_bar)``.
- :class:`LinearOp`: a structural op (sum, reshape, indexing...): a batched linear map and its
  transpose; the dot-product test proves one is the adjoint of the other.
- :class:`BilinearOp`: ``einsum`` of two operands (matmul, dot, tensordot...): linear in each.
- :class:`ReduceOp`: a nonlinear reduction (prod, max, min) whose partial ``d`` has the input's
  shape; ``jvp`` is ``sum(d * x_dot, axis)``, ``vjp`` is ``d * out_bar`` broadcast back.

Users register their own ops with :func:`defop` (elementwise) or :func:`deflinear`; both modes
differentiate them at once, because neither mode holds any op maths.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .kernels import align, full_batch, smul, smul_add, smul_scaled

#: Every registered op, by name. ``len(OPS)`` is the size of the op set.
OPS: dict[str, "Op"] = {}


class _Marker:
    """A constant local partial that needs no kernel call (add, subtract, negative...)."""

    def __init__(self, name: str, apply: Callable[[np.ndarray], np.ndarray]):
        self.name, self.apply = name, apply

    def __repr__(self):
        return self.name


#: Partial ``d = 1``: the tangent or cotangent passes through unchanged.
ONE = _Marker("ONE", lambda t: t)
#: Partial ``d = -1``.
NEG_ONE = _Marker("NEG_ONE", np.negative)


@dataclass(frozen=True)
class Arg:
    """Partial equal to ``scale`` times primal input ``index`` (multiply: ``d/da = b``;
    square: ``d/dx = 2 x``). No kernel pass at linearize time and no copy: the scale is applied
    in the same pass that applies the partial to a tangent or cotangent."""

    index: int
    scale: float = 1.0


class _Scaled:
    """A partial ``scale * x`` held without computing it (see :class:`Arg`)."""

    __slots__ = ("scale", "x")

    def __init__(self, scale, x):
        self.scale, self.x = scale, x

    @property
    def nbytes(self):
        return getattr(self.x, "nbytes", 0)


class Op:
    """Base of all ops: a name, a docstring and :meth:`linearize`."""

    name: str
    doc: str = ""
    #: numpy callables this op implements directly (for the supported-functions table)
    numpy: tuple = ()

    def linearize(self, *xs, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


def _register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"an op named {op.name!r} is already registered; pick another name")
    OPS[op.name] = op
    return op


@contextmanager
def quiet():
    """The context each mode's entry points run in: floating-point warnings off, cyclic GC paused.

    Partials are ``inf``/``nan`` at kinks by design (sqrt at 0) and the strong-zero kernels raise
    spurious flags (LLVM computes ``d * t`` before selecting 0), so warnings are silenced once
    per transform rather than with ``np.errstate`` per op. A trace creates many small acyclic
    objects, which set off the cyclic collector over and over (about 1.5 us per op measured on a
    chain of scalar ops); it is paused while tracing and restored after, as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            yield
    finally:
        if was_enabled:
            gc.enable()


def _apply(d, t):
    if isinstance(d, _Marker):
        return d.apply(t)
    if type(d) is _Scaled:
        return smul_scaled(d.scale, d.x, t)
    return smul(d, t)


def _combine(terms):
    """``sum_i d_i * t_i`` in as few passes as the partials allow."""
    if len(terms) == 2:
        (d1, t1), (d2, t2) = terms
        if d1 is ONE and d2 is ONE:
            return np.add(t1, t2)
        if d1 is ONE and d2 is NEG_ONE:
            return np.subtract(t1, t2)
        if d1 is NEG_ONE and d2 is ONE:
            return np.subtract(t2, t1)
        plain = (_Marker, _Scaled)
        if not isinstance(d1, plain) and not isinstance(d2, plain):
            return smul_add(d1, t1, d2, t2)
    out = _apply(*terms[0])
    for d, t in terms[1:]:
        out = out + _apply(d, t)
    return out


# ---------------------------------------------------------------------------- elementwise ops
class ElementwiseLin:
    """Linearization of an elementwise op: its partials ``d_i``, broadcastable to ``out``."""

    __slots__ = ("partials", "out_shape")

    def __init__(self, partials, out_shape):
        self.partials, self.out_shape = partials, out_shape

    def jvp(self, x_dots):
        ndim = len(self.out_shape)
        terms = [(d, align(t, ndim)) for d, t in zip(self.partials, x_dots)
                 if t is not None and d is not None]
        if not terms:
            return None
        return full_batch(_combine(terms), self.out_shape)

    def vjp(self, out_bar, needed=None):
        if needed is None:
            return tuple(None if d is None else _apply(d, out_bar) for d in self.partials)
        return tuple(None if d is None or not need else _apply(d, out_bar)
                     for d, need in zip(self.partials, needed))

    @property
    def nbytes(self):
        return sum(getattr(d, "nbytes", 0) for d in self.partials)


class ElementwiseOp(Op):
    """``out = primal(*xs)`` elementwise, with local partials ``d_i = partials[i](*xs, out)``.

    Each partial is a numba kernel taking the inputs and the output, a marker (:data:`ONE`,
    :data:`NEG_ONE`), an :class:`Arg`, or ``None`` for an input that is not differentiable
    (``where``'s condition).
    """

    def __init__(self, name, primal, partials, numpy=(), doc=""):
        self.name, self.primal, self.partials = name, primal, tuple(partials)
        self.nin = len(self.partials)
        self.numpy, self.doc = tuple(numpy), doc

    def linearize(self, *xs):
        if len(xs) != self.nin:
            raise TypeError(f"{self.name} takes {self.nin} inputs, got {len(xs)}")
        try:
            out = np.asarray(self.primal(*xs))
        except ValueError as e:
            shapes = " and ".join(str(np.shape(x)) for x in xs)
            raise ValueError(f"{self.name}: inputs of shapes {shapes} do not broadcast "
                             f"together ({e})") from None
        except TypeError as e:
            types = ", ".join(np.asarray(x).dtype.name for x in xs)
            raise TypeError(f"{self.name}: no kernel for inputs of dtypes {types}; traced "
                            f"values are float32/float64 ({e})") from None
        ds = []
        for rule in self.partials:
            if rule is None or isinstance(rule, _Marker):
                ds.append(rule)
            elif isinstance(rule, Arg):
                x = xs[rule.index]
                ds.append(x if rule.scale == 1.0 else _Scaled(rule.scale, x))
            else:
                ds.append(rule(*xs, out))
        return out, ElementwiseLin(ds, out.shape)


# ----------------------------------------------------------------------------- linear ops
class LinearLin:
    """Linearization of a linear op: nothing but the op, its parameters and input shapes."""

    __slots__ = ("op", "params", "shapes", "dtypes", "out_shape")

    def __init__(self, op, params, shapes, dtypes, out_shape):
        self.op, self.params, self.shapes = op, params, shapes
        self.dtypes, self.out_shape = dtypes, out_shape

    def jvp(self, x_dots):
        live = [t for t in x_dots if t is not None]
        if not live:
            return None
        k = live[0].shape[0]
        x_dots = [np.zeros((k,) + s, dtype=dt) if t is None else t
                  for t, s, dt in zip(x_dots, self.shapes, self.dtypes)]
        return full_batch(self.op.apply(*x_dots, **self.params), self.out_shape)

    def vjp(self, out_bar, needed=None):
        return tuple(self.op.transpose(out_bar, self.shapes, **self.params))

    def vjp_add(self, acc, out_bar) -> bool:
        """Add the transpose of ``out_bar`` into ``acc: (m, *x.shape)`` in place, if the op can
        (a slice's cotangent touches only the slice); False when it cannot."""
        if self.op.transpose_add is None:
            return False
        self.op.transpose_add(acc, out_bar, **self.params)
        return True

    nbytes = 0


class LinearOp(Op):
    """A structural op: ``primal(*xs, **p)``; its batched map ``apply(*x_dots, **p)`` on inputs with
    a leading direction axis; and the transpose ``transpose(out_bar, shapes, **p)`` returning one
    batched cotangent per input. ``apply`` defaults to ``primal`` where the op is already batched
    by numpy broadcasting.
    """

    def __init__(self, name, primal, apply, transpose, numpy=(), doc="", transpose_add=None):
        self.name, self.primal, self.apply, self.transpose = name, primal, apply, transpose
        self.numpy, self.doc, self.transpose_add = tuple(numpy), doc, transpose_add

    def linearize(self, *xs, **params):
        xs = [np.asarray(x) for x in xs]
        out = np.asarray(self.primal(*xs, **params))
        return out, LinearLin(self, params, [x.shape for x in xs], [x.dtype for x in xs],
                              out.shape)


# --------------------------------------------------------------------------- bilinear ops
class BilinearLin:
    __slots__ = ("op", "a", "b", "params")

    def __init__(self, op, a, b, params):
        self.op, self.a, self.b, self.params = op, a, b, params

    def jvp(self, x_dots):
        a_dot, b_dot = x_dots
        out_dot = None
        if a_dot is not None:
            out_dot = self.op.apply_left(a_dot, self.b, **self.params)
        if b_dot is not None:
            term = self.op.apply_right(self.a, b_dot, **self.params)
            out_dot = term if out_dot is None else out_dot + term
        return out_dot

    def vjp(self, out_bar, needed=None):
        left, right = needed if needed is not None else (True, True)
        return (self.op.transpose_left(out_bar, self.b, self.a.shape, **self.params)
                if left else None,
                self.op.transpose_right(out_bar, self.a, self.b.shape, **self.params)
                if right else None)

    @property
    def nbytes(self):
        return self.a.nbytes + self.b.nbytes


class BilinearOp(Op):
    """``out = primal(a, b)``, linear in each argument. ``apply_left(a_dot, b)`` and
    ``apply_right(a, b_dot)`` map batched tangents; ``transpose_left(out_bar, b, a_shape)`` and
    ``transpose_right(out_bar, a, b_shape)`` are their adjoints. The residuals are ``a`` and ``b``.
    """

    def __init__(self, name, primal, apply_left, apply_right, transpose_left, transpose_right,
                 numpy=(), doc=""):
        self.name, self.primal = name, primal
        self.apply_left, self.apply_right = apply_left, apply_right
        self.transpose_left, self.transpose_right = transpose_left, transpose_right
        self.numpy, self.doc = tuple(numpy), doc

    def linearize(self, a, b, **params):
        a, b = np.asarray(a), np.asarray(b)
        return np.asarray(self.primal(a, b, **params)), BilinearLin(self, a, b, params)


# ---------------------------------------------------------------------- reduction ops
class ReduceLin:
    __slots__ = ("d", "axis", "keepdims", "out_shape")

    def __init__(self, d, axis, keepdims, out_shape):
        self.d, self.axis, self.keepdims, self.out_shape = d, axis, keepdims, out_shape

    def jvp(self, x_dots):
        (t,) = x_dots
        if t is None:
            return None
        axis = tuple(a + 1 for a in self.axis)
        return np.sum(_apply(self.d, t), axis=axis, keepdims=self.keepdims)

    def vjp(self, out_bar, needed=None):
        if not self.keepdims:
            out_bar = np.expand_dims(out_bar, tuple(a + 1 for a in self.axis))
        return (_apply(self.d, out_bar),)

    @property
    def nbytes(self):
        return self.d.nbytes


def normalize_axis(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


class ReduceOp(Op):
    """A nonlinear reduction over ``axis``: ``partial(rows: (r, L)) -> (out: (r,), d: (r, L))``,
    a numba kernel working on the reduced axes flattened to the last one.
    """

    def __init__(self, name, kernel, numpy=(), doc=""):
        self.name, self.kernel, self.numpy, self.doc = name, kernel, tuple(numpy), doc

    def linearize(self, x, axis=None, keepdims=False):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        axes = normalize_axis(axis, x.ndim)
        if x.size == 0 and any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{self.name} of an empty axis has no value and no derivative")
        kept = tuple(a for a in range(x.ndim) if a not in axes)
        moved = np.transpose(x, kept + axes)
        kept_shape = moved.shape[:len(kept)]
        rows = np.ascontiguousarray(moved).reshape(-1, max(1, int(np.prod(moved.shape[len(kept):]))))
        out, d = self.kernel(rows)
        d = np.transpose(d.reshape(moved.shape), np.argsort(kept + axes))
        out = out.reshape(kept_shape)
        if keepdims:
            out = np.expand_dims(out, axes)
        return out, ReduceLin(d, axes, keepdims, out.shape)


# ---------------------------------------------------------------------------- public API
def defop(name: str, primal, partials: Sequence, *, numpy=(), doc: str = "") -> ElementwiseOp:
    """Register an elementwise op once; both modes then differentiate it.

    Args:
        name: unique op name.
        primal: a numba ``@vectorize`` kernel (or any ufunc-like callable) computing ``out``.
        partials: one rule per input: a kernel ``d_i(*xs, out)``, :data:`ONE`, :data:`NEG_ONE`,
            :class:`Arg` or ``None`` (not differentiable in that input).
        numpy: numpy callables that should dispatch to this op on traced arrays.
        doc: the rule's documentation (kinks, domain).

    Returns:
        The registered op; call it on traced values with :func:`adops.call`.

    Example:
        >>> import numpy as np, adops
        >>> from numba import vectorize
        >>> @vectorize(["float64(float64)"], cache=False)
        ... def softplus(x): return np.log1p(np.exp(x))
        >>> @vectorize(["float64(float64, float64)"], cache=False)
        ... def softplus_dx(x, out): return 1.0 / (1.0 + np.exp(-x))
        >>> op = adops.defop("my_softplus", softplus, [softplus_dx])
        >>> out, lin = op.linearize(np.array([0.0]))
        >>> float(lin.jvp([np.ones((1, 1))])[0, 0])
        0.5
        >>> adops.unregister("my_softplus")
    """
    op = _register(ElementwiseOp(name, primal, partials, numpy=numpy, doc=doc))
    _notify(op)
    return op


def deflinear(name: str, primal, apply, transpose, *, numpy=(), doc: str = "",
              transpose_add=None) -> LinearOp:
    """Register a structural (linear) op: its primal, batched map and transpose.

    ``transpose_add(acc, out_bar, **params)``, optional, adds the transpose into an existing
    cotangent in place (for ops whose transpose is sparse, such as slicing).

    Example:
        >>> import numpy as np, adops
        >>> op = adops.deflinear("my_double", lambda x: 2 * x, lambda t: 2 * t,
        ...                      lambda ob, shapes: (2 * ob,))
        >>> out, lin = op.linearize(np.ones(3))
        >>> lin.vjp(np.ones((1, 3)))[0].tolist()
        [[2.0, 2.0, 2.0]]
        >>> adops.unregister("my_double")
    """
    op = _register(LinearOp(name, primal, apply, transpose, numpy=numpy, doc=doc,
                            transpose_add=transpose_add))
    _notify(op)
    return op


def defbilinear(name, primal, apply_left, apply_right, transpose_left, transpose_right, *,
                numpy=(), doc="") -> BilinearOp:
    """Register a bilinear op (see :class:`BilinearOp`)."""
    op = _register(BilinearOp(name, primal, apply_left, apply_right, transpose_left,
                              transpose_right, numpy=numpy, doc=doc))
    _notify(op)
    return op


def defreduce(name, kernel, *, numpy=(), doc="") -> ReduceOp:
    """Register a nonlinear reduction (see :class:`ReduceOp`)."""
    op = _register(ReduceOp(name, kernel, numpy=numpy, doc=doc))
    _notify(op)
    return op


def unregister(name: str) -> None:
    """Remove a user-registered op (and its numpy routes). Built-in ops cannot be removed.

    Example:
        >>> import numpy as np, adops
        >>> op = adops.deflinear("my_triple", lambda x: 3 * x, lambda t: 3 * t,
        ...                      lambda ob, shapes: (3 * ob,))
        >>> adops.unregister("my_triple"); "my_triple" in adops.OPS
        False
    """
    op = OPS.get(name)
    if op is None:
        raise KeyError(f"no op named {name!r} is registered")
    if getattr(op, "builtin", False):
        raise ValueError(f"{name!r} is a built-in op of adops and cannot be removed")
    del OPS[name]
    for fn in _unlisteners:
        fn(op)


#: callbacks run when an op is registered (numpy_api uses it to route numpy callables)
_listeners: list = []
_unlisteners: list = []


def _notify(op):
    for fn in _listeners:
        fn(op)
