"""Forward-mode transforms with JAX's names and shapes: jvp, jacfwd, derivative.

Contract: for ``f: R^(*in_shape) -> R^(*out_shape)`` written with plain numpy,
- ``jvp(f, (x,), (x_dot,))`` returns ``(f(x), J x_dot)``; with ``batched=True``,
  ``x_dot: (k, *in_shape)`` and the tangent out is ``(k, *out_shape)``: k directions, one pass;
- ``jacfwd(f)(x)`` is the Jacobian, shape ``out_shape + in_shape``, built from ``ceil(n / chunk)``
  passes that each seed ``chunk`` columns of the identity;
- ``derivative(f)(x)`` is ``df/dx`` for a scalar ``x``, shape ``out_shape``.
"""
from __future__ import annotations

import math

import numpy as np

from adops.registry import quiet
from adops.inputs import (argnums_tuple as _argnums, as_primal, auto_chunk, check_seed,
                          identity_chunks)
from .dual import Dual


def _tree_map(fn, tree):
    if isinstance(tree, (tuple, list)):
        return type(tree)(_tree_map(fn, t) for t in tree)
    return fn(tree)


def _output_check(out, where):
    if isinstance(out, (Dual, np.ndarray, int, float, np.number)):
        return
    if isinstance(out, (tuple, list)):
        for o in out:
            _output_check(o, where)
        return
    raise TypeError(f"{where}: the function returned {type(out).__name__}; it must return an "
                    "array (or a tuple/list of arrays)")


def _split(out, k, dtype):
    """Primal and tangent ``(k, *shape)`` of one output (constant outputs have zero tangent)."""
    if isinstance(out, Dual):
        return out.primal, out.tangent
    p = np.asarray(out)
    return p, np.zeros((k,) + p.shape, dtype=np.result_type(p.dtype, dtype))


def jvp(f, primals, tangents, *, batched: bool = False):
    """Jacobian-vector product of ``f`` at ``primals`` along ``tangents``.

    Args:
        f: a function of ``len(primals)`` array arguments written with numpy.
        primals: tuple of inputs (scalars or arrays; ints become float64).
        tangents: tuple of the same length; each of its primal's shape, or with ``batched=True``
            ``(k, *shape)`` for k directions pushed in one pass.
        batched: whether tangents carry a leading axis of directions.

    Returns:
        ``(out, out_tangent)``; ``out_tangent`` has ``out``'s shape, or ``(k, *out.shape)``.

    Example:
        >>> import numpy as np
        >>> out, t = jvp(lambda x: (3 * x + 1) ** 2, (2.0,), (1.0,))
        >>> float(out), float(t)
        (49.0, 42.0)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(f, primals, tangents): primals and tangents must be tuples, "
                        "e.g. jvp(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    xs = [as_primal(p, f"primal {i}") for i, p in enumerate(primals)]
    ts = [check_seed(t, x.shape, x.dtype, batched, f"tangent {i}")
          for i, (t, x) in enumerate(zip(tangents, xs))]
    ks = {t.shape[0] for t in ts}
    if len(ks) > 1:
        raise ValueError(f"jvp: tangents carry different numbers of directions {sorted(ks)}")
    k = ks.pop() if ks else 1
    with quiet():
        out = f(*[Dual(x, t) for x, t in zip(xs, ts)])
    _output_check(out, "jvp")
    dtype = xs[0].dtype if xs else np.float64
    prim = _tree_map(lambda o: _split(o, k, dtype)[0], out)
    tan = _tree_map(lambda o: _split(o, k, dtype)[1] if batched else _split(o, k, dtype)[1][0, ...],
                    out)
    return prim, tan


def _jacobian_wrt(f, args, i, chunk):
    x = args[i]
    n = x.size
    k = auto_chunk(n, x.dtype.itemsize) if chunk is None else int(chunk)
    if k < 1:
        raise ValueError(f"jacfwd: chunk must be a positive integer, got {chunk!r}")
    k = min(k, max(n, 1))
    cols = None
    out_prim = None
    for start, seed in identity_chunks(n, k, x.dtype):
        width = seed.shape[0]
        dargs = list(args)
        dargs[i] = Dual(x, seed.reshape((width,) + x.shape))
        with quiet():
            out = f(*dargs)
        _output_check(out, "jacfwd")
        if cols is None:
            out_prim = _tree_map(lambda o: np.asarray(_split(o, width, x.dtype)[0]), out)
            cols = _tree_map(lambda o: [], out)
        _zip_append(cols, out, width, x.dtype, seed)
    if n == 0:
        out = f(*args)
        return _tree_map(lambda o: np.zeros(np.shape(o) + x.shape), out)
    return _tree_map2(lambda c, p: _assemble(c, p.shape, x.shape), cols, out_prim)


def _zip_append(cols, out, width, dtype, seed):
    if isinstance(out, (tuple, list)):
        for c, o in zip(cols, out):
            _zip_append(c, o, width, dtype, seed)
    else:
        t = _split(out, width, dtype)[1]
        # the seed buffer is reused by the next chunk: an output that is the seed must be copied
        cols.append(t.copy() if np.may_share_memory(t, seed) else t)


def _tree_map2(fn, a, b):
    if isinstance(b, (tuple, list)):
        return type(b)(_tree_map2(fn, x, y) for x, y in zip(a, b))
    return fn(a, b)


def _assemble(blocks, out_shape, in_shape):
    jt = np.concatenate(blocks, axis=0)  # (n, *out_shape)
    return np.moveaxis(jt, 0, -1).reshape(tuple(out_shape) + tuple(in_shape))


def jacfwd(f, argnums=0, *, chunk: int | None = None):
    """Jacobian of ``f`` by forward mode, shape ``out.shape + in.shape``.

    Args:
        f: function written with numpy.
        argnums: which positional argument(s) to differentiate; a tuple gives a tuple.
        chunk: directions per pass (``None``: :func:`auto_chunk`); every chunk gives the same
            Jacobian, computed in ``ceil(n / chunk)`` passes.

    Example:
        >>> import numpy as np
        >>> J = jacfwd(lambda x: np.sin(x) * 2)(np.zeros(3))
        >>> J.tolist()
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]
    """
    def jac(*args):
        multiple, nums = _argnums(argnums, len(args))
        args = [as_primal(a, f"argument {j}") if j in nums else a for j, a in enumerate(args)]
        res = tuple(_jacobian_wrt(f, args, i, chunk) for i in nums)
        return res if multiple else res[0]
    jac.__name__ = f"jacfwd({getattr(f, '__name__', 'f')})"
    return jac


def derivative(f):
    """``df/dx`` for a scalar input ``x``; the result has ``f(x)``'s shape.

    Example:
        >>> derivative(lambda x: (3 * x + 1) ** 2)(1.0)
        24.0
    """
    def df(x, *rest):
        x = as_primal(x, "x")
        if x.ndim != 0:
            raise ValueError(f"derivative takes a scalar x, got shape {x.shape}; use jacfwd for "
                             "array inputs")
        _, t = jvp(lambda x_: f(x_, *rest), (x,), (np.ones((), dtype=x.dtype),))
        return _tree_map(lambda v: float(v) if np.ndim(v) == 0 else v, t)
    df.__name__ = f"derivative({getattr(f, '__name__', 'f')})"
    return df
