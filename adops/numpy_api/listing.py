"""Listing: every numpy callable a traced array accepts, by kind, and the ops behind them
(``adops.supported_functions()``; docs/SUPPORTED.md is generated from :func:`supported_table`).
"""
from __future__ import annotations

from ..ops.registry import OPS
from .routes import NONDIFF, ROUTES, display_name


def supported_functions() -> dict:
    """Every numpy callable a traced array accepts, by kind.

    Returns:
        ``{"op": {numpy name: op name}, "composite": [names], "non-differentiable": [names]}``.

    Example:
        >>> import adops
        >>> "numpy.sin" in adops.supported_functions()["op"]
        True
    """
    ops, composite = {}, []
    for f, h in ROUTES.items():
        op = getattr(h, "op", None)
        if op is not None:
            ops[display_name(f)] = op.name
        else:
            composite.append(display_name(f))
    return {"op": dict(sorted(ops.items())), "composite": sorted(set(composite)),
            "non-differentiable": sorted({display_name(f) for f in NONDIFF})}


def supported_table() -> str:
    """The supported-functions list as a Markdown table (docs/SUPPORTED.md is generated from it)."""
    s = supported_functions()
    lines = ["| numpy function | kind | op |", "|---|---|---|"]
    lines += [f"| `{k}` | op | `{v}` |" for k, v in s["op"].items()]
    lines += [f"| `{k}` | composite of ops | |" for k in s["composite"]]
    lines += [f"| `{k}` | not differentiable (evaluated on primals) | |"
              for k in s["non-differentiable"]]
    lines += ["", "## The ops and their rules", "", "| op | kind | rule |", "|---|---|---|"]
    lines += [f"| `{name}` | {type(op).__name__} | {op.doc.replace('|', '/')} |"
              for name, op in sorted(OPS.items()) if getattr(op, "builtin", False)]
    return "\n".join(lines) + "\n"
