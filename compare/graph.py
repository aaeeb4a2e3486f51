"""The computation as a picture: each op of a traced function with its forward value, local
partials, forward tangent (dualad) and reverse adjoint (revad).

Contract: :func:`trace_graph(f, *args, wrt=0)` returns a :class:`Graph` whose nodes are the
tape entries that the output depends on. For node i with value ``v_i: (*shape_i)``:
- ``tangent``: ``d v_i / d t`` along the direction that is all ones in argument ``wrt`` and zero
  elsewhere, computed by ``dualad`` running the same function;
- ``adjoint``: ``d out / d v_i`` (the output summed if it is not a scalar), computed by the
  ``revad`` sweep; ``order`` is the sequence in which that sweep visits the nodes;
- ``partials``: each input's local partial from the op's linearization (elementwise ops), or the
  kind of linear map.
:func:`draw` writes ``graph.png``, ``graph.svg`` (matplotlib) and ``graph.html`` (self-contained:
click a node for its numbers, step through the backward sweep).
"""
from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field

import numpy as np

import dualad
from adops.inputs import as_primal
from adops.registry import ElementwiseLin, _Marker, _Scaled
from revad.api import _trace
from revad.backward import adjoints
from revad.tape import Const


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


@dataclass
class Graph:
    nodes: list
    output: int
    order: list
    wrt: int

    def node(self, i) -> Node:
        return next(n for n in self.nodes if n.id == i)


def _logging_dual(log: list) -> type:
    """A Dual class (one per trace, so no state is shared) that appends every value it
    produces to ``log``, in order, to pair them with the tape's entries."""
    class LoggingDual(dualad.Dual):
        __slots__ = ()

        @classmethod
        def _bind(cls, op, args, params):
            out = super()._bind.__func__(cls, op, args, params)
            log.append(out)
            return out
    return LoggingDual


def fmt(v) -> str:
    """A short, readable rendering of a value."""
    if v is None:
        return "-"
    a = np.asarray(v, dtype=float)
    if a.ndim == 0 or a.size == 1:
        return f"{float(a.ravel()[0]):.6g}"
    flat = ", ".join(f"{x:.4g}" for x in a.ravel()[:4])
    return f"shape {a.shape}: [{flat}{', ...' if a.size > 4 else ''}]"


def _partials(lin, refs, values):
    if isinstance(lin, ElementwiseLin):
        out = []
        for r, d in zip(refs, lin.partials):
            if type(r) is not int:
                continue  # a constant: nothing flows to it
            src = f"#{r}"
            if d is None:
                text = "not differentiable"
            elif isinstance(d, _Marker):
                text = {"ONE": "1", "NEG_ONE": "-1"}[repr(d)]
            elif isinstance(d, _Scaled):
                text = fmt(d.scale * np.asarray(d.x))
            else:
                text = fmt(d)
            out.append(f"d/d{src} = {text}")
        return out
    kind = type(lin).__name__.replace("Lin", "").lower()
    return [f"{kind} map of its inputs (no local partial array)"]


def trace_graph(f, *args, wrt: int = 0) -> Graph:
    """Trace ``f(*args)`` in both modes and pair every value with its tangent and adjoint.

    Example:
        >>> g = trace_graph(lambda x: (3 * x + 1) ** 2, 2.0)
        >>> [fmt(n.adjoint) for n in g.nodes if n.op == "input"]
        ['42']
    """
    xs = [as_primal(a, f"argument {i}") for i, a in enumerate(args)]
    tape, leaves, out = _trace(f, xs, range(len(xs)))
    if not hasattr(out, "index"):
        raise TypeError("the function's output does not depend on its inputs")
    values = tape.replay(xs)
    seed = np.ones((1,) + values[out.index].shape, dtype=values[out.index].dtype)
    bars, order = adjoints(tape, out.index, seed)

    logged = []
    logging_dual = _logging_dual(logged)
    tangents_in = [np.ones((1,) + x.shape, x.dtype) if i == wrt else np.zeros((1,) + x.shape, x.dtype)
                   for i, x in enumerate(xs)]
    from adops.registry import quiet
    with quiet():
        f(*[logging_dual(x, t) for x, t in zip(xs, tangents_in)])

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
    nodes = []
    for i in sorted(needed):
        op = tape.ops[i]
        refs = tape.refs[i]
        name = "input" if op is None else op.name
        label = (f"x{tape.leaves.index(i)}" if op is None
                 else f"{name}(" + ", ".join(f"#{r}" if type(r) is int else fmt(r.value)
                                             for r in refs) + ")")
        nodes.append(Node(i, name, [r for r in refs if type(r) is int], values[i],
                          [] if tape.lins[i] is None else _partials(tape.lins[i], refs, values),
                          tangent.get(i), None if bars[i] is None else bars[i][0], label))
    return Graph(nodes, out.index, [i for i in order if i in needed], wrt)


# ------------------------------------------------------------------------------ drawing
def _layout(graph):
    depth = {}
    for n in graph.nodes:
        depth[n.id] = 1 + max((depth[i] for i in n.inputs), default=-1)
    layers = {}
    for n in graph.nodes:
        layers.setdefault(depth[n.id], []).append(n.id)
    pos = {}
    for d, ids in layers.items():
        for j, i in enumerate(ids):
            pos[i] = (d, j - (len(ids) - 1) / 2)
    return pos


def node_lines(n: Node) -> list:
    return [f"#{n.id} {n.label}", f"value = {fmt(n.value)}",
            *[f"local {p}" for p in n.partials],
            f"tangent (dualad) = {fmt(n.tangent)}", f"adjoint (revad) = {fmt(n.adjoint)}"]


def draw_matplotlib(graph: Graph, png: str, svg: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pos = _layout(graph)
    width = max(p[0] for p in pos.values()) + 1
    height = max(abs(p[1]) for p in pos.values()) * 2 + 1
    fig, ax = plt.subplots(figsize=(2.8 * width + 1, 1.9 * height + 1.2))
    for n in graph.nodes:
        for i in n.inputs:
            (x0, y0), (x1, y1) = pos[i], pos[n.id]
            ax.annotate("", xy=(x1 * 2.6 - 0.8, y1 * 1.9), xytext=(x0 * 2.6 + 0.8, y0 * 1.9),
                        arrowprops=dict(arrowstyle="->", color="gray"))
    for n in graph.nodes:
        x, y = pos[n.id]
        color = "#fde2c8" if n.op == "input" else ("#d7ecd2" if n.id == graph.output else "#dde8f6")
        ax.text(x * 2.6, y * 1.9, "\n".join(node_lines(n)), ha="center", va="center", fontsize=7,
                family="monospace", bbox=dict(boxstyle="round", facecolor=color, edgecolor="gray"))
    ax.set_xlim(-1.3, (width - 1) * 2.6 + 1.3)
    ax.set_ylim(-height, height)
    ax.axis("off")
    ax.set_title(f"forward values, local partials, tangents (d/d x{graph.wrt}) and adjoints",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    plt.close(fig)


HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>computation graph</title>
<style>
body{font-family:sans-serif;margin:1em} svg{border:1px solid #ccc;background:#fff}
.node rect{fill:#dde8f6;stroke:#666;cursor:pointer} .node.input rect{fill:#fde2c8}
.node.output rect{fill:#d7ecd2} .node.selected rect{stroke:#d00;stroke-width:3}
.node.swept rect{fill:#f6d6e8} .node text{font-size:12px;pointer-events:none}
#details{white-space:pre;font-family:monospace;border:1px solid #ccc;padding:.5em;min-height:6em}
</style></head><body>
<h3>Click a node for its numbers; step through the backward sweep</h3>
<div><button id="back">&#9664; step back</button> <button id="step">backward step &#9654;</button>
<span id="stepinfo"></span></div>
<svg id="graph" width="__W__" height="__H__"></svg>
<div id="details">click a node</div>
<script>
const G = __DATA__;
const svg = document.getElementById('graph'), NS = 'http://www.w3.org/2000/svg';
const box = {};
function el(name, attrs, parent){const e=document.createElementNS(NS,name);
  for(const k in attrs) e.setAttribute(k, attrs[k]); parent.appendChild(e); return e;}
for (const n of G.nodes) box[n.id] = {x: 20 + n.col * 230, y: 20 + n.row * 70};
for (const n of G.nodes) for (const i of n.inputs)
  el('line', {x1: box[i].x + 180, y1: box[i].y + 20, x2: box[n.id].x, y2: box[n.id].y + 20,
              stroke: '#999'}, svg);
function show(n){
  document.querySelectorAll('.node').forEach(g => g.classList.remove('selected'));
  document.getElementById('node-' + n.id).classList.add('selected');
  document.getElementById('details').textContent = n.lines.join('\\n');
}
for (const n of G.nodes){
  const g = el('g', {id: 'node-' + n.id, class: 'node ' + n.kind}, svg);
  el('rect', {x: box[n.id].x, y: box[n.id].y, width: 180, height: 40, rx: 6}, g);
  const t = el('text', {x: box[n.id].x + 8, y: box[n.id].y + 17}, g);
  t.textContent = '#' + n.id + ' ' + n.label.slice(0, 22);
  const v = el('text', {x: box[n.id].x + 8, y: box[n.id].y + 33}, g);
  v.textContent = '= ' + n.value.slice(0, 24);
  g.addEventListener('click', () => show(n));
}
let k = 0;
function paint(){
  document.querySelectorAll('.node').forEach(g => g.classList.remove('swept'));
  for (let j = 0; j < k; j++) document.getElementById('node-' + G.order[j]).classList.add('swept');
  const info = document.getElementById('stepinfo');
  if (k === 0) { info.textContent = 'sweep not started (seed: adjoint of the output = 1)'; return; }
  const n = G.nodes.find(m => m.id === G.order[k - 1]);
  info.textContent = 'step ' + k + '/' + G.order.length + ': node #' + n.id + ' sends its adjoint '
    + n.adjoint + ' back to its inputs';
  show(n);
}
document.getElementById('step').addEventListener('click', () => { if (k < G.order.length) k++; paint(); });
document.getElementById('back').addEventListener('click', () => { if (k > 0) k--; paint(); });
paint();
</script></body></html>
"""


def to_html(graph: Graph) -> str:
    pos = _layout(graph)
    rows = {}
    for n in graph.nodes:
        rows.setdefault(pos[n.id][0], []).append(n.id)
    data = {"order": graph.order, "nodes": [
        {"id": n.id, "label": n.label, "inputs": n.inputs, "col": pos[n.id][0],
         "row": rows[pos[n.id][0]].index(n.id),
         "kind": "input" if n.op == "input" else ("output" if n.id == graph.output else ""),
         "value": fmt(n.value), "adjoint": fmt(n.adjoint), "lines": node_lines(n)}
        for n in graph.nodes]}
    width = 60 + 230 * (max(pos[n.id][0] for n in graph.nodes) + 1)
    height = 60 + 70 * max(len(v) for v in rows.values())
    text = json.dumps(data).replace("</", "<\\/")
    return (HTML.replace("__DATA__", text).replace("__W__", str(width))
            .replace("__H__", str(height)))


def draw(f, *args, out_dir: str = "reports/graph", wrt: int = 0) -> list:
    """Trace ``f`` at ``args`` and write graph.png, graph.svg and graph.html into ``out_dir``.

    Example:
        >>> import tempfile
        >>> paths = draw(lambda x: (3 * x + 1) ** 2, 2.0, out_dir=tempfile.mkdtemp())
        >>> [p.rsplit("/", 1)[1] for p in paths]
        ['graph.png', 'graph.svg', 'graph.html']
    """
    graph = trace_graph(f, *args, wrt=wrt)
    os.makedirs(out_dir, exist_ok=True)
    png, svg, page = (os.path.join(out_dir, f"graph.{e}") for e in ("png", "svg", "html"))
    draw_matplotlib(graph, png, svg)
    with open(page, "w") as fh:
        fh.write(to_html(graph))
    return [png, svg, page]
