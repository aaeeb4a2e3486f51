"""Repeated runs of a traced program: the steps of a Python loop that the trace unrolled.

Contract. :func:`find_run` ``(tape)`` returns the longest run that :mod:`adops.compile.rolling`
can roll into a loop, as a :class:`Run`, or None. A run is ``T`` steps of ``P`` entries from
entry ``s``: entry ``s + j P + k`` has the same op, shape, dtype and parameters for every step
``j`` (or parameters that change from step to step: a per-step read), and each of its reads
(``refs``) is, the same way in every step, one of

- ``("internal", k')``: entry ``k' < k`` of the same step;
- ``("carried", k')``: entry ``k'`` of the step before (for the first step, entry ``s - P + k'``
  before the run, of the same shape and dtype): a carry of the loop;
- ``("invariant", r)``: the same entry ``r < s`` in every step;
- ``("const", c)``: the same constant in every step (equal values: small arrays are compared
  by value);
- ``("xconst", values)``: a constant array that differs from step to step with one shape and
  dtype (``h + X[t]`` with ``X`` a plain array): ``values`` stacked, a per-step input.

Reads two steps back, guards inside the run, or a read of the run's own first step as an
invariant end the run there (the run then starts one step later).

How. Each entry gets a code (op, shape, dtype, which reads are entries); the period ``P`` is
the one whose longest stretch of ``code[e] == code[e + P]`` is longest (a multiple of the true
period has a shorter stretch); then consecutive steps are compared read by read, and the
longest stretch of steps that compare alike is the run.
"""
from __future__ import annotations

import numpy as np

from .programview import freeze

#: the fewest steps a run must repeat to be rolled
MIN_STEPS = 4
#: the fewest entries a rolled run must cover
MIN_ENTRIES = 64
#: the longest period looked for
MAX_PERIOD = 2048
#: constant arrays of up to this many entries are compared by value (larger: by identity)
SMALL = 4096


class NotARun(Exception):
    """The entries repeat, but a read fits no kind of loop input (see module doc)."""


class StartsLater(NotARun):
    """A step reads the run's first step as an invariant: the run may start one step later."""


def _codes(tape) -> np.ndarray:
    keys = {}
    out = np.empty(len(tape.ops), np.int64)
    for e, op in enumerate(tape.ops):
        key = ("leaf", e) if op is None else (
            id(op), tape.shapes[e], tape.dtypes[e].str,
            tuple(type(r) is int for r in tape.refs[e]))
        out[e] = keys.setdefault(key, len(keys))
    return out


def _period(codes):
    """``(P, start, stop)``: the period with the longest stretch of repeats, entries
    ``[start, stop)`` repeating it; None when nothing repeats."""
    n, best = len(codes), (0, None)
    for p in range(1, min(MAX_PERIOD, n // 2) + 1):
        if n - p <= best[0]:
            break
        eq = codes[:-p] == codes[p:]
        edges = np.flatnonzero(np.diff(np.concatenate(([0], eq.view(np.int8), [0]))))
        if not len(edges):
            continue
        lengths = edges[1::2] - edges[::2]
        i = int(lengths.argmax())
        if lengths[i] > best[0]:
            best = (int(lengths[i]), (p, int(edges[2 * i]), int(edges[2 * i + 1]) + p))
    return best[1]


def _array(v) -> bool:
    return isinstance(v, (np.ndarray, np.generic))


def _const_kind(a, b):
    """``"const"`` when two constant reads agree, ``"xconst"`` when they are arrays of one shape
    and dtype that differ, else None (a Python number that changes: its weak type would be
    lost by stacking)."""
    a, b = a.value, b.value
    if a is b:
        return "const"
    if type(a) is type(b) and np.shape(a) == np.shape(b) and np.size(a) <= SMALL:
        try:
            if freeze(np.asarray(a)) == freeze(np.asarray(b)):
                return "const"
        except TypeError:
            return None
    if _array(a) and _array(b) and a.shape == b.shape and a.dtype == b.dtype:
        return "xconst"
    return None


def _pair(tape, e, P):
    """How entry ``e`` reads compared with entry ``e - P`` (a kind per read) and whether their
    parameters differ; None when they differ otherwise."""
    kinds = []
    for ra, rb in zip(tape.refs[e - P], tape.refs[e]):
        if type(ra) is int:
            kinds.append("same" if ra == rb else "shift" if rb - ra == P else None)
        else:
            kinds.append(_const_kind(ra, rb))
    if None in kinds:
        return None
    try:
        varies = freeze(tape.params[e] or {}) != freeze(tape.params[e - P] or {})
    except TypeError:
        return None
    return tuple(kinds), varies


class Run:
    """``T`` steps of ``P`` entries from entry ``s`` (see module doc): ``reads[k]`` one
    ``(kind, what)`` per read of the step's entry ``k``, ``varies[k]`` whether its parameters
    change from step to step, ``carried`` the positions the next step reads and ``init[k]``
    the entry that starts each."""

    def __init__(self, tape, P, s, T, kinds):
        self.tape, self.P, self.s, self.T = tape, P, s, T
        self.stop = s + T * P
        self.varies = [v for _, v in kinds]
        self.reads = [self._reads(k, read_kinds) for k, (read_kinds, _) in enumerate(kinds)]
        for k in range(P):
            if self.varies[k] and any(kind not in ("const", "invariant")
                                      for kind, _ in self.reads[k]):
                raise NotARun("a per-step read of a value computed in the loop")
        if any(s < g.position < self.stop for g in tape.guards):  # after the run: it reads
            raise NotARun("a guard inside the loop")  # the last carry or the rows, as outputs do
        self.carried = sorted({o for row in self.reads for kind, o in row if kind == "carried"})
        self.init = {k: s - P + k for k in self.carried}

    def _reads(self, k, read_kinds):
        tape, s, P = self.tape, self.s, self.P
        row = []
        for i, (kind, r) in enumerate(zip(read_kinds, tape.refs[s + k])):
            if kind == "const":
                row.append(("const", r))
            elif kind == "xconst":
                row.append(("xconst", np.stack([tape.refs[s + j * P + k][i].value
                                                for j in range(self.T)])))
            elif kind == "same":
                if r >= s:
                    raise StartsLater("an invariant read of the loop's first step")
                row.append(("invariant", r))
            else:
                o = r - s
                if 0 <= o < k:
                    row.append(("internal", o))
                elif -P <= o < 0 and (tape.shapes[r], tape.dtypes[r]) == \
                        (tape.shapes[o + P + s], tape.dtypes[o + P + s]):
                    row.append(("carried", o + P))
                else:
                    raise NotARun("a read two steps back")
        return row


#: repeated stretches tried, longest first, before giving up on a program
ATTEMPTS = 4


def find_run(tape):
    """The longest repeated run of ``tape`` that can be rolled (a :class:`Run`), or None. A
    stretch that repeats but cannot be rolled is set aside and the next longest is tried (a
    second-order program's sweep reads its forward loop backwards, two periods apart and more:
    the forward loop, shorter, still rolls)."""
    codes = _codes(tape)
    for _ in range(ATTEMPTS):
        found = _period(codes)
        if found is None:
            return None
        run = _run_in(tape, *found)
        if run is not None:
            return run
        _, start, stop = found
        codes[start:stop] = -1 - np.arange(start, stop)  # codes no other entry has
    return None


def _run_in(tape, P, start, stop):
    T = (stop - start) // P
    if T < MIN_STEPS or T * P < MIN_ENTRIES:
        return None
    pairs = [tuple(_pair(tape, start + j * P + k, P) for k in range(P)) for j in range(1, T)]
    # the longest stretch of steps whose consecutive pairs read alike: pairs[j] compares
    # step j + 1 with step j
    best, j = (0, 0), 0
    while j < len(pairs):
        i = j
        while i + 1 < len(pairs) and pairs[i + 1] == pairs[j]:
            i += 1
        if None not in pairs[j] and i - j + 2 > best[1]:
            best = (j, i - j + 2)
        j = i + 1
    j0, steps = best
    while steps >= MIN_STEPS and steps * P >= MIN_ENTRIES:
        try:
            return Run(tape, P, start + j0 * P, steps, pairs[j0])
        except StartsLater:
            j0, steps = j0 + 1, steps - 1
        except NotARun:
            return None
    return None
