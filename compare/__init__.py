"""compare: forward vs reverse mode, measured; and check_grads for users' own functions."""
from .check import check_grads, GradCheckReport

__all__ = ["check_grads", "GradCheckReport"]
