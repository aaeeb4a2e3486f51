"""Arguments a transform declares static (``static_argnums`` / ``static_argnames``, as ``jax.jit``).

Contract: :class:`Static` names positions and parameter names; :meth:`Static.resolve` maps them
onto a call's positions and keyword names through ``f``'s signature. The compiled tier keys such
arguments by hash and equality (:mod:`adops.compile.arguments`); trees move them to their flat
positions (:mod:`adops.program.tree`).
"""
from __future__ import annotations

import inspect

import numpy as np


class Static:
    """The arguments a transform declares static (``static_argnums``, ``static_argnames``, as
    ``jax.jit``): keyed by hash and equality, so each new value traces again. A name or a
    position also covers the same parameter passed the other way (read from ``f``'s signature).

    Example:
        >>> Static(1).resolve(["x", "n"], 2), Static(argnames="n").resolve(["x", "n"], 2)
        ((frozenset({1}), frozenset({'n'})), (frozenset({1}), frozenset({'n'})))
    """

    __slots__ = ("argnums", "argnames")

    def __init__(self, argnums=(), argnames=()):
        self.argnums = (argnums,) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
        self.argnames = (argnames,) if isinstance(argnames, str) else tuple(argnames)
        for a in self.argnums:
            if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
                raise TypeError(f"static_argnums must be an int or a tuple of ints (positions "
                                f"of arguments keyed by value), got {argnums!r}")
        for a in self.argnames:
            if not isinstance(a, str):
                raise TypeError(f"static_argnames must be a str or a tuple of str (names of "
                                f"keyword arguments keyed by value), got {argnames!r}")

    def __bool__(self):
        return bool(self.argnums or self.argnames)

    def resolve(self, params, nargs: int):
        """``(positions, names)`` of the static arguments of a call with ``nargs`` positional
        arguments, for a function whose positional parameters are named ``params``."""
        positions = {int(a) % nargs for a in self.argnums if -nargs <= a < nargs}
        positions |= {params.index(n) for n in self.argnames
                      if n in params and params.index(n) < nargs}
        names = set(self.argnames) | {params[a] for a in self.argnums
                                      if 0 <= a < len(params)}
        return frozenset(positions), frozenset(names)


NO_STATIC = Static()


def positional_parameters(f) -> list:
    """Names of ``f``'s parameters that can be passed by position ([] when unknown)."""
    try:
        ps = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
