"""The op registry: the table of all ops, the op base, kinds of partial, the elementwise kind.

Every differentiable operation both modes know is registered here, each defined exactly once.

An op turns primal inputs into a primal output and a *linearization*:

    out, lin = op.linearize(*xs, **params)
    out_dot = lin.jvp(x_dots)     # x_dots[i]: (k, *xs[i].shape) or None (a constant input)
    x_bars  = lin.vjp(out_bar, needed)  # out_bar: (m, *out.shape); x_bars[i] broadcastable to
                                  # (m, *xs[i].shape) or None; the caller unbroadcasts;
                                  # needed[i] False skips a constant input's cotangent

That is the only derivative entry point. Forward mode calls ``jvp``; reverse mode records ``lin``
on its tape and calls ``vjp`` in its sweep. Five kinds of op build their ``lin`` generically:

- :class:`ElementwiseOp`: a numba primal and one local partial per input (a :class:`Rule`
  kernel ``d_i(*xs, out)``, a :class:`Marker` such as :data:`ONE`, an :class:`Arg`, or None);
  ``jvp`` is ``sum_i smul(d_i, x_dot_i)``, ``vjp`` is ``smul(d_i, out_bar)``.
- the other four, in :mod:`adops.ops.kinds`: ``LinearOp`` (structural: a batched linear map and
  its transpose), ``BilinearOp`` (``einsum`` of two operands), ``ReduceOp`` (prod, max, min: a
  partial with the input's shape) and ``RuleOp`` (a primal, a JVP map and its transpose, written
  with numpy).

**Nesting.** ``linearize`` accepts inputs that are themselves traced by a lower level (see
:mod:`adops.core.levels`). Then the primal is that op bound at the lower level, and every partial,
tangent and cotangent computation is numpy code on traced values: an elementwise rule's body runs
in Python through the same dispatch, linear maps are numpy calls, and the strong-zero product is
itself an op (``smul``). So the rules of this module are differentiated by the modes themselves,
to any order, and no second-derivative table exists.

Users register their own ops with :func:`defop` (elementwise) or
:func:`~adops.ops.kinds.deflinear`; both modes
differentiate them at once, because neither mode holds any op maths.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from numba.extending import overload

from ..core.fpstate import quiet  # noqa: F401  (the transforms' context; re-exported here)
from ..core.kernels import align, full_batch, smul, smul_add, smul_scaled
from ..core.levels import any_traced, bind, is_traced

#: Every registered op, by name. ``len(OPS)`` is the size of the op set.
OPS: dict[str, "Op"] = {}


# ------------------------------------------------------------------------ kinds of partial
class Partial:
    """A kind of local partial of an elementwise op. ``materialize`` turns it into the value ``d``
    that :func:`apply_partial` multiplies into a tangent or cotangent; ``describe`` gives its rule
    as text for the docs and the graph view."""

    def materialize(self, xs, out, traced: bool):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class Marker(Partial):
    """A constant local partial that needs no kernel call (add, subtract, negative...).
    ``refuses``: the input is not differentiable and ``apply`` raises the error saying so (a
    tangent or cotangent must never reach it)."""

    def __init__(self, name: str, apply: Callable, text: str, refuses: bool = False):
        self.name, self.apply, self.text, self.refuses = name, apply, text, refuses

    def materialize(self, xs, out, traced):
        return self

    def describe(self):
        return self.text

    def __repr__(self):
        return self.name


#: Partial ``d = 1``: the tangent or cotangent passes through unchanged.
ONE = Marker("ONE", lambda t: t, "1")
#: Partial ``d = -1``.
NEG_ONE = Marker("NEG_ONE", np.negative, "-1")


@dataclass(frozen=True)
class Arg(Partial):
    """Partial equal to ``scale`` times primal input ``index`` (multiply: ``d/da = b``;
    square: ``d/dx = 2 x``). No kernel pass at linearize time and no copy: the scale is applied
    in the same pass that applies the partial to a tangent or cotangent."""

    index: int
    scale: float = 1.0

    def materialize(self, xs, out, traced):
        x = xs[self.index]
        return x if self.scale == 1.0 else Scaled(self.scale, x)

    def describe(self):
        return f"{'' if self.scale == 1 else f'{self.scale:g} * '}x{self.index}"


class Rule(Partial):
    """A partial computed from the inputs and the output: ``d = rule(*xs, out)``.

    ``kernel`` is the compiled form (a numba ``@vectorize`` kernel, used on plain arrays);
    ``body`` the same rule as a Python function of numpy calls, run on traced values when an
    outer level differentiates the rule (nesting). A lazy kernel of :mod:`adops.core.kernels` carries
    its body (``py_func``), so each rule is written once; a user rule may be either.
    """

    def __init__(self, rule):
        self.kernel = rule
        self.body = getattr(rule, "py_func", None)
        if self.body is None:
            dispatcher = getattr(rule, "_dispatcher", None)
            self.body = getattr(dispatcher, "py_func", None)
        if self.body is None and not isinstance(rule, np.ufunc):
            self.body = rule  # a plain Python function of numpy calls
        self.__name__ = getattr(rule, "__name__", repr(rule))

    def materialize(self, xs, out, traced):
        if not traced:
            return self.kernel(*xs, out)
        if self.body is None:
            raise TypeError(
                f"the partial rule {self.__name__} is a compiled ufunc without its Python body, "
                "so a nested transform cannot differentiate it; pass the numba kernel itself "
                "(@vectorize([...]) keeps .py_func) or a Python function of numpy calls")
        d = self.body(*xs, out)
        # the kernel's signatures give a partial the output's dtype; the body on numpy's
        # promotion need not (where's select(c, 1.0, 0.0) is float64 for a float32 output), and
        # an outer level would carry that dtype into every derivative it takes through the rule
        want, got = getattr(out, "dtype", None), getattr(d, "dtype", None)
        if got is not None and want is not None and got != want:
            d = d.astype(want)
        return d

    def describe(self):
        import inspect
        body = self.body if self.body is not None else self.kernel
        try:
            src = inspect.getsource(body)
        except (OSError, TypeError):
            return self.__name__
        text = src[src.index("def "):].split(":", 1)[1]
        return " ".join(line.strip() for line in text.splitlines() if line.strip())

    def __repr__(self):
        return f"<rule {self.__name__}>"


def as_partial(p) -> Partial | None:
    """A partial given to :func:`defop`: a :class:`Partial`, None, or a rule (kernel or function)."""
    if p is None or isinstance(p, Partial):
        return p
    return Rule(p)


class Scaled:
    """A partial ``scale * x`` held without computing it (see :class:`Arg`)."""

    __slots__ = ("scale", "x")

    def __init__(self, scale, x):
        self.scale, self.x = scale, x

    @property
    def nbytes(self):
        return getattr(self.x, "nbytes", 0)


class Op:
    """Base of all ops: a name, a docstring, :meth:`value` (the primal alone) and
    :meth:`linearize` (the primal and its linearization)."""

    name: str
    doc: str = ""
    #: numpy callables this op implements directly (for the supported-functions table)
    numpy: tuple = ()
    #: whether numpy's result can be a view of the first input (structural ops)
    views: bool = False
    #: for ops whose views numpy lets you write through (getitem, reshape, transpose):
    #: ``writeback(base, view, **params)`` is the base with the view's new values written in
    writeback = None

    def value(self, *xs, **params):
        return self.linearize(*xs, **params)[0]

    def linearize(self, *xs, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


def _register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"an op named {op.name!r} is already registered; pick another name")
    OPS[op.name] = op
    return op


def apply_partial(d, t):
    """``smul(d, t)`` for a materialized partial ``d`` and a tangent or cotangent ``t``."""
    if isinstance(d, Marker):
        return d.apply(t)
    if type(d) is Scaled:
        if is_traced(d.x) or is_traced(t):
            return bind(SMUL, d.scale * d.x, t)
        return smul_scaled(d.scale, d.x, t)
    if is_traced(d) or is_traced(t):
        return bind(SMUL, d, t)
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
        if type(d1) is np.ndarray and type(d2) is np.ndarray and type(t1) is np.ndarray \
                and type(t2) is np.ndarray:
            return smul_add(d1, t1, d2, t2)
    out = apply_partial(*terms[0])
    for d, t in terms[1:]:
        out = out + apply_partial(d, t)
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
            return tuple(None if d is None else apply_partial(d, out_bar) for d in self.partials)
        return tuple(None if d is None or not need else apply_partial(d, out_bar)
                     for d, need in zip(self.partials, needed))

    @property
    def nbytes(self):
        return sum(getattr(d, "nbytes", 0) for d in self.partials)


class ElementwiseOp(Op):
    """``out = primal(*xs)`` elementwise, with one local partial per input (see :class:`Partial`).

    Each partial is a :class:`Rule` (a numba kernel ``d_i(*xs, out)``), a marker (:data:`ONE`,
    :data:`NEG_ONE`), an :class:`Arg`, or ``None`` for an input that is not differentiable
    (``where``'s condition).
    """

    def __init__(self, name, primal, partials, numpy=(), doc=""):
        self.name, self.primal = name, primal
        self.partials = tuple(as_partial(p) for p in partials)
        self.nin = len(self.partials)
        self.numpy, self.doc = tuple(numpy), doc
        # values come from numpy's own ufunc where one routes here (the same function, no
        # per-process build of a numba ufunc wrapper); the kernel's body serves fused loops
        self.evaluate = numpy[0] if numpy and isinstance(numpy[0], np.ufunc) else primal

    def _check_arity(self, xs):
        if len(xs) != self.nin:
            raise TypeError(f"{self.name} takes {self.nin} inputs, got {len(xs)}")

    def value(self, *xs):
        self._check_arity(xs)
        try:
            out = np.asarray(self.evaluate(*xs))
        except ValueError as e:
            shapes = " and ".join(str(shape_of(x)) for x in xs)
            raise ValueError(f"{self.name}: inputs of shapes {shapes} do not broadcast "
                             f"together ({e})") from None
        except TypeError as e:
            types = ", ".join(dtype_of(x).name for x in xs)
            raise TypeError(f"{self.name}: no kernel for inputs of dtypes {types}; traced "
                            f"values are float32/float64 ({e})") from None
        if out.dtype.kind == "c":
            types = ", ".join(dtype_of(x).name for x in xs)
            raise TypeError(
                f"{self.name} of inputs of dtypes {types} gives {out.dtype}: traced values are "
                "real float32/float64 (a complex constant makes the result complex); split "
                "complex arithmetic into real and imaginary parts")
        return out

    def linearize(self, *xs):
        traced = any_traced(xs)
        if traced:
            self._check_arity(xs)
            out = bind(self, *xs)
        else:
            out = self.value(*xs)
        ds = []
        for p in self.partials:
            if p.__class__ is Rule and not traced:  # the common case, without a method call
                ds.append(p.kernel(*xs, out))
            else:
                ds.append(None if p is None else p.materialize(xs, out, traced))
        return out, ElementwiseLin(ds, out.shape)


#: The strong-zero product as an op, so that applying a partial nests: when a partial or a
#: tangent is traced by an outer level, ``smul(d, t)`` is bound like any other op.
SMUL = _register(ElementwiseOp(
    "smul", smul, [Arg(1), Arg(0)],
    doc="smul(d, t) = d * t, but 0 when either factor is 0 (strong zero, even against inf/nan); "
        "the product that applies every local partial to a tangent or cotangent."))


def strong_mul(u, g):
    """``u * g``, but 0 where either factor is 0: the strong-zero product for rule bodies.

    A partial that is 0 where a factor vanishes (``d/dy xlogy = x / y``, 0 where ``x == 0``;
    ``d/da a**b = b a**(b-1)``, 0 where ``b == 0``) is written ``strong_mul(x, 1 / y)``, not
    ``select(x == 0, 0, x / y)``: the select is right as a value, but an outer level would
    differentiate only its constant branch and lose ``d(x g) = g dx`` (a mixed second derivative).
    As a product, the outer level differentiates ``u g`` itself, with strong zero at every order.
    Use ``select`` only for a real branch (a kink, a convention at a singularity).

    On plain arrays it is the :func:`adops.core.kernels.smul` kernel, on values traced by an outer
    level the ``smul`` op, and inside a numba kernel (a rule body) the scalar product.

    >>> strong_mul(np.array([0.0, 2.0]), np.array([np.inf, 3.0])).tolist()
    [0.0, 6.0]
    """
    if is_traced(u) or is_traced(g):
        return bind(SMUL, u, g)
    with np.errstate(invalid="ignore"):  # the kernel forms 0 * inf before it selects 0
        return smul(u, g)


@overload(strong_mul)
def _strong_mul_scalar(u, g):
    def impl(u, g):
        return 0.0 if (u == 0 or g == 0) else u * g
    return impl


# ----------------------------------------------------------------------------- linear ops
def shape_of(x) -> tuple:
    return x.shape if isinstance(x, np.ndarray) or is_traced(x) else np.shape(x)


def dtype_of(x):
    return x.dtype if isinstance(x, np.ndarray) or is_traced(x) else np.asarray(x).dtype


def normalize_axis(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"axis must be an integer or a tuple of integers, got {axis!r}")
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


# ---------------------------------------------------------------------------- public API
def defop(name: str, primal, partials: Sequence, *, numpy=(), doc: str = "") -> ElementwiseOp:
    """Register an elementwise op once; both modes then differentiate it.

    Args:
        name: unique op name.
        primal: a numba ``@vectorize`` kernel (or any ufunc-like callable) computing ``out``.
        partials: one rule per input: a kernel ``d_i(*xs, out)`` or a Python function of numpy
            calls (which nested transforms can differentiate), :data:`ONE`, :data:`NEG_ONE`,
            :class:`Arg` or ``None`` (not differentiable in that input). A rule branches with
            :func:`adops.select` and writes a partial that is 0 with one of its factors as
            :func:`strong_mul`, so second derivatives keep that factor's derivative.
        numpy: numpy callables that should dispatch to this op on traced arrays.
        doc: the rule's documentation (kinks, domain).

    Returns:
        The registered op; call it on traced values with :func:`adops.call`.

    Example:
        >>> import numpy as np, adops
        >>> from numba import vectorize
        >>> @vectorize(["float64(float64)"], cache=False)
        ... def softplus(x): return np.log1p(np.exp(x))
        >>> def softplus_dx(x, out): return 1.0 / (1.0 + np.exp(-x))
        >>> op = adops.defop("my_softplus", softplus, [softplus_dx])
        >>> out, lin = op.linearize(np.array([0.0]))
        >>> float(lin.jvp([np.ones((1, 1))])[0, 0])
        0.5
        >>> adops.unregister("my_softplus")
    """
    op = _register(ElementwiseOp(name, primal, partials, numpy=numpy, doc=doc))
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


def on_register(added, removed=None) -> None:
    """Call ``added(op)`` for every op registered from now on (a listener that raises refuses
    the op) and ``removed(op)`` for every op unregistered: how the dispatch layer routes
    ``op.numpy`` without the op set knowing the dispatch."""
    _listeners.append(added)
    if removed is not None:
        _unlisteners.append(removed)


def register(op: Op) -> Op:
    """Add ``op`` to :data:`OPS` and route it (the listeners of :func:`on_register`); refused
    when its name is taken or a listener refuses it. The ``def*`` functions call it."""
    op = _register(op)
    _notify(op)
    return op


def _notify(op):
    """Run the listeners (numpy routing); an op a listener refuses is not registered."""
    try:
        for fn in _listeners:
            fn(op)
    except Exception:
        del OPS[op.name]
        raise
