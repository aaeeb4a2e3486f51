"""The computation as a graph: trace a function in both modes and pair every value with its
tangent (dualad) and adjoint (revad), and both sweeps as steps of chain-rule arithmetic.

Contract: see :mod:`compare.teaching.graph` (:func:`trace_graph` and the :class:`Graph` it
returns).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import dualad
from adops import unbroadcast
from adops.program.inputs import as_primal
from adops.core.fpstate import quiet
from adops.ops.registry import ElementwiseLin, Marker, Scaled as _Scaled
from adops.core.levels import Level
from revad.var import Trace, Var
from revad.backward import adjoints

from ..names import arg_names, entry_names, fmt



@dataclass
class Node:
    id: int
    op: str
    inputs: list
    value: np.ndarray
    partials: list = field(default_factory=list)
    tangent: np.ndarray | None = None
    adjoint: np.ndarray | None = None
    label: str = ""
    name: str = ""


@dataclass
class Term:
    """One edge of the chain rule: ``d dst / d src`` and what flows along it in each sweep."""

    src: int
    dst: int
    partial: np.ndarray | None
    forward: np.ndarray
    backward: np.ndarray | None


@dataclass
class Step:
    """One node of a sweep: the terms summed into it and its arithmetic as text lines."""

    node: int
    terms: list
    lines: list
    result: np.ndarray | None


@dataclass
class Graph:
    nodes: list
    output: int
    order: list
    wrt: int
    names: dict = field(default_factory=dict)
    wrt_name: str = ""
    terms: list = field(default_factory=list)
    seed_in: int = 0            # the forward seed e_i: flat index over every input entry
    seed_out: int = 0           # the backward seed e_j: flat index over the output's entries
    in_names: list = field(default_factory=list)      # every input entry's name (x, w[1], ...)
    out_names: list = field(default_factory=list)     # every output entry's name
    forward_steps: list = field(default_factory=list)
    backward_steps: list = field(default_factory=list)

    def node(self, i) -> Node:
        return next(n for n in self.nodes if n.id == i)

    def term(self, src, dst) -> Term:
        return next(t for t in self.terms if t.src == src and t.dst == dst)


def _logging_dual(log: list) -> type:
    """A Dual class (one per trace, so no state is shared) that appends every value it
    produces to ``log``, in order, to pair them with the tape's entries."""
    class LoggingDual(dualad.Dual):
        __slots__ = ()

        @classmethod
        def _bind(cls, op, args, params, level):
            out = super()._bind.__func__(cls, op, args, params, level)
            log.append(out)
            return out
    return LoggingDual


def _partial_text(d) -> str:
    if d is None:
        return "not differentiable"
    if isinstance(d, Marker):
        return {"ONE": "1", "NEG_ONE": "-1"}[repr(d)]
    if isinstance(d, _Scaled):
        return fmt(d.scale * np.asarray(d.x))
    return fmt(d)


def _partials(lin, refs, name):
    if isinstance(lin, ElementwiseLin):
        return [f"d/d{name(r)} = {_partial_text(d)}"
                for r, d in zip(refs, lin.partials) if type(r) is int]
    kind = type(lin).__name__.removesuffix("Lin").lower()
    return [f"{kind} map (no local partial array)"]


def _terms(tape, needed, values, tangent, bars):
    """Every edge's :class:`Term`, from the op's own linearization (``lin.jvp`` / ``lin.vjp``)."""
    terms = []
    for c in sorted(needed):
        lin, refs = tape.lins[c], tape.refs[c]
        if lin is None:
            continue
        for j in dict.fromkeys(r for r in refs if type(r) is int):
            at = [type(r) is int and r == j for r in refs]

            def push(t_j):
                out = lin.jvp([t_j if hit else None for hit in at])
                return np.zeros(values[c].shape) if out is None else np.asarray(out)[0]
            t_j = tangent.get(j)
            forward = push(np.asarray(t_j)[None] if t_j is not None
                           else np.zeros((1,) + values[j].shape))
            partial = (push(np.ones((1,) + values[j].shape, values[j].dtype))
                       if values[j].size == 1 and values[c].size == 1 else None)
            backward = None
            if bars[c] is not None:
                backward = np.zeros((1,) + values[j].shape)
                for hit, cot in zip(at, lin.vjp(bars[c], at)):
                    if hit and cot is not None:
                        backward = backward + unbroadcast(np.asarray(cot), values[j].shape)
                backward = backward[0]
            terms.append(Term(j, c, partial, forward, backward))
    return terms


def _sum_lines(lhs, symbols, numbers, result, note=""):
    lines = [f"{lhs} = " + " + ".join(symbols)]
    pad = " " * len(lhs)
    lines.append(f"{pad} = " + " + ".join(numbers))
    lines.append(f"{pad} = {fmt(result)}")
    return lines + ([note] if note else [])


def _sweeps(graph):
    """The two sweeps as :class:`Step` lists (see module docstring)."""
    name = graph.names.get
    ids = [n.id for n in graph.nodes]
    wrt_name = graph.wrt_name
    forward = []
    for i in ids:
        n = graph.node(i)
        if n.op == "input":
            seed = (f"the seed e_{graph.seed_in}: 1 at {wrt_name}, 0 elsewhere, so this sweep "
                    f"computes column {graph.seed_in} of the Jacobian, d f / d {wrt_name}"
                    if wrt_name == n.name or wrt_name.startswith(n.name + "[")
                    else f"the seed: {n.name} is held fixed")
            forward.append(Step(i, [], [f"tangent of {n.name} = {fmt(n.tangent)}  ({seed})"],
                                n.tangent))
            continue
        terms = [t for t in graph.terms if t.dst == i]
        symbols = [f"d{n.name}/d{name(t.src)} × tangent of {name(t.src)}" for t in terms]
        numbers = [f"{fmt(t.partial)} × {fmt(graph.node(t.src).tangent)}"
                   if t.partial is not None else
                   f"d{n.name}/d{name(t.src)} · {fmt(graph.node(t.src).tangent)} "
                   f"(= {fmt(t.forward)})" for t in terms]
        note = (f"{n.name} has {len(terms)} inputs: add their contributions"
                if len(terms) > 1 else "")
        forward.append(Step(i, terms, _sum_lines(f"tangent of {n.name}", symbols, numbers,
                                                 n.tangent, note), n.tangent))
    backward = []
    for i in reversed(ids):
        n = graph.node(i)
        if i == graph.output:
            what = ("d f / d f = 1: this sweep computes the gradient, the Jacobian's one row"
                    if n.value.size == 1 else
                    f"e_{graph.seed_out}: 1 at {graph.out_names[graph.seed_out]}, 0 elsewhere, "
                    f"so this sweep computes row {graph.seed_out} of the Jacobian")
            backward.append(Step(i, [], [f"adjoint of {n.name} = {fmt(n.adjoint)}  "
                                         f"(the seed: {what})"], n.adjoint))
            continue
        terms = [t for t in graph.terms if t.src == i]
        symbols = [f"adjoint of {name(t.dst)} × d{name(t.dst)}/d{n.name}" for t in terms]
        numbers = [f"{fmt(graph.node(t.dst).adjoint)} × {fmt(t.partial)}"
                   if t.partial is not None else
                   f"{fmt(graph.node(t.dst).adjoint)} · d{name(t.dst)}/d{n.name} "
                   f"(= {fmt(t.backward)})" for t in terms]
        note = (f"{n.name} feeds {len(terms)} nodes: multiply along each path, add across "
                "the paths" if len(terms) > 1 else "")
        backward.append(Step(i, terms, _sum_lines(f"adjoint of {n.name}", symbols, numbers,
                                                  n.adjoint, note), n.adjoint))
    return forward, backward


def _unit(shape, dtype, k):
    e = np.zeros((1,) + shape, dtype)
    if k is not None:
        e.reshape(-1)[k] = 1
    return e


def trace_graph(f, *args, wrt: int = 0, seed_in: int | None = None, seed_out: int = 0) -> Graph:
    """Trace ``f(*args)`` in both modes and pair every value with its tangent and adjoint.

    The forward sweep is seeded with the unit vector ``e_i`` of input entry ``seed_in`` (a flat
    index over every argument's entries, in order; default: the first entry of argument
    ``wrt``), so its tangents are one column of the Jacobian; the backward sweep with ``e_j`` of
    output entry ``seed_out``, so the inputs' adjoints are one row.

    Example:
        >>> g = trace_graph(lambda x: (3 * x + 1) ** 2, 2.0)
        >>> [fmt(n.adjoint) for n in g.nodes if n.op == "input"]
        ['42']
        >>> g.backward_steps[1].lines
        ['adjoint of #2 = adjoint of #3 × d#3/d#2', '              = 1 × 14', '              = 14']
        >>> h = trace_graph(lambda x: np.sin(x[0] * x[1]) + np.exp(x[1]), np.array([1.0, 2.0]),
        ...                 seed_in=1)
        >>> h.wrt_name, fmt(h.node(h.output).tangent)      # d f / d x[1]: one column
        ('x[1]', '6.97291')
    """
    xs = [as_primal(a, f"argument {i}") for i, a in enumerate(args)]
    params = arg_names(f, len(xs))
    in_names = entry_names(params, [x.shape for x in xs])
    if not 0 <= wrt < len(xs):
        raise ValueError(f"wrt={wrt}: f has {len(xs)} argument(s); give 0 .. {len(xs) - 1}")
    starts = np.cumsum([0] + [x.size for x in xs])
    seed_in = int(starts[wrt]) if seed_in is None else seed_in
    if not 0 <= seed_in < len(in_names):
        raise ValueError(f"seed_in={seed_in}: the inputs have {len(in_names)} entries "
                         f"({', '.join(in_names[:6])}{', ...' if len(in_names) > 6 else ''}); "
                         f"give 0 .. {len(in_names) - 1}")
    wrt = int(np.searchsorted(starts, seed_in, side="right") - 1)
    trace = Trace(f, xs, {}, range(len(xs)), "compare.graph")
    tape = trace.tape
    if len(trace.outs) != 1 or trace.outs[0] is None:
        raise TypeError("the function's output does not depend on its inputs (or is a tuple)")
    out = Var(tape, trace.outs[0], trace.values[0])
    values, _ = tape.replay(xs)
    out_value = values[out.index]
    out_names = entry_names(["f"], [out_value.shape])
    if not 0 <= seed_out < out_value.size:
        raise ValueError(f"seed_out={seed_out}: the output has {out_value.size} entries; give "
                         f"0 .. {out_value.size - 1}")
    bars, order = adjoints(tape, out.index, _unit(out_value.shape, out_value.dtype, seed_out))

    logged = []
    logging_dual = _logging_dual(logged)
    tangents_in = [_unit(x.shape, x.dtype, seed_in - starts[i] if i == wrt else None)
                   for i, x in enumerate(xs)]
    with quiet(), Level("compare.graph") as level:
        f(*[logging_dual(x, t, level) for x, t in zip(xs, tangents_in)])

    op_entries = [i for i, op in enumerate(tape.ops) if op is not None]
    tangent = {leaf: t[0] for leaf, t in zip(tape.leaves, tangents_in)}
    if len(logged) == len(op_entries):
        for i, d in zip(op_entries, logged):
            tangent[i] = d.tangent[0] if isinstance(d, dualad.Dual) else None

    needed, stack = set(), [out.index]
    while stack:
        i = stack.pop()
        if i in needed:
            continue
        needed.add(i)
        stack.extend(r for r in tape.refs[i] if type(r) is int)
    names = {i: (params[tape.leaves.index(i)] if tape.ops[i] is None else f"#{i}")
             for i in needed}

    def ref(r):
        return names[r] if type(r) is int else fmt(r.value)
    nodes = []
    for i in sorted(needed):
        op, refs = tape.ops[i], tape.refs[i]
        kind = "input" if op is None else op.name
        label = names[i] if op is None else f"{kind}(" + ", ".join(ref(r) for r in refs) + ")"
        index = (tape.params[i] or {}).get("index") if op is not None else None
        if kind == "getitem" and index is not None and len(refs) == 1:
            label = f"{ref(refs[0])}[{_index_text(index)}]"
        nodes.append(Node(i, kind, list(dict.fromkeys(r for r in refs if type(r) is int)),
                          values[i],
                          [] if tape.lins[i] is None else _partials(tape.lins[i], refs, ref),
                          tangent.get(i), None if bars[i] is None else bars[i][0], label,
                          names[i]))
    graph = Graph(nodes, out.index, [i for i in order if i in needed], wrt, names,
                  in_names[seed_in], _terms(tape, needed, values, tangent, bars), seed_in,
                  seed_out, in_names, out_names)
    graph.forward_steps, graph.backward_steps = _sweeps(graph)
    return graph


def _index_text(index) -> str:
    """An index as Python writes it: ``0``, ``1:3``, ``::2, 0``, ``...``."""
    parts = index if isinstance(index, tuple) else (index,)

    def one(p):
        if isinstance(p, slice):
            ends = (p.start, p.stop) if p.step is None else (p.start, p.stop, p.step)
            return ":".join("" if v is None else str(v) for v in ends)
        if p is Ellipsis:
            return "..."
        if p is None:
            return "None"
        if isinstance(p, np.ndarray):
            return fmt(p)
        return str(p)
    return ", ".join(one(p) for p in parts)




# ------------------------------------------------------------------ the text on each box and edge
def node_lines(n: Node) -> list:
    return [f"#{n.id} {n.label}", f"value = {fmt(n.value)}",
            *[f"local {p}" for p in n.partials],
            f"tangent (dualad) = {fmt(n.tangent)}", f"adjoint (revad) = {fmt(n.adjoint)}"]


LABEL_AT = 0.5  # along an edge's last segment, which crosses the gap before its target


def edge_label(graph, a, b):
    t = graph.term(a, b)
    if t.partial is None:
        return ""
    return f"d{graph.names[b]}/d{graph.names[a]} = {float(np.asarray(t.partial).ravel()[0]):.4g}"
