"""The graph's files: graph.png and graph.svg (matplotlib), and :func:`draw`, which writes them
with graph.html and jacobian.png.
"""
from __future__ import annotations

import inspect
import os
import textwrap

from .. import jacobians
from ..names import point_text
from .code import generated_code
from .layout import layout
from .page import to_html
from .trace import LABEL_AT, Graph, edge_label, node_lines, trace_graph


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
        label = edge_label(graph, a, b)
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
            f"values, local partials (on the edges), tangents seeded with e_{graph.seed_in} at "
            f"{graph.wrt_name} (dualad: column {graph.seed_in} of the Jacobian) and adjoints "
            f"seeded with e_{graph.seed_out} at {graph.out_names[graph.seed_out]} (revad: row "
            f"{graph.seed_out})", ha="center", va="center", fontsize=9)
    fig.savefig(png, dpi=130)
    fig.savefig(svg)
    plt.close(fig)


#: the page offers a forward seed per input entry and a backward seed per output entry up to this
SEEDS = 16


def source_of(f) -> str:
    """``f``'s source text, or its name when Python cannot find it (a builtin, a ufunc)."""
    try:
        return textwrap.dedent(inspect.getsource(f)).strip()
    except (OSError, TypeError):
        return getattr(f, "__name__", repr(f))


def draw(f, *args, out_dir: str = "reports/graph", wrt: int = 0, code: bool = True) -> list:
    """Trace ``f`` at ``args``; write graph.png, graph.svg, graph.html and jacobian.png into
    ``out_dir``. ``code``: the page shows the generated code of f's derivative
    (:func:`generated_code`; a compile, about a second the first time); a function the compiled
    tier cannot run gets a note in its place. The picture's forward sweep is seeded with e_i at
    the first entry of argument ``wrt``, its backward sweep with e_0 of the output; the page
    offers every input entry and every output entry as a seed (up to :data:`SEEDS` of each).

    Example:
        >>> import tempfile
        >>> paths = draw(lambda x: (3 * x + 1) ** 2, 2.0, out_dir=tempfile.mkdtemp())
        >>> [p.rsplit("/", 1)[1] for p in paths]
        ['graph.png', 'graph.svg', 'graph.html', 'jacobian.png']
    """
    graph = trace_graph(f, *args, wrt=wrt)
    jac = jacobians.sweeps(f, *args)
    forward = [graph if i == graph.seed_in else trace_graph(f, *args, seed_in=i)
               for i in range(min(len(graph.in_names), SEEDS))]
    backward = [graph if j == graph.seed_out else trace_graph(f, *args, wrt=wrt, seed_out=j)
                for j in range(min(len(graph.out_names), SEEDS))]
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
                         code=source, forward=forward, backward=backward, source=source_of(f),
                         point=point_text(f, args)))
    jacobians.plot([(name, jac)], jpng, points=[point_text(f, args)])
    return [png, svg, page, jpng]