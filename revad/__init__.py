"""revad: reverse-mode AD on a tape (Wengert list).

>>> import numpy as np, revad
>>> revad.grad(lambda w: np.sum((w * 2.0 - 1.0) ** 2))(np.array([0.5, 1.0]))
array([0., 4.])
"""
from .var import Tape, BranchChanged, Var
from .backward import backward
from .api import vjp, grad, value_and_grad, jacrev
from .recording import record, Recording
from .forward_over_reverse import hessian, hvp
from .elementwise import elementwise_grad
from .checkpoint import checkpoint

__all__ = ["Tape", "BranchChanged", "Var", "backward", "vjp", "grad", "value_and_grad", "jacrev",
           "record", "Recording", "hessian", "hvp", "elementwise_grad", "checkpoint"]
