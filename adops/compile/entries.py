"""Calling a whole-program module (:mod:`adops.compile.whole`) with the program's own arrays.

Contract. :class:`WholeEntries` takes what :class:`adops.compile.Program` passes to its Python
entry points and returns the same things, so either can serve a program:

- ``primal(V) -> outs`` (one array or None per traced output, None where the output does not
  depend on the inputs);
- ``jvp(V, T) -> (outs, tans)``: ``T[i]: (k, *leaf_i.shape)`` or None per leaf; ``tans[j]:
  (k, *out_j.shape)`` or None;
- ``forward(V) -> (outs, R)`` and ``backward(R, S) -> bars``: ``S[j]: (m, *out_j.shape)`` or None
  (zero seed), ``bars[i]: (m, *leaf.shape)`` per ``wrt`` leaf.

Arrays cross into numba flat and C-contiguous (``(n,)`` values, ``(k, n)`` rows) and come back
reshaped; an output that is a leaf or repeats another is copied, so no two results share memory.
"""
from __future__ import annotations

from contextlib import contextmanager

import contextvars
import os
import time

import numpy as np

from ..program import BranchChanged
from .cache import load_source
from .workspace import EMPTY, Workspaces


def env_calls(name: str, default: int) -> int:
    """A number of calls read from environment variable ``name`` (at least 1)."""
    value = os.environ.get(name, str(default))
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a whole number of calls") from None
    if n < 1:
        raise ValueError(f"{name}={n}: expected at least 1")
    return n


@contextmanager
def calls_in_force(var, calls, where):
    """Context variable ``var`` set to a number of calls within the block (``where`` names the
    setting in the error for anything but a whole number >= 1)."""
    if not isinstance(calls, int) or isinstance(calls, bool) or calls < 1:
        raise ValueError(f"{where}({calls!r}): expected a whole number of calls >= 1")
    token = var.set(calls)
    try:
        yield
    finally:
        var.reset(token)


#: a call of fwd and bwd taking longer than this (seconds) is not counted towards fusing them:
#: the 2.5 us the fused entry saves is under 5% of it, and a large program's fused entry costs
#: tens of seconds of compilation (GMM d = 10: about 40 s)
FUSED_BELOW = 50e-6

_FUSED_AFTER = contextvars.ContextVar("adops_fused_after",
                                      default=env_calls("ADOPS_FUSED_AFTER", 8))


@contextmanager
def fused_after(calls: int):
    """Within the block, a whole program's gradient (and a one-chunk reverse Jacobian) runs as
    one numba call, its forward pass and sweep fused, once ``calls`` of its calls through the
    fast path took under :data:`FUSED_BELOW` each; other calls run them as two calls. The fused
    entry saves about 2.5 us per call and costs about half the compile time of the two again,
    so it is compiled for a small program called often. The default is 8
    (``ADOPS_FUSED_AFTER``).

    Example:
        >>> import numpy as np, revad
        >>> from adops.compile import whole_after
        >>> g = revad.grad(lambda x: np.sum(x * x), compiled=True)
        >>> with whole_after(1), fused_after(1):
        ...     [g(np.ones(2)).tolist() for _ in range(2)][-1]
        [2.0, 2.0]
    """
    with calls_in_force(_FUSED_AFTER, calls, "fused_after"):
        yield


def _native(x):
    """``x`` as a C-contiguous array in native byte order (numba reads the bytes as native)."""
    x = np.asarray(x)
    if not x.dtype.isnative:
        return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))
    return np.ascontiguousarray(x)


def _flat(x, n):
    return _native(x).reshape(n)


def _rows(t, n):
    return _native(t).reshape(t.shape[0], n)


#: the entries that run a forward pass and so take residual workspaces
_FORWARD = frozenset({"fwd", "vjp"})


def _check(ok):
    if not ok:
        raise BranchChanged("a comparison or mask evaluates differently than when the program "
                            "was traced")


class WholeEntries:
    """The numba entries of one :class:`adops.compile.whole.Whole` program."""

    def __init__(self, whole):
        prog = whole.prog
        self.source, self.kernels = whole.source, whole.kernels
        self.module = load_source(whole.source, whole.kernels)
        self.tables = whole.runtime
        self.slots = whole.slots
        self.workspaces = Workspaces(whole.slots, self.tables[0])
        #: the forward passes' residual workspaces, for a pass whose sweeps follow at once
        self.residuals = Workspaces(whole.slots, self.tables[0], residual=True)
        self.keeps_residuals = any(s.residual for s in whole.slots.get("fwd", ()))
        #: per (entry, k) served without the pool: what follows the call's own arguments
        self._tails, self._fns = {}, {}
        # a long program has no ``bwd``: its sweep is ``vjp``, which runs the forward pass
        self.long = whole.long
        self._vjp_calls, self._fused = 0, whole.long
        #: identity seed chunks of the fast path's Jacobians, by (n, chunk, dtype)
        self.seeds = {}
        #: the kept identity seed of a Jacobian done in one pass, by ``(mode, chunk)``
        #: (:mod:`adops.compile.fast`): ``("fwd", chunk)`` -> seed; ``("rev", chunk)`` ->
        #: ``(seed, aliased)``, aliased when a cotangent is the seed's memory
        self.one_chunk = {}
        #: per number of seeds m: the fused ``vjp`` entry bound to its tail, once the forward
        #: pass and sweep are fused and neither takes a pooled workspace (what
        #: :meth:`value_and_vjp` would do, without its per-call bookkeeping)
        self._quick_vjp = {}
        self.leaf_shapes = [tuple(prog.shapes[l]) for l in whole.leaves]
        self.leaf_dtypes = [np.dtype(prog.dtypes[l]) for l in whole.leaves]
        self.leaf_sizes = [int(np.prod(s, dtype=np.int64)) for s in self.leaf_shapes]
        self.wrt = list(whole.wrt)
        #: ``(shape, dtype)`` of each ``wrt`` leaf, in order
        self.wrt_leaves = [(self.leaf_shapes[i], self.leaf_dtypes[i]) for i in self.wrt]
        self.outs = list(prog.outs)
        self.out_shapes = [tuple(prog.shapes[o]) if o is not None else None for o in self.outs]
        self.out_dtypes = [prog.dtypes[o] if o is not None else None for o in self.outs]
        self.live = [j for j, o in enumerate(self.outs) if o is not None]
        # outputs (and tangents) handed back as copies: arrays the program does not own (the
        # caller's input or seed rows, a table, or what a reshape passed through from those)
        self.copy = self._copies(self.live, whole.borrowed_values)
        tangent_outs = set(whole.tangent_outs)
        self.tangent_live = [j for j in self.live if self.outs[j] in tangent_outs]
        self.tangent_copy = self._copies(self.tangent_live, whole.borrowed_tangents)

    def _copies(self, js, borrowed):
        """Per output ``j`` of ``js``: whether it is copied, being borrowed or a repeat."""
        seen, out = set(), []
        for j in js:
            o = self.outs[j]
            out.append(o in borrowed or o in seen)
            seen.add(o)
        return out

    def call(self, name, k, *args, rw=EMPTY):
        """Entry ``name`` of the module on ``args`` and the tables, with its workspaces when it
        takes them (``k``: the rows of its tangents or seeds). A forward pass (``fwd``, ``vjp``)
        with slots also takes residual workspaces ``rw``: empty ones (each residual a fresh
        array, as a pullback kept for later needs), or ones from :attr:`residuals` while the
        sweeps that read the residuals run in the caller's hands (:meth:`residuals_apart`)."""
        extra = rw if name in _FORWARD and self.slots[name] else ()
        tail = self._tails.get((name, k))
        if tail is not None:  # no workspace from the pool: one lookup, one call
            return self._fns[name](*args, *tail, *extra)
        fn = getattr(self.module, name)
        if not self.slots[name] or self.workspaces.fresh(name, k):
            if len(self._tails) < 64:
                self._fns[name] = fn
                self._tails[(name, k)] = self._fresh_tail(name)
            return fn(*args, *self._fresh_tail(name), *extra)
        key, ws = self.workspaces.take(name, k)
        try:
            return fn(*args, *self.tables, *ws, *extra)
        finally:
            self.workspaces.give(key, ws)

    @staticmethod
    def residuals_apart(bars, rw):
        """``bars`` with any array in the residual workspaces ``rw`` copied (they go back to
        the pool, and the next call writes into them): results stay the caller's own."""
        if not rw[0].size and not rw[1].size:
            return bars
        return [b.copy() if np.may_share_memory(b, rw[0]) or np.may_share_memory(b, rw[1])
                else b for b in bars]

    def value_and_vjp(self, V, S):
        """``(ok, outs, bars)``: the forward pass on flat inputs ``V`` and one sweep of seeds
        ``S`` (``bars`` None when ``ok`` is False), as one call once the program has been
        called :func:`fused_after` times taking under :data:`FUSED_BELOW` each, else as two."""
        quick = self._quick_vjp.get(S[0].shape[0])
        if quick is not None:
            return quick(V, S)
        if not self.keeps_residuals:  # (a small program's fixed cost: no pool to ask)
            return self._value_and_vjp(V, S, EMPTY)
        # the residuals die with the sweep: in kept workspaces, not fresh blocks faulted in at
        # every call (GMM d = 64: a 51 MB residual, 12 500 page faults per gradient)
        key, rw = self.residuals.take("fwd", 0)
        try:
            ok, outs, bars = self._value_and_vjp(V, S, rw)
            return ok, outs, (None if bars is None else self.residuals_apart(bars, rw))
        finally:
            self.residuals.give(key, rw)

    def _value_and_vjp(self, V, S, rw):
        m = S[0].shape[0]
        if self._fused:
            self._bind_vjp(m)
            return self.call("vjp", m, V, S, rw=rw)
        start = time.perf_counter()
        ok, outs, R = self.call("fwd", 0, V, rw=rw)
        bars = self.sweep(m, R, S) if ok else None
        if time.perf_counter() - start < FUSED_BELOW:
            self._vjp_calls += 1
            self._fused = self._vjp_calls >= _FUSED_AFTER.get()
        return ok, outs, bars

    def _bind_vjp(self, m):
        """Keep the fused ``vjp`` entry for ``m`` seeds bound to its tail when its residuals
        and workspaces are fresh ones (:data:`EMPTY`): every call then allocates its own, so
        the bound call is what :meth:`value_and_vjp` does, and safe across threads."""
        if m in self._quick_vjp or len(self._quick_vjp) >= 8:
            return
        if self.keeps_residuals and not self.residuals.fresh("fwd", 0):
            return
        if self.slots["vjp"] and not self.workspaces.fresh("vjp", m):
            return
        fn = self.module.vjp
        # what call("vjp", m, V, S, rw=EMPTY) passes after V and S
        tail = self._fresh_tail("vjp") + (EMPTY if self.slots["vjp"] else ())
        self._quick_vjp[m] = lambda V, S: fn(V, S, *tail)

    def _fresh_tail(self, name):
        """What follows an entry's own arguments when it takes no pooled workspace: the tables,
        and empty workspaces if it has slots (each scratch array then fresh)."""
        return self.tables + (EMPTY if self.slots[name] else ())

    def flat_inputs(self, V):
        """The leaves' entries as numba takes them: flat, C-contiguous, native byte order."""
        if len(V) == 1:  # the common case, without a generator (a microsecond per call)
            v = V[0]
            if type(v) is np.ndarray and v.ndim == 1 and v.flags.c_contiguous and \
                    v.dtype.isnative:
                return V if type(V) is tuple else (v,)
        return tuple([(v if v.ndim == 1 else v.reshape(n))
                      if type(v) is np.ndarray and v.flags.c_contiguous and v.dtype.isnative
                      else _flat(v, n) for v, n in zip(V, self.leaf_sizes)])

    def _outs(self, flat):
        outs = [None] * len(self.outs)
        for c, (j, a) in enumerate(zip(self.live, flat)):
            a = a.reshape(self.out_shapes[j])
            outs[j] = a.copy() if self.copy[c] else a
        return outs

    def primal(self, V):
        ok, outs = self.call("primal", 0, self.flat_inputs(V))
        _check(ok)
        return self._outs(outs)

    def jvp(self, V, T):
        Ts = tuple(_rows(T[i], self.leaf_sizes[i]) for i in self.wrt)
        ok, outs, tans = self.call("jvp", Ts[0].shape[0], self.flat_inputs(V), Ts)
        _check(ok)
        k = Ts[0].shape[0]
        result = [None] * len(self.outs)
        for j, t, c in zip(self.tangent_live, tans, self.tangent_copy):
            t = t.reshape((k,) + self.out_shapes[j])
            result[j] = t.copy() if c else t
        return self._outs(outs), result

    def forward(self, V):
        ok, outs, R = self.call("fwd", 0, self.flat_inputs(V))
        _check(ok)
        return self._outs(outs), R

    def backward(self, R, S):
        seeds = self._S(S)
        return self._reshape_bars(self.sweep(seeds[0].shape[0], R, seeds), S)

    def sweep(self, m, R, S):
        """``bwd``: the sweep of ``m`` seeds ``S`` from the residuals ``R`` of ``fwd``. A long
        program keeps the inputs as its residuals, and its ``vjp`` runs the forward pass again
        (one numba function fewer to compile: each links and optimizes all it calls)."""
        if self.long:
            return self.call("vjp", m, R, S, rw=EMPTY)[2]
        return self.call("bwd", m, R, S)

    def _S(self, S):
        m = next(s.shape[0] for s in S if s is not None)
        seeds = []
        for j in self.live:
            n = int(np.prod(self.out_shapes[j], dtype=np.int64))
            s = S[j]
            seeds.append(np.zeros((m, n), dtype=self.out_dtypes[j]) if s is None else
                         _rows(s, n))
        return tuple(seeds)

    def _reshape_bars(self, bars, S):
        m = next(s.shape[0] for s in S if s is not None)
        return [b.reshape((m,) + self.leaf_shapes[i]) for b, i in zip(bars, self.wrt)]
