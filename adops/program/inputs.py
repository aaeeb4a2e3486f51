"""Input handling both modes share: promotion of primals and checks of seeds.

- ``as_primal(x)``: Python scalars, 0-d and n-d arrays, ints and bools become ``float64``;
  ``float32`` stays ``float32``; ``float16`` is computed in ``float32``. Complex and object
  inputs are refused with a message.
- ``check_seed(seed, shape, batched, what)``: a tangent or cotangent must have the primal's
  shape, ``(*shape)``, or with ``batched=True`` a leading axis of directions, ``(k, *shape)``.
"""
from __future__ import annotations

import numpy as np


def as_primal(x, name: str = "input"):
    """``x`` as a float array the kernels accept (a value traced by an outer transform is kept).

    >>> as_primal(3).dtype, as_primal(np.float32(1)).dtype
    (dtype('float64'), dtype('float32'))
    """
    from ..core.levels import TracedBase
    if isinstance(x, TracedBase):
        if x.dtype not in (np.float32, np.float64):  # pragma: no cover - traced values are floats
            raise TypeError(f"{name} is traced with dtype {x.dtype}")
        return x
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array: its mask would be dropped silently; pass "
                        "x.filled(value) or x.compressed(), or mask inside f with np.where")
    try:
        a = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} cannot be converted to a numeric array: {exc}") from None
    if a.dtype == np.float64 or a.dtype == np.float32:
        return a
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float64)
    if np.issubdtype(a.dtype, np.complexfloating):
        raise TypeError(f"{name} is complex ({a.dtype}); only real float inputs are supported: "
                        "differentiate the real and imaginary parts as two real arrays")
    if np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} has dtype {a.dtype}; the kernels compute in float32 or float64 "
                        "only, and casting would silently drop precision: pass "
                        "x.astype(np.float64)")
    raise TypeError(f"{name} has dtype {a.dtype}; pass numbers (ints, floats or float arrays)")


def check_seed(seed, shape: tuple, dtype, batched: bool, what: str):
    """Validate a tangent/cotangent against its primal ``shape``; return ``(k, *shape)``."""
    from ..core.levels import TracedBase
    traced = isinstance(seed, TracedBase)
    if traced:
        s = seed
    else:
        if isinstance(seed, np.ma.MaskedArray):
            raise TypeError(f"{what} is a masked array; pass seed.filled(0)")
        s = np.asarray(seed)
        if np.issubdtype(s.dtype, np.complexfloating):
            raise TypeError(f"{what} is complex ({s.dtype}); tangents and cotangents are real: "
                            "pass the real and imaginary parts as two separate seeds")
        if not (np.issubdtype(s.dtype, np.number) or s.dtype == bool):
            raise TypeError(f"{what} has dtype {s.dtype}; pass a float array")
        if np.issubdtype(s.dtype, np.floating) and s.dtype.itemsize > 8:
            raise TypeError(f"{what} has dtype {s.dtype}; pass float64 or float32")
    if batched:
        if len(s.shape) != len(shape) + 1 or tuple(s.shape[1:]) != tuple(shape):
            raise ValueError(f"{what} has shape {s.shape}, but with batched=True it must be "
                             f"(k, *{tuple(shape)}) = (k,) + {tuple(shape)}: one row per direction")
        return s if traced else s.astype(dtype, copy=False)
    if tuple(s.shape) != tuple(shape):
        raise ValueError(f"{what} has shape {s.shape} but its primal has shape {tuple(shape)}; "
                         "they must match (or pass batched=True with a leading axis of directions)")
    return s[None] if traced else s.astype(dtype, copy=False)[None]


#: bytes of one seed block (chunk directions x one input or output) the automatic chunk aims for
CHUNK_BYTES = 1 << 25
#: widest automatic chunk: past it the per-op Python overhead is already amortized
MAX_AUTO_CHUNK = 256


def auto_chunk(n: int, itemsize: int = 8) -> int:
    """Directions per pass when a Jacobian is built with ``chunk=None`` (both modes).

    A pass costs a fixed Python overhead per op plus work proportional to its width, so wide
    chunks amortize the overhead (and turn matrix-vector products into matrix-matrix products)
    until a seed block outgrows memory, which grows as ``chunk * n``. The rule:
    ``min(n, 256, 2**25 bytes / (n * itemsize))``, at least 1. Measured by
    ``benchmarks/chunk_width.py`` (dense layer, n = m): width 1 is 13-27x slower than the best,
    and this rule lands within 1.0-1.4x of the best width for n = 16 ... 4096.

    >>> auto_chunk(10), auto_chunk(1000), auto_chunk(10**6)
    (10, 256, 4)
    """
    return max(1, min(n, MAX_AUTO_CHUNK, CHUNK_BYTES // max(1, n * itemsize)))


def identity_chunks(n: int, k: int, dtype):
    """Yield ``(start, seed)`` with ``seed: (width, n)`` = rows ``start .. start+width`` of the
    n x n identity, for ``start = 0, k, 2k, ...``: the seeds of a chunked Jacobian.

    One buffer is reused (only the previous ones are cleared), because allocating and zeroing a
    fresh ``(k, n)`` block per pass cost more than the pass itself for large n. Callers must not
    write into a seed.

    >>> [(s, b.tolist()) for s, b in identity_chunks(3, 2, float)]
    [(0, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (2, [[0.0, 0.0, 1.0]])]
    """
    k = max(1, min(k, n))
    buf = np.zeros((k, n), dtype=dtype)
    rows = np.arange(k)
    prev = None
    for start in range(0, n, k):
        width = min(k, n - start)
        if prev is not None:
            buf[rows[:len(prev)], prev] = 0
        cols = start + rows[:width]
        buf[rows[:width], cols] = 1
        prev = cols
        yield start, buf[:width]
