"""The route table: which handler serves each numpy callable on traced arrays.

Contract: ``ROUTES[f]`` is ``handler(cls, *args, **kwargs)`` for the numpy callable ``f`` and the
traced class ``cls`` (``dualad.Dual``, ``revad.Var``); it returns traced or plain results.
``NONDIFF`` holds the callables evaluated on primals only. Every registered op routes its own
``op.numpy`` callables to itself (a handler with an ``op`` attribute), unless a handler written
with :func:`implements` serves them. ``DISPLAY_NAMES`` and ``INSTEAD`` feed the error messages.

The tables are filled only through this module's registration calls, :func:`route` (or the
decorator :func:`implements`), :func:`route_method`, :func:`nondiff`, :func:`display_as` and
:func:`instead`, so every handler module registers the same way and no module writes another's
table.
"""
from __future__ import annotations

import numpy as np

from ..ops import registry
from ..core.levels import bind
from ..ops.registry import OPS

#: numpy callable -> handler(cls, *args, **kwargs); handler returns traced or plain results
ROUTES: dict = {}
#: numpy callables evaluated on primals only (no derivative flows through them)
NONDIFF: set = set()
#: names for callables that do not carry their own (scipy's ufuncs have no ``__module__``)
DISPLAY_NAMES: dict = {}
#: what to use instead of an unsupported callable, for its error message
INSTEAD: dict = {}
#: ufunc name -> the numpy callable ``ufunc.reduce`` means (``np.add.reduce`` is ``np.sum``)
REDUCE_METHODS: dict = {"add": np.sum, "multiply": np.prod, "maximum": np.max, "minimum": np.min}
#: ufunc name -> the numpy callable ``ufunc.accumulate`` means (``np.add.accumulate``: ``cumsum``)
ACCUMULATE_METHODS: dict = {"add": np.cumsum}


def route(func, handler):
    """Route the numpy callable ``func`` to ``handler(cls, *args, **kwargs)``; returns ``handler``.

    The one way a handler module fills the route table (:func:`implements` is its decorator).
    """
    ROUTES[func] = handler
    return handler


def implements(*funcs):
    """Route numpy callables ``funcs`` to the decorated handler ``handler(cls, *args, **kw)``."""
    def deco(handler):
        for f in funcs:
            route(f, handler)
        return handler
    return deco


def route_method(method: str, ufunc_name: str, func) -> None:
    """Make ``np.<ufunc_name>.<method>`` (``method``: ``"reduce"`` or ``"accumulate"``) mean the
    routed numpy callable ``func`` (``route_method("accumulate", "multiply", np.cumprod)``)."""
    {"reduce": REDUCE_METHODS, "accumulate": ACCUMULATE_METHODS}[method][ufunc_name] = func


def display_as(func, name: str):
    """Show ``func`` as ``name`` in messages and listings (for callables without a numpy
    ``__module__``: scipy's ufuncs, ufunc methods); returns ``func``."""
    DISPLAY_NAMES[func] = name
    return func


def instead(advice: dict) -> None:
    """Record, per unsupported callable, what to use instead (shown in its ``TypeError``)."""
    INSTEAD.update(advice)


def nondiff(*funcs):
    """Evaluate the numpy callables ``funcs`` on primals only (their results carry no derivative)."""
    NONDIFF.update(funcs)


def display_name(f) -> str:
    """The name a user knows ``f`` by: ``numpy.sin``, ``numpy.linalg.inv``, ``scipy.special.erf``."""
    if f in DISPLAY_NAMES:
        return DISPLAY_NAMES[f]
    mod = getattr(f, "__module__", None) or "numpy"
    if mod.startswith("numpy"):
        mod = "numpy.linalg" if "linalg" in mod else "numpy"
    return f"{mod}.{getattr(f, '__name__', repr(f))}"


def unsupported(what: str, mode: str, why: str = "") -> TypeError:
    return TypeError(
        f"{what} is not supported in {mode}{': ' + why if why else ''}. The supported numpy "
        "functions are listed by adops.supported_functions() and in docs/SUPPORTED.md; "
        "register a new op with adops.defop or adops.deflinear.")


def no_out(cls, name, out=None, where=None):
    """Refuse numpy's ``out=`` (it would overwrite a value) and ``where=`` arguments of ``name``."""
    if out is not None:
        raise TypeError(f"numpy.{name}(..., out=...) is not supported in {cls._mode}: "
                        "assign the result instead")
    if where is not None and where is not True:
        raise unsupported(f"numpy.{name}(..., where=...)", cls._mode, "mask with np.where first")


# ------------------------------------------------------------------ ops route themselves
def _route_op(op, strict=True):
    """Route ``op.numpy`` to ``op``. A user op may not take over a numpy function another op
    already handles (refused, with the way out), so no route changes silently."""
    if strict:
        for f in op.numpy:
            if f in ROUTES or f in NONDIFF:
                owner = getattr(ROUTES.get(f), "op", None)
                what = f"the op {owner.name!r}" if owner is not None else "a built-in handler"
                raise ValueError(
                    f"{display_name(f)} already routes to {what}; op {op.name!r} cannot take it "
                    f"over. Call your op directly with adops.call({op.name!r}, ...), or "
                    "unregister the user op that holds the route first")
    for f in op.numpy:
        if f not in ROUTES:
            route(f, _direct_handler(op))


def _direct_handler(op):
    def handler(cls, *args):
        return bind(op, *args)
    handler.op = op
    return handler


def _unroute_op(op):
    for f in op.numpy:
        if getattr(ROUTES.get(f), "op", None) is op:
            del ROUTES[f]


registry.on_register(_route_op, _unroute_op)
for _op in list(OPS.values()):
    _route_op(_op, strict=False)
