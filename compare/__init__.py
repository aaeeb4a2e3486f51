"""compare: forward vs reverse mode, measured, and tools to check and choose for your function.

- ``python -m compare``: the comparison grid -> reports/ (results.csv, plots, summary.md);
- :func:`check_grads`: forward vs reverse vs finite differences vs the dot-product identity;
- :func:`recommend`: which mode and chunk width for your function, from measured probes;
- :func:`jacobian`: the Jacobian with mode, tier, chunk and colouring planned from those probes
  (``explain=True`` / ``jacobian.plan(f, x)``: the plan in words), passes on an executor;
- :func:`run`: time the full Jacobian of your own function in both modes.

Layout: ``studies/`` (one module per study, one interface), ``pipeline.py`` (the default run),
``report.py`` (summary.md from the studies' sections), ``cli.py`` (every subcommand's
arguments), ``common/`` (timing, CSV rows, styles, peers), ``problems/`` (the functions timed),
``teaching/`` (graph and Jacobian pictures), ``tools/`` (check_grads, recommend, run).
"""
import sys as _sys

try:
    # through the documented modules compare.check and compare.recommend (thin re-exports of
    # compare.tools), so that importing them later cannot rebind the names below
    from .check import check_grads, GradCheckReport, HessianCheckReport
    from .recommend import recommend, Recommendation
    from .tools.jacobian import jacobian, Plan
    from .tools.run import run
    from .problems import PROBLEMS, Problem
except KeyboardInterrupt:
    # Ctrl-C while `python -m compare` (or adcompare) is still importing numpy and numba: the
    # CLI's one line, not a traceback; a library import re-raises as usual
    if _sys.argv[:1] == ["-m"] or _sys.argv[0].endswith(("adcompare", "__main__.py")):
        print("python -m compare: interrupted", file=_sys.stderr)
        raise SystemExit(130) from None
    raise

__all__ = ["check_grads", "GradCheckReport", "HessianCheckReport", "recommend", "Recommendation", "jacobian", "Plan", "run", "PROBLEMS",
           "Problem"]
