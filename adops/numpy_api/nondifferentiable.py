"""The numpy calls that carry no derivative: comparisons, predicates, indices, counts, shapes.

Contract: each callable listed here is evaluated on the primals of its traced arguments
(:func:`adops.numpy_api.dispatch.nondiff_call`) and returns numpy's plain result; reverse mode records the
result as a replay guard, so a replay that would take another branch is refused.
"""
from __future__ import annotations

import numpy as np

from .routes import display_as, nondiff


def astype_values(x, dtype):
    """``x.astype(dtype)`` to an integer or bool type: values only (derivative 0)."""
    return np.asarray(x).astype(dtype)


# listed by the module the dispatch is imported from (adops.numpy_api re-exports it)
display_as(astype_values, "adops.numpy_api.astype_values")


nondiff(np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
        np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.isnan, np.isinf,
        np.isfinite, np.signbit, np.heaviside, np.floor_divide, np.argmax, np.argmin,
        np.argsort, np.argwhere, np.nonzero, np.flatnonzero, np.shape, np.ndim, np.size,
        np.isclose, np.allclose,
        np.array_equal, np.any, np.all, np.count_nonzero, np.searchsorted, np.result_type,
        np.iscomplexobj, np.isrealobj, np.isscalar, astype_values,
        np.argpartition, np.nanargmax, np.nanargmin, np.isposinf, np.isneginf, np.isreal,
        np.iscomplex, np.digitize, np.lexsort, np.isin)
