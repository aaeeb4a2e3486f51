"""The recorded program and the transform drivers both modes and both tiers share.

:mod:`adops.program.tape` (the recorder: ``Tape``, ``Trace``, replay guards),
:mod:`adops.program.inputs` (primals and seeds), :mod:`adops.program.transform` (argument
checks, output trees, the chunk driver). Below: :mod:`adops.numpy_api`; above:
:mod:`adops.compile`, :mod:`adops.sparsity` and the modes.
"""
from .tape import BranchChanged, MetOuterLevel, Recorded, Tape, Trace, cotangent_seeds  # noqa: F401
