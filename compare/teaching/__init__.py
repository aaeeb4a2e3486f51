"""Teaching pictures: the computation graph with both sweeps, and the Jacobian filled by columns
and by rows; computed by the two modes, no timing.

- :mod:`compare.teaching.graph`: ``draw(f, *args)`` (graph.png, graph.svg, graph.html,
  jacobian.png) and ``generated_code(f, *args)``;
- :mod:`compare.teaching.jacobians`: ``jacobian_sweeps.png``, one sweep per column or row;
- :mod:`compare.teaching.names`: value formatting and argument names both share.
"""
