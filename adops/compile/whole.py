"""Whole-program code: a traced program as numba functions, one per derivative.

Contract. From one program (leaves ``V``, outputs, leaves ``wrt`` differentiated) this module
generates, when every entry has a numba form, ``@njit(nogil=True)`` entries of flat arrays:

- ``primal(V, IX, ID, K) -> (ok, outs)``: ``V[i]: (n_i,)`` the leaves' entries, ``outs`` one flat array per
  live output;
- ``jvp(V, T, IX, ID, K) -> (ok, outs, tans)``: ``T[j]: (k, n_j)`` for the ``wrt`` leaves, ``tans`` rows
  ``(k, n_o)`` for the outputs that depend on them (:attr:`Whole.tangent_outs`);
- ``fwd(V, IX, ID, K) -> (ok, outs, R)`` and ``bwd(R, S, IX, ID, K) -> bars``: the forward pass,
  keeping in ``R`` what the sweep reads, and one sweep of ``m`` seeds ``S[j]: (m, n_o)`` (one per
  live output), ``bars[i]: (m, n_i)`` per ``wrt`` leaf. A Jacobian is one ``fwd`` and a ``bwd``
  per chunk of seeds;
- ``vjp(V, S, IX, ID, K) -> (ok, outs, bars)``: both in one call, for a gradient called often
  (:func:`adops.compile.entries.fused_after`): it saves a call's dispatch and the boxing of
  ``R``, about 2.5 us, and costs about half the compile time of ``fwd`` and ``bwd`` again.

An entry with scratch arrays also takes the workspaces ``W8, W4`` after the tables
(:mod:`adops.compile.workspace`; :attr:`Whole.slots` says which entries do).
``IX``, ``ID`` (sizes and index arrays) and ``K`` (the other constant arrays, packed as bytes)
are the program's run-time tables (:class:`adops.compile.forms.Tables`):
the source names no size, so one compile serves every size of a problem. Elementwise runs are
the fused loops of :mod:`adops.compile.loops` (single ops too); structural ops are emitted by
their forms (:mod:`adops.compile.forms`); guards (comparisons and masks recorded by the trace)
are evaluated inside (:mod:`adops.compile.guards`), and ``ok`` is False when one differs, so
the caller traces again. A program with an entry no form serves raises :class:`Unsupported` and
keeps its Python driver (:mod:`adops.compile.codegen`).
"""
from __future__ import annotations

import ast
import re

import numpy as np

from ..ops.registry import ElementwiseOp
from .codegen import (Group, depends_on_leaves, finish_groups, guard_positions, fusable,
                      schedule)
from .programview import ALIAS, ProgramView
from .guards import GuardStep
from .inplace import absorbed_pads, column_seeded, column_views, run_cotangents
from .forms import Form, Tables, Unsupported, form_of, size_of
from .loops import shared_kernels
from .source import Source, literal
from .groupstep import GroupStep, nest_broadcasts
from .rolling import rolled
from .segments import Segmenter, kernel_aliases
from .workspace import carve

_JIT = "@njit(cache=True, nogil=True, error_model='numpy')"
#: a program of more steps (fused runs and structural ops) is long: its unrolled loops are
#: rolled back into loop entries first (:func:`generate_whole`, :mod:`.rolling`); a program
#: still long has its entries cut into numba functions of bounded size, a repeated block
#: compiled once (:mod:`.segments`), and its sweep recomputes the forward pass instead of
#: taking residuals from ``fwd`` (a tuple of thousands of arrays is itself slow to compile).
#: LLVM's time grows faster than a function's length: a 25-layer network of 153 ops took 34 s
#: for fwd and bwd as single functions, an LSTM over 16 characters (246 steps) 7 minutes.
LONG_STEPS = 120
#: a program of more steps keeps its Python driver (its generation alone would take minutes)
MAX_STEPS = 1000


class Whole:
    """The generated source of one program and its tables (see module doc)."""

    def __init__(self, tape, leaves, outs, wrt, within=None, prefix=""):
        """``within``/``prefix``: a rule's program (:mod:`adops.compile.matrixforms`) emitted
        into the module of the whole program ``within``, sharing its tables and kernels: its
        primal only, named ``{prefix}primal``, its loops ``g{prefix}...``."""
        prog = ProgramView(tape, outs)
        self.live_outs = [o for o in prog.outs if o is not None]
        if not self.live_outs:
            raise Unsupported("no output depends on the inputs")
        self.prog, self.leaves, self.wrt = prog, list(leaves), list(wrt)
        self.steps = _steps(prog)
        if len(self.steps) > MAX_STEPS:
            raise Unsupported(f"{len(self.steps)} steps, over {MAX_STEPS}: even cut into "
                              "blocks it would compile for many minutes, so the program keeps "
                              "its Python driver (its fused loops compile once each); a loop "
                              "written as adops.scan is compiled once, not unrolled")
        #: a long program (see :data:`LONG_STEPS`)
        self.long = within is None and len(self.steps) > LONG_STEPS
        self._segmenter = None
        finish_groups(prog, self.steps, prog.outs)
        self.depends = depends_on_leaves(prog, {leaves[i] for i in wrt})
        #: every value the sweep reaches has one dtype: its running sums may be added into in
        #: place (an in-place sum keeps its dtype, numpy's ``+`` promotes)
        self.one_dtype = len({str(prog.dtypes[e]) for e in self.depends}) == 1
        #: the outputs are one number (a loss): its Jacobian, gradient or pullback is one seed,
        #: so the loops' sweep takes their one-seed path only, which is right for any number of
        #: seeds and the cheaper to compile (:func:`adops.compile.loops.shared_kernels`)
        self.one_seed = sum(size_of(prog.shapes[o]) for o in self.live_outs) == 1
        self.tables = Tables() if within is None else within.tables
        self.prefix = prefix
        src = Source()
        if within is None:
            src("import numpy as np")
            src("from numba import njit")
            src("from adops.compile.rows import (bmm_left_rows, bmm_rows, bmm_rows_into, gather, "
                "matmul2, put, same,")
            src("                                pad_into, scatter_add, scatter_add_at, "
                "scatter_add_into, slice_add,")
            src("                                scratch, slice_add_into, spread, spread_blocks, "
                "spread_blocks_into, sum_blocks,")
            src("                                sum_rows)")
            src("from adops.compile.matrixforms import NonFiniteMatrix")
            src("from adops.compile.pages import zeroed")
            src("from adops.compile.lapack import eigh_packed, pinv, qr_packed, svd_packed, "
                "svdvals")
            src("")
        #: the kernel modules the program binds (key -> text, :func:`shared_kernels`)
        self.kernels = {} if within is None else within.kernels
        self.parts = []
        gi = 0
        guard_at = guard_positions(prog, self.steps)
        self.parts += [GuardStep(self, tape.guards[g], prog.guards[g]) for g in guard_at.get(-1, [])]
        ops = {s: _OpStep(self, s) for kind, s in self.steps
               if kind != "group" and prog.ops[s].name != "constant"}
        column_seeded(prog, self.steps, ops)
        #: slice transposes the loops read at an offset, entry -> (source, lo, hi): not made
        self.pads = absorbed_pads(prog, self.steps, ops)
        #: entries whose tangent rows are a column view: entry -> (entry of the wider rows, the
        #: offset within them)
        self.views = column_views(prog, self.steps, ops, self.depends, self.pads)
        if self.one_dtype:
            run_cotangents(prog, self.steps, ops, self.depends, self.pads)
        nest_broadcasts(prog, self.steps)
        for si, (kind, s) in enumerate(self.steps):
            if kind != "group" and s in self.pads:
                pass  # read by its loops at an offset (:func:`adops.compile.inplace.absorbed_pads`), never made
            elif kind == "group":
                shared_kernels(src, prog, s, f"{prefix}{gi}", self.depends, self.kernels)
                self.parts.append(GroupStep(self, s, f"{prefix}{gi}"))
                gi += 1
            elif prog.ops[s].name == "constant":
                self.parts.append(_ConstStep(self, s))
            else:
                self.parts.append(ops[s])
            self.parts += [GuardStep(self, tape.guards[g], prog.guards[g])
                           for g in guard_at.get(si, [])]
        for line in dict.fromkeys(x for p in self.parts for x in getattr(p, "form", Form).prelude):
            src(line)  # module-level lines some forms need (a reduction's compiled rule)
        self.tangent_outs = [o for o in self.live_outs if o in self.depends]
        self.borrowed_values, self.borrowed_tangents = self._borrowed()
        #: each entry's workspace slots (:mod:`adops.compile.workspace`)
        self.slots = {}
        if within is not None:  # a rule's program: its primal, with fresh scratch arrays
            self._primal_body(src)
            if any(getattr(getattr(p, "form", None), "subs", ()) for p in self.parts):
                raise Unsupported("a loop inside a traced rule or step (a scan in a scan's "
                                  "step): its programs are not emitted")
            self.source = src.text()
            return
        self._primal(src)
        self._jvp(src)
        self._vjp(src)
        self._rule_programs(src)
        self.source = src.text()
        self.runtime = self.tables.runtime()

    def _rule_programs(self, src):
        """The programs the forms traced their rules into (:mod:`adops.compile.matrixforms`),
        each a numba function of this module, sharing its tables and kernels."""
        for p in self.parts:
            for sub in getattr(getattr(p, "form", None), "subs", ()):
                trace = sub.trace
                inner = Whole(trace.tape, trace.leaves, trace.outs, [], within=self,
                              prefix=sub.name)
                src.lines.extend(inner.source.splitlines())
                src("")

    def _borrowed(self):
        """The entries whose value, and those whose tangent, may be an array the program does
        not own: a leaf (the caller's input) and its seed rows, a constant (a table), and what
        a step passes through from one of those (:meth:`Form.passes_through`)."""
        values = set(self.leaves)
        tangents = {self.leaves[i] for i in self.wrt}
        for p in self.parts:
            e, source = p.passes()
            if source == "table":
                values.add(e)
            elif source is not None:
                if source in values:
                    values.add(e)
                if source in tangents:
                    tangents.add(e)
        return values, tangents

    # ------------------------------------------------------------------ entries
    def _leaves(self, src):
        for i, leaf in enumerate(self.leaves):
            src(f"v{leaf} = V[{i}]", 1)

    def _outs(self):
        return "(" + "".join(f"v{o}, " for o in self.live_outs) + ")"

    def _entry(self, src, name, rows_known, fill, residuals=False, takes_residuals=False):
        """Entry ``name`` written by ``fill(own)`` into ``src``, its scratch arrays taken from
        workspaces (:mod:`adops.compile.workspace`); its slots kept in :attr:`slots`. A long
        program's entry is cut into blocks (:mod:`adops.compile.segments`).
        ``takes_residuals``: the caller hands residual workspaces it does not use."""
        own = Source()
        fill(own)
        text, self.slots[name] = carve(own.text(), rows_known, residuals)
        if takes_residuals and self.slots[name]:
            text = text.replace(", W8, W4):", ", W8, W4, R8, R4):", 1)
        if self.long:
            if self._segmenter is None:
                self._segmenter = Segmenter(_JIT, kernel_aliases(src.lines), self.tables)
            text = self._segmenter.split(text)
        src.lines.extend(text.splitlines())
        src("")

    def _primal(self, src):
        self._entry(src, "primal", False, self._primal_body)

    def _forward(self, src, signature):
        """An entry's head and its forward pass: every part's value."""
        src(_JIT)
        src(f"def {signature}:")
        self._leaves(src)
        src("ok = True", 1)
        for p in self.parts:
            p.value(src)

    def _primal_body(self, src):
        self._forward(src, f"{self.prefix}primal(V, IX, ID, K)")
        src(f"return ok, {self._outs()}", 1)

    def _jvp(self, src):
        self._entry(src, "jvp", True, self._jvp_body)

    def _jvp_body(self, src):
        src(_JIT)
        src("def jvp(V, T, IX, ID, K):")
        self._leaves(src)
        src("ok = True", 1)
        for j, i in enumerate(self.wrt):
            src(f"t{self.leaves[i]} = T[{j}]", 1)
        for p in self.parts:
            if p.touches(self.depends):
                p.jvp(src)
            else:
                p.value(src)
        tans = "(" + "".join(f"{self.rows(o)}, " for o in self.tangent_outs) + ")"
        src(f"return ok, {self._outs()}, {tans}", 1)

    def rows(self, r, strided_ok=False):
        """The tangent rows of entry ``r`` as an argument: a contiguous copy where they are a
        column view (``x[1:]``'s rows are ``t[:, 1:]``, not copied where loops read them) and
        the taker needs C order (numba's reshape and dot do; what is handed back is fresh)."""
        return f"t{r}" if strided_ok or r not in self.views else f"np.ascontiguousarray(t{r})"

    def _sweep(self):
        """The backward body (lines at depth 1) and the forward names it reads."""
        body = Source()
        body("m = S[0].shape[0]", 1)
        acc = _Cotangents(self, body)
        for j, o in enumerate(self.live_outs):
            if o in self.depends:
                acc.add(o, f"S[{j}]")
        for p in reversed(self.parts):
            if p.touches(self.depends):
                p.vjp(body, acc)
        bars = []
        for i in self.wrt:
            leaf = self.leaves[i]
            n = self.tables.size(size_of(self.prog.shapes[leaf]))
            bars.append(f"b{leaf}" if leaf in acc.assigned else
                        f"zeroed(np.empty((m, {n}), dtype=np.{self.prog.dtypes[leaf]}))")
        body(f"return ({''.join(b + ', ' for b in bars)})", 1)
        text = body.text()
        defined = set()
        for p in self.parts:
            defined.update(p.defines())
        defined.update(f"v{leaf}" for leaf in self.leaves)
        reads = sorted({m.group(0) for m in re.finditer(r"\b[va]\d+(?:_\d+)?\b", text)} & defined,
                       key=lambda n: (n[0], [int(x) for x in n[1:].split("_")]))
        return body, reads

    def _vjp(self, src):
        if self.long:
            return self._vjp_long(src)
        body, reads = self._sweep()

        def fwd(src):
            self._forward(src, "fwd(V, IX, ID, K)")
            src(f"return ok, {self._outs()}, ({''.join(r + ', ' for r in reads)})", 1)

        def bwd(src):
            src(_JIT)
            src("def bwd(R, S, IX, ID, K):")
            if reads:
                src(f"({''.join(r + ', ' for r in reads)}) = R", 1)
            src.lines.extend(body.lines)
        self._entry(src, "fwd", False, fwd, residuals=True)
        self._entry(src, "bwd", True, bwd)
        # the forward pass and one sweep in one call (numba compiles it at its first call, and
        # it links in fwd and bwd as compiled: about half their compile time again)
        ws = {"fwd": ", W8, W4, R8, R4" if self.slots["fwd"] else "",
              "bwd": ", W8, W4" if self.slots["bwd"] else ""}
        src(_JIT)
        src(f"def vjp(V, S, IX, ID, K{', W8, W4, R8, R4' if ws['fwd'] or ws['bwd'] else ''}):")
        src(f"ok, outs, R = fwd(V, IX, ID, K{ws['fwd']})", 1)
        src(f"return ok, outs, bwd(R, S, IX, ID, K{ws['bwd']})", 1)
        src("")
        # one workspace serves both passes in turn (fwd's scratch is dead when bwd starts); it
        # is sized for both, at most twice what the larger needs
        self.slots["vjp"] = self.slots["fwd"] + self.slots["bwd"]

    def _vjp_long(self, src):
        """A long program's reverse entries: ``vjp`` runs the forward pass and the sweep in one
        function; ``fwd`` is the primal keeping a copy of the inputs as its residuals (a later
        change to the caller's arrays does not reach the pullback), and the sweep after it is
        ``vjp`` on them, running the forward pass again (no ``bwd``:
        :meth:`adops.compile.entries.WholeEntries.sweep`)."""
        body, _ = self._sweep()
        *sweep, last = body.lines
        bars = last.strip()[len("return "):]

        def vjp(own):
            self._forward(own, "vjp(V, S, IX, ID, K)")
            own.lines.extend(sweep)
            own(f"return ok, {self._outs()}, {bars}", 1)

        def fwd(own):
            self._forward(own, "fwd(V, IX, ID, K)")
            kept = "".join(f"np.copy(V[{i}]), " for i in range(len(self.leaves)))
            own(f"return ok, {self._outs()}, ({kept})", 1)
        self._entry(src, "vjp", True, vjp, takes_residuals=True)
        self._entry(src, "fwd", False, fwd, residuals=True)


def _steps(prog):
    """The schedule with every elementwise entry in a group (a run of one included)."""
    steps = []
    for kind, s in schedule(prog, flat=True):
        if kind == "op" and isinstance(prog.ops[s], ElementwiseOp):
            if not fusable(prog.ops[s], prog.dtypes[s]):
                raise Unsupported(f"{prog.ops[s].name} on {prog.dtypes[s]}: no fused loop")
            steps.append(("group", Group([s], prog.shapes[s], str(prog.dtypes[s]))))
        else:
            steps.append((kind, s))
    return steps


class _Cotangents:
    """Running cotangent sums ``b{e}`` (rows), known statically: the first contribution is
    bound, later ones added. A sum is added into in place only when the sweep owns it: it was
    made by a call that returns a fresh array (or by an earlier sum), not bound to another
    name's array (a seed, a cotangent passed on unchanged), and every value the sweep reaches
    has one dtype (an in-place sum keeps its dtype, numpy's ``+`` promotes). A scatter added
    into an owned sum is done without a temporary (``scatter_add_into``, ``slice_add_into``)."""

    def __init__(self, whole, src):
        self.whole, self.src, self.assigned, self.owned = whole, src, set(), set()
        self.in_place = whole.one_dtype

    def own(self, r, n, dtype, depth=1):
        """The name of ``r``'s running sum, bound first to rows ``(m, n)`` the sweep owns, which a
        loop may add into in place: zeros when nothing was added yet, else a copy of a sum
        that is another name's array."""
        if r not in self.assigned:
            # a running sum may become the caller's result: zeros advised as numpy's (pages)
            self.src(f"b{r} = zeroed(np.empty((m, {n}), dtype=np.{dtype}))", depth)
            self.assigned.add(r)
        elif r not in self.owned:
            self.src(f"b{r} = b{r}.copy()", depth)
        self.owned.add(r)
        return f"b{r}"

    def add(self, r, expr, depth=1):
        if type(r) is not int or r not in self.whole.depends:
            return
        call = _call(expr)
        if r not in self.assigned:
            self.src(f"b{r} = {expr}", depth)
            self.assigned.add(r)
            if call is not None and self.in_place:
                self.owned.add(r)
        elif r in self.owned:
            if call is not None and call[0] in ("scatter_add", "slice_add") and \
                    len(call[1]) == 3:
                t, where, _ = call[1]
                self.src(f"{call[0]}_into(b{r}, {t}, {where})", depth)
            else:
                self.src(f"b{r} += {expr}", depth)
        else:
            self.src(f"b{r} = b{r} + {expr}", depth)
            if self.in_place:
                self.owned.add(r)


def _call(expr):
    """``(name, [argument sources])`` when ``expr`` is one call of a generated helper (which
    returns a fresh array), else None (a name, an attribute, a sum: maybe another's array)."""
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.keywords:
        return None
    return node.func.id, [ast.get_source_segment(expr, a) for a in node.args]


class _ConstStep:
    def __init__(self, whole, e):
        self.e = e
        value = np.asarray(whole.prog.params[e]["value"])
        self.name = whole.tables.array(value.reshape(-1))

    def touches(self, depends):
        return False

    def defines(self):
        return [f"v{self.e}"]

    def passes(self):
        return self.e, "table"

    def value(self, src):
        src(f"v{self.e} = {self.name}", 1)


class _OpStep:
    """A structural entry, emitted by its form."""

    def __init__(self, whole, e):
        prog = whole.prog
        self.whole, self.e, self.form = whole, e, form_of(prog, e, whole.tables)
        self.column = False  # its cotangent goes to the loop of its input as a column
        self.args = []
        for j, r in enumerate(prog.refs[e]):
            if type(r) is int:
                self.args.append(f"v{r}")
            else:  # a constant operand: its entries in the tables
                self.args.append(whole.tables.array(np.asarray(r.value).reshape(-1)))

    def touches(self, depends):
        return self.e in depends

    def defines(self):
        return [f"v{self.e}", *self.form.extra_values()]

    def passes(self):
        """``(entry, the entry whose array it may be)``; ``(entry, None)`` for a fresh one."""
        r = self.whole.prog.refs[self.e][0] if self.whole.prog.refs[self.e] else None
        return self.e, (r if type(r) is int and self.form.passes_through() else None)

    def _lines(self, src, lines, out):
        for line in lines:
            src(line.replace("{out}", out), 1)

    def value(self, src):
        self._lines(src, self.form.value(self.args), f"v{self.e}")

    def jvp(self, src):
        self.value(src)
        refs = self.whole.prog.refs[self.e]
        takes = self.form.takes_strided_tangent()
        tans = [self.whole.rows(r, takes) if type(r) is int and r in self.whole.depends
                else None for r in refs]
        self._lines(src, self.form.jvp(self.args, tans), f"t{self.e}")

    def vjp(self, src, acc):
        if self.e not in acc.assigned:
            return
        refs = self.whole.prog.refs[self.e]
        if self.column:
            acc.add(refs[0], f"b{self.e}")
            return
        needed = [type(r) is int and r in self.whole.depends for r in refs]
        lines, outs = self.form.vjp(self.args, f"b{self.e}", needed)
        self._lines(src, lines, f"b{self.e}")
        for j, expr in outs:
            acc.add(refs[j], expr)


def generate_whole(tape, leaves, outs, wrt) -> Whole:
    """The :class:`Whole` program, or :class:`Unsupported` (see module doc). A long program's
    unrolled loops are rolled back first (:mod:`adops.compile.rolling`); when the rolled program
    has no numba form (a loop in the rolled step), the unrolled one is built instead."""
    # a program of few entries has few steps: its view is not built twice
    if len(tape.ops) > LONG_STEPS and len(_steps(ProgramView(tape, outs))) > LONG_STEPS:
        loops = rolled(tape, leaves, outs)
        if loops is not None:
            try:
                return Whole(*loops, wrt)
            except Unsupported:
                pass
    return Whole(tape, leaves, outs, wrt)


__all__ = ["Whole", "Unsupported", "generate_whole", "ALIAS", "literal"]
