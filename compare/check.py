"""compare.check: the documented path of ``check_grads``, kept for users; the code lives in
:mod:`compare.tools.check`."""
from .tools.check import COMPOSITIONS, GradCheckReport, HessianCheckReport, check_grads  # noqa: F401

__all__ = ["COMPOSITIONS", "GradCheckReport", "HessianCheckReport", "check_grads"]
