"""compare.graph: the documented path of the computation-graph pictures, kept for users; the code
lives in :mod:`compare.teaching.graph` (``draw``, ``generated_code``, ``trace_graph``, ...).
"""
from .teaching.graph import *  # noqa: F401,F403
from .teaching.graph import __all__  # noqa: F401
