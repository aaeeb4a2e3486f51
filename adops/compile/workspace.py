"""Scratch arrays of a whole-program entry, taken from a workspace kept with the program.

Contract. :func:`carve` takes the source of one entry of whole-program code
(:mod:`adops.compile.whole`: its decorator, ``def name(params):``, statements, ``return``) and
returns ``(source, slots)``. Each statement ``x = np.empty(shape, dtype=np.D)`` (or
``np.zeros``) whose array cannot reach the ``return`` (not returned, not bound to a name that
is, not a view of one) takes its entries from the workspace ``W8`` (float64) or ``W4``
(float32), two parameters added to the entry, instead of a fresh allocation (zero-filled for
``np.zeros``); a workspace too short for a slot (a small call is handed empty ones) gives it a
fresh array (:func:`adops.compile.rows.scratch`). ``slots`` lists those arrays as
:class:`Slot` (dtype, rows, size), and
:func:`words` gives the entries each workspace must hold for a call: ``rows`` slots have the
call's ``k`` directions (or ``m`` seeds) rows, ``size`` is an ``IX`` index or a number.

What is returned (outputs, tangents, the forward pass's residuals, cotangents of the inputs)
is still a fresh array the caller owns; a workspace serves one call at a time
(:class:`Workspaces` hands each running call its own).

Why: a fresh block of a megabyte or more is zero-filled by the kernel page by page at first
touch, and on this project's machine that costs 2 us per 4 kB page, more than the arithmetic
(a 256 x 512 cotangent block: 0.5 ms to fault in, 0.15 ms to compute).
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass

import numpy as np

#: the workspace parameter of each dtype
PARAMS = {"float64": "W8", "float32": "W4"}
_ALLOC = re.compile(r"^(\s*)(\w+) = np\.(empty|zeros)\((.*), dtype=np\.(float64|float32)\)$")
_SIZE = re.compile(r"^(?:IX\[(\d+)\]|(\d+))$")
_ROWS = re.compile(r"^(?:m|\w+\.shape\[0\]|(\d+))$")


@dataclass(frozen=True)
class Slot:
    dtype: str
    rows: bool        # first dimension is the call's k (or m)
    lead: int         # else the first dimension's number (1 for a flat array)
    size: tuple       # ("IX", j) or ("n", number)
    residual: bool = False  # a forward pass's residual, in the residual workspaces R8, R4

    def words(self, IX, k):
        n = int(IX[self.size[1]]) if self.size[0] == "IX" else self.size[1]
        return (k if self.rows else self.lead) * n


#: attributes that are no array (``x.shape``), and calls that always make a new one
_METADATA = frozenset({"shape", "ndim", "size", "dtype", "itemsize"})
_FRESH = frozenset({"copy", "empty", "zeros", "ones", "full"})


def _aliases(node):
    """Names whose array ``node``'s value may be (a view or the array itself)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute) and node.attr in _METADATA:
        return set()  # x.shape[0] sizes an array, it is not one
    if isinstance(node, (ast.Subscript, ast.Attribute)):
        return _aliases(node.value)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return set()  # a generated helper: a fresh array
        if isinstance(node.func, ast.Attribute) and node.func.attr in _FRESH:
            return set()  # x.copy(), np.empty(shape): a new array whatever the arguments
        # a method (x.reshape) or a numpy function (np.ascontiguousarray) may return its
        # object or an argument itself, or a view of it
        return _aliases(node.func).union(*(_aliases(a) for a in node.args))
    if isinstance(node, ast.Tuple):
        return set().union(*(_aliases(e) for e in node.elts)) if node.elts else set()
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Constant)):
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _escaping(fn, but_last=False):
    """Names whose arrays may be returned by ``fn`` (directly or through aliases); with
    ``but_last``, through the returned tuple's elements but its last (a forward pass's outputs,
    not its residuals)."""
    body, final = fn.body[:-1], fn.body[-1]
    node = final
    if but_last and isinstance(final.value, ast.Tuple):
        node = ast.Tuple(elts=final.value.elts[:-1], ctx=ast.Load())
    out = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    for stmt in reversed(body):
        if isinstance(stmt, ast.Assign):
            targets = {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if targets & out:
                out |= _aliases(stmt.value)
        elif not isinstance(stmt, (ast.AugAssign, ast.Expr)):
            out |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    return out


def _shape(text):
    """``(rows, lead, size)`` of an allocation's shape text, or None when not a known form."""
    node = ast.parse(text, mode="eval").body
    parts = [ast.get_source_segment(text, e) for e in node.elts] \
        if isinstance(node, ast.Tuple) else [text]
    if len(parts) == 1:
        rows, lead, size = False, 1, parts[0]
    elif len(parts) == 2:
        m = _ROWS.match(parts[0])
        if m is None:
            return None
        rows, lead, size = m.group(1) is None, int(m.group(1) or 0), parts[1]
    else:
        return None
    s = _SIZE.match(size)
    if s is None:
        return None
    return rows, lead, ("IX", int(s.group(1))) if s.group(1) else ("n", int(s.group(2)))


def carve(source: str, rows_known: bool, residuals: bool = False):
    """``(source, slots)``: the entry with its scratch allocations taken from the workspaces
    (see module doc). ``rows_known``: the call's k or m sizes its ``rows`` slots (jvp, bwd);
    elsewhere an allocation with rows of a run-time size stays fresh. ``residuals``: the entry
    is a forward pass returning ``ok, outputs, residuals``; an allocation reaching the residuals
    only is taken from the residual workspaces ``R8, R4`` (``Slot.residual``), which the caller
    hands empty (each residual fresh, as a pullback kept for later needs) or keeps until the
    sweeps that read them are done; the entry then takes ``W8, W4, R8, R4``.

    >>> src = ("def bwd(R, S, IX, ID, K):\\n    m = S[0].shape[0]\\n"
    ...        "    c = np.empty((m, IX[3]), dtype=np.float64)\\n    g(c)\\n"
    ...        "    b = np.zeros((m, IX[3]), dtype=np.float64)\\n    return (b, )\\n")
    >>> text, slots = carve(src, True)
    >>> print(text)
    def bwd(R, S, IX, ID, K, W8, W4):
        o8 = 0
        o4 = 0
        m = S[0].shape[0]
        c = scratch(W8, o8, m * IX[3]).reshape((m, IX[3]))
        o8 += m * IX[3]
        g(c)
        b = np.zeros((m, IX[3]), dtype=np.float64)
        return (b, )
    <BLANKLINE>
    >>> slots
    [Slot(dtype='float64', rows=True, lead=0, size=('IX', 3), residual=False)]
    """
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
    escaping = _escaping(fn)
    handed_back = _escaping(fn, but_last=True) if residuals else escaping
    lines = source.splitlines()
    first = fn.body[0].lineno - 1
    slots, out = [], []
    for i, line in enumerate(lines):
        m = _ALLOC.match(line)
        shape = _shape(m.group(4)) if m and i >= first else None
        if m is None or shape is None or m.group(2) in handed_back or \
                (shape[0] and not rows_known):
            out.append(line)
            continue
        indent, name, kind, text, dtype = m.groups()
        rows, lead, size = shape
        kept = name in escaping
        slots.append(Slot(dtype, rows, lead, size, kept))
        w = ("R" if kept else "W") + PARAMS[dtype][1]
        o = ("r" if kept else "o") + PARAMS[dtype][1]
        dims = ast.parse(text, mode="eval").body
        dims = [ast.get_source_segment(text, e) for e in dims.elts] \
            if isinstance(dims, ast.Tuple) else [text]
        count = " * ".join(dims)
        shaped = f".reshape(({', '.join(dims)}))" if len(dims) == 2 else ""
        out.append(f"{indent}{name} = scratch({w}, {o}, {count}){shaped}")
        if kind == "zeros":
            out.append(f"{indent}{name}[...] = 0")
        out.append(f"{indent}{o} += {count}")
    if not slots:
        return source, []
    head = fn.lineno - 1
    out[head] = out[head].replace("):", ", W8, W4, R8, R4):" if residuals else ", W8, W4):", 1)
    out[first:first] = ["    o8 = 0", "    o4 = 0"] + (["    r8 = 0", "    r4 = 0"] if residuals
                                                     else [])
    return "\n".join(out) + "\n", slots


def words(slots, IX, k, residual=False):
    """``{dtype: entries}`` the workspaces (``residual``: the residual workspaces) must hold
    for one call with ``k`` rows."""
    need = {"float64": 0, "float32": 0}
    for s in slots:
        if s.residual == residual:
            need[s.dtype] += s.words(IX, k)
    return need


def _keep_bytes(floor=32 << 20, ceiling=256 << 20, share=64) -> int:
    """The largest workspace a program keeps: 1/``share`` of the machine's memory, within
    [``floor``, ``ceiling``] (``floor`` where the memory cannot be read). A workspace larger than
    this is made for its call and dropped, and then every call faults its pages in afresh: at
    GMM d = 64 (blocks of 51 MB, 200 MB of scratch per sweep) that was a third of the gradient."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return floor
    return int(min(max(memory // share, floor), ceiling))


#: a program keeps workspaces of at most this many bytes (a larger one is made for the call and
#: dropped after), and at most KEPT of them (calls running at once beyond that allocate their own)
KEEP_BYTES = _keep_bytes()
KEPT = 2
#: a call needing at most this many bytes is handed the empty workspaces :data:`EMPTY`, so each
#: slot is a fresh block (small blocks come from malloc's free lists, not fresh pages): cheaper
#: than the pool's bookkeeping
FRESH_BYTES = 64 << 10
#: empty workspaces, shared (nothing is ever written into them)
EMPTY = (np.empty(0, np.float64), np.empty(0, np.float32))


class Workspaces:
    """The workspaces of one program's entries: one pool of ``(W8, W4)`` pairs shared by every
    entry and k, each pair grown to the largest need met, so a program keeps at most
    ``KEPT x KEEP_BYTES`` however many entries, k and threads it serves. A call takes a pair
    from the pool (threads running at once each take their own) and gives it back; a call
    needing under ``FRESH_BYTES`` gets :data:`EMPTY` and gives nothing back."""

    def __init__(self, slots, IX, residual=False):
        """``residual``: the pool of the forward passes' residual workspaces."""
        self.slots, self.IX, self.pool, self.residual = slots, IX, [], residual
        self.need = {}  # (entry, k) -> (float64 entries, float32 entries, fresh)

    def _need(self, entry, k):
        need = self.need.get((entry, k))
        if need is None:
            words8_4 = words(self.slots[entry], self.IX, k, self.residual)
            n8, n4 = words8_4["float64"], words8_4["float32"]
            need = (n8, n4, 8 * n8 + 4 * n4 <= FRESH_BYTES)
            if len(self.need) < 64:
                self.need[(entry, k)] = need
        return need

    def fresh(self, entry, k) -> bool:
        """Whether a call of ``entry`` with ``k`` rows is handed :data:`EMPTY`."""
        return self._need(entry, k)[2]

    def take(self, entry, k):
        """``(key, (W8, W4))`` for one call of ``entry`` with ``k`` rows (``key`` None: fresh
        workspaces, not given back)."""
        n8, n4, fresh = self._need(entry, k)
        if fresh:
            return None, EMPTY
        try:
            w8, w4 = self.pool.pop()
        except IndexError:  # none kept, or other threads hold them
            return (entry, k), (np.empty(n8, np.float64), np.empty(n4, np.float32))
        if w8.shape[0] < n8:
            w8 = np.empty(n8, np.float64)
        if w4.shape[0] < n4:
            w4 = np.empty(n4, np.float32)
        return (entry, k), (w8, w4)

    def give(self, key, ws):
        if key is not None and len(self.pool) < KEPT and \
                ws[0].nbytes + ws[1].nbytes <= KEEP_BYTES:
            self.pool.append(ws)
