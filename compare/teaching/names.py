"""Names and numbers on the teaching pictures: a value as short text, a function's argument names,
each entry's name.

Shared by :mod:`compare.teaching.graph` and :mod:`compare.teaching.jacobians`.
"""
from __future__ import annotations

import inspect

import numpy as np


def fmt(v) -> str:
    """A short, readable rendering of a value.

    Example:
        >>> fmt(0.1 + 0.2), fmt(np.arange(2.0)), fmt(np.arange(6.0))
        ('0.3', '[0, 1]', 'shape (6,): [0, 1, 2, 3, ...]')
    """
    if v is None:
        return "-"
    a = np.asarray(v, dtype=float)
    if a.ndim == 0 or a.size == 1:
        return f"{float(a.ravel()[0]):.6g}"
    if a.ndim == 1 and a.size <= 4:
        return "[" + ", ".join(f"{x:.4g}" for x in a) + "]"
    flat = ", ".join(f"{x:.4g}" for x in a.ravel()[:4])
    return f"shape {a.shape}: [{flat}{', ...' if a.size > 4 else ''}]"


def arg_names(f, nargs: int) -> list:
    """The names of ``f``'s first ``nargs`` positional parameters (``x<i>`` past them).

    Example:
        >>> arg_names(lambda w, b: w * b, 2), arg_names(lambda *xs: 0, 2)
        (['w', 'b'], ['x0', 'x1'])
    """
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        names.append(p.name)
    return (names + [f"x{i}" for i in range(len(names), nargs)])[:nargs]



def entry_names(names, shapes) -> list:
    """Each entry's name: ``x`` for a scalar, ``x[0]``, ``w[1, 2]`` for arrays.

    Example:
        >>> entry_names(["x", "w"], [(), (2,)])
        ['x', 'w[0]', 'w[1]']
    """
    out = []
    for name, shape in zip(names, shapes):
        out += ([name] if shape == () else
                [f"{name}[{', '.join(map(str, idx))}]" for idx in np.ndindex(*shape)])
    return out


def point_text(f, args) -> str:
    """The evaluation point as text, each argument by its parameter's name.

    Example:
        >>> point_text(lambda x, y: x * y, (1.0, np.array([2.0, 3.0])))
        'x = 1, y = [2, 3]'
    """
    return ", ".join(f"{name} = {fmt(a)}" for name, a in zip(arg_names(f, len(args)), args))
