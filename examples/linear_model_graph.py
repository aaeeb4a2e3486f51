"""The linear model's loss L = (w x + b - y)^2 traced node by node: each node's value, local
partial, forward tangent and reverse adjoint, and the graph as PNG, SVG and clickable HTML.

    python examples/linear_model_graph.py [OUT_DIR]
"""
import sys

import numpy as np

from compare.graph import draw, fmt, trace_graph

X, Y = 2.0, 1.0


def loss(w, b):
    return (w * X + b - Y) ** 2


def main(out_dir="reports/graph"):
    w, b = 0.5, 0.1
    graph = trace_graph(loss, w, b, wrt=0)
    print("node            value     local partials           tangent d/dw   adjoint dL/dnode")
    for n in graph.nodes:
        print(f"#{n.id} {n.label:18s} {fmt(n.value):8s}  {'; '.join(n.partials) or '-':24s} "
              f"{fmt(n.tangent):12s}   {fmt(n.adjoint)}")
    print("backward sweep order:", " -> ".join(f"#{i}" for i in graph.order))
    r = w * X + b - Y
    by_node = {n.label: n for n in graph.nodes}
    assert np.isclose(by_node["x0"].adjoint, 2 * r * X)      # dL/dw
    assert np.isclose(by_node["x1"].adjoint, 2 * r)          # dL/db
    assert np.isclose(graph.node(graph.output).tangent, 2 * r * X)  # forward agrees
    print("\n".join(draw(loss, w, b, out_dir=out_dir)))
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
