"""compare.jacobians: the path examples/jacobian_sweeps.py imports, kept for users; the code
lives in :mod:`compare.teaching.jacobians`."""
from .teaching.jacobians import f_2_to_3, f_3_to_2, plot, sweeps, write  # noqa: F401

__all__ = ["f_2_to_3", "f_3_to_2", "plot", "sweeps", "write"]
