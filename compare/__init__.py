"""compare: forward vs reverse mode, measured, and tools to check and choose for your function.

- ``python -m compare``: the comparison grid -> reports/ (results.csv, plots, summary.md);
- :func:`check_grads`: forward vs reverse vs finite differences vs the dot-product identity;
- :func:`recommend`: which mode and chunk width for your function, from measured probes;
- :func:`run`: time the full Jacobian of your own function in both modes.
"""
from .check import check_grads, GradCheckReport, HessianCheckReport
from .recommend import recommend, Recommendation
from .run import run
from .problems import PROBLEMS, Problem

__all__ = ["check_grads", "GradCheckReport", "HessianCheckReport", "recommend", "Recommendation", "run", "PROBLEMS",
           "Problem"]
