"""A long whole-program entry cut into numba functions of bounded size, each repeated block of
statements compiled once.

Contract. :class:`Segmenter` ``.split(text)`` takes one generated entry (its decorator,
``def name(params):``, straight-line statements at depth 1, a ``return`` last) and gives module
text: new block functions, then the entry with each block replaced by one call,
``(outs, ) = block(ins, IX, IX[k])``. The entry computes the same values in the same order:
a block's parameters are the names it reads that are bound before it, its results the names it
binds that later statements read (arrays it writes into are the caller's own, as before); a
statement that returns stays in the entry. Inside a block every local name is renamed by first
appearance (``p`` parameters, ``n`` the rest), its table reads ``IX[j]`` become ``IX[o + i]``
(each call appends its own copy of those entries to the tables, and ``IX[k]`` holds where they
start), and the fused loops' aliases (``g3_primal = k1_primal``) are resolved, so the blocks of
an unrolled loop (a Python ``for`` traced step by step) give one text, emitted and compiled
once. Blocks are found by period: the statements' shapes (their text with every local name and
table index blanked) repeat with some period ``p``; each run of at least two periods is cut at
fixed offsets within the period. Statements that repeat nothing stay in the entry, up to
:data:`INLINE` of them; beyond, they are cut into blocks of at most :data:`BLOCK`. When the
entry still holds more than :data:`TOP` statements, it is cut again (its calls repeat too: a
loop of loops).

Why: LLVM's time grows faster than a function's length (an LSTM traced over 16 characters,
246 steps: 7 minutes as one function per entry, 87 s cut), and an unrolled loop of 1000 steps
would compile the same code 1000 times.
"""
from __future__ import annotations

import ast
import copy
import re

import numpy as np

# Sizes: numba's typing and lowering and LLVM's passes all grow faster than a function's length,
# so smaller pieces compile faster in sum. The unrolled RNN of tests/test_segments.py (24 steps,
# its vjp, jvp and fwd entries) took 86-92 s with 150 / 120 / 400 and 64-82 s with these
# (one machine, two runs each); the calls between pieces cost microseconds.
#: statements per block function (a period longer than this is cut into pieces of this size)
BLOCK = 60
#: an entry of more statements than this is cut (again)
TOP = 50
#: statements that repeat nothing left in an entry: beyond this, they too are cut into blocks
INLINE = 120
#: the longest period looked for
MAX_PERIOD = 4096
#: the fewest statements a run of repeats must cover to be cut by its period
MIN_RUN = 16

_ALIAS = re.compile(r"^(g\w+) = (k\d+_\w+)$")


def kernel_aliases(lines) -> dict:
    """``{group loop name: shared kernel name}`` from a module's binding lines."""
    out = {}
    for line in lines:
        m = _ALIAS.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _is_table_read(node) -> bool:
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and node.value.id == "IX" and isinstance(node.slice, ast.Constant)
            and type(node.slice.value) is int)


class _Statement:
    """What one top-level statement reads and binds, and its shape (its key)."""

    def __init__(self, node, local, aliases):
        self.node = node
        self.loads, self.binds, self.definite = set(), set(), set()
        self.returns = False
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                (self.binds if isinstance(sub.ctx, ast.Store) else self.loads).add(sub.id)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                self.loads.add(sub.target.id)
            elif isinstance(sub, (ast.Return, ast.Yield)):
                self.returns = True
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Name):
                        self.definite.add(sub.id)
        self.loads &= local
        self.key = hash(ast.unparse(_Blank(local, aliases).visit(copy.deepcopy(node))))


class _Blank(ast.NodeTransformer):
    """A statement's shape: local names and table indices blanked, aliases resolved."""

    def __init__(self, local, aliases):
        self.local, self.aliases = local, aliases

    def visit_Name(self, node):
        if node.id in self.local:
            return ast.Name("_", node.ctx)
        return ast.Name(self.aliases.get(node.id, node.id), node.ctx)

    def visit_Subscript(self, node):
        if _is_table_read(node):
            return ast.Name("IX_", ast.Load())
        return self.generic_visit(node)


class _Canonical(ast.NodeTransformer):
    """A block's statements with its names renamed by first appearance (see module doc): its
    table reads ``IX[j]`` become ``IX[o + i]``, ``o`` where the block's own copies of those
    entries start (itself a table entry: numba compiles a function once per literal
    argument)."""

    def __init__(self, params, local, aliases):
        self.params, self.local, self.aliases = params, local, aliases
        self.names, self.ins, self.tables = {}, [], []
        self.reads_tables = False

    def visit_Name(self, node):
        name = node.id
        if name == "IX":
            self.reads_tables = True
            return node
        if name not in self.local:
            return ast.Name(self.aliases.get(name, name), node.ctx)
        if name not in self.names:
            if name in self.params:
                self.names[name] = f"p{len(self.ins)}"
                self.ins.append(name)
            else:
                self.names[name] = f"n{len(self.names) - len(self.ins)}"
        return ast.Name(self.names[name], node.ctx)

    def visit_Subscript(self, node):
        if _is_table_read(node):
            self.reads_tables = True
            j = node.slice.value
            if j not in self.tables:
                self.tables.append(j)
            return ast.parse(f"IX[o + {self.tables.index(j)}]", mode="eval").body
        return self.generic_visit(node)


def _runs(keys, lo, hi):
    """``(p, [(start, periods)])``: the period whose runs (two periods or more) cover most of
    ``keys[lo:hi]``, and those runs; ``(0, [])`` when nothing repeats."""
    a = keys[lo:hi]
    n = len(a)
    best = (0, 0, [])
    for p in range(1, min(n // 2, MAX_PERIOD) + 1):
        eq = a[:-p] == a[p:]
        if int(eq.sum()) < max(p, best[1]):
            continue
        edges = np.flatnonzero(np.diff(np.concatenate(([0], eq.view(np.int8), [0]))))
        runs, covered = [], 0
        for s, e in zip(edges[::2], edges[1::2]):
            periods = (e - s + p) // p  # eq[s:e] true: keys s .. e + p - 1 repeat
            if periods >= 2 and periods * p >= MIN_RUN:
                runs.append((lo + int(s), int(periods)))
                covered += periods * p
        if covered > best[1]:
            best = (p, covered, runs)
    return best[0], best[2]


def _plan(keys, lo, hi, out):
    """Blocks ``(start, end)`` covering the repeated runs of ``[lo, hi)``, and ``(start, None)``
    for each statement left in the entry, appended to ``out`` (see module doc)."""
    if hi - lo < MIN_RUN:
        out.extend((i, None) for i in range(lo, hi))
        return
    p, runs = _runs(keys, lo, hi)
    at = lo
    for start, periods in runs:
        if start < at:
            continue
        _plan(keys, at, start, out)
        if p <= BLOCK:
            group = max(1, BLOCK // p)
            j = 0
            while j < periods:
                g = min(group, periods - j)
                out.append((start + j * p, start + (j + g) * p))
                j += g
        else:
            for j in range(periods):
                for s in range(0, p, BLOCK):
                    out.append((start + j * p + s, start + j * p + min(s + BLOCK, p)))
        at = start + periods * p
    if at == lo:  # nothing repeats here
        out.extend((i, None) for i in range(lo, hi))
    else:
        _plan(keys, at, hi, out)


def _chunked(plan, returns):
    """``plan`` with its statements left in the entry cut into blocks of at most
    :data:`BLOCK` when more than :data:`INLINE` are left (a statement that returns stays)."""
    if sum(end is None for _, end in plan) <= INLINE:
        return plan
    out, run = [], []

    def flush():
        for s in range(0, len(run), BLOCK):
            piece = run[s:s + BLOCK]
            out.append((piece[0], piece[-1] + 1))
        run.clear()
    for start, end in plan:
        if end is None and not returns[start]:
            if run and run[-1] != start - 1:
                flush()
            run.append(start)
        else:
            flush()
            out.append((start, end))
    flush()
    return out


class Segmenter:
    """Cuts the entries of one generated module; block functions are shared between them.
    ``tables``: the module's :class:`adops.compile.formbase.Tables`, to which each block call
    appends its own copy of the table entries it reads."""

    def __init__(self, jit: str, aliases: dict, tables, prefix: str = "blk"):
        self.jit, self.aliases, self.tables, self.prefix = jit, aliases, tables, prefix
        #: canonical text -> function name
        self.names = {}

    def split(self, text: str) -> str:
        """The module text for entry ``text``: its new block functions, then the entry."""
        blocks, entry = [], text
        while True:
            new, cut = self._split_once(entry)
            blocks.extend(new)
            if cut is None:
                return "".join(blocks) + entry
            entry = cut

    def _split_once(self, text):
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("def "))
        fn = ast.parse(text).body[0]
        body = fn.body
        if len(body) <= TOP:
            return [], None
        params = [a.arg for a in fn.args.args]
        local = set(params)
        for sub in ast.walk(fn):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                local.add(sub.id)
        local.discard("IX")
        stmts = [_Statement(s, local, self.aliases) for s in body]
        keys = np.array([s.key for s in stmts], dtype=np.int64)
        first_bind, last_load = {}, {}
        for i, s in enumerate(stmts):
            for name in s.binds:
                first_bind.setdefault(name, i)
            for name in s.loads:
                last_load[name] = i
        plan, lo = [], 0
        for i, s in enumerate(stmts + [None]):  # statements that return stay in the entry
            if s is None or s.returns:
                _plan(keys, lo, i, plan)
                if s is not None:
                    plan.append((i, None))
                lo = i + 1
        plan = _chunked(plan, [s.returns for s in stmts])
        if all(end is None for _, end in plan):
            return [], None
        new, out = [], lines[:at + 1]
        for start, end in plan:
            if end is None:
                out.extend("    " + line for line in ast.unparse(body[start]).splitlines())
                continue
            call, fresh = self._block(stmts, start, end, params, local, first_bind, last_load)
            out.append("    " + call)
            if fresh is not None:
                new.append(fresh)
        return new, "\n".join(out) + "\n"

    def _block(self, stmts, start, end, params, local, first_bind, last_load):
        """The call replacing statements ``[start, end)``, and the block's text when new."""
        defined_before = {n for n in local if n in params or first_bind.get(n, end) < start}
        ins, bound = set(), set()
        for s in stmts[start:end]:
            ins |= (s.loads - bound) & defined_before
            bound |= s.definite
        written = set().union(*(s.binds for s in stmts[start:end]))
        renamer = _Canonical(ins, local, self.aliases)
        nodes = [renamer.visit(copy.deepcopy(s.node)) for s in stmts[start:end]]
        # in the order the block names them (not a set's order, which differs between
        # processes and would give the same block other texts)
        order = {n: k for k, n in enumerate(renamer.names)}
        outs = sorted((n for n in written if last_load.get(n, -1) >= end), key=order.__getitem__)
        args, formals = list(renamer.ins), [f"p{i}" for i in range(len(renamer.ins))]
        if renamer.reads_tables:
            args.append("IX")
            formals.append("IX")
        if renamer.tables:  # the block's own copy of the table entries it reads
            slots = self.tables.slots
            base = len(slots)
            slots.extend(slots[j] for j in renamer.tables)
            slots.append(base)
            args.append(f"IX[{len(slots) - 1}]")
            formals.append("o")
        body = "".join("    " + line + "\n" for node in nodes
                       for line in ast.unparse(node).splitlines())
        results = "".join(renamer.names[n] + ", " for n in outs)
        canonical = f"def BLOCK({', '.join(formals)}):\n{body}    return ({results})\n"
        fresh = None
        if canonical not in self.names:
            name = f"{self.prefix}{len(self.names)}"
            self.names[canonical] = name
            fresh = self.jit + "\n" + canonical.replace("def BLOCK(", f"def {name}(", 1) + "\n"
        target = f"({''.join(n + ', ' for n in outs)}) = " if outs else ""
        return f"{target}{self.names[canonical]}({', '.join(args)})", fresh
