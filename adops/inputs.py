"""Input handling both modes share: promotion of primals and checks of seeds.

- ``as_primal(x)``: Python scalars, 0-d and n-d arrays, ints and bools become ``float64``;
  ``float32`` stays ``float32``; ``float16`` is computed in ``float32``. Complex and object
  inputs are refused with a message.
- ``check_seed(seed, shape, batched, what)``: a tangent or cotangent must have the primal's
  shape, ``(*shape)``, or with ``batched=True`` a leading axis of directions, ``(k, *shape)``.
"""
from __future__ import annotations

import numpy as np


def as_primal(x, name: str = "input") -> np.ndarray:
    """``x`` as a float array the kernels accept.

    >>> as_primal(3).dtype, as_primal(np.float32(1)).dtype
    (dtype('float64'), dtype('float32'))
    """
    from .traced import Traced
    if isinstance(x, Traced):
        raise TypeError(f"{name} is already a traced {type(x).__name__}: nesting transforms "
                        "is not supported (differentiate the outer function with one mode)")
    try:
        a = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} cannot be converted to a numeric array: {exc}") from None
    if a.dtype == np.float64 or a.dtype == np.float32:
        return a
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float64)
    if np.issubdtype(a.dtype, np.complexfloating):
        raise TypeError(f"{name} is complex ({a.dtype}); only real float inputs are supported")
    raise TypeError(f"{name} has dtype {a.dtype}; pass numbers (ints, floats or float arrays)")


def check_seed(seed, shape: tuple, dtype, batched: bool, what: str) -> np.ndarray:
    """Validate a tangent/cotangent against its primal ``shape``; return ``(k, *shape)``."""
    s = np.asarray(seed)
    if not (np.issubdtype(s.dtype, np.number) or s.dtype == bool):
        raise TypeError(f"{what} has dtype {s.dtype}; pass a float array")
    if batched:
        if s.ndim != len(shape) + 1 or s.shape[1:] != tuple(shape):
            raise ValueError(f"{what} has shape {s.shape}, but with batched=True it must be "
                             f"(k, *{tuple(shape)}) = (k,) + {tuple(shape)}: one row per direction")
        return s.astype(dtype, copy=False)
    if s.shape != tuple(shape):
        raise ValueError(f"{what} has shape {s.shape} but its primal has shape {tuple(shape)}; "
                         "they must match (or pass batched=True with a leading axis of directions)")
    return s.astype(dtype, copy=False)[None]


#: bytes of one seed block (chunk directions x one input or output) the automatic chunk aims for
CHUNK_BYTES = 1 << 24
#: widest automatic chunk: past it the per-op Python overhead is already amortized
MAX_AUTO_CHUNK = 64


def auto_chunk(n: int, itemsize: int = 8) -> int:
    """Directions per pass when a Jacobian is built with ``chunk=None`` (both modes).

    A pass costs a fixed Python overhead per op plus work proportional to its width, so wide
    chunks amortize the overhead until the seeded arrays leave the cache and memory grows as
    ``chunk * n``. The rule: ``min(n, 64, 2**24 bytes / (n * itemsize))``, at least 1
    (measurements in reports/summary.md).

    >>> auto_chunk(10), auto_chunk(1000), auto_chunk(10**6)
    (10, 64, 2)
    """
    return max(1, min(n, MAX_AUTO_CHUNK, CHUNK_BYTES // max(1, n * itemsize)))
