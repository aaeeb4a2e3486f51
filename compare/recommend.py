"""compare.recommend: the documented path of ``recommend``, kept for users; the code lives in
:mod:`compare.tools.recommend`."""
from .tools.recommend import CALLS, Recommendation, recommend  # noqa: F401

__all__ = ["CALLS", "Recommendation", "recommend"]
