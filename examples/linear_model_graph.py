"""The ridge-regularised linear model's loss L = (w x + b - y)^2 + lam w^2 traced node by node:
each node's value, local partial, forward tangent and reverse adjoint; both sweeps step by step
with the chain-rule arithmetic of every node (w feeds two nodes, so its adjoint is a sum over two
paths); the graph as PNG, SVG and an HTML page that steps either sweep.

    python examples/linear_model_graph.py [OUT_DIR]
"""
import os
import sys
import tempfile

import numpy as np

from compare.graph import draw, fmt, trace_graph

X, Y, LAM = 2.0, 1.0, 0.1


def loss(w, b):
    return (w * X + b - Y) ** 2 + LAM * w ** 2


def main(out_dir=os.path.join(tempfile.gettempdir(), "adops-examples", "graph")):
    w, b = 0.5, 0.1
    graph = trace_graph(loss, w, b, wrt=0)
    print("node                 value     local partials           tangent d/dw   adjoint dL/dnode")
    for n in graph.nodes:
        print(f"#{n.id} {n.label:20s} {fmt(n.value):8s}  {'; '.join(n.partials) or '-':24s} "
              f"{fmt(n.tangent):12s}   {fmt(n.adjoint)}")
    print("\nforward sweep (dualad, tangents along w):")
    for step in graph.forward_steps:
        print("  " + "\n  ".join(step.lines))
    print("\nbackward sweep (revad, adjoints from L):")
    for step in graph.backward_steps:
        print("  " + "\n  ".join(step.lines))
    r = w * X + b - Y
    by_name = {n.name: n for n in graph.nodes}
    assert np.isclose(by_name["w"].adjoint, 2 * r * X + 2 * LAM * w)      # dL/dw, two paths
    assert np.isclose(by_name["b"].adjoint, 2 * r)                        # dL/db
    assert np.isclose(graph.node(graph.output).tangent, 2 * r * X + 2 * LAM * w)  # forward agrees
    w_step = next(s for s in graph.backward_steps if s.node == by_name["w"].id)
    assert len(w_step.terms) == 2                                         # the sum over paths
    assert np.isclose(sum(float(t.backward) for t in w_step.terms), by_name["w"].adjoint)
    print("\n" + "\n".join(draw(loss, w, b, out_dir=out_dir)))
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
