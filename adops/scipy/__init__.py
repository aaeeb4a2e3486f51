"""``adops.scipy``: scipy's statistics, special functions and ODE solver for traced arrays.

A program written against scipy changes one import line, as with ``jax.scipy`` or
``autograd.scipy``::

    from adops.scipy import stats          # instead of: from scipy import stats
    from adops.scipy import special        # instead of: from scipy import special
    from adops.scipy.integrate import odeint

Every function is a composite of supported numpy calls and of the ``scipy.special`` ops of
:mod:`adops.special` and :mod:`adops.scipy.special`, so no derivative formula is written twice,
both modes differentiate it and nested transforms give higher orders. Plain arrays are accepted
too (the values are scipy's).

>>> import numpy as np
>>> from adops.scipy import stats
>>> float(np.round(stats.norm.logpdf(0.0), 6))
-0.918939
"""
from . import special, stats, integrate  # noqa: F401

__all__ = ["special", "stats", "integrate"]
