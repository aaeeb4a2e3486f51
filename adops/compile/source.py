"""Generated source text: lines with their indentation (:class:`Source`) and scalar constants
written into it in the program's dtype (:func:`literal`), for the fused loops
(:mod:`adops.compile.loops`), the Python driver (:mod:`adops.compile.codegen`) and the whole
programs (:mod:`adops.compile.whole`).
"""
from __future__ import annotations

import numpy as np


def literal(r, dtype=None):
    """A Python or numpy scalar constant as source text (baked into the loop), else None.

    In a float32 loop a Python number is written as a float32 (numpy 2 keeps
    ``float32_array * 0.1`` in float32; numba would compute it in float64), a numpy float64
    scalar stays float64 (numpy promotes with it too).

    >>> from adops.program.tape import Const
    >>> literal(Const(0.1), "float32"), literal(Const(np.float64(0.1)), "float32")
    ('np.float32(0.1)', '0.1')
    """
    if type(r) is int:
        return None
    v = r.value
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        weak = type(v) in (int, float)
        v = float(v)
        if v != v:
            text = "np.nan"
        elif v in (float("inf"), float("-inf")):
            text = "np.inf" if v > 0 else "(-np.inf)"
        else:
            text = repr(v)
        return f"np.float32({text})" if weak and str(dtype) == "float32" else text
    return None


class Source:
    """Lines of generated code with indentation."""

    def __init__(self):
        self.lines = []

    def __call__(self, line, depth=0):
        self.lines.append("    " * depth + line)

    def text(self):
        return "\n".join(self.lines) + "\n"
