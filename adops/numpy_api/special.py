"""``scipy.special`` on traced arrays: the names scipy's ufuncs are shown by.

The ops themselves (:mod:`adops.ops.special`) route their scipy ufuncs like any op's ``numpy``
callables; scipy's ufuncs carry no ``__module__``, so messages and listings name them here.
"""
from __future__ import annotations

from ..ops.special import TABLE
from .routes import display_as

for _name, _ufunc, _, _ in TABLE:
    display_as(_ufunc, f"scipy.special.{_name}")
