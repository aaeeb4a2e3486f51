"""Input handling both modes share: promotion of primals and checks of seeds.

- ``as_primal(x)``: Python scalars, 0-d and n-d arrays, ints and bools become ``float64``;
  ``float32`` stays ``float32``; ``float16`` is computed in ``float32``. Non-native byte order
  (``>f8`` on a little-endian machine) is converted to the native dtype of the same kind and
  size, which changes no value. Complex and object inputs are refused with a message.
- ``check_seed(seed, shape, dtype, batched, what)``: a tangent or cotangent must have the
  primal's (or output's) shape, ``(*shape)``, or with ``batched=True`` a leading axis of
  directions, ``(k, *shape)``; and, when it is an array (or a numpy scalar), the primal's dtype,
  as JAX requires: a float64 tangent cast silently to a float32 primal's dtype loses its values
  (1e-50 becomes 0.0), and a float32 tangent for a float64 primal is most likely a mistake.
  Python numbers and lists of them carry no dtype of their own and are converted to the
  primal's dtype, as numpy converts Python scalars that meet an array (NEP 50). Byte order
  does not count: ``>f8`` matches ``float64``.
"""
from __future__ import annotations

import numpy as np


def native(dtype) -> np.dtype:
    """``dtype`` in this machine's byte order; the kind and size, and so every value, stay.

    >>> native(">f8") == np.float64, native(np.float32) == np.float32
    (True, True)
    """
    dtype = np.dtype(dtype)
    return dtype if dtype.isnative else dtype.newbyteorder("=")


def as_primal(x, name: str = "input"):
    """``x`` as a float array the kernels accept (a value traced by an outer transform is kept).

    >>> as_primal(3).dtype, as_primal(np.float32(1)).dtype, as_primal(np.ones(2, ">f8")).dtype
    (dtype('float64'), dtype('float32'), dtype('float64'))
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
    if not a.dtype.isnative:  # a byte swap, no cast: the kernels run on native dtypes
        a = a.astype(native(a.dtype))
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


def check_seed(seed, shape: tuple, dtype, batched: bool, what: str, given=None,
               of: str = "its primal"):
    """Validate a tangent/cotangent against its primal's (or output's, ``of``) ``shape`` and
    ``dtype`` (see module doc); return it as ``(k, *shape)`` of ``dtype``. ``given``: the dtype
    the primal was passed with, when :func:`as_primal` promoted it (an int or float16 array): a
    seed of that dtype is accepted too, and widened exactly.

    >>> check_seed([1, 2], (2,), np.float32, False, "tangent 0").dtype
    dtype('float32')
    >>> check_seed(np.ones(2), (2,), np.float32, False, "tangent 0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: tangent 0 has dtype float64 but its primal has dtype float32; ...
    """
    from ..core.levels import TracedBase
    dtype = np.dtype(dtype)
    traced = isinstance(seed, TracedBase)
    if traced:
        s = seed
        _check_seed_dtype(s.dtype, dtype, None, what, of)
    else:
        if isinstance(seed, np.ma.MaskedArray):
            raise TypeError(f"{what} is a masked array; pass seed.filled(0)")
        s = np.asarray(seed)
        if not s.dtype.isnative:
            s = s.astype(native(s.dtype))
        if getattr(seed, "dtype", None) is not None:  # an array or numpy scalar, not a list
            _check_seed_dtype(s.dtype, dtype, given, what, of)
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
        raise ValueError(f"{what} has shape {s.shape} but {of} has shape {tuple(shape)}; "
                         "they must match (or pass batched=True with a leading axis of directions)")
    return s[None] if traced else s.astype(dtype, copy=False)[None]


def _check_seed_dtype(got, dtype, given, what, of):
    """A seed's dtype must be its primal's: refuse a cast that would change values silently."""
    if got == dtype or given is not None and got == native(given) or \
            np.issubdtype(got, np.complexfloating):  # complex: refused below, with its own advice
        return
    kind = what.split()[0]
    why = ("a silent cast could round, overflow or flush its values to zero (a float64 1e-50 "
           "is 0.0 in float32)" if not np.can_cast(got, dtype, "safe") else
           f"a {got} {kind} for {dtype} values carries less precision than they do, which "
           "usually means it was computed in the wrong dtype")
    raise TypeError(f"{what} has dtype {got} but {of} has dtype {dtype}; they must match, as in "
                    f"JAX: {why}. Pass {kind}.astype(np.{dtype.name})")


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
