"""adops: the one op set both AD modes share, and numpy on traced arrays; its public names.

Every differentiable operation is defined here exactly once, as a primal and its local partials
(elementwise ops, :mod:`adops.ops.elementwise`), a linear map and its transpose (structural ops,
:mod:`adops.ops.linear`), a nonlinear reduction with its partial (:mod:`adops.ops.reductions`)
or a rule (:mod:`adops.ops.linalg`). ``op.linearize(*xs, **params) -> (out, lin)`` is the only
derivative entry point; forward mode calls ``lin.jvp(x_dots)`` with tangents ``(k, *x.shape)``,
reverse mode ``lin.vjp(out_bar)`` with cotangents ``(m, *out.shape)``.

Layers, lowest first (each imports only from those below it; ``tests/test_layout.py`` checks):
:mod:`adops.core` (levels, floating-point state, kernels), :mod:`adops.ops` (the op set),
:mod:`adops.numpy_api` (dispatch, routes, handlers, the traced array), :mod:`adops.program`
(the recorded program, inputs, transform drivers), then :mod:`adops.compile` and
:mod:`adops.sparsity`. No module of adops imports a mode.

>>> import adops
>>> len(adops.OPS) >= 60
True
"""
import sys as _sys

from .ops.registry import OPS, ONE, NEG_ONE, Arg, Op, ElementwiseOp, defop, strong_mul, unregister
from .ops.kinds import (LinearOp, BilinearOp, ReduceOp, RuleOp, deflinear, defbilinear, defreduce,
                        defrule)
from .ops import elementwise, linear, reductions, special, linalg  # noqa: F401  (the op set)
from .ops import einsum_spec  # noqa: F401
from .core import fpstate, kernels, levels  # noqa: F401
from .ops import registry  # noqa: F401
from . import numpy_api  # noqa: F401  (every numpy handler, routed)

from .numpy_api import supported_functions, supported_table, call, bind
from .numpy_api.traced import Traced
from .core.kernels import smul, unbroadcast, select
from .core.levels import Level, LeakedTracer
from .program import inputs, tape, transform  # noqa: F401
from .sparsity import colouring as sparse  # noqa: F401
from .program import tree  # noqa: F401  (trees of arrays: the public path adops.tree)
from . import optimizers  # noqa: F401  (autograd's optimizers, over trees)
from . import scipy  # noqa: F401  (adops.scipy: stats, special, integrate)
from .control import scan, counting  # noqa: F401  (loops with checkpointing: adops.control)

for _op in OPS.values():  # every op registered so far is the toolkit's own (adops.scipy's too)
    _op.builtin = True

#: Module paths of the flat layout that users, docs and other branches name, and where each
#: module lives now (``import adops.registry`` is ``adops.ops.registry``). An alias, not a file at
#: the old path, so git's rename detection still carries other branches' edits to the new file.
MOVED = {"levels": levels, "fpstate": fpstate, "kernels": kernels, "registry": registry,
         "elementwise": elementwise, "special": special, "linear": linear,
         "reductions": reductions, "linalg": linalg, "einsum_spec": einsum_spec,
         "inputs": inputs, "transform": transform, "sparse": sparse, "tree": tree}
for _name, _module in MOVED.items():
    _sys.modules.setdefault(f"{__name__}.{_name}", _module)
