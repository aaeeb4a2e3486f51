"""How numpy functions map onto ops: the one dispatch both modes share, assembled.

A traced array (``dualad.Dual``, ``revad.Var``) sends every numpy call through numpy's protocols
and its operator dunders to :func:`handle_ufunc` / :func:`handle_function`. A call becomes an op
of the registry bound by the mode, a *composite* (plain numpy over other supported calls, so it
carries no derivative formula), a *non-differentiable* call evaluated on primals, or a
``TypeError`` that names the function, the mode and :func:`supported_functions`. Axis arguments
are normalized by the handlers (non-negative tuples), so ops never see ``-1`` or ``None``.

This module imports the pieces in the order they need (the ops are registered before any
handler binds one) and is the place the rest of adops imports the dispatch from:

- :mod:`adops.numpy_api.routes`: the route table, ``implements``, ``nondiff``, names and error messages;
- :mod:`adops.numpy_api.dispatch`: protocol entry (``handle_ufunc``, ``handle_function``), ``call``;
- :mod:`adops.numpy_api.nondifferentiable`: the calls evaluated on primals only;
- handlers: :mod:`adops.numpy_api.elementwise`, :mod:`adops.numpy_api.reductions`,
  :mod:`adops.numpy_api.shapes`, :mod:`adops.numpy_api.new_arrays`, :mod:`adops.numpy_api.indexing`,
  :mod:`adops.numpy_api.products` (over :mod:`adops.ops.einsum_spec`);
- :mod:`adops.numpy_api.listing`: ``supported_functions`` and ``supported_table``.
"""
from __future__ import annotations

from ..core.levels import bind  # noqa: F401  (re-exported: adops.bind)
from ..ops import OPS  # noqa: F401  (the op set, registered before any handler binds an op)
from .routes import (DISPLAY_NAMES, INSTEAD, NONDIFF, ROUTES, implements, nondiff,  # noqa: F401
                     unsupported)
from .dispatch import (call, handle_function, handle_ufunc, nondiff_call,  # noqa: F401
                       primal)
from .nondifferentiable import astype_values  # noqa: F401
from . import (elementwise, reductions, shapes, new_arrays,  # noqa: F401
               indexing, products)
from .reductions import with_dtype  # noqa: F401
from .new_arrays import constant_like  # noqa: F401
from .indexing import getitem, normalize_index, setitem  # noqa: F401
from .products import matmul_spec  # noqa: F401
from . import linalg, composites, statistics, numerics, special  # noqa: F401  (composite handlers)
from .listing import supported_functions, supported_table  # noqa: F401
