"""The graph page (graph.html): the graph, both sweeps and the Jacobian as JSON filled into the
template ``graph.html`` shipped beside this module (package data).
"""
from __future__ import annotations

import html
import json
import re
from importlib import resources

from ..names import fmt
from .code import CODE_NOTE
from .layout import layout
from .trace import LABEL_AT, Graph, edge_label, node_lines


def template() -> str:
    """The page's HTML/JS template (placeholders ``__DATA__``, ``__JAC__``, ``__W__``...)."""
    return resources.files(__package__).joinpath("graph.html").read_text(encoding="utf-8")



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
    legend = ("<p>Node numbers are the graph's: <code>v&lt;i&gt;</code> in the code and "
              "<code>#&lt;i&gt;</code> in its comments are node #&lt;i&gt; above. In the "
              "loops:</p><pre>" + html.escape("\n".join(names)) + "</pre>" if names else "")
    return ('<h3 id="generated-code">Generated code: what the compiler made of the chain rule</h3>\n'
            "<p>The compiled tier (<code>revad.jacrev(f, compiled=True)</code>, "
            "<code>adops.compile</code>) traced f once and generated this Python + numba module."
            "</p>\n<details open><summary>how to read it</summary><p>"
            + html.escape(CODE_NOTE) + "</p></details>\n" + legend +
            '<pre class="code" id="code">' + html.escape(code) + "</pre>")


def _forward_json(g: Graph):
    return {"label": g.wrt_name, "index": g.seed_in,
            "steps": [_step_json(s, True) for s in g.forward_steps],
            "values": {n.id: fmt(n.tangent) for n in g.nodes}}


def _backward_json(g: Graph):
    return {"label": g.out_names[g.seed_out], "index": g.seed_out,
            "steps": [_step_json(s, False) for s in g.backward_steps],
            "values": {n.id: fmt(n.adjoint) for n in g.nodes}}


def to_html(graph: Graph, jac=None, title: str = "", code: str | None = None,
            forward=None, backward=None, source: str = "", point: str = "") -> str:
    """The self-contained page (see module docstring); ``jac``: :func:`compare.teaching.jacobians.sweeps`
    of the same function (the Jacobian section), or None for the one of ``graph``'s output alone
    along its inputs (given in the graph's values); ``code``: :func:`generated_code` of the same
    function (the generated-code section), or None for none. ``forward`` / ``backward``: the
    graphs of the same function traced with each forward seed ``e_i`` / backward seed ``e_j``
    the page offers (default: ``graph`` alone); ``source`` and ``point``: the function's source
    and the evaluation point, stated at the top."""
    char_w = 7.3
    forward, backward = forward or [graph], backward or [graph]
    titles = {n.id: f"#{n.id} {n.label}" for n in graph.nodes}
    widest = {n.id: max(len(titles[n.id]), 10 + len(fmt(n.value)),
                        *(10 + len(fmt(g.node(n.id).tangent)) for g in forward),
                        *(10 + len(fmt(g.node(n.id).adjoint)) for g in backward))
              for n in graph.nodes}
    sizes = {i: (w * char_w + 16, 68) for i, w in widest.items()}
    boxes, edges, (width, height) = layout(graph, sizes, gap_x=170, gap_y=26)
    pad = 20

    def moved(p):
        return [round(p[0] + pad, 1), round(p[1] + pad, 1)]
    data = {
        "nodes": [{"id": n.id, "title": titles[n.id],
                   "kind": "input" if n.op == "input" else ("output" if n.id == graph.output else ""),
                   "value": fmt(n.value), "lines": node_lines(n)[:-2],
                   "box": [*moved(boxes[n.id][:2]), boxes[n.id][2], boxes[n.id][3]]}
                  for n in graph.nodes],
        "edges": [{"src": a, "dst": b, "points": [moved(p) for p in pts],
                   "label": edge_label(graph, a, b)} for (a, b), pts in edges.items()],
        "forward": [_forward_json(g) for g in forward],
        "backward": [_backward_json(g) for g in backward],
        "start": [next((k for k, g in enumerate(forward) if g.seed_in == graph.seed_in), 0),
                  next((k for k, g in enumerate(backward) if g.seed_out == graph.seed_out), 0)],
    }
    jac = jac or {"inputs": [], "outputs": [], "columns": [], "rows": []}
    jac_data = {"inputs": jac["inputs"], "outputs": jac["outputs"],
                "columns": [[fmt(v) for v in col] for col in jac["columns"]],
                "rows": [[fmt(v) for v in row] for row in jac["rows"]]}

    def js(obj):
        return json.dumps(obj).replace("</", "<\\/")
    about = ""
    if source:
        about += "<p>The function:</p><pre id=\"source\">" + html.escape(source) + "</pre>"
    if point:
        about += '<p id="point">evaluated at ' + html.escape(point) + "</p>"
    return (template().replace("__DATA__", js(data)).replace("__JAC__", js(jac_data))
            .replace("__W__", str(int(width + 2 * pad))).replace("__H__", str(int(height + 2 * pad)))
            .replace("__TITLE__", html.escape(title or "The computation, both sweeps step by step"))
            .replace("__ABOUT__", about).replace("__LABEL_AT__", str(LABEL_AT))
            .replace("__CODE__", _code_section(code, graph)))
