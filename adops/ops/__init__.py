"""The op set: every differentiable operation, defined once by its kind's rule.

:mod:`adops.ops.registry` holds the table ``OPS``, the op base and the elementwise kind;
:mod:`adops.ops.kinds` the linear, bilinear, reduction and rule kinds. The tables:
:mod:`~adops.ops.elementwise` and :mod:`~adops.ops.special` (elementwise),
:mod:`~adops.ops.linear` (structural, bilinear), :mod:`~adops.ops.reductions`,
:mod:`~adops.ops.linalg` (rule ops). Importing this package registers them all. Imports only
:mod:`adops.core`; numpy's API on traced arrays is the next layer, :mod:`adops.numpy_api`.
"""
from .registry import OPS  # noqa: F401
from . import kinds, elementwise, special, linear, reductions, linalg  # noqa: F401  (registers the ops)
