"""What a whole program's loops read in place, with no step of its own (:mod:`adops.compile.whole`).

Contract. Each function takes the program (a :class:`~adops.compile.codegen.ProgramView`), its
schedule ``steps`` (``("group", Group)`` or ``("op", entry)``) and the forms of its structural
steps ``ops`` (entry -> step with ``.form``), marks the groups' inputs and outputs it finds, and
returns what the code generator needs:

- :func:`column_seeded`: group outputs whose one use is a sum of everything get their
  cotangent as a column ``(m, 1)``;
- :func:`absorbed_pads`: slice transposes onto zeros read only by loops become loop inputs
  of kind ``"pad"`` (entry -> ``(source, lo, hi)``), never made;
- :func:`column_views`: tangent rows that are column views of wider rows (entry -> ``(entry of
  the wider rows, offset)``), which loops read at the offset (``Group.offsets``);
- :func:`run_cotangents`: loop inputs that are a run of another entry's entries (``x[1:]``)
  have their cotangent added by the loop into the other entry's rows at the offset
  (``Group.into``).
"""
from __future__ import annotations


def _pinned(prog):
    """The entries that must be made as they are: the outputs and the guards' inputs."""
    pinned = {o for o in prog.outs if o is not None}
    pinned.update(r for g in prog.guards for r in g.refs if type(r) is int)
    return pinned


def column_seeded(prog, steps, ops):
    """Marks each group output whose one use is a sum of all its entries (a loss's ``np.sum``)
    in ``group.column_seeds``, and that sum's step: the sweep hands the sum's cotangent rows
    ``(m, 1)`` to the loop as they are, which reads ``b[q, 0]``, instead of broadcasting them to a
    fresh ``(m, n)`` block first (8 MB per seed at n = 10^6, zero-filled page by page)."""
    uses = {}
    for kind, s in steps:
        for c in (s.entries if kind == "group" else [s]):
            for r in prog.refs[c]:
                if type(r) is int:
                    uses.setdefault(r, []).append(c)
    pinned = _pinned(prog)
    for kind, g in steps:
        if kind != "group":
            continue
        inside = set(g.entries)
        for e in g.outputs:
            outside = [c for c in uses.get(e, []) if c not in inside]
            if e in pinned or len(outside) != 1 or outside[0] not in ops:
                continue
            step = ops[outside[0]]
            if step.form.sums_everything():
                g.column_seeds.add(e)
                step.column = True


def column_views(prog, steps, ops, depends, pads):
    """Entry -> (entry of the wider rows, offset) for each entry whose tangent rows are a
    column view (:meth:`Form.column_offset`: ``x[1:]``'s are ``t[:, 1:]``); and marks, in each
    group, the inputs with such rows in ``Group.offsets``, which its jvp loop reads at the
    offset within the wider rows. Why: numba types a column view as a non-contiguous array and
    does not vectorize a loop reading it (Rosenbrock's hvp at n = 10^5: 1.26 ms of loops
    against 0.6 ms when the same loops were handed C-contiguous rows)."""
    views = {}
    for kind, s in steps:
        if kind == "group" or s not in ops or s in pads or s not in depends:
            continue
        refs = prog.refs[s]
        r = refs[0] if refs and type(refs[0]) is int else None
        if r is None or r not in depends:
            continue
        base, offset_in = views.get(r, (r, None))
        offset = ops[s].form.column_offset(offset_in)
        if offset is not None:
            views[s] = (base, offset)
    for kind, g in steps:
        if kind == "group":
            g.offsets = [k for k, key in enumerate(g.inputs)
                         if type(key) is int and g.kinds[k] != "broadcast" and
                         (pads[key][0] if g.kinds[k] == "pad" else key) in views]
    return views


def _loop_reads(prog, steps):
    """``(reads, users)``: entry -> ``[(group, input position)]`` of the fused loops that read
    it, and entry -> its users (a group by ``id``, an op by its entry)."""
    reads = {}
    for kind, g in steps:
        if kind == "group":
            for k, key in enumerate(g.inputs):
                if type(key) is int:
                    reads.setdefault(key, []).append((g, k))
    users = {}
    for kind, s in steps:
        for c in (s.entries if kind == "group" else [s]):
            for r in prog.refs[c]:
                if type(r) is int:
                    users.setdefault(r, set()).add(id(s) if kind == "group" else c)
    return reads, users


def _read_by_loops_only(e, reads, users):
    """Whether every use of ``e`` is a fused loop reading it entry by entry (kind ``"full"``)."""
    loops = reads[e]
    return all(g.kinds[k] == "full" for g, k in loops) and users[e] == {id(g) for g, _ in loops}


def absorbed_pads(prog, steps, ops):
    """Slice transposes onto zeros (:meth:`Form.pad`) read only by fused loops at the loop's
    size become inputs of kind ``"pad"`` of those loops, which read the source at an offset and
    zero outside it (and write the source's cotangent rows directly), so the padded array is
    never made: Rosenbrock's hvp made six, a pass over n each, zero-filled and written.
    Returns entry -> (source, lo, hi)."""
    reads, users = _loop_reads(prog, steps)
    pinned = _pinned(prog)
    pads = {}
    for e, step in ops.items():
        pad = step.form.pad()
        if pad is None or e in pinned or e not in reads:
            continue
        if not _read_by_loops_only(e, reads, users):
            continue  # read by another op, or broadcast by a loop
        for g, k in reads[e]:
            g.kinds[k] = "pad"
        pads[e] = pad
    return pads


def run_cotangents(prog, steps, ops, depends, pads):
    """Marks each loop input that is a contiguous run of another entry's entries (``x[1:]``,
    ``x[:-1]``: :meth:`Form.column_offset`) and is read by fused loops only, in
    ``group.into[k] = (source entry, offset)``: the loop's vjp adds the input's cotangent into
    the source's cotangent rows at the offset (:class:`adops.compile.groupstep.GroupStep`),
    so the run's own cotangent is never made. Why: Rosenbrock's sweep wrote the cotangents of
    ``x[1:]`` and ``x[:-1]``, zero-filled an array of n and added both into it: five passes
    over n where the loop's own writes are one. The caller calls it only when every value the
    sweep reaches has one dtype (the sum is in place, and keeps its dtype)."""
    reads, users = _loop_reads(prog, steps)
    pinned = _pinned(prog)
    for e, step in ops.items():
        if e in pads or e in pinned or e not in depends or e not in reads:
            continue
        offset = step.form.column_offset(None)
        refs = prog.refs[e]
        source = refs[0] if refs and type(refs[0]) is int else None
        if offset is None or source not in depends or not _read_by_loops_only(e, reads, users):
            continue
        for g, k in reads[e]:
            g.into[k] = (source, offset)
