"""The op kinds besides elementwise: linear, bilinear, reduction and rule ops, and their ``def*``.

Each kind builds its linearization generically (see :mod:`adops.ops.registry` for the contract
``op.linearize(*xs, **params) -> (out, lin)`` and the elementwise kind):

- :class:`LinearOp`: a structural op (sum, reshape, indexing...): a batched linear map and its
  transpose; the dot-product test proves one is the adjoint of the other.
- :class:`BilinearOp`: ``einsum`` of two operands (matmul, dot, tensordot...): linear in each.
- :class:`ReduceOp`: a nonlinear reduction (prod, max, min) whose partial ``d`` has the input's
  shape; ``jvp`` is ``sum(d * x_dot, axis)``, ``vjp`` is ``d * out_bar`` broadcast back.
- :class:`RuleOp`: an op given by its primal, a JVP map linear in the tangents and that map's
  transpose, both written with numpy on the residuals (linear algebra and the like).
"""
from __future__ import annotations

import numpy as np

from ..core.kernels import full_batch
from ..core.levels import any_traced, bind, is_traced
from .registry import Op, apply_partial, dtype_of, normalize_axis, register, shape_of


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
    batched cotangent per input. ``apply`` and ``transpose`` are numpy code, so they also run on
    traced tangents and cotangents (nesting).
    """

    views = True

    def __init__(self, name, primal, apply, transpose, numpy=(), doc="", transpose_add=None,
                 writeback=None, numba=None):
        self.name, self.primal, self.apply, self.transpose = name, primal, apply, transpose
        self.numpy, self.doc, self.transpose_add = tuple(numpy), doc, transpose_add
        self.writeback, self.numba = writeback, numba

    def value(self, *xs, **params):
        return np.asarray(self.primal(*[np.asarray(x) for x in xs], **params))

    def linearize(self, *xs, **params):
        out = bind(self, *xs, **params) if any_traced(xs) else self.value(*xs, **params)
        return out, LinearLin(self, params, [shape_of(x) for x in xs],
                              [dtype_of(x) for x in xs], out.shape)


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
        return (self.op.transpose_left(out_bar, self.b, shape_of(self.a), **self.params)
                if left else None,
                self.op.transpose_right(out_bar, self.a, shape_of(self.b), **self.params)
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

    def value(self, a, b, **params):
        return np.asarray(self.primal(np.asarray(a), np.asarray(b), **params))

    def linearize(self, a, b, **params):
        if is_traced(a) or is_traced(b):
            return bind(self, a, b, **params), BilinearLin(self, a, b, params)
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
        return np.sum(apply_partial(self.d, t), axis=axis, keepdims=self.keepdims)

    def vjp(self, out_bar, needed=None):
        if not self.keepdims:
            out_bar = np.expand_dims(out_bar, tuple(a + 1 for a in self.axis))
        return (apply_partial(self.d, out_bar),)

    @property
    def nbytes(self):
        return self.d.nbytes


class ReduceOp(Op):
    """A nonlinear reduction over ``axis``: ``reduce(x, axis, keepdims)`` (numpy's own), and its
    partial rule ``rule(rows, out) -> d`` on rows ``(s, L)``, ``out: (s, 1)`` (see
    :mod:`adops.ops.reductions`), written with numpy calls that also run on traced values
    (nesting) and inside numba (the compiled tier's form named by ``numba``).
    """

    def __init__(self, name, reduce, rule, numpy=(), doc="", numba=None):
        self.name, self.reduce, self.rule = name, reduce, rule
        self.numpy, self.doc, self.numba = tuple(numpy), doc, numba

    def partial(self, x, out_kept, axis):
        """``d`` with ``x``'s shape: the rule applied to ``x``'s slices over ``axis`` as rows."""
        nd = len(x.shape)
        keep = tuple(a for a in range(nd) if a not in axis)
        order = keep + tuple(axis)
        moved = np.transpose(x, order)
        s = int(np.prod(moved.shape[:len(keep)], dtype=np.int64))
        n = int(np.prod(moved.shape[len(keep):], dtype=np.int64))
        d = self.rule(np.reshape(moved, (s, n)), np.reshape(out_kept, (s, 1)))
        return np.transpose(np.reshape(d, moved.shape), tuple(np.argsort(order)))

    def value(self, x, axis=None, keepdims=False):
        x = np.asarray(x)
        axes = normalize_axis(axis, x.ndim)
        self._check_empty(x.shape, axes)
        return np.asarray(self.reduce(x, axis=axes, keepdims=keepdims))

    def _check_empty(self, shape, axes):
        if any(shape[a] == 0 for a in axes):
            raise ValueError(f"{self.name} of an empty axis has no value and no derivative")

    def linearize(self, x, axis=None, keepdims=False):
        if not is_traced(x):
            x = np.asarray(x)
            if not np.issubdtype(x.dtype, np.floating):
                x = x.astype(np.float64)
        axes = normalize_axis(axis, len(x.shape))
        if is_traced(x):
            self._check_empty(x.shape, axes)
            out = bind(self, x, axis=axes, keepdims=keepdims)
        else:
            out = self.value(x, axes, keepdims)
        kept = out if keepdims else np.expand_dims(out, axes)
        d = self.partial(x, kept, axes)
        return out, ReduceLin(d, axes, keepdims, out.shape)


# ---------------------------------------------------------------------- rule ops
class RuleLin:
    __slots__ = ("op", "xs", "out", "res", "params")

    def __init__(self, op, xs, out, res, params):
        self.op, self.xs, self.out, self.res, self.params = op, xs, out, res, params

    def jvp(self, x_dots):
        if all(t is None for t in x_dots):
            return None
        return self.op.jvp_rule(x_dots, self.xs, self.out, self.res, **self.params)

    def vjp(self, out_bar, needed=None):
        needed = needed if needed is not None else (True,) * len(self.xs)
        return tuple(self.op.vjp_rule(out_bar, self.xs, self.out, self.res, needed,
                                      **self.params))

    @property
    def nbytes(self):
        return sum(getattr(r, "nbytes", 0) for r in (self.out, *self.res))


class RuleOp(Op):
    """An op given by its primal and its linearization as numpy code (JAX's way for linear algebra).

    - ``primal(*xs, **p) -> out``: numpy on plain arrays;
    - ``residuals(xs, out, **p) -> tuple``: what both maps need beyond inputs and output (may be
      ``None`` for none), numpy calls so that it also runs on traced values;
    - ``jvp_rule(x_dots, xs, out, res, **p) -> out_dot``: linear in the tangents
      ``x_dots[i]: (k, *x_i.shape)`` or None; returns ``(k, *out.shape)``;
    - ``vjp_rule(out_bar, xs, out, res, needed, **p) -> x_bars``: its transpose, one cotangent
      ``(m, *x_i.shape)`` (or None where ``needed[i]`` is False) per input.

    The dot-product test proves ``vjp_rule`` is the transpose of ``jvp_rule``. Both are numpy
    code, so nested transforms differentiate them (second order) with no extra formula.
    """

    def __init__(self, name, primal, jvp_rule, vjp_rule, residuals=None, numpy=(), doc="",
                 matrix=None):
        self.name, self.primal, self.jvp_rule, self.vjp_rule = name, primal, jvp_rule, vjp_rule
        self.residuals = residuals
        self.numpy, self.doc = tuple(numpy), doc
        #: how the compiled tier computes the primal inside numba (None: it cannot)
        self.matrix = matrix
        self.numba = None if matrix is None else "matrix"

    def value(self, *xs, **params):
        return np.asarray(self.primal(*[np.asarray(x) for x in xs], **params))

    def linearize(self, *xs, **params):
        out = bind(self, *xs, **params) if any_traced(xs) else self.value(*xs, **params)
        res = () if self.residuals is None else tuple(self.residuals(xs, out, **params))
        return out, RuleLin(self, xs, out, res, params)


def deflinear(name: str, primal, apply, transpose, *, numpy=(), doc: str = "",
              transpose_add=None, writeback=None, numba=None) -> LinearOp:
    """Register a structural (linear) op: its primal, batched map and transpose.

    ``numba``, optional, says how the compiled tier emits the op inside one numba function
    (:mod:`adops.compile.forms`): ``"gather"`` (each output entry is one input entry: indexing,
    transposes, broadcasts, concatenation; the map is read off ``primal`` applied to entry
    numbers), ``"sum"`` (each input entry adds into one output entry: sums; read off
    ``transpose``), ``"same"`` (the flat entries are unchanged: reshape, cast). Without it, a
    program holding the op runs its structural ops from Python.

    ``transpose_add(acc, out_bar, **params)``, optional, adds the transpose into an existing
    cotangent in place (for ops whose transpose is sparse, such as slicing).
    ``writeback(base, view, **params)``, optional, for ops whose result numpy may return as a
    writable view: the base with the view's values written back (see :mod:`adops.numpy_api.traced`).

    Example:
        >>> import numpy as np, adops
        >>> op = adops.deflinear("my_double", lambda x: 2 * x, lambda t: 2 * t,
        ...                      lambda ob, shapes: (2 * ob,))
        >>> out, lin = op.linearize(np.ones(3))
        >>> lin.vjp(np.ones((1, 3)))[0].tolist()
        [[2.0, 2.0, 2.0]]
        >>> adops.unregister("my_double")
    """
    op = register(LinearOp(name, primal, apply, transpose, numpy=numpy, doc=doc,
                            transpose_add=transpose_add, writeback=writeback, numba=numba))
    return op


def defbilinear(name, primal, apply_left, apply_right, transpose_left, transpose_right, *,
                numpy=(), doc="", numba=None) -> BilinearOp:
    """Register a bilinear op (see :class:`BilinearOp`). ``numba="contract"``: an einsum of two
    operands (parameter ``spec``), emitted by the compiled tier as ``np.dot`` of 2-D blocks."""
    op = register(BilinearOp(name, primal, apply_left, apply_right, transpose_left,
                              transpose_right, numpy=numpy, doc=doc))
    op.numba = numba
    return op


def defreduce(name, reduce, rule, *, numpy=(), doc="", numba=None) -> ReduceOp:
    """Register a nonlinear reduction (see :class:`ReduceOp`): numpy's ``reduce`` and the partial
    ``rule(rows, out)`` on rows ``(s, L)``. ``numba``, optional, names the compiled tier's
    reduction of a row (``"max"``, ``"min"``, ``"prod"``, :mod:`adops.compile.forms`); the
    form compiles ``rule`` itself with numba, so the partial is written once.

    Example:
        >>> import numpy as np, adops
        >>> op = adops.OPS["max"]
        >>> out, lin = op.linearize(np.array([[1.0, 4.0], [4.0, 4.0]]), axis=None)
        >>> lin.vjp(np.ones((1,)))[0].tolist()
        [[[0.0, 0.3333333333333333], [0.3333333333333333, 0.3333333333333333]]]
    """
    op = register(ReduceOp(name, reduce, rule, numpy=numpy, doc=doc, numba=numba))
    return op


class MatrixCall:
    """How the compiled tier computes a rule op's primal inside numba, whose ``np.linalg`` takes
    one 2-D matrix at a time: ``call``, a numba expression of the matrices ``{0}, {1}, ...``
    (the last two axes of each input, one batch entry) and of the op's parameters by name
    (``{rcond!r}``), whose result has ``core`` axes (2: a matrix, 1: a vector, such as several
    results packed, 0: a number). ``exact``, optional, takes the parameters and says why the
    call would not give numpy's numbers for them (``None``: it does); the compiled tier then
    keeps numpy for that op. Its derivative needs nothing more: the compiled tier traces the
    op's own ``jvp_rule``/``vjp_rule`` into numba code (:mod:`adops.compile.matrixforms`).

    >>> MatrixCall("np.linalg.inv({0})", core=2).expression(["A"], {})
    'np.linalg.inv(A)'
    >>> MatrixCall("pinv({0}, {rcond!r})", core=2).expression(["A"], {"rcond": 1e-15})
    'pinv(A, 1e-15)'
    """

    __slots__ = ("call", "core", "exact")

    def __init__(self, call: str, core: int, exact=None):
        self.call, self.core, self.exact = call, core, exact

    def refusal(self, params):
        """Why this call does not compute the op at ``params`` as numpy does, or ``None``."""
        return None if self.exact is None else self.exact(params)

    def expression(self, mats, params):
        """The numba expression of one batch entry: ``mats``, the names of its matrices."""
        return self.call.format(*mats, **params)


def defrule(name, primal, jvp_rule, vjp_rule, *, residuals=None, numpy=(), doc="",
            matrix=None) -> RuleOp:
    """Register an op by its primal, a JVP map and that map's transpose (see :class:`RuleOp`).
    ``matrix``, optional, a :class:`MatrixCall`: the primal inside numba, so a compiled program
    holding the op is one numba function per derivative.

    Example:
        >>> import numpy as np, adops
        >>> op = adops.defrule("my_cube", lambda x: x ** 3,
        ...     lambda x_dots, xs, out, res: 3 * xs[0] ** 2 * x_dots[0],
        ...     lambda out_bar, xs, out, res, needed: (3 * xs[0] ** 2 * out_bar,))
        >>> out, lin = op.linearize(np.array([2.0]))
        >>> lin.vjp(np.ones((1, 1)))[0].tolist()
        [[12.0]]
        >>> adops.unregister("my_cube")
    """
    op = register(RuleOp(name, primal, jvp_rule, vjp_rule, residuals=residuals, numpy=numpy,
                          doc=doc, matrix=matrix))
    return op
