"""The machinery under every layer: transform levels, floating-point state, the generic kernels.

:mod:`adops.core.levels` (nesting: which transform a value belongs to, ``bind``),
:mod:`adops.core.fpstate` (the user's ``np.errstate`` kept apart from the kernels' flags),
:mod:`adops.core.kernels` (numba kernels that *apply* partials: ``smul``, ``select``). Imports no
other layer.
"""
