"""The fast call path: a compiled transform called again with arrays of a known signature.

Contract. A call qualifies when every positional argument is a plain float ``np.ndarray`` or
numpy float scalar (all of them inputs of the program), there are no keyword or static arguments, ``f`` returns one
array (not a tree), the program runs as one numba program (:mod:`adops.compile.whole`: no
guards) and the user has not asked numpy to raise floating-point errors. Then one dictionary
lookup keyed by ``(argnums, shapes and dtypes)`` finds the program and one numba call per pass
computes the derivative; no level, tape or program object is built. Each function returns
None when the call does not qualify (the caller takes the general path, which registers the
program for next time: :meth:`adops.compile.CompiledFunction.remember`):

- :func:`value_and_grad` -> ``(value, [grad_i])`` for a scalar output;
- :func:`jacrev` / :func:`jacfwd` -> ``[J_i]``, ``J_i: out.shape + args[i].shape``, computed
  chunk by chunk exactly as the general path chunks them (``chunk=None``: :func:`auto_chunk`);
- :func:`jvp` -> ``(out, out_dot)`` for tangents of the arguments ``nums``.

Results are fresh arrays the caller owns (numba allocates every one).
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numba.core.errors import NumbaError

from ..core.fpstate import user_wants_errors
from ..program.inputs import auto_chunk, identity_chunks
from ..program.transform import check_chunk
from .matrixforms import NonFiniteMatrix


def key_of(args, nums):
    """The fast-path key of a call, or None when an argument is not a plain float array."""
    if len(args) == 1:  # the common case in one pass (each attribute read costs ~50 ns)
        a = args[0]
        if type(a) is np.ndarray:
            d = a.dtype
            return (nums, ((a.shape, d),)) if d in _NATIVE_FLOATS else None
    for a in args:
        if type(a) is np.ndarray:
            if a.dtype not in _NATIVE_FLOATS:  # a big-endian array is converted
                return None
        elif type(a) not in _SCALARS:
            return None
    return nums, tuple([(a.shape, a.dtype) for a in args])


#: numpy float scalars, inputs of a program as float arrays are (Python floats are keyed by value)
_SCALARS = (np.float64, np.float32)
#: the float dtypes of arrays the fast path takes as they are (native byte order); numba has
#: no float16 or long double, which the general path converts (float16 computes in float32)
_NATIVE_FLOATS = frozenset(np.dtype(c) for c in "fd")


def entries(cf, args, nums):
    """The whole-program entries registered for this call's key, or None."""
    fast = cf.fast
    if not fast:
        return None
    w = fast.get(key_of(args, nums))
    if w is None or user_wants_errors():
        return None
    return w


def _unshared(blocks, seed):
    """The blocks, each copied if it is the seed buffer (an output that is an input passes its
    seed through), which the next chunk overwrites."""
    return [np.array(b, copy=True) if np.may_share_memory(b, seed) else b for b in blocks]


def _plain(chunk):
    """Whether ``chunk`` keys a kept one-pass seed (``WholeEntries.one_chunk``): None or a
    plain int; ``2.0`` or ``True`` would find ``2``'s or ``1``'s and skip the chunk's check."""
    return chunk is None or type(chunk) is int


#: the seed of a gradient, per dtype (numba only reads it)
_ONES = {np.dtype(d): np.ones((1, 1), dtype=d) for d in ("float32", "float64")}


def _one(dtype):
    seed = _ONES.get(dtype)
    return seed if seed is not None else np.ones((1, 1), dtype=dtype)


#: identity seeds of at most this many bytes are built once per program and kept (building them
#: cost 6 us per call at n = 4, more than the numba call); larger ones are built per call
KEPT_SEED_BYTES = 1 << 20


def _seeds(w, n, chunk, dtype, where):
    """The identity seed chunks ``[(start, (width, n))]`` of a Jacobian by program ``w``: kept
    with the program when small (numba only reads them; a result that is a seed is copied by
    :func:`_unshared`), else made per call."""
    if chunk is not None and type(chunk) is not int:
        chunk = check_chunk(chunk, where)  # the clear error, or a plain int to key by
    key = (n, chunk, dtype)
    kept = w.seeds.get(key)
    if kept is not None:
        return kept
    chunk = check_chunk(chunk, where)
    k = auto_chunk(n, dtype.itemsize) if chunk is None else min(chunk, n)
    if n * n * dtype.itemsize > KEPT_SEED_BYTES:
        return identity_chunks(n, k, dtype)
    seeds = [(start, seed.copy()) for start, seed in identity_chunks(n, k, dtype)]
    if len(w.seeds) >= 8:  # many chunk widths: forget the oldest
        try:
            w.seeds.pop(next(iter(w.seeds)), None)
        except (RuntimeError, StopIteration):  # another thread changed them meanwhile
            pass
    w.seeds[key] = seeds
    return seeds


def _or_general_path(fn):
    """``fn``, except that a program numba refuses to type is forgotten by the fast path and the
    call returns None (the general path then runs it on the Python driver); a call whose input
    the whole code refuses (:class:`NonFiniteMatrix`) also returns None, the program kept."""
    @functools.wraps(fn)
    def call(cf, args, nums, *rest):
        try:
            return fn(cf, args, nums, *rest)
        except NumbaError:
            cf.fast.pop(key_of(args, nums), None)
            return None
        except NonFiniteMatrix:  # this input only: the general path runs it through numpy
            return None
    return call


@_or_general_path
def value_and_grad(cf, args, nums):
    w = entries(cf, args, nums)
    if w is None or w.out_shapes[0] != ():
        return None
    ok, outs, bars = w.value_and_vjp(w.flat_inputs(args), (_one(w.out_dtypes[0]),))
    if not ok:  # a guard differs: the general path traces again
        return None
    value = outs[0].reshape(())
    if w.copy[0]:
        value = value.copy()
    return value, _leaves(w, bars, ())


def _leaves(w, bars, lead):
    """The cotangents ``bars`` (flat rows) as the ``wrt`` leaves' dtypes and shapes, after the
    axes ``lead`` (a sweep may carry a wider dtype than a leaf's)."""
    return [(b if b.dtype == d else b.astype(d)).reshape(lead + s)
            for b, (s, d) in zip(bars, w.wrt_leaves)]


@_or_general_path
def jacrev(cf, args, nums, chunk):
    w = entries(cf, args, nums)
    if w is None:
        return None
    one = w.one_chunk.get(("rev", chunk)) if _plain(chunk) else None
    if one is not None:  # a kept seed of all m rows: one fused call, nothing to assemble
        seed, aliased = one
        ok, _, bars = w.value_and_vjp(w.flat_inputs(args), (seed,))
        if not ok:
            return None
        if aliased:
            bars = _unshared(bars, seed)
        return _leaves(w, bars, w.out_shapes[0])
    out_shape, dtype = w.out_shapes[0], w.out_dtypes[0]
    m = math.prod(out_shape)
    if m == 0:
        return None
    # large seeds are made lazily in one reused buffer: the next chunk is taken only once the
    # last one's sweep is done (peeking at it overwrote the first chunk's seed: a silently
    # wrong first block of rows)
    seeds = _seeds(w, m, chunk, np.dtype(dtype), "jacrev")
    kept = type(seeds) is list
    seeds = iter(seeds)
    V = w.flat_inputs(args)
    first = next(seeds)[1]
    if first.shape[0] == m:  # one sweep: with the forward pass, fused when called often
        ok, _, bars = w.value_and_vjp(V, (first,))
        if not ok:
            return None
        parts = [_unshared(bars, first)]
        if kept and _plain(chunk) and len(w.one_chunk) < 8:
            # whether a cotangent is the seed's memory is the program's, the same every call
            w.one_chunk[("rev", chunk)] = (first,
                                           any(p is not b for p, b in zip(parts[0], bars)))
    else:  # the residuals in kept workspaces while the sweeps run (see value_and_vjp)
        key, rw = w.residuals.take("fwd", 0)
        try:
            ok, _, R = w.call("fwd", 0, V, rw=rw)
            if not ok:
                return None
            parts = [w.residuals_apart(_unshared(w.sweep(seed.shape[0], R, (seed,)),
                                                 seed), rw)
                     for seed in itertools.chain((first,), (s for _, s in seeds))]
        finally:
            w.residuals.give(key, rw)
    bars = parts[0] if len(parts) == 1 else [np.concatenate(p, axis=0) for p in zip(*parts)]
    return _leaves(w, bars, out_shape)


@_or_general_path
def jacfwd(cf, args, nums, chunk):
    w = entries(cf, args, nums)
    if w is None or len(w.wrt) != 1:
        return None
    (i,) = w.wrt
    n, x_dtype = w.leaf_sizes[i], args[nums[0]].dtype
    out_shape = w.out_shapes[0]
    if n == 0 or not w.tangent_live:
        return None
    V = w.flat_inputs(args)
    cols = []
    one = w.one_chunk.get(("fwd", chunk)) if _plain(chunk) else None
    seeds = ((0, one),) if one is not None else _seeds(w, n, chunk, x_dtype, "jacfwd")
    lazy = type(seeds) is not list and one is None  # made in one buffer the next chunk rewrites
    for _, seed in seeds:
        ok, _, tans = w.call("jvp", seed.shape[0], V, (seed,))
        if not ok:
            return None
        cols.append(_unshared(tans, seed)[0] if lazy else tans[0])
    if one is None and not lazy and len(cols) == 1 and _plain(chunk) and len(w.one_chunk) < 8:
        w.one_chunk[("fwd", chunk)] = seeds[0][1]  # a kept seed of all n directions
    Jt = cols[0] if len(cols) == 1 else np.concatenate(cols, axis=0)  # (n, m)
    m = Jt.shape[1]
    if (n == 1 or m == 1) and len(cols) == 1 and not w.tangent_copy[0] and Jt.dtype == x_dtype:
        J = Jt.reshape(m, n)  # Jt.T, C-contiguous as it is: a view of the fresh tangent
    else:
        # a copy: a tangent may be the seed's memory, which the program keeps (and
        # ascontiguousarray would hand back Jt.T itself when n or m is 1); in the argument's
        # dtype, as the general path gives it
        J = Jt.T.copy() if Jt.dtype == x_dtype else Jt.T.astype(x_dtype, order="C")
    leaf_shape = w.leaf_shapes[i]
    if len(out_shape) == 1 and len(leaf_shape) == 1:
        return [J]
    return [J.reshape(out_shape + leaf_shape)]


@_or_general_path
def jvp(cf, args, nums, tangents):
    """``tangents[j]: (k, *args[nums[j]].shape)``, one per argument in ``nums`` (all of them)."""
    w = entries(cf, args, nums)
    if w is None or not w.tangent_live:
        return None
    T = []
    for t, i in zip(tangents, w.wrt):
        if type(t) is not np.ndarray or t.dtype != args[nums[len(T)]].dtype:
            return None
        T.append(np.ascontiguousarray(t).reshape(t.shape[0], w.leaf_sizes[i]))
    ok, outs, tans = w.call("jvp", T[0].shape[0], w.flat_inputs(args), tuple(T))
    if not ok:
        return None
    k = T[0].shape[0]
    out = outs[0].reshape(w.out_shapes[0])
    tan = tans[0].reshape((k,) + w.out_shapes[0])
    return (out.copy() if w.copy[0] else out), (tan.copy() if w.tangent_copy[0] else tan)
