"""Protocol entry: where a numpy call on traced arrays arrives and which route it takes.

A traced array (``dualad.Dual``, ``revad.Var``) sends every numpy call here through numpy's
protocols (``__array_ufunc__`` -> :func:`handle_ufunc`, ``__array_function__`` and the operator
dunders -> :func:`handle_function`). The call then becomes, by the route table
(:mod:`adops.numpy_api.routes`):

- a non-differentiable call (``NONDIFF``), evaluated on the primals (:func:`nondiff_call`);
- the call of its handler in ``ROUTES``: an op bound by the mode, or a composite of other calls;
- otherwise a ``TypeError`` that names the function, the mode and what to use instead.

Ufunc methods are the numpy function of the same meaning (``np.add.reduce`` -> ``np.sum``):
``REDUCE_METHODS`` and ``ACCUMULATE_METHODS`` of :mod:`adops.numpy_api.routes`, by ufunc name.
"""
from __future__ import annotations

import numpy as np

from ..core.levels import TracedBase, bind, top_tracer
from ..ops.registry import OPS
from .routes import ACCUMULATE_METHODS, INSTEAD, NONDIFF, REDUCE_METHODS, ROUTES, display_name, unsupported


def handle_ufunc(cls, ufunc, method, inputs, kwargs):
    """``__array_ufunc__`` for traced class ``cls``."""
    if kwargs.get("out") is not None:
        raise TypeError(
            f"in-place numpy.{ufunc.__name__}(..., out=...) on a traced array is not supported in "
            f"{cls._mode}: it would overwrite a value the derivative needs; write "
            f"y = np.{ufunc.__name__}(...) instead")
    extra = {k: v for k, v in kwargs.items() if k != "out"}
    if method in ("reduce", "accumulate"):
        extra.setdefault("axis", 0)  # ufunc methods reduce axis 0 unless told otherwise
    if method == "reduce" and ufunc.__name__ in REDUCE_METHODS:
        return handle_function(cls, REDUCE_METHODS[ufunc.__name__], inputs, extra)
    if method == "accumulate" and ufunc.__name__ in ACCUMULATE_METHODS:
        return handle_function(cls, ACCUMULATE_METHODS[ufunc.__name__], inputs, extra)
    if method != "__call__":
        raise unsupported(f"numpy.{ufunc.__name__}.{method}", cls._mode)
    if extra.get("dtype") is not None or extra.get("where", True) is not True:
        raise unsupported(f"numpy.{ufunc.__name__} with dtype= or where=", cls._mode,
                          "cast the result instead")
    return handle_function(cls, ufunc, inputs,
                           {k: extra[k] for k in ("axis", "axes", "keepdims") if k in extra})


def handle_function(cls, func, args, kwargs):
    """``__array_function__`` (and ufunc calls) for traced class ``cls``."""
    if func in NONDIFF:
        return nondiff_call(func, args, kwargs)
    handler = ROUTES.get(func)
    if handler is None:
        raise unsupported(display_name(func), cls._mode, INSTEAD.get(func, ""))
    return handler(cls, *args, **kwargs)


def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def nondiff_call(func, args, kwargs):
    """A non-differentiable call: evaluated on primals, level by level (reverse mode records its
    result as a replay guard)."""
    top = top_tracer(list(_flat(args)) + list(_flat(kwargs.values())))
    if top is None:
        return func(*args, **kwargs)
    return type(top)._nondiff(func, args, kwargs, top.level)


def call(name: str, *args, **params):
    """Apply the registered op ``name``: ``adops.call('sin', x)`` works on Dual, Var or arrays.

    Example:
        >>> import numpy as np, adops
        >>> adops.call("sin", np.zeros(2)).tolist()
        [0.0, 0.0]
    """
    return bind(OPS[name], *args, **params)


def primal(x):
    """The value of a traced array one level down (itself traced when levels nest), or ``x``."""
    return x._primal if isinstance(x, TracedBase) else x
