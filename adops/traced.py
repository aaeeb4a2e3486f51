"""The traced-array base class: numpy's protocols, operator dunders and mutation, written once.

``dualad.Dual`` (forward) and ``revad.Var`` (reverse) subclass :class:`Traced` and supply:
``_primal`` (the value: an ndarray of shape ``(*shape)``, or a value traced by a lower level),
``level`` (the :class:`~adops.levels.Level` of the transform that made it), ``_mode`` (a name for
errors), ``_bind(op, args, params, level)`` (apply an op to a mix of this level's values and
constants) and ``_assign(new)`` (become another value of the same level, or a constant).
Everything a user writes with numpy (``np.sin(x)``, ``x @ W``, ``x[1:]``, ``x.sum(axis=0)``,
``x > 0``) reaches :mod:`adops.numpy_api` through this class, so the two modes accept exactly the
same programs.

Mutation follows numpy's semantics (docs/ARCHITECTURE.md, "Copies, views and in-place updates"):

- ``x[i] = v``, ``x += v``, ``x.sort()`` update the *object* ``x`` (a functional update
  underneath: ops never write into arrays a derivative needs), so every name bound to it sees
  the change, as with ndarrays. ``x.copy()`` and ``np.copy(x)`` are new objects.
- A result numpy makes as a view (basic indexing, reshape, transpose, ravel, ``.T``...) stays
  linked to its base: a write through the view is written back into the base, and a view read
  after its base was written sees the write. Whether a result is a view is decided as numpy
  decides it: by whether numpy's result shares memory with its input.
- Read-only views (``np.broadcast_to``, ``np.diagonal``) refuse writes, as numpy does. 0-d
  results behave as numpy scalars: ``s += 1`` rebinds ``s``.
"""
from __future__ import annotations

import numpy as np

from . import numpy_api as api
from .fpstate import user_errstate_is_quiet
from .levels import TracedBase, leaked


class ViewLink:
    """How a traced view was made from its base: ``op(base, **params)`` at ``base_version``."""

    __slots__ = ("base", "op", "params", "base_version")

    def __init__(self, base, op, params, base_version):
        self.base, self.op, self.params, self.base_version = base, op, params, base_version


def bottom(x):
    """The plain ndarray at the bottom of a value traced by one or more levels."""
    while isinstance(x, TracedBase):
        x = x._primal
    return x


class Traced(TracedBase):
    """A value that carries derivative information through numpy code (abstract)."""

    __slots__ = ("_view", "_version")
    __array_priority__ = 1000
    _mode = "a traced mode"

    # --- supplied by each mode -------------------------------------------------------
    @property
    def _primal(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _bind(cls, op, args, params, level):  # pragma: no cover - abstract
        raise NotImplementedError

    def _assign(self, new):  # pragma: no cover - abstract
        """Become ``new``: a value of this level, or a constant (plain or lower level)."""
        raise NotImplementedError

    # --- binding ops, with numpy's error state and views ------------------------------
    @classmethod
    def _apply(cls, op, args, params, level):
        """``cls._bind`` plus what numpy users rely on: their ``np.errstate`` for the primal (the
        kernels' own flags never reach it) and the view relation of the result."""
        if user_errstate_is_quiet():
            out = cls._bind(op, args, params, level)
        else:
            op.value(*[bottom(a) for a in args], **params)  # the primal, under the user's state
            with np.errstate(all="ignore"):
                out = cls._bind(op, args, params, level)
        if op.views and isinstance(out, Traced) and out.level is level:
            base = args[0]
            if isinstance(base, Traced) and base.level is level:
                o, b = bottom(out), bottom(base)
                if o.base is not None and np.may_share_memory(o, b):
                    out._view = ViewLink(base, op, params, base._version)
        return out

    @classmethod
    def _nondiff(cls, func, args, kwargs, level):
        """Evaluate a non-differentiable numpy call on this level's primals (reverse mode records
        the result as a replay guard). Values of lower levels stay traced: their own levels see
        the call next."""
        def strip(x):
            if isinstance(x, Traced) and x.level is level:
                return x._primal
            if isinstance(x, (list, tuple)):
                return type(x)(strip(v) for v in x)
            return x
        return func(*[strip(a) for a in args], **{k: strip(v) for k, v in kwargs.items()})

    # --- mutation: numpy's semantics -----------------------------------------------------
    def _refresh(self):
        """Bring a view up to date with its base (the base was written since the view was made)."""
        link = self._view
        base = link.base
        if not base.level.active:
            raise leaked(base)
        if base._view is not None:
            base._refresh()
        if base._version != link.base_version:
            self._assign(api.bind(link.op, base, **link.params))
            self._version += 1
            link.base_version = base._version

    def _write(self, new):
        """``self`` becomes ``new`` in place, and a view writes itself back into its base."""
        if not self.level.active:
            raise leaked(self)
        link = self._view
        if link is not None and link.op.writeback is None:
            raise ValueError(
                f"assignment destination is read-only: this traced array is a read-only view "
                f"made by {link.op.name} (as in numpy); write into a copy (y = x.copy()) instead")
        if isinstance(new, Traced) and new.level.number > self.level.number:
            raise ValueError(
                f"cannot write a value traced by {new.level.name} (an inner transform) into an "
                f"array traced by {self.level.name} (an outer one): the array would carry the "
                "inner derivative out of its transform; build a new array with np.where or "
                "np.concatenate instead")
        self._assign(new)
        self._version += 1
        if link is not None:
            base = link.base
            base._write(link.op.writeback(base, self, **link.params))
            link.base_version = base._version

    def __setitem__(self, index, value):
        if self._view is not None:
            self._refresh()
        self._write(api.setitem(type(self), self, index, value))

    def _inplace(self, func, other):
        if self._view is not None:
            self._refresh()
        new = api.handle_function(type(self), func, (self, other), {})
        if self.ndim == 0:  # numpy scalars are immutable: `s += 1` rebinds s
            return new
        new = new if isinstance(new, Traced) else np.asarray(new)
        if new.dtype != self.dtype:  # numpy keeps the destination's dtype
            new = new.astype(self.dtype)
        self._write(new)
        return self

    def __iadd__(self, o): return self._inplace(np.add, o)
    def __isub__(self, o): return self._inplace(np.subtract, o)
    def __imul__(self, o): return self._inplace(np.multiply, o)
    def __itruediv__(self, o): return self._inplace(np.divide, o)
    def __ipow__(self, o): return self._inplace(np.power, o)
    def __imatmul__(self, o): return self._inplace(np.matmul, o)
    def __imod__(self, o): return self._inplace(np.remainder, o)
    def __ifloordiv__(self, o): return self._inplace(np.floor_divide, o)

    def sort(self, axis=-1, kind=None, order=None):
        """In place, as ``ndarray.sort``."""
        self._write(np.sort(self, axis=axis))

    def fill(self, value):
        """In place, as ``ndarray.fill``: every entry becomes ``value`` (derivative 0)."""
        self._write(api.constant_like(self, value))

    def copy(self, order="C"):
        """A new traced array with this one's value (later writes to either stay apart)."""
        if self._view is not None:
            self._refresh()
        return self._copy()

    def _copy(self):  # pragma: no cover - abstract
        raise NotImplementedError

    __copy__ = copy

    def __deepcopy__(self, memo):
        return self.copy()

    # --- numpy protocols ---------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return api.handle_ufunc(type(self), ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return api.handle_function(type(self), func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        from .scipy.advice import advice  # names the replacement of a calling scipy function
        raise TypeError(
            f"np.asarray() of a traced {type(self).__name__} ({self._mode}) would drop its "
            "derivative (also when it is stored into a plain numpy array, z[i] = x): keep "
            "computing with numpy functions on it (build arrays from traced values with "
            "np.stack or np.concatenate, or write into np.zeros_like(x), which stays traced), "
            "and read values from what jvp/vjp/grad return. " + advice())

    def _no_scalar(self, kind):
        raise TypeError(
            f"{kind}() of a traced {type(self).__name__} ({self._mode}) would drop its "
            "derivative: keep it an array (use np.where instead of a Python branch on values, "
            "and return arrays from the function)")

    def __float__(self):
        self._no_scalar("float")

    def __int__(self):
        self._no_scalar("int")

    def __complex__(self):
        self._no_scalar("complex")

    def __index__(self):
        self._no_scalar("index")

    def item(self, *a):
        self._no_scalar("item")

    def tolist(self):
        self._no_scalar("tolist")

    def __getattr__(self, name):
        if not name.startswith("__") and hasattr(np.ndarray, name):
            instead = (f"use np.{name}(x) if adops supports it (adops.supported_functions(), "
                       "docs/SUPPORTED.md), or " if hasattr(np, name) else "")
            raise AttributeError(
                f"ndarray.{name} on a traced {type(self).__name__} ({self._mode}) is not "
                f"supported: {instead}compute it on the values the transform returns")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # --- attributes --------------------------------------------------------------------
    @property
    def shape(self):
        return self._primal.shape

    @property
    def ndim(self):
        return self._primal.ndim

    @property
    def size(self):
        return self._primal.size

    @property
    def dtype(self):
        return self._primal.dtype

    @property
    def nbytes(self):
        return bottom(self).nbytes

    @property
    def real(self):
        return self

    @property
    def imag(self):
        return np.zeros(self.shape, dtype=self.dtype)

    def conj(self):
        return self.copy()

    conjugate = conj

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        return bool(self._primal)

    def __round__(self, ndigits=None):
        return np.round(self, 0 if ndigits is None else ndigits)

    # --- arithmetic ----------------------------------------------------------------------
    def __add__(self, o): return api.handle_function(type(self), np.add, (self, o), {})
    def __radd__(self, o): return api.handle_function(type(self), np.add, (o, self), {})
    def __sub__(self, o): return api.handle_function(type(self), np.subtract, (self, o), {})
    def __rsub__(self, o): return api.handle_function(type(self), np.subtract, (o, self), {})
    def __mul__(self, o): return api.handle_function(type(self), np.multiply, (self, o), {})
    def __rmul__(self, o): return api.handle_function(type(self), np.multiply, (o, self), {})
    def __truediv__(self, o): return api.handle_function(type(self), np.divide, (self, o), {})
    def __rtruediv__(self, o): return api.handle_function(type(self), np.divide, (o, self), {})
    def __pow__(self, o): return api.handle_function(type(self), np.power, (self, o), {})
    def __rpow__(self, o): return api.handle_function(type(self), np.power, (o, self), {})
    def __matmul__(self, o): return api.handle_function(type(self), np.matmul, (self, o), {})
    def __rmatmul__(self, o): return api.handle_function(type(self), np.matmul, (o, self), {})
    def __mod__(self, o): return api.handle_function(type(self), np.remainder, (self, o), {})
    def __rmod__(self, o): return api.handle_function(type(self), np.remainder, (o, self), {})
    def __floordiv__(self, o): return api.handle_function(type(self), np.floor_divide, (self, o), {})
    def __rfloordiv__(self, o): return api.handle_function(type(self), np.floor_divide, (o, self), {})
    def __neg__(self): return api.handle_function(type(self), np.negative, (self,), {})
    def __pos__(self): return self
    def __abs__(self): return api.handle_function(type(self), np.absolute, (self,), {})

    # comparisons act on primals, so `if x > 0:` and np.where(x > 0, ...) work
    def __lt__(self, o): return api.handle_function(type(self), np.less, (self, o), {})
    def __le__(self, o): return api.handle_function(type(self), np.less_equal, (self, o), {})
    def __gt__(self, o): return api.handle_function(type(self), np.greater, (self, o), {})
    def __ge__(self, o): return api.handle_function(type(self), np.greater_equal, (self, o), {})
    def __eq__(self, o): return api.handle_function(type(self), np.equal, (self, o), {})
    def __ne__(self, o): return api.handle_function(type(self), np.not_equal, (self, o), {})
    __hash__ = None

    # --- indexing -------------------------------------------------------------------------
    def __getitem__(self, index):
        return api.getitem(type(self), self, index)

    # --- ndarray methods, each the numpy function of the same name --------------------------
    @property
    def T(self): return np.transpose(self)
    @property
    def mT(self): return np.swapaxes(self, -1, -2)
    def transpose(self, *axes):
        return np.transpose(self, axes[0] if len(axes) == 1 else (axes or None))
    def reshape(self, *shape, order="C"):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)
    def ravel(self, order="C"): return np.ravel(self, order)
    def flatten(self, order="C"): return np.ravel(self, order).copy()
    def squeeze(self, axis=None): return np.squeeze(self, axis)
    def swapaxes(self, a, b): return np.swapaxes(self, a, b)
    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return np.sum(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)
    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return np.mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)
    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return np.prod(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)
    def max(self, axis=None, out=None, keepdims=False, **kw): return np.max(self, axis=axis, out=out, keepdims=keepdims, **kw)
    def min(self, axis=None, out=None, keepdims=False, **kw): return np.min(self, axis=axis, out=out, keepdims=keepdims, **kw)
    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        return np.var(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, **kw)
    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        return np.std(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, **kw)
    def cumsum(self, axis=None, dtype=None, out=None): return np.cumsum(self, axis=axis, dtype=dtype, out=out)
    def cumprod(self, axis=None, dtype=None, out=None): return np.cumprod(self, axis=axis, dtype=dtype, out=out)
    def dot(self, o): return np.dot(self, o)
    def clip(self, a_min=None, a_max=None, **kw): return np.clip(self, a_min, a_max, **kw)
    def diagonal(self, offset=0, axis1=0, axis2=1): return np.diagonal(self, offset, axis1, axis2)
    def trace(self, offset=0, axis1=0, axis2=1): return np.trace(self, offset, axis1, axis2)
    def argmax(self, axis=None): return np.argmax(self, axis)
    def argmin(self, axis=None): return np.argmin(self, axis)
    def argsort(self, axis=-1): return np.argsort(self, axis)
    def nonzero(self): return np.nonzero(self)
    def any(self, axis=None, keepdims=False): return np.any(self, axis=axis, keepdims=keepdims)
    def all(self, axis=None, keepdims=False): return np.all(self, axis=axis, keepdims=keepdims)
    def round(self, decimals=0): return np.round(self, decimals)
    def take(self, indices, axis=None): return np.take(self, indices, axis)
    def repeat(self, repeats, axis=None): return np.repeat(self, repeats, axis)

    def astype(self, dtype, copy=True):
        """float32/float64: a differentiable cast (a copy, as numpy's ``copy=True``); int and
        bool: numpy's values, with derivative 0 (a plain array); complex: refused."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self.copy() if copy else self
        if dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            return api.bind(api.OPS["cast"], self, dtype=dtype, source=self.dtype)
        if dtype == bool or np.issubdtype(dtype, np.integer):
            return api.handle_function(type(self), api.astype_values, (self, dtype), {})
        raise TypeError(f"astype({dtype}) of a traced array is not supported in {self._mode}: "
                        "traced values are float32 or float64 (cast to one of those, or to an "
                        "integer/bool type for a non-differentiable value)")
