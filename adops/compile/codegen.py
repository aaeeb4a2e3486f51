"""Code generation: a traced program (:class:`adops.program.Trace`) as Python + numba source.

Contract. From one program, three entry points are generated, each a plain Python function of
the program's inputs ``V`` (one array per leaf) and its run-time tables (ops ``O``, parameters
``P``, constants ``C``, guards ``G``, structural ops' linearizations ``L``, per entry):

- ``primal(V, O, P, C, G) -> outs``: the function's output leaves;
- ``jvp(V, T, O, P, C, G, L) -> (outs, tangents)``: ``T[i]: (k, *leaf_i.shape)`` for the leaves in
  ``wrt`` (others None), tangents ``(k, *out_j.shape)`` (None where an output does not depend on
  them);
- ``forward(V, O, P, C, G, L) -> (outs, R)`` and ``backward(R, S) -> bars``: value and VJP with
  ``S[j]: (m, *out_j.shape)`` (None for no seed) and one cotangent ``(m, *leaf_i.shape)`` (or None)
  per leaf in ``wrt``; ``R`` holds what the sweep needs, so a Jacobian sweeps many times.

How. The program is scheduled: structural ops that do not depend on the current run of
elementwise ops are moved ahead of it, so runs are long. Each run of two or more elementwise ops
of one output shape becomes one numba loop (a *group*): the primal, the partials and (per
direction or seed) the tangents or adjoints of every op in the run, as scalars, with the ops'
own rule bodies (:func:`adops.compile.runtime.scalar`) and the strong-zero product. The reverse
loop recomputes the run's forward scalars instead of storing them. Every other op runs as one
call of its ``linearize``/``jvp``/``vjp`` on plain arrays (contractions so go to BLAS). Guards are
checked as soon as their inputs exist; a differing outcome raises
:class:`~adops.program.BranchChanged`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ops.kinds import LinearOp
from ..ops.registry import Arg, ElementwiseOp, Marker, Rule
from .loops import shared_kernels
from .source import Source, literal
from .programview import ALIAS, ProgramView

_FLOATS = ("float32", "float64")


def fusable(op, dtype) -> bool:
    """An elementwise op whose primal and partial rules all have Python bodies numba compiles."""
    if not isinstance(op, ElementwiseOp) or str(dtype) not in _FLOATS:
        return False
    if getattr(op.primal, "py_func", None) is None:
        return False
    # a fused loop applies the markers 1 and -1, and raises a refusal's error where a tangent
    # would reach it (loops._apply); any other marker would be applied as -1: silently wrong
    return all(p is None or isinstance(p, Arg) or
               (isinstance(p, Marker) and (p.name in ("ONE", "NEG_ONE") or p.refuses)) or
               (isinstance(p, Rule) and getattr(p.kernel, "py_func", None) is not None)
               for p in op.partials)


@dataclass
class Group:
    entries: list
    shape: tuple
    dtype: str
    inputs: list = field(default_factory=list)   # external entry ids or ("c", entry, j)
    kinds: list = field(default_factory=list)    # "full", "one", "broadcast"
    outputs: list = field(default_factory=list)  # entries needed outside the group
    #: outputs whose cotangent is a column (m, 1): their one use outside is a sum of everything
    column_seeds: set = field(default_factory=set)
    #: inputs whose tangent rows are columns of wider rows (``x[1:]``'s): the jvp loop is handed
    #: the wider rows and reads them at an offset ``f{k}``, so numba sees C-contiguous rows
    offsets: list = field(default_factory=list)
    #: inputs whose cotangent the vjp loop adds into another entry's cotangent rows at an
    #: offset, input position -> (that entry, offset): ``x[1:]`` into ``x``'s
    #: (:func:`adops.compile.inplace.run_cotangents`)
    into: dict = field(default_factory=dict)
    #: ``(nb, nr)`` of the inputs the loop reads in place though numpy broadcasts them (kinds
    #: ``"repeat"``, ``"tile"``; whole programs only: :mod:`adops.compile.nested`), else ()
    nest: tuple = ()


#: ops per fused loop at most: numba's SSA pass recurses once per reassignment of a loop
#: variable, so a loop of a thousand ops overflows Python's stack; longer runs become several
MAX_GROUP = 32


def schedule(tape, flat=False):
    """Steps in execution order: ``("op", e)`` or ``("group", Group)``. A run holds entries of
    one shape and one dtype; ``flat=True`` (whole programs, where every value is a flat array)
    of one shape but for leading dims of 1, so ``(n,)`` and ``(1, n)`` (a sweep's rows) fuse: an
    input broadcasts to either with the same map of entries (numpy aligns shapes on the right)."""
    same = (lambda a, b: _lead(a) == _lead(b)) if flat else (lambda a, b: tuple(a) == tuple(b))
    steps, run, run_set = [], [], set()
    # structural ops reading the open run wait for it to close, and so do ops reading them: the
    # run goes on past them while its later ops do not need them (a traced gradient slices a
    # loop's output between two loops that then fuse: Rosenbrock's hvp, one pass less)
    waiting, waiting_set = [], set()

    def close():
        if len(run) >= 2:
            steps.append(("group", Group(list(run), tape.shapes[run[0]],
                                         str(tape.dtypes[run[0]]))))
        else:
            steps.extend(("op", e) for e in run)
        steps.extend(("op", e) for e in waiting)
        run.clear()
        run_set.clear()
        waiting.clear()
        waiting_set.clear()

    for e, op in enumerate(tape.ops):
        if op is None or op is ALIAS:
            continue
        refs = [r for r in tape.refs[e] if type(r) is int]
        if fusable(op, tape.dtypes[e]):
            # one dtype per run: a loop's block buffers and outputs are of its dtype, so a
            # float64 product of a float32 sine in a float32 loop would be rounded to float32
            if run and (not same(tape.shapes[e], tape.shapes[run[0]]) or len(run) >= MAX_GROUP
                        or tape.dtypes[e] != tape.dtypes[run[0]]
                        or any(r in waiting_set for r in refs)):
                close()
            run.append(e)
            run_set.add(e)
        elif any(r in run_set or r in waiting_set for r in refs):
            waiting.append(e)
            waiting_set.add(e)
        else:
            steps.append(("op", e))  # hoisted ahead of the open run
    close()
    return steps


def finish_groups(tape, steps, outs):
    """Each group's external inputs (and how its loop reads them) and the members needed
    outside it (by a later step, a guard or the outputs)."""
    group_of = {}
    for kind, s in steps:
        if kind == "group":
            for e in s.entries:
                group_of[e] = s
    used_outside = {o for o in outs if o is not None}
    for g in tape.guards:
        used_outside.update(r for r in g.refs if type(r) is int)
    for e, op in enumerate(tape.ops):
        if op is None or op is ALIAS:
            continue
        for r in tape.refs[e]:
            if type(r) is int and r in group_of and group_of.get(e) is not group_of[r]:
                used_outside.add(r)
    for kind, g in steps:
        if kind != "group":
            continue
        inside = set(g.entries)
        for e in g.entries:
            for j, r in enumerate(tape.refs[e]):
                key = r if type(r) is int else ("c", e, j)
                if type(r) is int and r in inside or key in g.inputs or literal(r) is not None:
                    continue
                g.inputs.append(key)
                shape = tuple(tape.shapes[r] if type(r) is int else _const_shape(r.value))
                # an input with the loop's number of entries differs from its shape only by
                # dims of 1 ((n,) in a (1, n) loop: a sweep's rows), so it is read as it is
                g.kinds.append("one" if _size(shape) == 1 or
                               (type(r) is not int and uniform(r.value)) else
                               "full" if _size(shape) == _size(g.shape) else "broadcast")
        g.outputs = [e for e in g.entries if e in used_outside]


def uniform(value) -> bool:
    """Whether a constant holds one value in every entry, bit for bit up to NaN payloads (a
    sum's cotangent traced into a gradient: ones of the summand's shape): a loop reads its
    first entry, not n of them.

    >>> uniform(np.ones(3)), uniform(np.array([0.0, -0.0])), uniform(np.array([np.nan] * 2))
    (True, False, False)
    """
    v = np.asarray(value)
    if v.size < 2 or v.dtype.kind not in "biuf":
        return False
    first = v.reshape(-1)[0]
    return bool(np.all(v == first) and (v.dtype.kind != "f" or
                                         np.all(np.signbit(v) == np.signbit(first))))


def _lead(shape):
    """``shape`` without its leading dims of 1."""
    shape = tuple(shape)
    while shape and shape[0] == 1:
        shape = shape[1:]
    return shape


def _const_shape(v):
    return np.shape(v)


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def generate(tape, leaves, outs, wrt):
    """The module source for a program (see module doc) and its kernels (key -> kernel module
    text, :func:`adops.compile.loops.shared_kernels`). ``wrt``: leaf positions whose cotangents
    ``backward`` returns."""
    tape = ProgramView(tape, outs)
    outs = tape.outs
    steps = schedule(tape)
    finish_groups(tape, steps, outs)
    depends = depends_on_leaves(tape, {leaves[i] for i in wrt})
    src = Source()
    src("import numpy as np")
    src("from numba import njit")
    src("from adops.compile.runtime import (accumulate, add_into, check_guard, flat_input,")
    src("                                   flat_tangent, unbroadcast)")
    src("")
    groups = [g for kind, g in steps if kind == "group"]
    kernels = {}
    for gi, g in enumerate(groups):
        shared_kernels(src, tape, g, gi, depends, kernels)
    guard_at = guard_positions(tape, steps)
    _entry_primal(src, tape, steps, leaves, outs, groups, guard_at)
    _entry_jvp(src, tape, steps, leaves, outs, groups, guard_at, depends)
    _entry_vjp(src, tape, steps, leaves, outs, groups, guard_at, depends, wrt)
    return src.text(), kernels


def depends_on_leaves(tape, leaves):
    dep = set(leaves)
    for e, op in enumerate(tape.ops):
        if op is not None and op is not ALIAS and any(type(r) is int and r in dep for r in tape.refs[e]):
            dep.add(e)
    return dep


def guard_positions(tape, steps):
    """For each step index, the guards whose inputs are all computed once it has run."""
    done, at = set(tape.leaves), {}
    pending = list(range(len(tape.guards)))
    order = [(-1, None)] + list(enumerate(steps))
    for si, step in order:
        if step is not None:
            kind, s = step
            done.update(s.entries if kind == "group" else [s])
        ready = [g for g in pending
                 if all(type(r) is not int or r in done for r in tape.guards[g].refs)]
        at[si] = ready
        pending = [g for g in pending if g not in ready]
    at[len(steps) - 1] = at.get(len(steps) - 1, []) + pending
    return at


def _arg(tape, e, j, r):
    return f"v{r}" if type(r) is int else f"C[{e}][{j}]"


def _emit_guards(src, tape, gs, depth=1):
    for g in gs:
        args = ", ".join(f"v{r}" if type(r) is int else f"G[{g}].refs[{j}].value"
                         for j, r in enumerate(tape.guards[g].refs))
        src(f"check_guard(G[{g}]{', ' + args if args else ''})", depth)


# -------------------------------------------------------------------------- entry points
def _group_inputs(src, tape, g, gi, depth=1):
    for k, key in enumerate(g.inputs):
        val = f"v{key}" if type(key) is int else f"C[{key[1]}][{key[2]}]"
        src(f"a{gi}_{k} = flat_input({val}, {tuple(g.shape)!r}, {g.kinds[k]!r})", depth)


def _unpack_leaves(src, leaves):
    for i, leaf in enumerate(leaves):
        src(f"v{leaf} = V[{i}]", 1)


def _group_primal(src, tape, g, gi):
    """The values of a group's outputs: its inputs read flat, outputs allocated, one loop."""
    _group_inputs(src, tape, g, gi)
    for e in g.outputs:
        src(f"v{e} = np.empty({tuple(g.shape)!r}, dtype=np.{g.dtype})", 1)
    n = _size(g.shape)  # explicit sizes: reshape(-1) cannot infer a size next to a 0
    args = [f"a{gi}_{k}" for k in range(len(g.inputs))] + [f"v{e}.reshape({n})" for e in g.outputs]
    src(f"g{gi}_primal({n}, {', '.join(args)})", 1)


def _generic_value(src, tape, e, depth=1):
    op = tape.ops[e]
    if op.name == "constant":
        src(f"v{e} = P[{e}]['value']", depth)
        return
    args = ", ".join(_arg(tape, e, j, r) for j, r in enumerate(tape.refs[e]))
    src(f"v{e} = O[{e}].value({args}{', ' if args else ''}**P[{e}])", depth)


def _generic_lin(src, tape, e, depth=1):
    op = tape.ops[e]
    if op.name == "constant":
        src(f"v{e} = P[{e}]['value']", depth)
        return False
    args = ", ".join(_arg(tape, e, j, r) for j, r in enumerate(tape.refs[e]))
    if isinstance(op, LinearOp):
        # a structural op's linearization is its parameters and shapes: built once per program
        src(f"v{e} = O[{e}].value({args}{', ' if args else ''}**P[{e}])", depth)
        src(f"l{e} = L[{e}]", depth)
        return True
    src(f"v{e}, l{e} = O[{e}].linearize({args}{', ' if args else ''}**P[{e}])", depth)
    return True


def _outs_tuple(outs):
    return "(" + "".join(f"v{o}, " if o is not None else "None, " for o in outs) + ")"


def _entry_primal(src, tape, steps, leaves, outs, groups, guard_at):
    src("def primal(V, O, P, C, G):")
    _unpack_leaves(src, leaves)
    _emit_guards(src, tape, guard_at.get(-1, []))
    gi_of = {id(g): i for i, g in enumerate(groups)}
    for si, (kind, s) in enumerate(steps):
        if kind == "op":
            _generic_value(src, tape, s)
        else:
            gi = gi_of[id(s)]
            _group_primal(src, tape, s, gi)
        _emit_guards(src, tape, guard_at.get(si, []))
    src(f"return {_outs_tuple(outs)}", 1)
    src("")


def _entry_jvp(src, tape, steps, leaves, outs, groups, guard_at, depends):
    src("def jvp(V, T, O, P, C, G, L):")
    _unpack_leaves(src, leaves)
    for i, leaf in enumerate(leaves):
        if leaf in depends:
            src(f"t{leaf} = T[{i}]", 1)
    src("k = next(t.shape[0] for t in T if t is not None)", 1)
    _emit_guards(src, tape, guard_at.get(-1, []))
    gi_of = {id(g): i for i, g in enumerate(groups)}
    for si, (kind, s) in enumerate(steps):
        if kind == "op":
            if s in depends:
                _generic_lin(src, tape, s)
                ts = ", ".join(f"t{r}" if type(r) is int and r in depends else "None"
                               for r in tape.refs[s])
                src(f"t{s} = l{s}.jvp([{ts}])", 1)
            else:
                _generic_value(src, tape, s)
        else:
            gi = gi_of[id(s)]
            _group_inputs(src, tape, s, gi)
            tin = [k for k, key in enumerate(s.inputs) if type(key) is int and key in depends]
            for kk in tin:
                src(f"u{gi}_{kk} = flat_tangent(t{s.inputs[kk]}, {tuple(s.shape)!r}, "
                    f"{s.kinds[kk]!r})", 1)
            for e in s.outputs:
                src(f"v{e} = np.empty({tuple(s.shape)!r}, dtype=np.{s.dtype})", 1)
            touts = [e for e in s.outputs if e in depends]
            for e in touts:
                src(f"t{e} = np.empty((k,) + {tuple(s.shape)!r}, dtype=np.{s.dtype})", 1)
            n = _size(s.shape)  # explicit: with k = 0 directions, reshape(k, -1) is ambiguous
            args = [f"a{gi}_{kk}" for kk in range(len(s.inputs))] + \
                   [f"u{gi}_{kk}" for kk in tin] + [f"v{e}.reshape({n})" for e in s.outputs] + \
                   [f"t{e}.reshape(k, {n})" for e in touts]
            # the Python driver picks the path itself: numba then compiles only that one
            src(f"(g{gi}_jvp_one if k == 1 else g{gi}_jvp_many)({n}, k, {', '.join(args)})", 1)
        _emit_guards(src, tape, guard_at.get(si, []))
    tans = "(" + "".join(f"t{o}, " if o is not None and o in depends else "None, "
                         for o in outs) + ")"
    src(f"return {_outs_tuple(outs)}, {tans}", 1)
    src("")


def _entry_vjp(src, tape, steps, leaves, outs, groups, guard_at, depends, wrt):
    # which entries need a cotangent: on a path from a requested leaf to an output
    reach = depends
    src("def forward(V, O, P, C, G, L):")
    _unpack_leaves(src, leaves)
    _emit_guards(src, tape, guard_at.get(-1, []))
    gi_of = {id(g): i for i, g in enumerate(groups)}
    keep = []
    for si, (kind, s) in enumerate(steps):
        if kind == "op":
            if s in reach and _generic_lin(src, tape, s):
                keep.append(f"l{s}")
            elif s not in reach:
                _generic_value(src, tape, s)
        else:
            gi = gi_of[id(s)]
            _group_primal(src, tape, s, gi)
            if any(e in reach for e in s.entries):
                keep.extend(f"a{gi}_{k}" for k in range(len(s.inputs)))
        _emit_guards(src, tape, guard_at.get(si, []))
    src(f"return {_outs_tuple(outs)}, ({''.join(k + ', ' for k in keep)})", 1)
    src("")
    src("def backward(R, S):")
    if keep:
        src(f"({''.join(k + ', ' for k in keep)}) = R", 1)
    src("m = next(s.shape[0] for s in S if s is not None)", 1)
    for e in sorted(reach):
        src(f"b{e}, w{e} = None, False", 1)
    for j, o in enumerate(outs):
        if o is not None and o in reach:
            src(f"b{o}, w{o} = accumulate(b{o}, w{o}, S[{j}])", 1)
    for kind, s in reversed(steps):
        if kind == "op":
            if s not in reach or tape.ops[s].name == "constant":
                continue
            refs = tape.refs[s]
            needed = tuple(type(r) is int and r in reach for r in refs)
            if not any(needed):
                continue
            src(f"if b{s} is not None:", 1)
            op = tape.ops[s]
            if len(refs) == 1 and getattr(op, "transpose_add", None) is not None:
                r = refs[0]
                src(f"b{r}, w{r} = add_into(b{r}, w{r}, l{s}, b{s}, (m,) + "
                    f"{tuple(tape.shapes[r])!r}, np.{tape.dtypes[r]})", 2)
                continue
            src(f"cs = l{s}.vjp(b{s}, {needed!r})", 2)
            for j, r in enumerate(refs):
                if needed[j]:
                    src(f"if cs[{j}] is not None:", 2)
                    src(f"b{r}, w{r} = accumulate(b{r}, w{r}, "
                        f"unbroadcast(cs[{j}], {tuple(tape.shapes[r])!r}))", 3)
        else:
            gi = gi_of[id(s)]
            if not any(e in reach for e in s.entries):
                continue
            bouts = [e for e in s.outputs if e in depends]
            cins = [k for k, key in enumerate(s.inputs) if type(key) is int and key in depends]
            live = [e for e in bouts if e in reach]
            src(f"if {' or '.join(f'b{e} is not None' for e in live) or 'False'}:", 1)
            n = _size(s.shape)  # explicit: with m = 0 seeds, reshape(m, -1) is ambiguous
            for e in bouts:
                zeros = f"np.zeros((m, {n}), dtype=np.{s.dtype})"
                if e in reach:  # a broadcast cotangent (a sum's) is read with stride 0
                    src(f"q{e} = {zeros} if b{e} is None else "
                        f"np.broadcast_to(b{e}, (m,) + {tuple(s.shape)!r}).reshape(m, {n})", 2)
                else:
                    src(f"q{e} = {zeros}", 2)
            for k in cins:
                alloc = "zeros" if s.kinds[k] == "one" else "empty"
                n = 1 if s.kinds[k] == "one" else _size(s.shape)
                src(f"c{k} = np.{alloc}((m, {n}), dtype=np.{s.dtype})", 2)
            args = [f"a{gi}_{k}" for k in range(len(s.inputs))] + [f"q{e}" for e in bouts] + \
                   [f"c{k}" for k in cins]
            src(f"(g{gi}_vjp_one if m == 1 else g{gi}_vjp_many)({_size(s.shape)}, m, "
                f"{', '.join(args)})", 2)
            for k in cins:
                r = s.inputs[k]
                if r not in reach:
                    continue
                shape = tuple(tape.shapes[r])
                if s.kinds[k] == "broadcast":
                    expr = f"unbroadcast(c{k}.reshape((m,) + {tuple(s.shape)!r}), {shape!r})"
                else:
                    expr = f"c{k}.reshape((m,) + {shape!r})"
                src(f"b{r}, w{r} = accumulate(b{r}, w{r}, {expr})", 2)
    res = "".join(f"b{leaves[i]}, " if leaves[i] in reach else "None, " for i in wrt)
    src(f"return ({res})", 1)
    src("")
