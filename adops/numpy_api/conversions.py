"""Traced values turned into plain numbers or arrays: the messages, and the transforms' door.

A traced value cannot become a Python float or a plain ndarray without dropping its derivative.
Each way in raises a :class:`TracedConversionError` (a TypeError) naming the construct and the
way out:

- ``float(x)``, ``int(x)``, ``math.sin(x)`` (any ``math`` function calls ``float``): the
  message names the numpy function of the same name when the calling line uses one
  (``math.sin cannot take a traced value; use np.sin``);
- ``np.asarray(x)`` and slice stores ``z[a:b] = x`` (numpy calls ``__array__``);
- item stores ``z[i] = x``: numpy calls ``float(x)`` and, since a traced value is a sequence to
  it, replaces the error with its bare ``ValueError: setting an array element with a
  sequence`` (ours only in ``__cause__``). :func:`call_traced`, through which every transform
  calls the user's function, raises the clear message instead, with the user's traceback.
"""
from __future__ import annotations

import linecache
import math
import re
import sys

import numpy as np

from .advice import advice


class TracedConversionError(TypeError):
    """A traced value was turned into a plain number or array (see module doc)."""

    def __init__(self, message, traced=None):
        super().__init__(message)
        self.traced = traced


def _what(x) -> str:
    return f"a value traced by {x._mode}"


def store_message(x) -> str:
    """Storing ``x`` into a plain ndarray, ``z[i] = x`` or ``z[a:b] = x``."""
    return (f"z[i] = x stores {_what(x)} into a plain numpy array, which would drop its "
            "derivative: make z traced instead: write into np.zeros_like(x) or a copy of a "
            "traced array (z = x.copy()), which stay traced, or build z from traced values with "
            "np.stack or np.concatenate; read values from what jvp/vjp/grad return")


def array_message(x) -> str:
    """``np.asarray(x)``, and slice stores into a plain array."""
    return (f"np.asarray() of {_what(x)} would drop its derivative (also when it is stored "
            "into a plain numpy array, z[i] = x or z[a:b] = x): keep computing with numpy "
            "functions on it (build arrays from traced values with np.stack or np.concatenate, "
            "or write into np.zeros_like(x) or z = x.copy(), which stay traced), and read "
            "values from what jvp/vjp/grad return. " + advice())


_MATH_CALL = re.compile(r"\bmath\.(\w+)\s*\(")
_OWN_PACKAGES = ("adops", "dualad", "revad")


def _calling_line() -> str:
    """The source line of the first frame outside this toolkit (the user's call)."""
    frame = sys._getframe(1)
    while frame is not None and \
            frame.f_globals.get("__name__", "").split(".")[0] in _OWN_PACKAGES:
        frame = frame.f_back
    if frame is None:
        return ""
    return linecache.getline(frame.f_code.co_filename, frame.f_lineno)


def scalar_message(x, kind: str) -> str:
    """``float(x)``, ``int(x)``... of a traced value; ``math.f(x)`` names ``np.f``."""
    tail = ("keep it an array: use np.where instead of a Python branch on values, numpy "
            "functions instead of math's, and return arrays from the function")
    if kind == "float":
        for name in _MATH_CALL.findall(_calling_line()):
            if hasattr(math, name):
                alt = {"fabs": "abs", "pow": "power", "fsum": "sum", "atan2": "arctan2",
                       "asin": "arcsin", "acos": "arccos", "atan": "arctan",
                       "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh",
                       "lgamma": None, "gamma": None, "erf": None, "erfc": None}.get(name, name)
                if alt is not None and hasattr(np, alt):
                    use = f"use np.{alt}, which takes traced values"
                elif name in ("lgamma", "gamma", "erf", "erfc"):
                    use = ("use scipy.special." + {"lgamma": "gammaln"}.get(name, name)
                           + ", which takes traced values")
                else:
                    use = "use the numpy function of the same name"
                return (f"math.{name} cannot take {_what(x)}: it converts its argument to a "
                        f"Python float, which would drop the derivative; {use}")
    math_hint = (" (math.sin(x) and the other math functions call float(): use the numpy "
                 "function of the same name, np.sin for math.sin)" if kind == "float" else "")
    return f"{kind}() of {_what(x)} would drop its derivative{math_hint}; {tail}"


def call_traced(f, args, kwargs):
    """``f(*args, **kwargs)``, with numpy's bare item-store error replaced by the clear one
    (see module doc)."""
    try:
        return f(*args, **kwargs)
    except ValueError as e:
        cause = e.__cause__
        if isinstance(cause, TracedConversionError) and cause.traced is not None and \
                "setting an array element" in str(e):
            raise TracedConversionError(store_message(cause.traced), cause.traced) \
                .with_traceback(e.__traceback__) from None
        raise
