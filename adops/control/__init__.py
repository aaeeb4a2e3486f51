"""Control flow with a memory plan: ``scan`` (``jax.lax.scan``, checkpointed by the binomial
schedule) and ``remat`` (``jax.checkpoint``; reverse mode's name for it is
``revad.checkpoint``).

:mod:`adops.program.step` records a step function once and replays it; :mod:`.engine` runs a
step eagerly or compiled; :mod:`.schedule` holds the checkpoint schedules
(``checkpoint_schedules``' multistage binomial schedule) and the optimum; :mod:`.scan` and
:mod:`.remat` are the two ops; :mod:`.stats` counts steps and recomputations. This package sits
in the package front's layer: it uses the compiled tier for the steps and imports no mode.
"""
from .scan import scan  # noqa: F401
from .remat import remat  # noqa: F401
from .stats import ScanStats, counting  # noqa: F401
from ..program.step import StepBranchChanged  # noqa: F401
from .schedule import optimal_recomputations, recomputations, snapshots  # noqa: F401
