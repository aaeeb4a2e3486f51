"""The computation as a picture: each op of a traced function with its forward value, local
partials, forward tangent (dualad) and reverse adjoint (revad), and both sweeps step by step.

Contract: :func:`trace_graph(f, *args, wrt=0)` returns a :class:`Graph` whose nodes are the
tape entries that the output depends on, inputs named after ``f``'s parameters (``w``, ``b``;
``x0``, ``x1``... where the signature gives no name). For node i with value ``v_i: (*shape_i)``:
- ``tangent``: ``d v_i / d t`` along the direction that is all ones in argument ``wrt`` and zero
  elsewhere, computed by ``dualad`` running the same function;
- ``adjoint``: ``d out / d v_i`` (the output summed if it is not a scalar), computed by the
  ``revad`` sweep; ``order`` is the sequence in which that sweep visits the nodes;
- ``partials``: each input's local partial, as text.
Each edge ``src -> dst`` is a :class:`Term` of the chain rule: the local partial ``d dst / d src``
(a number when both are scalars), ``forward`` = what ``src``'s tangent adds to ``dst``'s (the
op's ``lin.jvp``) and ``backward`` = what ``dst``'s adjoint adds to ``src``'s (its ``lin.vjp``).
``forward_steps`` / ``backward_steps`` are the two sweeps as :class:`Step` s: one node each, in
sweep order, with the arithmetic of that node (a sum over its inputs going forward, over the
nodes it feeds going backward: multiply along a path, add across paths).
:func:`layout` places the boxes in columns by depth with igraph's layered (Sugiyama) layout;
edges run in the gaps between columns and across a column only at a free slot, so no edge
crosses a box. :func:`draw` writes ``graph.png``, ``graph.svg`` (matplotlib), ``graph.html``
(self-contained: step either sweep, click a node for its numbers, fill the Jacobian by columns
or rows, see :mod:`compare.jacobians`; and, with ``code=True``, the generated code of the
derivative) and ``jacobian.png``. :func:`generated_code` is what the compiled tier
(:mod:`adops.compile`) made of the chain rule for ``f``: the Python + numba source of its
program, in which each run of elementwise ops is one fused loop (values, partials, and the
tangents or adjoints of every op, element by element).
"""
from __future__ import annotations

import html
import re
import inspect
import json
import os
from dataclasses import dataclass, field

import numpy as np

import dualad
import revad
from adops import unbroadcast
from adops.compile import compiled
from adops.program.inputs import as_primal
from adops.core.fpstate import quiet
from adops.ops.registry import ElementwiseLin, Marker, Scaled as _Scaled
from adops.core.levels import Level
from revad.var import Trace, Var
from revad.backward import adjoints

from . import jacobians


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


def fmt(v) -> str:
    """A short, readable rendering of a value.

    Example:
        >>> fmt(0.1 + 0.2), fmt(np.arange(2.0)), fmt(np.arange(6.0))
        ('0.3', '[0, 1]', 'shape (6,): [0, 1, 2, 3, ...]')
    """
    if v is None:
        return "-"
    a = np.asarray(v, dtype=float)
    if a.ndim == 0 or a.size == 1:
        return f"{float(a.ravel()[0]):.6g}"
    if a.ndim == 1 and a.size <= 4:
        return "[" + ", ".join(f"{x:.4g}" for x in a) + "]"
    flat = ", ".join(f"{x:.4g}" for x in a.ravel()[:4])
    return f"shape {a.shape}: [{flat}{', ...' if a.size > 4 else ''}]"


def arg_names(f, nargs: int) -> list:
    """The names of ``f``'s first ``nargs`` positional parameters (``x<i>`` past them).

    Example:
        >>> arg_names(lambda w, b: w * b, 2), arg_names(lambda *xs: 0, 2)
        (['w', 'b'], ['x0', 'x1'])
    """
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        names.append(p.name)
    return (names + [f"x{i}" for i in range(len(names), nargs)])[:nargs]


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
            seed = ("the seed: differentiating with respect to " + n.name
                    if n.name == wrt_name else f"the seed: {n.name} is held fixed")
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
            what = "dL/dL = 1" if n.value.size == 1 else "ones: the outputs summed"
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


def trace_graph(f, *args, wrt: int = 0) -> Graph:
    """Trace ``f(*args)`` in both modes and pair every value with its tangent and adjoint.

    Example:
        >>> g = trace_graph(lambda x: (3 * x + 1) ** 2, 2.0)
        >>> [fmt(n.adjoint) for n in g.nodes if n.op == "input"]
        ['42']
        >>> g.backward_steps[1].lines
        ['adjoint of #2 = adjoint of #3 × d#3/d#2', '              = 1 × 14', '              = 14']
    """
    xs = [as_primal(a, f"argument {i}") for i, a in enumerate(args)]
    trace = Trace(f, xs, {}, range(len(xs)), "compare.graph")
    tape = trace.tape
    if len(trace.outs) != 1 or trace.outs[0] is None:
        raise TypeError("the function's output does not depend on its inputs (or is a tuple)")
    out = Var(tape, trace.outs[0], trace.values[0])
    values, _ = tape.replay(xs)
    seed = np.ones((1,) + values[out.index].shape, dtype=values[out.index].dtype)
    bars, order = adjoints(tape, out.index, seed)

    logged = []
    logging_dual = _logging_dual(logged)
    tangents_in = [np.ones((1,) + x.shape, x.dtype) if i == wrt else np.zeros((1,) + x.shape, x.dtype)
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
    params = arg_names(f, len(xs))
    names = {i: (params[tape.leaves.index(i)] if tape.ops[i] is None else f"#{i}")
             for i in needed}

    def ref(r):
        return names[r] if type(r) is int else fmt(r.value)
    nodes = []
    for i in sorted(needed):
        op, refs = tape.ops[i], tape.refs[i]
        kind = "input" if op is None else op.name
        label = names[i] if op is None else f"{kind}(" + ", ".join(ref(r) for r in refs) + ")"
        nodes.append(Node(i, kind, list(dict.fromkeys(r for r in refs if type(r) is int)),
                          values[i],
                          [] if tape.lins[i] is None else _partials(tape.lins[i], refs, ref),
                          tangent.get(i), None if bars[i] is None else bars[i][0], label,
                          names[i]))
    graph = Graph(nodes, out.index, [i for i in order if i in needed], wrt, names, params[wrt],
                  _terms(tape, needed, values, tangent, bars))
    graph.forward_steps, graph.backward_steps = _sweeps(graph)
    return graph


# ------------------------------------------------------------------------------ layout
def layout(graph: Graph, sizes: dict, gap_x: float, gap_y: float):
    """Boxes and edge routes for ``graph``; ``sizes[id] = (width, height)`` of each box.

    Columns are depths (inputs first); the order within a column comes from igraph's layered
    (Sugiyama) layout, which minimises crossings and gives each edge that skips columns a free
    slot in every column it passes. An edge leaves its box to the right, runs to the end of its
    column, crosses the gap, runs straight through each skipped column at its free slot and
    enters the target box from the left. Returns ``(boxes, edges, (width, height))`` with
    ``boxes[id] = (x, y, w, h)`` (top-left corner) and ``edges[(src, dst)] = [(x, y), ...]``.

    Example:
        >>> g = trace_graph(lambda w, b: w * 2.0 + b, 0.5, 0.1)
        >>> boxes, edges, size = layout(g, {n.id: (50, 20) for n in g.nodes}, 30, 10)
        >>> sorted(edges)
        [(0, 2), (1, 3), (2, 3)]
    """
    import igraph
    ids = [n.id for n in graph.nodes]
    index = {i: k for k, i in enumerate(ids)}
    depth = {}
    for n in graph.nodes:
        depth[n.id] = 1 + max((depth[i] for i in n.inputs), default=-1)
    pairs = [(i, n.id) for n in graph.nodes for i in n.inputs]
    g = igraph.Graph(n=len(ids), edges=[(index[a], index[b]) for a, b in pairs], directed=True)
    lay = g.layout_sugiyama(layers=[depth[i] for i in ids], hgap=1)
    slot = {i: lay.coords[index[i]][0] for i in ids}
    routes = {pair: [p[0] for p in lay.edge_routing[k]] for k, pair in enumerate(pairs)}
    lowest = min([*slot.values(), *[s for r in routes.values() for s in r]])
    h_max = max(h for _, h in sizes.values())
    pitch = h_max + gap_y

    def y_of(s):
        return (s - lowest) * pitch + h_max / 2
    ncol = max(depth.values()) + 1
    col_w = [max((sizes[i][0] for i in ids if depth[i] == c), default=0) for c in range(ncol)]
    col_x = [sum(col_w[:c]) + gap_x * c for c in range(ncol)]
    boxes = {i: (col_x[depth[i]], y_of(slot[i]) - sizes[i][1] / 2, *sizes[i]) for i in ids}

    def ports(i, others):
        # spread a box's edges over its side, in the order of the other ends, so they do not cross
        x, y, w, h = boxes[i]
        others = sorted(others, key=lambda o: (boxes[o][1], o))
        return {o: y + h * (k + 1) / (len(others) + 1) for k, o in enumerate(others)}
    outs = {i: ports(i, [b for a, b in pairs if a == i]) for i in ids}
    ins = {i: ports(i, [a for a, b in pairs if b == i]) for i in ids}
    edges = {}
    for a, b in pairs:
        x, y, w, h = boxes[a]
        y0 = outs[a][b]
        pts = [(x + w, y0), (col_x[depth[a]] + col_w[depth[a]], y0)]
        for c, s in zip(range(depth[a] + 1, depth[b]), routes[(a, b)]):
            pts += [(col_x[c], y_of(s)), (col_x[c] + col_w[c], y_of(s))]
        pts.append((col_x[depth[b]], ins[b][a]))
        edges[(a, b)] = pts
    height = max(y + h for _, y, _, h in boxes.values())
    height = max(height, max((y for pts in edges.values() for _, y in pts), default=0))
    return boxes, edges, (col_x[-1] + col_w[-1], height)


def crossings(boxes: dict, edges: dict) -> list:
    """The ``(edge, box)`` pairs where an edge's route passes through a box other than its own
    ends (the layout's promise is that there are none).

    Example:
        >>> crossings({1: (0, 0, 10, 10)}, {(0, 2): [(-5, 5), (15, 5)]})
        [((0, 2), 1)]
    """
    bad = []
    for (a, b), pts in edges.items():
        for i, (x, y, w, h) in boxes.items():
            if i in (a, b):
                continue
            for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                if _segment_hits_box(x0, y0, x1, y1, x, y, w, h):
                    bad.append(((a, b), i))
                    break
    return bad


def _segment_hits_box(x0, y0, x1, y1, x, y, w, h, samples=200):
    for t in np.linspace(0.0, 1.0, samples):
        px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        if x < px < x + w and y < py < y + h:
            return True
    return False


# ------------------------------------------------------------------------------ generated code
def generated_code(f, *args) -> str:
    """The compiled tier's generated source for ``f`` at ``args`` (their shapes and dtypes):
    ``primal``, ``jvp`` (k tangent directions) and ``forward``/``backward`` (value and VJP with
    m seeds), each run of two or more elementwise ops fused into loops ``k<i>_primal``,
    ``k<i>_jvp`` and ``k<i>_vjp`` (identical runs share one; ``g<i>_...`` names each run's) that
    call the ops' own scalar rules (``_s<j> = scalar(...)``).
    Traced by ``revad.jacrev(f, argnums=all, compiled=True)`` (one call: a trace and a numba
    compile, about a second the first time; the disk cache makes later ones fast).

    Example:
        >>> src = generated_code(lambda x: np.sin(x) * x, 0.5)
        >>> "adops.elementwise:sin_d" in src and "def k0_vjp(" in src
        True
    """
    def f_copy(*xs):        # its own programs, whatever f is (a ufunc cannot be weakly keyed)
        return f(*xs)
    revad.jacrev(f_copy, argnums=tuple(range(len(args))), compiled=True)(*args)
    programs = [p for kept in compiled(f_copy).programs.values() for p in kept]
    return programs[-1].source


CODE_NOTE = """The trace of f became one program. Each run of elementwise ops is one
fused numba loop over the elements: g<i>_primal computes the values; g<i>_jvp (forward mode)
computes each op's value, its local partials d<e>_<j> (the very rule the eager tier uses, _s<j>
= scalar(RULES[...])) and then, for each of the k tangent directions q, the chain rule forward:
w<e> = d<e>_0 * w<input 0> + d<e>_1 * w<input 1> (SMUL: the strong-zero product); g<i>_vjp
(reverse mode) recomputes the values and partials instead of storing them and sweeps the same
products backwards, op by op in reverse order, for each of the m seeds, adding into the adjoint
of every input an op reads (multiply along a path, add across paths). Other ops (stack, matmul,
sums) run as one numpy call each: O[e].linearize, then l<e>.jvp / l<e>.vjp."""


# ------------------------------------------------------------------------------ drawing
def node_lines(n: Node) -> list:
    return [f"#{n.id} {n.label}", f"value = {fmt(n.value)}",
            *[f"local {p}" for p in n.partials],
            f"tangent (dualad) = {fmt(n.tangent)}", f"adjoint (revad) = {fmt(n.adjoint)}"]


LABEL_AT = 0.5  # along an edge's last segment, which crosses the gap before its target


def _edge_label(graph, a, b):
    t = graph.term(a, b)
    if t.partial is None:
        return ""
    return f"d{graph.names[b]}/d{graph.names[a]} = {float(np.asarray(t.partial).ravel()[0]):.4g}"


def draw_matplotlib(graph: Graph, png: str, svg: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch
    font, char_w, line_h = 7, 4.6, 9.0
    texts = {n.id: node_lines(n) for n in graph.nodes}
    sizes = {i: (max(len(s) for s in lines) * char_w + 12, len(lines) * line_h + 8)
             for i, lines in texts.items()}
    boxes, edges, (width, height) = layout(graph, sizes, gap_x=100, gap_y=22)
    margin, title_h = 12, 30
    fig = plt.figure(figsize=((width + 2 * margin) / 72, (height + 2 * margin + title_h) / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-margin, width + margin)
    ax.set_ylim(height + margin, -margin - title_h)
    ax.axis("off")
    for (a, b), pts in edges.items():
        xs, ys = zip(*pts)
        ax.plot(xs[:-1], ys[:-1], color="gray", lw=0.9)
        ax.annotate("", xy=pts[-1], xytext=pts[-2],
                    arrowprops=dict(arrowstyle="-|>", color="gray", lw=0.9, shrinkA=0, shrinkB=0))
        label = _edge_label(graph, a, b)
        if label:
            (x0, y0), (x1, y1) = pts[-2], pts[-1]
            ax.text(x0 + LABEL_AT * (x1 - x0), y0 + LABEL_AT * (y1 - y0) - 2, label, fontsize=6, color="#444",
                    ha="center", va="bottom", family="monospace",
                    bbox=dict(facecolor="white", edgecolor="none", pad=0.5, alpha=0.8))
    for n in graph.nodes:
        x, y, w, h = boxes[n.id]
        color = "#fde2c8" if n.op == "input" else ("#d7ecd2" if n.id == graph.output else "#dde8f6")
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=4",
                                    facecolor=color, edgecolor="gray"))
        ax.text(x + 6, y + h / 2, "\n".join(texts[n.id]), ha="left", va="center",
                fontsize=font, family="monospace", linespacing=1.15)
    ax.text(width / 2, -margin - title_h / 2,
            f"values, local partials (on the edges), tangents along {graph.wrt_name} (dualad) "
            f"and adjoints "
            f"(revad)", ha="center", va="center", fontsize=9)
    fig.savefig(png, dpi=130)
    fig.savefig(svg)
    plt.close(fig)


HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>computation graph: both sweeps</title>
<style>
body{font-family:sans-serif;margin:1em;max-width:1400px} svg{border:1px solid #ccc;background:#fff}
.node rect{fill:#dde8f6;stroke:#666;cursor:pointer} .node.input rect{fill:#fde2c8}
.node.output rect{fill:#d7ecd2} .node.selected rect{stroke:#333;stroke-width:2}
.node.fwd-done rect{fill:#dbe9ff} .node.bwd-done rect{fill:#f6d6e8}
.node.active rect{stroke:#d00;stroke-width:4}
.node text{font:12px monospace;pointer-events:none}
.edge{fill:none;stroke:#999;stroke-width:1.3} .edge.active{stroke:#d00;stroke-width:3}
.elabel{font:10px monospace;fill:#555;paint-order:stroke;stroke:#fff;stroke-width:3px}
.elabel.active{fill:#d00;font-weight:bold}
pre{font-size:14px;border:1px solid #ccc;padding:.5em;min-height:4.5em;background:#fafafa}
button{margin:2px} .bar{margin:.4em 0}
table.jac{border-collapse:collapse;margin:.5em 0} table.jac td,table.jac th{border:1px solid #999;
padding:4px 10px;font-family:monospace;text-align:center;min-width:5em}
td.col{background:#dbe9ff} td.row{background:#f6d6e8} td.new{outline:3px solid #d00}
pre.code{font-size:12px;max-height:40em;overflow:auto} details summary{cursor:pointer}
</style></head><body>
<h3>__TITLE__</h3>
<p>Forward sweep: tangents flow from the inputs, one node at a time (dualad, seeded along
<b>__WRT__</b>). Backward sweep: adjoints flow from the output (revad). Each step shows the chain
rule at that node: multiply along a path, add across paths. Click a node for all its numbers.</p>
<div class="bar"><b>Forward sweep</b> <button id="fwd-back">&#9664;</button>
<button id="fwd-step">forward step &#9654;</button>
&nbsp; <b>Backward sweep</b> <button id="bwd-back">&#9664;</button>
<button id="bwd-step">backward step &#9654;</button> &nbsp; <button id="reset">reset</button></div>
<div id="stepinfo"></div>
<pre id="arith">press a step button</pre>
<svg id="graph" width="__W__" height="__H__"></svg>
<pre id="details">click a node</pre>
<h3>The Jacobian by columns (forward) and by rows (reverse)</h3>
<p id="jacsize"></p>
<div class="bar"><button id="jac-fwd">forward sweep: one column &#9654;</button>
<button id="jac-rev">reverse sweep: one row &#9654;</button> <button id="jac-clear">clear</button></div>
<div id="jacinfo"></div>
<table class="jac" id="jac"></table>
__CODE__
<script>
const G = __DATA__, J = __JAC__;
const svg = document.getElementById('graph'), NS = 'http://www.w3.org/2000/svg';
function el(name, attrs, parent){const e=document.createElementNS(NS,name);
  for(const k in attrs) e.setAttribute(k, attrs[k]); parent.appendChild(e); return e;}
const defs = el('defs', {}, svg);
for (const [id, color] of [['arrow', '#999'], ['arrow-active', '#d00']]) {
  const m = el('marker', {id: id, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7,
                          markerHeight: 7, orient: 'auto-start-reverse'}, defs);
  el('path', {d: 'M 0 0 L 10 5 L 0 10 z', fill: color}, m);
}
const byId = {};
for (const n of G.nodes) byId[n.id] = n;
for (const e of G.edges) {
  el('polyline', {id: 'edge-' + e.src + '-' + e.dst, class: 'edge', 'marker-end': 'url(#arrow)',
                  points: e.points.map(p => p.join(',')).join(' ')}, svg);
  if (e.label) {
    const [a, b] = e.points.slice(-2), at = __LABEL_AT__;
    const t = el('text', {id: 'elabel-' + e.src + '-' + e.dst, class: 'elabel',
                          x: a[0] + at * (b[0] - a[0]), y: a[1] + at * (b[1] - a[1]) - 4,
                          'text-anchor': 'middle'}, svg);
    t.textContent = e.label;
  }
}
function show(n){
  document.querySelectorAll('.node').forEach(g => g.classList.remove('selected'));
  document.getElementById('node-' + n.id).classList.add('selected');
  document.getElementById('details').textContent = n.lines.join('\\n');
}
for (const n of G.nodes){
  const g = el('g', {id: 'node-' + n.id, class: 'node ' + n.kind}, svg);
  el('rect', {x: n.box[0], y: n.box[1], width: n.box[2], height: n.box[3], rx: 6}, g);
  const lines = [n.title, 'value   = ' + n.value, 'tangent = ', 'adjoint = '];
  lines.forEach((s, k) => { const t = el('text', {x: n.box[0] + 8, y: n.box[1] + 16 + 15 * k,
                                                 id: 'node-' + n.id + '-' + k}, g);
                            t.textContent = s; });
  g.addEventListener('click', () => show(n));
}
const S = {forward: 0, backward: 0}, last = {sweep: null};
function paint(){
  document.querySelectorAll('.node').forEach(g => g.classList.remove('active', 'fwd-done', 'bwd-done'));
  document.querySelectorAll('.edge').forEach(e => { e.classList.remove('active');
    e.setAttribute('marker-end', 'url(#arrow)'); e.removeAttribute('marker-start'); });
  document.querySelectorAll('.elabel').forEach(e => e.classList.remove('active'));
  for (const n of G.nodes) {
    document.getElementById('node-' + n.id + '-2').textContent = 'tangent = ?';
    document.getElementById('node-' + n.id + '-3').textContent = 'adjoint = ?';
  }
  for (const sweep of ['forward', 'backward']) {
    const steps = G[sweep], row = sweep === 'forward' ? 2 : 3;
    for (let j = 0; j < S[sweep]; j++) {
      const n = byId[steps[j].node];
      document.getElementById('node-' + n.id).classList.add(sweep === 'forward' ? 'fwd-done' : 'bwd-done');
      document.getElementById('node-' + n.id + '-' + row).textContent =
        (sweep === 'forward' ? 'tangent = ' : 'adjoint = ') + steps[j].result;
    }
  }
  const info = document.getElementById('stepinfo'), arith = document.getElementById('arith');
  const sweep = last.sweep;
  if (!sweep || S[sweep] === 0) {
    info.textContent = sweep ? sweep + ' sweep not started' : '';
    arith.textContent = sweep === 'backward' ? 'the backward sweep starts at the output: its adjoint is the seed 1'
      : sweep === 'forward' ? 'the forward sweep starts at the inputs: their tangents are the seed' : 'press a step button';
    return;
  }
  const step = G[sweep][S[sweep] - 1], n = byId[step.node];
  document.getElementById('node-' + n.id).classList.add('active');
  for (const [a, b] of step.edges) {
    const e = document.getElementById('edge-' + a + '-' + b);
    // adjoints flow against the edges: the backward sweep's arrowheads point back
    e.classList.add('active');
    if (sweep === 'forward') e.setAttribute('marker-end', 'url(#arrow-active)');
    else { e.removeAttribute('marker-end'); e.setAttribute('marker-start', 'url(#arrow-active)'); }
    const l = document.getElementById('elabel-' + a + '-' + b);
    if (l) l.classList.add('active');
  }
  info.textContent = sweep + ' sweep, step ' + S[sweep] + '/' + G[sweep].length + ': node ' + n.title;
  arith.textContent = step.lines.join('\\n');
  show(n);
}
function bind(id, sweep, delta){ document.getElementById(id).addEventListener('click', () => {
  S[sweep] = Math.max(0, Math.min(G[sweep].length, S[sweep] + delta)); last.sweep = sweep; paint(); }); }
bind('fwd-step', 'forward', 1); bind('fwd-back', 'forward', -1);
bind('bwd-step', 'backward', 1); bind('bwd-back', 'backward', -1);
document.getElementById('reset').addEventListener('click', () => { S.forward = 0; S.backward = 0;
  last.sweep = null; paint(); });
paint();

const JS = {cols: 0, rows: 0, last: null};
const tbl = document.getElementById('jac');
document.getElementById('jacsize').textContent = 'f maps n = ' + J.inputs.length + ' inputs to m = '
  + J.outputs.length + ' output' + (J.outputs.length > 1 ? 's' : '') + ': forward mode needs n = ' + J.inputs.length
  + ' sweeps (one column each, dualad.jvp along one input), reverse mode m = ' + J.outputs.length
  + ' sweeps (one row each, revad vjp from one output).';
function jpaint(){
  tbl.innerHTML = '';
  const head = tbl.insertRow(); head.appendChild(document.createElement('th'));
  for (const x of J.inputs) { const th = document.createElement('th'); th.textContent = 'd/d' + x; head.appendChild(th); }
  J.outputs.forEach((y, i) => {
    const tr = tbl.insertRow(); const th = document.createElement('th'); th.textContent = y; tr.appendChild(th);
    J.inputs.forEach((x, j) => {
      const td = tr.insertCell(); td.id = 'J-' + i + '-' + j; td.textContent = '?';
      if (JS.last === 'forward' && j < JS.cols) { td.textContent = J.columns[j][i]; td.className = 'col';
        if (j === JS.cols - 1) td.className += ' new'; }
      if (JS.last === 'reverse' && i < JS.rows) { td.textContent = J.rows[i][j]; td.className = 'row';
        if (i === JS.rows - 1) td.className += ' new'; }
    });
  });
  const info = document.getElementById('jacinfo');
  if (JS.last === 'forward') info.textContent = 'forward mode, sweep ' + JS.cols + ' of ' + J.inputs.length
    + ': the tangent of the outputs along ' + J.inputs[JS.cols - 1] + ' is column ' + JS.cols;
  else if (JS.last === 'reverse') info.textContent = 'reverse mode, sweep ' + JS.rows + ' of ' + J.outputs.length
    + ': the adjoints of the inputs seeded at ' + J.outputs[JS.rows - 1] + ' are row ' + JS.rows;
  else info.textContent = '';
}
document.getElementById('jac-fwd').addEventListener('click', () => {
  if (JS.last !== 'forward') JS.cols = 0; JS.last = 'forward'; JS.rows = 0;
  JS.cols = Math.min(J.inputs.length, JS.cols + 1); jpaint(); });
document.getElementById('jac-rev').addEventListener('click', () => {
  if (JS.last !== 'reverse') JS.rows = 0; JS.last = 'reverse'; JS.cols = 0;
  JS.rows = Math.min(J.outputs.length, JS.rows + 1); jpaint(); });
document.getElementById('jac-clear').addEventListener('click', () => { JS.cols = 0; JS.rows = 0;
  JS.last = null; jpaint(); });
jpaint();
</script></body></html>
"""


def _step_json(step, forward):
    edges = [[t.src, t.dst] for t in step.terms]
    return {"node": step.node, "lines": step.lines, "result": fmt(step.result), "edges": edges}


def _code_section(code, graph) -> str:
    if code is None:
        return ""
    # loops name their variables by position (s0, d0_j, w0: value, local partials, tangent or
    # adjoint of the loop's first op) and a comment per loop says which node each one is; the
    # compiled trace numbers its entries as the graph's trace does
    labels = {f"#{n.id}": f"node #{n.id} {n.label}" for n in graph.nodes}
    names = [re.sub(r"#\d+ \w+", lambda m: labels.get(m.group(0).split()[0], m.group(0)), line[2:])
             for line in code.splitlines() if line.startswith("# loop ")]
    legend = ("<p>In the loops:</p><pre>" + html.escape("\n".join(names)) + "</pre>"
              if names else "")
    return ('<h3 id="generated-code">Generated code: what the compiler made of the chain rule</h3>\n'
            "<p>The compiled tier (<code>revad.jacrev(f, compiled=True)</code>, "
            "<code>adops.compile</code>) traced f once and generated this Python + numba module."
            "</p>\n<details open><summary>how to read it</summary><p>"
            + html.escape(CODE_NOTE) + "</p></details>\n" + legend +
            '<pre class="code" id="code">' + html.escape(code) + "</pre>")


def to_html(graph: Graph, jac=None, title: str = "", code: str | None = None) -> str:
    """The self-contained page (see module docstring); ``jac``: :func:`compare.jacobians.sweeps`
    of the same function (the Jacobian section), or None for the one of ``graph``'s output alone
    along its inputs (given in the graph's values); ``code``: :func:`generated_code` of the same
    function (the generated-code section), or None for none."""
    char_w = 7.3
    titles = {n.id: f"#{n.id} {n.label}" for n in graph.nodes}
    widest = {n.id: max(len(titles[n.id]), 10 + len(fmt(n.value)), 10 + len(fmt(n.tangent)),
                        10 + len(fmt(n.adjoint))) for n in graph.nodes}
    sizes = {i: (w * char_w + 16, 68) for i, w in widest.items()}
    boxes, edges, (width, height) = layout(graph, sizes, gap_x=140, gap_y=26)
    pad = 20

    def moved(p):
        return [round(p[0] + pad, 1), round(p[1] + pad, 1)]
    data = {
        "nodes": [{"id": n.id, "title": titles[n.id],
                   "kind": "input" if n.op == "input" else ("output" if n.id == graph.output else ""),
                   "value": fmt(n.value), "lines": node_lines(n),
                   "box": [*moved(boxes[n.id][:2]), boxes[n.id][2], boxes[n.id][3]]}
                  for n in graph.nodes],
        "edges": [{"src": a, "dst": b, "points": [moved(p) for p in pts],
                   "label": _edge_label(graph, a, b)} for (a, b), pts in edges.items()],
        "forward": [_step_json(s, True) for s in graph.forward_steps],
        "backward": [_step_json(s, False) for s in graph.backward_steps],
    }
    jac = jac or {"inputs": [], "outputs": [], "columns": [], "rows": []}
    jac_data = {"inputs": jac["inputs"], "outputs": jac["outputs"],
                "columns": [[fmt(v) for v in col] for col in jac["columns"]],
                "rows": [[fmt(v) for v in row] for row in jac["rows"]]}
    def js(obj):
        return json.dumps(obj).replace("</", "<\\/")
    return (HTML.replace("__DATA__", js(data)).replace("__JAC__", js(jac_data))
            .replace("__W__", str(int(width + 2 * pad))).replace("__H__", str(int(height + 2 * pad)))
            .replace("__TITLE__", title or "The computation, both sweeps step by step")
            .replace("__WRT__", graph.wrt_name).replace("__LABEL_AT__", str(LABEL_AT))
            .replace("__CODE__", _code_section(code, graph)))


def draw(f, *args, out_dir: str = "reports/graph", wrt: int = 0, code: bool = True) -> list:
    """Trace ``f`` at ``args``; write graph.png, graph.svg, graph.html and jacobian.png into
    ``out_dir``. ``code``: the page shows the generated code of f's derivative
    (:func:`generated_code`; a compile, about a second the first time); a function the compiled
    tier cannot run gets a note in its place.

    Example:
        >>> import tempfile
        >>> paths = draw(lambda x: (3 * x + 1) ** 2, 2.0, out_dir=tempfile.mkdtemp())
        >>> [p.rsplit("/", 1)[1] for p in paths]
        ['graph.png', 'graph.svg', 'graph.html', 'jacobian.png']
    """
    graph = trace_graph(f, *args, wrt=wrt)
    jac = jacobians.sweeps(f, *args)
    os.makedirs(out_dir, exist_ok=True)
    png, svg, page, jpng = (os.path.join(out_dir, name) for name in
                            ("graph.png", "graph.svg", "graph.html", "jacobian.png"))
    draw_matplotlib(graph, png, svg)
    name = getattr(f, "__name__", "f")
    source = None
    if code:
        try:
            source = generated_code(f, *args)
        except Exception as e:
            source = (f"# the compiled tier could not compile {name}: {type(e).__name__}: "
                      f"{' '.join(str(e).split())}")
    with open(page, "w") as fh:
        fh.write(to_html(graph, jac, title=f"{name}: the computation, both sweeps step by step",
                         code=source))
    jacobians.plot([(name, jac)], jpng)
    return [png, svg, page, jpng]
