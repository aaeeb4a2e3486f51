"""Reverse-mode transforms with JAX's names and shapes: vjp, grad, value_and_grad, jacrev
(record/replay: :mod:`revad.recording`).

Contract: for ``f: R^(*in_shape) -> R^(*out_shape)`` written with plain numpy,
- ``vjp(f, x)`` returns ``(f(x), vjp_fn)``; ``vjp_fn(u)`` is ``(u^T J,)`` with ``u: (*out_shape)``
  and the result ``(*in_shape)``; ``vjp_fn(u, batched=True)`` takes ``u: (m, *out_shape)`` and
  returns ``(m, *in_shape)``: m seeds in one sweep;
- ``grad(f)(x)``: f returns a scalar; the gradient has ``x``'s shape;
- ``jacrev(f)(x)``: the Jacobian, ``out_shape + in_shape``: one recording and the chunked
  ``vjp``, ``ceil(m / chunk)`` sweeps;

Arguments, outputs and cotangents may be trees of arrays (lists, tuples, dicts, namedtuples;
:mod:`adops.tree`): gradients have the argument's structure, ``vjp`` takes cotangents of the
output's structure, and ``jacrev`` nests as JAX's (output structure outside, argument inside).
``has_aux=True`` (``grad``, ``value_and_grad``, ``vjp``, ``jacrev``): ``f`` returns
``(out, aux)`` and ``aux`` comes back alongside, not differentiated. Every call opens its own level
(:mod:`adops.levels`), so these transforms nest with each other and with dualad's. Keyword
arguments of a transformed function's call are passed to ``f``. Results are fresh arrays the
caller owns.
"""
from __future__ import annotations

import numpy as np

from adops.compile import (NO_STATIC, RunEagerly, Static, compiled as compiled_function, fast,
                           use_compiled)
from adops.program.blocks import Job, push_blocks
from adops.sparsity import Colourings, sparse_jacobian_of
from adops.core.levels import any_traced
from .var import Trace, Var
from adops.program import cotangent_seeds
from adops.program.transform import (argnums_tuple, as_rows, batched_cotangents, by_chunks, own,
                                     result_dtype)
from adops.program.tree import flat_args, is_leaf, raveled, split_aux, tree_map
from .backward import sweep


class Linearized:
    """``f`` at one point, ready to pull cotangents back: the output leaves' ``values``,
    ``pull(seeds) -> [(m, *x_i.shape)]`` for the arguments differentiated, and the output
    structure. Built by the eager tape or by the compiled tier (``compiled=True``; ``static``:
    the arguments it keys by hash, :class:`adops.compile.Static`), which may hand a call back
    to the eager tape (:class:`adops.compile.RunEagerly`)."""

    __slots__ = ("values", "pull", "rebuild", "is_tree", "shapes", "dtypes", "tape")

    def __init__(self, f, args, kwargs, nums, name, compiled_tier, static=NO_STATIC):
        if use_compiled(compiled_tier) and not any_traced([*args, *kwargs.values()]):
            try:
                self.values, self.pull, self.rebuild, self.shapes, self.dtypes = \
                    compiled_function(f).vjp(args, kwargs, nums, static)
            except RunEagerly:
                pass
            else:
                self.is_tree = self.rebuild.is_tree
                self.tape = None
                return
        trace = Trace(f, args, kwargs, nums, name)
        self.values, self.rebuild, self.is_tree = trace.values, trace.rebuild, trace.is_tree
        self.shapes, self.dtypes, self.tape = trace.shapes, trace.dtypes, trace.tape
        self.pull = lambda seeds: pull_back(trace, seeds)

    check_cotangent = Trace.check_cotangent


def pull_back(trace: Trace, seeds, lins=None):
    """Cotangents ``(m, *x_i.shape)`` of a trace's leaves, for seeds ``(m, *out_j.shape)`` per
    output leaf (zeros where no path leads): one sweep of its tape."""
    m = seeds[0].shape[0]
    live = {}
    for entry, s in zip(trace.outs, seeds):
        if entry is not None:
            live[entry] = live[entry] + s if entry in live else s
    bars = sweep(trace.tape, live, trace.leaves, lins) if live else [None] * len(trace.leaves)
    return batched_cotangents(bars, m, trace.shapes, trace.dtypes)


class _Outputs:
    """``f`` linearized at ``args`` for one transform: tree arguments as their leaves
    (:func:`adops.program.tree.flat_args`; ``xs``), the eager or compiled linearization
    (``trace``), and its outputs with ``has_aux``'s aux split off (``values``, ``rebuild``;
    ``aux_values``, :meth:`aux`)."""

    def __init__(self, f, args, kwargs, nums, static, name, compiled, has_aux, names=None):
        fa = flat_args(f, args, nums, static, names)
        g, self.xs, xnums, st = (fa.f, fa.args, fa.nums, fa.static) if fa else \
            (f, args, nums, static)
        self.fa = fa
        self.trace = Linearized(g, self.xs, kwargs, xnums, f"revad.{name}", compiled, st)
        self.rebuild, self.values, self.aux_values = self.trace.rebuild, self.trace.values, []
        if has_aux:
            n_out, self.rebuild, self.aux_rebuild = split_aux(self.trace.rebuild, name)
            self.values, self.aux_values = self.values[:n_out], self.values[n_out:]

    def regroup(self, per_leaf, multiple: bool):
        """Results per differentiated leaf, in the arguments' structures (a tuple of them
        when ``argnums`` is a tuple)."""
        if self.fa is not None:
            return self.fa.regroup(per_leaf, multiple)
        return tuple(per_leaf) if multiple else per_leaf[0]

    def aux(self):
        """The aux output, as fresh arrays the caller owns."""
        return self.aux_rebuild([own(v, guards=self.xs) for v in self.aux_values])


def vjp(f, *primals, has_aux: bool = False, compiled: bool | None = None):
    """Vector-Jacobian product: ``(f(*primals), vjp_fn)``.

    Args:
        f: a function of ``len(primals)`` arguments written with numpy, returning an array or a
            tree of arrays (lists, tuples, dicts, namedtuples; :mod:`adops.tree`).
        *primals: inputs: scalars, arrays or trees of them (ints become float64, float32 stays
            float32).
        has_aux: ``f`` returns ``(out, aux)``; ``aux`` (a tree of arrays) is returned as the
            third result, not differentiated.
        compiled: run the compiled tier (:mod:`adops.compile`): traced once per argument
            signature, fused numba loops, the same numbers.

    Returns:
        ``(out, vjp_fn)`` (``(out, vjp_fn, aux)`` with ``has_aux``). ``vjp_fn(u)`` takes a
        cotangent of ``out``'s structure and returns a tuple with one cotangent per primal,
        each of its primal's structure and shapes; ``vjp_fn(u, batched=True)`` takes leaves
        ``(m, *out_leaf.shape)`` and returns leaves ``(m, *primal_leaf.shape)``: m seeds in one
        sweep. ``vjp_fn`` can be called many times, from any thread.

    Example:
        >>> import numpy as np
        >>> out, vjp_fn = vjp(lambda x: x ** 2, np.array([1.0, 2.0]))
        >>> vjp_fn(np.array([1.0, 1.0]))[0].tolist()
        [2.0, 4.0]
        >>> out, vjp_fn = vjp(lambda p: {"y": p["w"] * 3.0}, {"w": np.ones(2)})
        >>> vjp_fn({"y": np.array([1.0, 2.0])})[0]["w"].tolist()
        [3.0, 6.0]
    """
    nums = tuple(range(len(primals)))  # vjp_fn keeps the primals as given: later writes unseen
    primals = tree_map(lambda a: a.copy() if type(a) is np.ndarray else a, tuple(primals))
    out = _Outputs(f, primals, {}, nums, NO_STATIC, "vjp", compiled, has_aux,
                   names=[f"primal {i}" for i in nums])
    lin, xs, rebuild, values = out.trace, out.xs, out.rebuild, out.values
    # the tape may hold an output as a residual of a later op: the caller gets a copy
    value = rebuild([v if isinstance(v, Var) else np.array(v, copy=True) for v in values])

    def vjp_fn(cotangent, *, batched: bool = False):
        leaves, seeds = cotangent_seeds(rebuild, values, cotangent, batched)
        m = seeds[0].shape[0] if seeds else 1
        bars = lin.pull(seeds + _zero_seeds(out.aux_values, m))
        bars = [own(b if batched else b[0], d, (*leaves, *seeds, *xs))
                for b, d in zip(bars, lin.dtypes)]
        return out.regroup(bars, True)

    vjp_fn.tape = lin.tape  # the recorded tape (None in the compiled tier)
    if has_aux:
        return value, vjp_fn, out.aux()
    return value, vjp_fn


def _zero_seeds(values, m):  # seeds of the outputs not differentiated (aux)
    return [np.zeros((m,) + tuple(np.shape(v)), dtype=result_dtype(v.dtype)) for v in values]


def value_and_grad(f, argnums=0, *, has_aux: bool = False, compiled: bool | None = None,
                   static_argnums=(), static_argnames=()):
    """``(f(x), grad f(x))`` for a scalar-valued ``f`` in one trace and one sweep
    (``compiled=True``: the compiled tier, see :func:`vjp`). Arguments may be trees of arrays
    (:mod:`adops.tree`); each gradient has its argument's structure.

    ``f`` must return shape ``()``, as JAX's ``grad`` requires: a size-1 output of shape
    ``(1,)`` is refused (autograd accepts it), since a Jacobian row and a gradient differ in
    shape and silently dropping the axis would hide a shape mistake; return ``out[0]`` or
    ``np.sum(out)``. ``has_aux=True``: ``f`` returns ``(value, aux)``, and the result is
    ``((value, aux), grad)``; aux is not differentiated.

    ``static_argnums`` / ``static_argnames`` (as ``jax.jit``, used by the compiled tier):
    arguments keyed by hash and equality, so a new value traces again; for objects the
    compiled tier cannot key by value (:mod:`adops.compile`). An unhashable one is a TypeError.

    Example:
        >>> import numpy as np
        >>> value_and_grad(lambda w: np.sum(w ** 2))(np.array([1.0, 3.0]))
        (array(10.), array([2., 6.]))
    """
    static = Static(static_argnums, static_argnames)
    argnums_of = {}  # argnums resolved per number of arguments
    cf = None  # compiled_function(f), looked up once (the same object while f lives)

    def vg(*args, **kwargs):
        nonlocal cf
        multiple, nums = argnums_of.get(len(args)) or argnums_of.setdefault(
            len(args), argnums_tuple(argnums, len(args)))
        if not kwargs and not has_aux and not static and use_compiled(compiled):
            if cf is None:
                cf = compiled_function(f)
            hit = fast.value_and_grad(cf, args, nums)
            if hit is not None:
                value, grads = hit
                return value, (tuple(grads) if multiple else grads[0])
        out = _Outputs(f, args, kwargs, nums, static, "grad", compiled, has_aux)
        trace, xs, values, aux_values = out.trace, out.xs, out.values, out.aux_values
        _check_scalar(out.rebuild, values)
        value = values[0]
        seeds = [np.ones((1,), dtype=result_dtype(value.dtype))] + _zero_seeds(aux_values, 1)
        grads = [own(b[0], d, xs) for b, d in zip(trace.pull(seeds), trace.dtypes)]
        grads = out.regroup(grads, multiple)
        value = own(value, guards=xs)
        if has_aux:
            return (value, out.aux()), grads
        return value, grads
    vg.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    vg.__wrapped__ = f  # f's signature: static_argnames of a transform of vg find f's names
    return vg


def _check_scalar(rebuild, values):
    """grad's output must be one value of shape ()."""
    if rebuild.is_tree or tuple(values[0].shape) != ():
        shape = None if rebuild.is_tree else tuple(values[0].shape)
        got = (f"a {type(rebuild(values)).__name__} of {len(values)} values" if shape is None
               else f"shape {shape}")
        hint = ("; a size-1 output is refused as in JAX (autograd accepts it): return out[0] "
                "or np.sum(out)" if shape is not None and int(np.prod(shape)) == 1 else
                "; reduce it (e.g. np.sum) or use jacrev/vjp")
        raise TypeError(f"grad requires f to return a scalar (shape ()), but it returned "
                        f"{got}{hint}")


def grad(f, argnums=0, *, has_aux: bool = False, compiled: bool | None = None,
         static_argnums=(), static_argnames=()):
    """Gradient of a scalar-valued ``f``, with each argument's shape and tree structure
    (``compiled=True``: the compiled tier, see :func:`vjp`; ``has_aux``, the refused ``(1,)``
    output, ``static_argnums`` / ``static_argnames``: see :func:`value_and_grad`).

    Example:
        >>> import numpy as np
        >>> grad(lambda x: (3 * x + 1) ** 2)(2.0)
        array(42.)
        >>> grad(lambda p: np.sum(p["w"] * 2.0) + p["b"] ** 2)({"w": np.ones(2), "b": 3.0})
        {'w': array([2., 2.]), 'b': array(6.)}
    """
    vg = value_and_grad(f, argnums, has_aux=has_aux, compiled=compiled,
                        static_argnums=static_argnums, static_argnames=static_argnames)

    def g(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    g.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    g.__wrapped__ = f  # f's signature (see value_and_grad)
    return g


def jacrev(f, argnums=0, *, has_aux: bool = False, chunk: int | None = None,
           compiled: bool | None = None, sparsity=None, static_argnums=(), static_argnames=(),
           executor=None):
    """Jacobian of ``f`` by reverse mode, shape ``out.shape + in.shape``.

    One recording, then ``ceil(m / chunk)`` sweeps that each seed ``chunk`` rows of the identity
    (``chunk=None``: :func:`adops.inputs.auto_chunk`); every chunk gives the same Jacobian.
    Trees (:mod:`adops.tree`) nest as JAX's: the output's structure outside, the argument's
    inside, each leaf ``out_leaf.shape + in_leaf.shape``. ``has_aux=True``: ``f`` returns
    ``(out, aux)`` and the result is ``(jacobian, aux)``.
    ``compiled=True``: the compiled tier (see :func:`vjp`), one compiled forward pass and
    compiled sweeps. ``sparsity``: ``"auto"``, a known ``(m, n)`` pattern or an
    :class:`adops.sparsity.Pattern`: rows that share no column get one colour, one sweep per
    colour, and the result is a ``scipy.sparse.csr_matrix`` ``(m, n)`` (over the raveled
    output and argument trees, in :func:`adops.tree.ravel_pytree`'s order). ``static_argnums`` /
    ``static_argnames``: see :func:`value_and_grad`. ``executor``: the sweeps (or colour groups)
    as blocks on a ``concurrent.futures.Executor``, a Dask ``Client`` or ``"dask://HOST:PORT"``
    (``dualad.jacfwd``'s ``executor``; each worker records once and sweeps its blocks).

    Example:
        >>> import numpy as np
        >>> jacrev(lambda x: x[::-1] * 2.0)(np.zeros(2)).tolist()
        [[0.0, 2.0], [2.0, 0.0]]
        >>> J = jacrev(lambda p: [p["a"] * p["b"]])({"a": np.ones(2), "b": 3.0})
        >>> J[0]["a"].tolist(), J[0]["b"].tolist()
        ([[3.0, 0.0], [0.0, 3.0]], [1.0, 1.0])
    """
    static = Static(static_argnums, static_argnames)
    argnums_of = {}  # argnums resolved per number of arguments
    colourings = Colourings()  # a given pattern is coloured once per transform
    cf = None  # compiled_function(f), looked up once (the same object while f lives)

    def jac(*args, **kwargs):
        nonlocal cf
        multiple, nums = argnums_of.get(len(args)) or argnums_of.setdefault(
            len(args), argnums_tuple(argnums, len(args)))
        if not kwargs and not has_aux and sparsity is None and not static and \
                use_compiled(compiled):
            if cf is None:
                cf = compiled_function(f)
            hit = fast.jacrev(cf, args, nums, chunk)
            if hit is not None:
                return tuple(hit) if multiple else hit[0]
        if sparsity is not None:
            if has_aux:
                raise ValueError("sparsity= does not take has_aux=True: f must return the one "
                                 "output whose Jacobian is sparse")
            return _sparse(f, args, kwargs, multiple, nums, sparsity, compiled, static, chunk,
                           executor, colourings)
        # the tier in force here (adops.compile.tier) is the workers' tier too
        payload = (f, args, kwargs, nums, static, use_compiled(compiled), has_aux)
        if executor is not None:
            _refuse_traced(args, kwargs)
        # with an executor the workers sweep; here one eager recording gives the structure
        state = _sweeps(payload if executor is None else payload[:5] + (False, has_aux))
        out, trace, xs = state
        shapes, cuts = _cuts(out.values)
        dtype = result_dtype(np.result_type(*[v.dtype for v in out.values])) \
            if out.values else np.float64
        if executor is None:
            blocks = by_chunks(lambda s: _pull(state, s), int(cuts[-1]), chunk, dtype, "jacrev",
                               fresh_seeds=any_traced([*xs, *kwargs.values()]))
        else:
            blocks = push_blocks(Job(_sweeps, _pull, payload), int(cuts[-1]), chunk, dtype,
                                 executor, "jacrev")
        per_out = []
        for a, b, s in zip(cuts, cuts[1:], shapes):
            jacs = [own(blk[a:b].reshape(s + x_shape), d, xs)
                    for blk, x_shape, d in zip(blocks, trace.shapes, trace.dtypes)]
            per_out.append(out.regroup(jacs, multiple))
        if has_aux:
            return out.rebuild(per_out), out.aux()
        return out.rebuild(per_out)
    jac.__name__ = f"jacrev({getattr(f, '__name__', 'f')})"
    return jac


def _sweeps(payload):
    """``jacrev``'s recording for its sweeps (here, or once per worker for its blocks:
    :mod:`adops.program.blocks`): ``(outputs, trace, xs)``."""
    f, args, kwargs, nums, static, compiled, has_aux = payload
    out = _Outputs(f, args, kwargs, nums, static, "jacrev", compiled, has_aux)
    return out, out.trace, out.xs


def _cuts(values):
    """Output leaf shapes and their row offsets in the stacked seeds."""
    shapes = [tuple(v.shape) for v in values]
    return shapes, np.cumsum([0] + [int(np.prod(s)) for s in shapes])


def _pull(state, seed):
    """One sweep of ``jacrev``'s blocks: ``seed: (w, m)`` over the stacked output leaves ->
    cotangents ``[(w, *x_i.shape)]``."""
    out = state[0]
    shapes, cuts = _cuts(out.values)
    w = seed.shape[0]
    seeds = [seed[:, a:b].reshape((w,) + s) for a, b, s in zip(cuts, cuts[1:], shapes)]
    return out.trace.pull(seeds + _zero_seeds(out.aux_values, w))


def _refuse_traced(args, kwargs):
    if any_traced([*args, *kwargs.values()]):
        raise ValueError("jacrev: executor= takes plain arrays; inside another transform "
                         "(values traced by an outer jacfwd/grad) the sweeps run here: pass "
                         "executor= to the outermost transform instead")


def _sparse(f, args, kwargs, multiple, nums, sparsity, compiled, static, chunk=None,
            executor=None, colourings=None):
    """jacrev with a sparsity pattern: one sweep per colour of rows (over raveled trees);
    ``chunk`` colours per sweep (None: all in one), on ``executor`` when given."""
    if multiple:
        raise ValueError("sparsity= takes a single argnums (one Jacobian (m, n)); call jacrev "
                         "once per argument")
    (i,) = nums
    f, x = _raveled(f, args, i, sparsity)
    args = [x if j == i else a for j, a in enumerate(args)]

    if executor is not None:
        _refuse_traced(args, kwargs)

    def push_for(x):
        job = Job(_linearized, _pull_rows,
                  (f, args, kwargs, nums, use_compiled(compiled), static))
        return lambda seeds: push_blocks(job, seeds.shape[1], chunk, seeds.dtype, executor,
                                         "jacrev", seeds=seeds)[0]
    return sparse_jacobian_of(f, args, kwargs, i, sparsity, "reverse", push_for, colourings)


def _linearized(payload):
    """The recording behind coloured sweeps (here, or once per worker)."""
    f, args, kwargs, nums, compiled, static = payload
    return Linearized(f, args, kwargs, nums, "revad.jacrev", compiled, static)


def _pull_rows(lin, seeds):
    """One coloured sweep: ``seeds: (w, m)`` -> ``[(w, n)]``."""
    out_shape = tuple(np.shape(lin.values[0]))
    return [as_rows(lin.pull([seeds.reshape((seeds.shape[0],) + out_shape)])[0])]


def _raveled(f, args, i, sparsity):
    """``f`` and ``args[i]`` over raveled trees for ``sparsity=`` (:func:`adops.tree.raveled`);
    a :class:`adops.sparsity.Pattern` was detected for ``f`` itself, so it takes a bare
    array."""
    from adops.sparsity import Pattern
    if isinstance(sparsity, Pattern) and not is_leaf(args[i]):
        raise ValueError("a detected Pattern takes a bare array argument; for a tree pass "
                         "sparsity='auto' or an (m, n) pattern over the raveled trees")
    return raveled(f, i, args[i], f"argument {i}")
