"""What every transform of both modes shares: argument checks, output trees, the chunk driver and
results the caller owns. Written once, so the two modes cannot drift apart.

- :func:`argnums_tuple` and :func:`check_chunk` validate the transforms' options with errors that
  name the problem and the way out.
- :func:`flatten` turns a function's output (an array, a scalar, or a tree of them,
  :mod:`adops.tree`) into leaves and a ``rebuild`` function.
- :func:`by_chunks` is the one chunk driver: ``push(seeds: (w, n)) -> [(w, *shape_j)]`` is a
  batched JVP (forward) or VJP (reverse); it is called on ``ceil(n / k)`` blocks of identity rows
  and the blocks are stacked to ``(n, *shape_j)``. So ``jacfwd`` is the chunked ``jvp`` and
  ``jacrev`` the chunked ``vjp``.
- :func:`as_rows` flattens a batch ``(w, *shape)`` to ``(w, n)`` with explicit sizes, which an
  empty batch or empty rows need.
- :func:`own` makes a result the caller's: a fresh (unless provably unshared), writable,
  C-contiguous array of the requested dtype, sharing no memory with the inputs or seeds. Values
  traced by an outer transform (nesting) pass through untouched.
"""
from __future__ import annotations

import math

import numpy as np

from .inputs import auto_chunk, identity_chunks, native
from ..core.levels import TracedBase


def argnums_tuple(argnums, nargs: int):
    """``(multiple, nums)``: whether ``argnums`` was a tuple, and the argument positions.

    >>> argnums_tuple((0, -1), 3), argnums_tuple(1, 2)
    ((True, (0, 2)), (False, (1,)))
    """
    multiple = isinstance(argnums, (tuple, list))
    nums = tuple(argnums) if multiple else (argnums,)
    for a in nums:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"argnums must be an int or a tuple of ints (positions of the "
                            f"arguments to differentiate), got {argnums!r}")
        if not -nargs <= a < nargs:
            raise ValueError(f"argnums {argnums!r} out of range for a function called with "
                             f"{nargs} positional argument{'s' if nargs != 1 else ''}")
    if multiple and not nums:
        raise ValueError("argnums is an empty tuple: name at least one argument to differentiate")
    nums = tuple(int(a) % nargs for a in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"argnums {argnums!r} names an argument twice")
    return multiple, nums


def check_chunk(chunk, where: str):
    """``chunk`` as a positive int (or None for automatic).

    >>> check_chunk(4, "jacfwd"), check_chunk(None, "jacfwd")
    (4, None)
    """
    if chunk is None:
        return None
    if isinstance(chunk, (bool, np.bool_)) or not isinstance(chunk, (int, np.integer)):
        raise TypeError(f"{where}: chunk must be a positive integer (directions per pass) or "
                        f"None for automatic, got {chunk!r}")
    if chunk < 1:
        raise ValueError(f"{where}: chunk must be a positive integer, got {chunk!r}")
    return int(chunk)


def flatten(tree):
    """``(leaves, rebuild)`` of an output: an array or scalar, or a tree of them (lists, tuples,
    dicts, namedtuples, None as an empty subtree: :mod:`adops.tree`); ``rebuild.treedef`` is
    its structure.

    >>> leaves, rebuild = flatten((1, [2, 3]))
    >>> leaves, rebuild([4, 5, 6])
    ([1, 2, 3], (4, [5, 6]))
    """
    from .tree import flatten_output
    return flatten_output(tree)


def check_output(leaf, where: str):
    """An output leaf must be an array or a number (traced or not)."""
    if isinstance(leaf, (TracedBase, np.ndarray, int, float, np.number, bool, np.bool_)):
        return
    raise TypeError(f"{where}: the function returned {type(leaf).__name__}; it must return an "
                    "array or a number (or a tree of them: lists, tuples, dicts, None)")


def result_dtype(dtype):
    """The float dtype derivatives are carried in for a value of ``dtype`` (native byte order).

    >>> result_dtype(">f4"), result_dtype(int)
    (dtype('float32'), dtype('float64'))
    """
    dtype = native(dtype)
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


def own(a, dtype=None, guards=()):
    """``a`` as an array the caller owns (see module doc); a traced value passes through, cast
    to ``dtype``.

    >>> x = np.ones(3)
    >>> own(x, guards=(x,)) is x, own(np.broadcast_to(1.0, (2,))).flags.writeable
    (False, True)
    """
    if isinstance(a, TracedBase):
        # an outer level's derivative of the result has the result's dtype too (the cast's)
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    a = np.asarray(a)
    if dtype is not None and a.dtype != dtype:
        return np.array(a, dtype=dtype, order="C", copy=True)
    if a.flags.writeable and a.flags.c_contiguous and \
            (a.base is None or isinstance(a.base, np.ndarray) and a.base.base is None) and \
            not any(np.may_share_memory(a, g) for g in guards if isinstance(g, np.ndarray)):
        return a
    return np.array(a, order="C", copy=True)


def as_rows(a):
    """``a: (w, *shape)`` as ``(w, n)``, n the size of one row. The size is explicit because
    ``reshape(w, -1)`` cannot infer it when there are no rows (w = 0: an empty input's Jacobian
    seeds none).

    >>> as_rows(np.zeros((0, 2, 3))).shape, as_rows(np.ones((2, 3))).shape
    ((0, 6), (2, 3))
    """
    a = np.asarray(a)
    return a.reshape(a.shape[0], math.prod(a.shape[1:]))


def batched_cotangents(bars, m: int, shapes, dtypes):
    """Pulled-back cotangents as ``(m, *shape_i)`` each: zeros where no path led (None),
    broadcast where the sweep left a broadcastable one (a sum's transpose).

    >>> [b.shape for b in batched_cotangents([None, np.ones((1, 3))], 2, [(2,), (3,)], [float] * 2)]
    [(2, 2), (2, 3)]
    """
    return [np.zeros((m,) + tuple(s), dtype=d) if b is None else np.broadcast_to(b, (m,) + tuple(s))
            for b, s, d in zip(bars, shapes, dtypes)]


def by_chunks(push, n: int, chunk, dtype, where: str, fresh_seeds: bool = False):
    """Stack ``push`` over chunks of the ``n x n`` identity: returns, per leaf ``j`` that
    ``push`` returns, ``(n, *shape_j)``. ``chunk`` None picks :func:`auto_chunk`.

    One seed buffer is reused across chunks; ``fresh_seeds`` hands ``push`` a copy instead, which
    a nested call needs (an outer transform's tape keeps the seed as a constant).

    >>> blocks = by_chunks(lambda s: [2 * s], 3, 2, np.float64, "example")
    >>> blocks[0].tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]
    """
    chunk = check_chunk(chunk, where)
    k = auto_chunk(n, np.dtype(dtype).itemsize) if chunk is None else min(chunk, max(n, 1))
    if n == 0:
        return [np.concatenate([b], axis=0) if not isinstance(b, TracedBase) else b
                for b in push(np.zeros((0, 0), dtype=dtype))]
    parts = None
    for _, seed in identity_chunks(n, k, dtype):
        blocks = push(np.array(seed, copy=True) if fresh_seeds else seed)
        if parts is None:
            parts = [[] for _ in blocks]
        for acc, b in zip(parts, blocks):
            # the seed buffer is reused by the next chunk: a block that is the seed is copied
            if not isinstance(b, TracedBase) and np.may_share_memory(b, seed):
                b = np.array(b, copy=True)
            acc.append(b)
    return [p[0] if len(p) == 1 else np.concatenate(p, axis=0) for p in parts]
