"""The teaching pictures every report carries (no timing): jacobian_sweeps.png and graph/ (the
graph page of ``f_3_to_2``), computed by the two modes, and their line in summary.md.
"""
from __future__ import annotations

import os

from ..teaching import jacobians
from ..teaching.graph import draw as draw_graph
from .base import Section, Study

PLOTS = ["jacobian_sweeps.png", "graph/graph.html"]
LINE = ("- **The Jacobian by columns and by rows** (jacobian_sweeps.png): f(x, y, z) = "
        "[x y + z, sin(x) z] maps 3 inputs to 2 outputs, so forward mode needs 3 sweeps "
        "(one column each) and reverse mode 2 (one row each); its mirror, 2 inputs to 3 "
        "outputs, needs 2 forward and 3 reverse sweeps. graph/graph.html steps both "
        "sweeps through f node by node with the chain-rule arithmetic of each node, and "
        "fills its Jacobian column by column or row by row.")


class TeachingStudy(Study):
    """The Jacobian by columns and rows, and the computation graph with both sweeps."""

    name = "teaching"

    def measure(self, settings) -> list[str]:
        return []       # nothing to time: the pictures are drawn with every report

    def render(self, csv_dir: str, out_dir: str) -> Section:
        paths = jacobians.write(out_dir)
        paths += draw_graph(jacobians.f_3_to_2, 1.0, 2.0, 3.0,
                            out_dir=os.path.join(out_dir, "graph"))
        return Section(paths, [LINE], list(PLOTS))
