"""adops: the one op set both AD modes share.

Every differentiable operation is defined here exactly once, as a primal and its local partials
(elementwise ops, :mod:`adops.elementwise`), a linear map and its transpose (structural ops,
:mod:`adops.linear`), or a nonlinear reduction with its partial (:mod:`adops.reductions`).
``op.linearize(*xs, **params) -> (out, lin)`` is the only derivative entry point; forward mode
calls ``lin.jvp(x_dots)`` with tangents ``(k, *x.shape)``, reverse mode ``lin.vjp(out_bar)`` with
cotangents ``(m, *out.shape)``.

>>> import adops
>>> len(adops.OPS) >= 60
True
"""
from .registry import (OPS, ONE, NEG_ONE, Arg, Op, ElementwiseOp, LinearOp, BilinearOp,
                       ReduceOp, RuleOp, defop, deflinear, defbilinear, defreduce, defrule,
                       strong_mul)
from . import elementwise, linear, reductions, special, linalg  # noqa: F401  (the op set)
from . import linalg_routes, composites, statistics, numerics  # noqa: F401  (numpy handlers)
from . import scipy  # noqa: F401,E402  (adops.scipy: stats, special, integrate; issue 20)
from .registry import unregister

for _op in OPS.values():
    _op.builtin = True
from .numpy_api import supported_functions, supported_table, call, bind
from .traced import Traced
from .kernels import smul, unbroadcast, select
from .levels import Level, LeakedTracer

__all__ = ["OPS", "ONE", "NEG_ONE", "Arg", "Op", "ElementwiseOp", "LinearOp", "BilinearOp",
           "ReduceOp", "RuleOp", "unregister", "defop", "deflinear", "defbilinear", "defreduce",
           "defrule", "supported_functions", "supported_table", "call", "bind", "Traced", "smul",
           "unbroadcast", "select", "strong_mul", "Level", "LeakedTracer"]
