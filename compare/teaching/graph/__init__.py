"""The computation as a picture: each op of a traced function with its forward value, local
partials, forward tangent (dualad) and reverse adjoint (revad), and both sweeps step by step.

Contract: :func:`trace_graph(f, *args, wrt=0, seed_in=None, seed_out=0)` returns a
:class:`Graph` whose nodes are the tape entries that the output depends on, inputs named after
``f``'s parameters (``w``, ``b``; ``x0``, ``x1``... where the signature gives no name), index
nodes as indexing (``x[0]``). For node i with value ``v_i: (*shape_i)``:
- ``tangent``: ``d v_i / d t`` along the unit vector ``e_i`` of input entry ``seed_in`` (a flat
  index over every argument's entries; default the first entry of argument ``wrt``), computed
  by ``dualad`` running the same function: the output's tangent is column i of the Jacobian;
- ``adjoint``: ``d out_j / d v_i`` for the output entry ``seed_out`` (the backward seed
  ``e_j``), computed by the ``revad`` sweep: the inputs' adjoints are row j of the Jacobian;
  ``order`` is the sequence in which that sweep visits the nodes;
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
(self-contained: the function's source and the evaluation point; step either sweep with the
seed e_i / e_j picked on the page, click a node for its numbers, fill the Jacobian by columns
or rows, see :mod:`compare.teaching.jacobians`; and, with ``code=True``, the generated code of the
derivative) and ``jacobian.png``. :func:`generated_code` is what the compiled tier
(:mod:`adops.compile`) made of the chain rule for ``f``: the Python + numba source of its
program, in which each run of elementwise ops is one fused loop (values, partials, and the
tangents or adjoints of every op, element by element).

Modules: :mod:`.trace` (the model: nodes, terms, steps; tracing both modes), :mod:`.layout`,
:mod:`.picture` (graph.png / graph.svg, and :func:`draw`), :mod:`.page` (graph.html from the
template ``graph.html``, package data), :mod:`.code` (:func:`generated_code`).
"""
from ..names import arg_names, fmt
from .code import CODE_NOTE, generated_code
from .layout import crossings, layout
from .page import to_html
from .picture import draw, draw_matplotlib
from .trace import LABEL_AT, Graph, Node, Step, Term, node_lines, trace_graph

__all__ = ["CODE_NOTE", "LABEL_AT", "Graph", "Node", "Step", "Term", "arg_names", "crossings",
           "draw", "draw_matplotlib", "fmt", "generated_code", "layout", "node_lines", "to_html",
           "trace_graph"]
