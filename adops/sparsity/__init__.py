"""Sparse Jacobians: the structural pattern of a traced program, and colouring.

:mod:`adops.sparsity.pattern` propagates which outputs depend on which inputs through a
recorded program (``detect``, ``Pattern``); :mod:`adops.sparsity.colouring` colours columns or
rows and recovers the Jacobian from a few batched passes (``colour``, ``sparse_jacobian``).
The old path ``adops.sparse`` is :mod:`adops.sparsity.colouring`.
"""
from .pattern import Pattern, detect, sparse_jacobian_of  # noqa: F401
from .colouring import Colourings, colour, sparse_jacobian  # noqa: F401
