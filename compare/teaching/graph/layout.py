"""Where the graph's boxes and edges go: igraph's layered (Sugiyama) layout, edges routed in the
gaps between columns so that none crosses a box (:func:`crossings` checks it).
"""
from __future__ import annotations

import numpy as np

from .trace import Graph, trace_graph  # noqa: F401  (trace_graph: the doctest)

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

