"""``elementwise_grad``: autograd's name for the VJP with a cotangent of ones.

For ``f`` mapping ``x`` to ``y``, ``elementwise_grad(f)(x)`` is ``J^T 1``: entry ``i`` is
``sum_j dy_j / dx_i``, the gradient of ``np.sum(f(x))``. When ``f`` acts elementwise (each
``y_i`` depends on ``x_i`` alone), ``J`` is diagonal and this is its diagonal, the derivative
at every point of ``x`` at once, in one reverse sweep: how autograd's examples plot
``tanh`` and its derivatives. For an ``f`` that mixes entries it is not the diagonal (use
``jacrev`` and ``np.diagonal`` then).
"""
from __future__ import annotations

import numpy as np

from adops.program.transform import argnums_tuple, own, result_dtype
from adops.program.tree import flat_args
from .api import Linearized


def elementwise_grad(f, argnum=0, *, compiled: bool | None = None):
    """``x -> J^T 1``, the sum over outputs of their gradients (autograd's
    ``elementwise_grad``; see the module doc). ``argnum``: an int or a tuple (then a tuple of
    results); arguments and the output may be trees of arrays (every output leaf gets a
    cotangent of ones); ``compiled=True``: the compiled tier.

    Example:
        >>> import numpy as np
        >>> elementwise_grad(np.tanh)(np.array([0.0, 1.0])).round(4).tolist()
        [1.0, 0.42]
        >>> d2 = elementwise_grad(elementwise_grad(np.tanh))
        >>> d2(np.array([0.0, 1.0])).round(4).tolist()
        [0.0, -0.6397]
    """
    def eg(*args, **kwargs):
        multiple, nums = argnums_tuple(argnum, len(args))
        fa = flat_args(f, args, nums)
        g, xs, xnums = (fa.f, fa.args, fa.nums) if fa else (f, args, nums)
        lin = Linearized(g, xs, kwargs, xnums, "revad.elementwise_grad", compiled)
        seeds = [np.ones((1,) + tuple(np.shape(v)), dtype=result_dtype(v.dtype))
                 for v in lin.values]
        bars = [own(b[0], d, xs) for b, d in zip(lin.pull(seeds), lin.dtypes)]
        if fa:
            return fa.regroup(bars, multiple)
        return tuple(bars) if multiple else bars[0]
    eg.__name__ = f"elementwise_grad({getattr(f, '__name__', 'f')})"
    return eg
