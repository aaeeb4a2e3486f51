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
  the wider rows, offset)``), which loops read at the offset (``Group.offsets``).
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


def absorbed_pads(prog, steps, ops):
    """Slice transposes onto zeros (:meth:`Form.pad`) read only by fused loops at the loop's
    size become inputs of kind ``"pad"`` of those loops, which read the source at an offset and
    zero outside it (and write the source's cotangent rows directly), so the padded array is
    never made: Rosenbrock's hvp made six, a pass over n each, zero-filled and written.
    Returns entry -> (source, lo, hi)."""
    reads = {}  # entry -> [(group, input position)] of the loops that read it
    groups = [g for kind, g in steps if kind == "group"]
    for g in groups:
        for k, key in enumerate(g.inputs):
            if type(key) is int:
                reads.setdefault(key, []).append((g, k))
    pinned = _pinned(prog)
    users = {}
    for kind, s in steps:
        for c in (s.entries if kind == "group" else [s]):
            for r in prog.refs[c]:
                if type(r) is int:
                    users.setdefault(r, set()).add(id(s) if kind == "group" else c)
    pads = {}
    for e, step in ops.items():
        pad = step.form.pad()
        if pad is None or e in pinned or e not in reads:
            continue
        loops = reads[e]
        if any(g.kinds[k] != "full" for g, k in loops) or \
                users[e] != {id(g) for g, _ in loops}:
            continue  # read by another op, or broadcast by a loop
        for g, k in loops:
            g.kinds[k] = "pad"
        pads[e] = pad
    return pads
