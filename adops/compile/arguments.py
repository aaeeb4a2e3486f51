"""How a compiled function's arguments enter its signature: inputs, keyed by value, static, eager.

Contract (the rules :mod:`adops.compile` documents): an argument is an *input* (a float array:
new values run the same program), *keyed by value* (numbers, strings and containers of them;
other arrays by shape, dtype and content), *static* (callables by identity; arguments declared
with ``static_argnums`` / ``static_argnames`` by hash and equality), or it makes the call run
eagerly (:class:`RunEagerly`).
"""
from __future__ import annotations

import copy
import hashlib

import numpy as np

from ..core.levels import TracedBase


class RunEagerly(Exception):
    """This call cannot use the compiled tier; the transform runs it eagerly (same numbers).
    ``reason`` is the warning to give once per function (None: nothing to warn about, e.g. a
    value traced by an outer transform, where running eagerly is how nesting works)."""

    def __init__(self, reason=None):
        super().__init__(reason)
        self.reason = reason


class EagerFallbackWarning(UserWarning):
    """A compiled transform ran a call eagerly: an argument the compiled tier cannot key."""


class _Identity:
    """A callable argument as a signature key: by identity, keeping it alive with the key (an
    ``id`` alone could be reused by a new function)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return type(other) is _Identity and other.obj is self.obj


def value_key(v, where: str):
    """The signature key of an argument that is not an input: numbers, strings and containers
    of them by value (recursively), arrays by shape, dtype and content, callables by identity.

    Raises:
        RunEagerly: anything else (an object whose attributes could change unseen), or a value
            traced by an outer transform.

    Example:
        >>> value_key([1, (2.0, "a")], "argument 1") == value_key([1, (2.0, "a")], "x")
        True
        >>> value_key(0.0, "x") == value_key(-0.0, "x")
        False
    """
    t = type(v)
    if isinstance(v, np.ndarray):
        return (t, v.shape, v.dtype.str, hashlib.sha1(np.ascontiguousarray(v)).digest())
    if isinstance(v, np.generic):
        return (t, v.dtype.str, v.tobytes())
    if t is float:
        return (t, v.hex())
    if t is complex:
        return (t, v.real.hex(), v.imag.hex())
    if t in (bool, int, str, bytes, type(None), type(Ellipsis)):
        return (t, v)
    if isinstance(v, (tuple, list)):
        return (t, tuple(value_key(e, f"{where}[{j}]") for j, e in enumerate(v)))
    if isinstance(v, dict):
        return (t, tuple((value_key(k, where), value_key(e, f"{where}[{k!r}]"))
                         for k, e in v.items()))
    if isinstance(v, TracedBase):
        raise RunEagerly()
    if callable(v):
        return ("callable", _Identity(v))
    raise RunEagerly(
        f"{where} is of type {t.__name__}, which the compiled tier cannot key by value (its "
        "attributes could change between calls unseen), so the call runs eagerly (the same "
        "numbers, without compiled code). Declare it static (static_argnums / static_argnames; "
        "keyed by hash and equality, a new value traces again) or pass the numbers it holds as "
        "arrays or containers of numbers")


def static_key(v, where: str):
    """The signature key of an argument declared static: by hash and equality."""
    try:
        hash(v)
    except TypeError:
        raise TypeError(
            f"{where} is declared static (static_argnums / static_argnames) but a "
            f"{type(v).__name__} is not hashable: static arguments are keyed by hash and "
            "equality, as with jax.jit. Pass a hashable value (a tuple instead of a list), or "
            "do not declare it static (containers of numbers are keyed by value, float arrays "
            "are inputs)") from None
    return ("static", type(v), v)


def private_copy(v):
    """A copy of an argument keyed by value that the caller cannot change under a program (its
    arrays are the program's constants): arrays and containers copied, other values kept.

    Example:
        >>> a = [np.zeros(1)]; b = private_copy(a); a[0][0] = 1.0; b[0].tolist()
        [0.0]
    """
    if isinstance(v, np.ndarray):
        return v.copy()
    if type(v) in (list, tuple):
        return type(v)(private_copy(e) for e in v)
    if type(v) is dict:
        return {k: private_copy(e) for k, e in v.items()}
    if isinstance(v, (list, tuple, dict)):  # a subclass (a namedtuple...): its own copy
        return copy.deepcopy(v)
    return v


def is_input(v) -> bool:
    return isinstance(v, (np.ndarray, np.floating)) and np.issubdtype(np.asarray(v).dtype,
                                                                         np.floating)
