"""The traced-array base class: numpy's protocols and the operator dunders, written once.

``dualad.Dual`` (forward) and ``revad.Var`` (reverse) subclass :class:`Traced` and supply three
things: ``_primal`` (the value, an ndarray of shape ``(*shape)``), ``_mode`` (a name for errors)
and ``_bind(op, args, params)``, which applies an op of :mod:`adops` to a mix of traced and
constant arguments. Everything a user writes with numpy (``np.sin(x)``, ``x @ W``, ``x[1:]``,
``x.sum(axis=0)``, ``x > 0``) reaches :mod:`adops.numpy_api` through this class, so the two
modes accept exactly the same programs.
"""
from __future__ import annotations

import numpy as np

from . import numpy_api as api


class Traced:
    """A value that carries derivative information through numpy code (abstract)."""

    __slots__ = ()
    __array_priority__ = 1000
    _mode = "a traced mode"

    # --- supplied by each mode -------------------------------------------------------
    @property
    def _primal(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _bind(cls, op, args, params):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _nondiff(cls, func, args, kwargs):
        """Evaluate a non-differentiable numpy call on primals (reverse mode records branches)."""
        return func(*[_strip(a) for a in args], **{k: _strip(v) for k, v in kwargs.items()})

    # --- numpy protocols ---------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return api.handle_ufunc(type(self), ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return api.handle_function(type(self), func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"np.asarray() of a traced {type(self).__name__} ({self._mode}) would drop its "
            "derivative: keep computing with numpy functions on it (build arrays from traced "
            "values with np.stack or np.concatenate, not np.array([...])), and read values "
            "from what jvp/vjp/grad return")

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

    def __len__(self):
        if self._primal.ndim == 0:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return len(self._primal)

    def __iter__(self):
        if self._primal.ndim == 0:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(len(self._primal)))

    def __bool__(self):
        return bool(self._primal)

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

    def __setitem__(self, index, value):
        self._assign(api.setitem(type(self), self, index, value))

    def _assign(self, new):  # pragma: no cover - abstract
        """Become ``new`` (a functional update of self), used by ``x[i] = v``."""
        raise NotImplementedError

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
    def flatten(self, order="C"): return np.ravel(self, order)
    def squeeze(self, axis=None): return np.squeeze(self, axis)
    def swapaxes(self, a, b): return np.swapaxes(self, a, b)
    def sum(self, axis=None, keepdims=False, **kw): return np.sum(self, axis=axis, keepdims=keepdims, **kw)
    def mean(self, axis=None, keepdims=False, **kw): return np.mean(self, axis=axis, keepdims=keepdims, **kw)
    def prod(self, axis=None, keepdims=False, **kw): return np.prod(self, axis=axis, keepdims=keepdims, **kw)
    def max(self, axis=None, keepdims=False, **kw): return np.max(self, axis=axis, keepdims=keepdims, **kw)
    def min(self, axis=None, keepdims=False, **kw): return np.min(self, axis=axis, keepdims=keepdims, **kw)
    def var(self, axis=None, ddof=0, keepdims=False): return np.var(self, axis=axis, ddof=ddof, keepdims=keepdims)
    def std(self, axis=None, ddof=0, keepdims=False): return np.std(self, axis=axis, ddof=ddof, keepdims=keepdims)
    def cumsum(self, axis=None): return np.cumsum(self, axis=axis)
    def dot(self, o): return np.dot(self, o)
    def clip(self, a_min=None, a_max=None): return np.clip(self, a_min, a_max)
    def diagonal(self, offset=0, axis1=0, axis2=1): return np.diagonal(self, offset, axis1, axis2)
    def trace(self, offset=0, axis1=0, axis2=1): return np.trace(self, offset, axis1, axis2)
    def copy(self): return self
    def argmax(self, axis=None): return np.argmax(self, axis)
    def argmin(self, axis=None): return np.argmin(self, axis)
    def argsort(self, axis=-1): return np.argsort(self, axis)
    def round(self, decimals=0): return np.round(self, decimals)
    def take(self, indices, axis=None): return np.take(self, indices, axis)
    def repeat(self, repeats, axis=None): return np.repeat(self, repeats, axis)
    def astype(self, dtype, copy=True):
        if np.dtype(dtype) == self.dtype:
            return self
        raise TypeError(f"astype({np.dtype(dtype)}) of a traced array is not supported in "
                        f"{self._mode}: the dtype is fixed when differentiation starts "
                        "(float32 stays float32, everything else is float64)")


def _strip(x):
    if isinstance(x, Traced):
        return x._primal
    if isinstance(x, (list, tuple)):
        return type(x)(_strip(v) for v in x)
    return x
