"""Second order by forward-over-reverse: ``hessian`` and ``hvp``, JAX's names and shapes.

This is the one module where the two modes meet (DESIGN.md): forward mode (:mod:`dualad`)
differentiates reverse mode's gradient. Nothing here is maths of an op: nesting works because every
transform opens its own level (:mod:`adops.core.levels`) and every op's linearization is numpy code
that the outer mode differentiates.

Contract, for a scalar ``f`` of ``x: (*shape)``:
- ``hessian(f)(x)``: ``(*shape, *shape)``, ``jacfwd(grad(f))``: ``ceil(n / chunk)`` forward
  passes through one reverse sweep each;
- ``hvp(f, (x,), (v,))``: ``H v`` with ``v: (*shape)``, ``jvp(grad(f), (x,), (v,))``: one forward
  pass through one sweep, a small multiple of a gradient's cost whatever n is.

For a tree ``x`` (:mod:`adops.tree`) both follow from their parts, as in JAX: ``hessian`` nests
the argument's structure inside itself (``H['a']['b']`` has shape ``a.shape + b.shape``) and
``hvp`` takes and returns trees of ``x``'s structure.
"""
from __future__ import annotations

from adops.compile import derived, use_compiled
from dualad import jacfwd, jvp
from .api import grad


def hessian(f, argnums=0, *, chunk=None, compiled: bool | None = None, static_argnums=(),
            static_argnames=(), executor=None):
    """Hessian of a scalar ``f``, shape ``in.shape + in.shape`` (a tuple of tuples for a tuple of
    argnums, as JAX). Keyword arguments of the call are passed to ``f``. ``compiled=True``
    compiles the whole forward-over-reverse computation (the gradient's ops, traced once);
    ``static_argnums`` / ``static_argnames``: arguments it keys by hash (see ``dualad.jacfwd``);
    ``executor``: the forward passes as blocks on an executor (see ``dualad.jacfwd``).

    Example:
        >>> import numpy as np
        >>> rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        >>> hessian(rosen)(np.array([1.0, 1.0])).tolist()
        [[802.0, -400.0], [-400.0, 200.0]]
    """
    h = jacfwd(grad(f, argnums), argnums, chunk=chunk, compiled=compiled,
               static_argnums=static_argnums, static_argnames=static_argnames,
               executor=executor)
    h.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return h


def hvp(f, primals, tangents, *, compiled: bool | None = None):
    """Hessian-vector product ``H v`` of a scalar ``f`` at ``primals`` along ``tangents``.

    Args:
        f: scalar function of ``len(primals)`` arrays.
        primals, tangents: tuples of the same length; each tangent has its primal's shape.

    Returns:
        ``H v``, with the primal's shape (a tuple for several primals).

    With ``compiled=True`` the whole forward-over-reverse computation is one compiled program
    (``grad(f)`` traced into the forward pass), kept with ``f`` and reused by later calls with
    the same shapes (``f`` must be the same function object, not a new lambda per call).

    Example:
        >>> import numpy as np
        >>> hvp(lambda x: np.sum(x ** 3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
        array([6., 0.])
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("hvp(f, primals, tangents): primals and tangents must be tuples, "
                        "e.g. hvp(f, (x,), (v,))")
    argnums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    if use_compiled(compiled):
        # one grad(f) per f, so its compiled program is traced once, not at every call
        g = derived(f, ("grad", argnums), lambda fn: grad(fn, argnums))
    else:
        g = grad(f, argnums)
    return jvp(g, tuple(primals), tuple(tangents), compiled=compiled)[1]
