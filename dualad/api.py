"""Forward-mode transforms with JAX's names and shapes: jvp, jacfwd, derivative.

Contract: for ``f: R^(*in_shape) -> R^(*out_shape)`` written with plain numpy,
- ``jvp(f, (x,), (x_dot,))`` returns ``(f(x), J x_dot)``; with ``batched=True``,
  ``x_dot: (k, *in_shape)`` and the tangent out is ``(k, *out_shape)``: k directions, one pass;
- ``jacfwd(f)(x)`` is the Jacobian, shape ``out_shape + in_shape``: the chunked ``jvp``, with
  ``ceil(n / chunk)`` passes that each seed ``chunk`` columns of the identity;
- ``derivative(f)(x)`` is ``df/dx`` for a scalar ``x``, shape ``out_shape`` (a 0-d array for a
  scalar output, as ``revad.grad`` gives).

Arguments, tangents and outputs may be trees of arrays (lists, tuples, dicts, namedtuples, None
as an empty subtree: :mod:`adops.tree`); results mirror them, and ``jacfwd`` nests as JAX's
(output structure outside, argument structure inside). Every call opens its own level
(:mod:`adops.levels`), so these transforms nest with each other and with revad's, to any depth.
Results are fresh arrays the caller owns.
"""
from __future__ import annotations

import numpy as np

from adops.compile import NO_STATIC, RunEagerly, Static, compiled as compiled_function, \
    use_compiled
from adops.compile import fast
from adops.numpy_api.conversions import call_traced
from adops.core.fpstate import quiet
from adops.program.blocks import Job, plain_state, push_blocks
from adops.program.inputs import as_primal, check_seed
from adops.sparsity import Colourings
from adops.core.levels import Level, any_traced
from adops.program.transform import (argnums_tuple, as_rows, by_chunks, check_output, flatten, own,
                             result_dtype)
from adops.program.tree import flat_args, is_leaf, leaves_like, path_names, raveled, split_aux
from .dual import Dual


def push_forward(f, args, kwargs, seeds: dict, k: int, compiled: bool | None = None,
                 static: Static = NO_STATIC):
    """Run ``f`` once with ``args[i]`` carrying tangents ``seeds[i]: (k, *shape_i)``.

    Returns ``(values, tangents, rebuild)``: the output leaves' values and tangents
    ``(k, *out_shape_j)`` (zeros for outputs that do not depend on the seeded inputs). With
    ``compiled``, the compiled tier's JVP (traced once per argument signature; ``static``: the
    arguments it keys by hash, :class:`adops.compile.Static`); values traced by an outer
    transform, and calls the compiled tier hands back (:class:`adops.compile.RunEagerly`), take
    the eager path, which nests.
    """
    if use_compiled(compiled) and \
            not any_traced([*args, *seeds.values(), *kwargs.values()]):
        nums = tuple(seeds)
        try:
            return compiled_function(f).jvp(tuple(args), kwargs, nums,
                                            [seeds[i] for i in nums], static)
        except RunEagerly:
            pass
    dtype = next(iter(seeds.values())).dtype if seeds else np.float64
    with Level("dualad.jvp") as level, quiet():
        dargs = list(args)
        for i, t in seeds.items():
            dargs[i] = Dual(args[i], t, level)
        out = call_traced(f, dargs, kwargs)
        leaves, rebuild = flatten(out)
        values, tangents = [], []
        for o in leaves:
            check_output(o, "jvp")
            if o.__class__ is Dual and o.level is level:
                if o._view is not None:
                    o._refresh()
                values.append(o.primal)
                tangents.append(o.tangent)
            else:
                v = o if isinstance(o, Dual) else np.asarray(o)
                values.append(v)
                tangents.append(np.zeros((k,) + tuple(v.shape),
                                         dtype=result_dtype(np.result_type(v.dtype, dtype))))
    return values, tangents, rebuild


def _fast_jvp(f, primals, tangents, batched):
    """:func:`jvp` by the compiled tier's fast path (:mod:`adops.compile.fast`), or None."""
    ts = []
    for x, t in zip(primals, tangents):
        if type(t) is not np.ndarray or type(x) is not np.ndarray or \
                t.shape != ((t.shape[:1] + x.shape) if batched else x.shape):
            return None
        ts.append(t if batched else t[None])
    hit = fast.jvp(compiled_function(f), tuple(primals), tuple(range(len(primals))), ts)
    if hit is None:
        return None
    out, out_dot = hit
    return out, (out_dot if batched else out_dot[0])


def jvp(f, primals, tangents, *, batched: bool = False, compiled: bool | None = None):
    """Jacobian-vector product of ``f`` at ``primals`` along ``tangents``.

    Args:
        f: a function of ``len(primals)`` arguments written with numpy.
        primals: tuple of inputs: scalars, arrays or trees of them (:mod:`adops.tree`); ints
            become float64.
        tangents: tuple of the same length; each of its primal's structure and shapes, or
            with ``batched=True`` leaves ``(k, *shape)`` for k directions pushed in one pass.
        batched: whether tangents carry a leading axis of directions.
        compiled: run the compiled tier (:mod:`adops.compile`): traced once per argument
            signature, fused numba loops, the same numbers.

    Returns:
        ``(out, out_tangent)``; ``out_tangent`` has ``out``'s structure and shapes, or leaves
        ``(k, *out_leaf.shape)``.

    Example:
        >>> import numpy as np
        >>> out, t = jvp(lambda x: (3 * x + 1) ** 2, (2.0,), (1.0,))
        >>> float(out), float(t)
        (49.0, 42.0)
        >>> jvp(lambda p: p["a"] * p["b"], ({"a": 2.0, "b": 3.0},), ({"a": 1.0, "b": 0.0},))[1]
        array(3.)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(f, primals, tangents): primals and tangents must be tuples, "
                        "e.g. jvp(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    if use_compiled(compiled):
        hit = _fast_jvp(f, primals, tangents, batched)
        if hit is not None:
            return hit
    names = [(f"primal {i}", f"tangent {i}") for i in range(len(primals))]
    fa = flat_args(f, primals, range(len(primals)), names=[p for p, _ in names])
    if fa is not None:  # trees: one primal and one tangent per leaf, on f of the leaves
        flat_tangents, flat_names = [], []
        for i, (p, t) in enumerate(zip(primals, tangents)):
            if is_leaf(p):
                flat_tangents.append(t)
                flat_names.append(names[i])
            else:
                flat_tangents += leaves_like(t, fa.treedefs[i], f"jvp: tangent {i}",
                                             f"primal {i}")
                flat_names += zip(path_names(fa.treedefs[i], f"primal {i}"),
                                  path_names(fa.treedefs[i], f"tangent {i}"))
        f, primals, tangents, names = fa.f, fa.args, flat_tangents, flat_names
    xs = [as_primal(p, name) for p, (name, _) in zip(primals, names)]
    ts = [check_seed(t, x.shape, x.dtype, batched, name, given=getattr(p, "dtype", None))
          for t, x, p, (_, name) in zip(tangents, xs, primals, names)]
    ks = {t.shape[0] for t in ts}
    if len(ks) > 1:
        raise ValueError(f"jvp: tangents carry different numbers of directions {sorted(ks)}")
    k = ks.pop() if ks else 1
    values, outs, rebuild = push_forward(f, xs, {}, dict(enumerate(ts)), k, compiled)
    guards = (*primals, *tangents, *xs, *ts)
    values = [own(v, guards=guards) for v in values]
    outs = [own(t if batched else t[0], result_dtype(v.dtype), guards)
            for t, v in zip(outs, values)]
    return rebuild(values), rebuild(outs)


def jacfwd(f, argnums=0, *, has_aux: bool = False, chunk: int | None = None,
           compiled: bool | None = None, sparsity=None, static_argnums=(), static_argnames=(),
           executor=None):
    """Jacobian of ``f`` by forward mode, shape ``out.shape + in.shape``.

    Args:
        f: function written with numpy; keyword arguments of the call are passed through.
        argnums: which positional argument(s) to differentiate; a tuple gives a tuple.
            Arguments and outputs may be trees of arrays (:mod:`adops.tree`); the Jacobian
            nests as JAX's: the output's structure outside, the argument's inside, each leaf
            ``out_leaf.shape + in_leaf.shape``.
        has_aux: ``f`` returns ``(out, aux)``; the result is ``(jacobian, aux)``, aux not
            differentiated.
        chunk: directions per pass (``None``: :func:`adops.inputs.auto_chunk`); every chunk
            gives the same Jacobian, computed in ``ceil(n / chunk)`` passes.
        compiled: the compiled tier (see :func:`jvp`): one trace, then compiled passes.
        sparsity: ``"auto"`` (detect the structural pattern by one trace), a known ``(m, n)``
            pattern (scipy sparse or bool array, m = out.size, n = in.size) or an
            :class:`adops.sparsity.Pattern`: columns that share no row get one colour, one
            pass per colour, and the result is a ``scipy.sparse.csr_matrix`` ``(m, n)`` (over
            the raveled output and argument trees, :func:`adops.tree.ravel_pytree`'s order).
        static_argnums, static_argnames: arguments the compiled tier keys by hash and
            equality (as ``jax.jit``): a new value traces again. For objects it cannot key by
            value (:mod:`adops.compile`); an unhashable one is a TypeError.
        executor: run the passes as blocks on a ``concurrent.futures.Executor`` (a process
            pool; Dask's ``Client.get_executor()``), a Dask ``Client`` or ``"dask://HOST:PORT"``
            (:mod:`adops.program.blocks`): ``f`` is shipped with cloudpickle, the result is
            bit-for-bit the local one with the same ``chunk``.

    Example:
        >>> import numpy as np
        >>> J = jacfwd(lambda x: np.sin(x) * 2)(np.zeros(3))
        >>> J.tolist()
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]
        >>> J = jacfwd(lambda p: {"y": p[0] * p[1]})((np.ones(2), 3.0))
        >>> J["y"][0].tolist(), J["y"][1].tolist()
        ([[3.0, 0.0], [0.0, 3.0]], [1.0, 1.0])
    """
    static = Static(static_argnums, static_argnames)
    argnums_of = {}  # argnums resolved per number of arguments
    colourings = Colourings()  # a given pattern is coloured once per transform
    cf = None  # compiled_function(f), looked up once (the same object while f lives)

    def jac(*args, **kwargs):
        nonlocal cf
        mn = argnums_of.get(len(args)) or argnums_of.setdefault(
            len(args), argnums_tuple(argnums, len(args)))
        multiple, nums = mn
        if not kwargs and not has_aux and sparsity is None and not static and \
                use_compiled(compiled):
            if cf is None:
                cf = compiled_function(f)
            hit = fast.jacfwd(cf, args, nums, chunk)
            if hit is not None:
                return tuple(hit) if multiple else hit[0]
        if sparsity is not None:
            if has_aux:
                raise ValueError("sparsity= does not take has_aux=True: f must return the one "
                                 "output whose Jacobian is sparse")
            return _sparse(f, args, kwargs, multiple, nums, sparsity, compiled, static, chunk,
                           executor, colourings)
        if executor is not None:
            _refuse_traced(args, kwargs, "jacfwd")
        fa = flat_args(f, args, nums, static)
        g, xnums, st = (fa.f, fa.nums, fa.static) if fa else (f, nums, static)
        args = [as_primal(a, f"argument {j}") if j in xnums else a
                for j, a in enumerate(fa.args if fa else args)]
        per_arg, rebuild, values = [], None, None
        for i in xnums:
            x = args[i]

            state = (g, args, kwargs, i, x.shape, compiled, st)

            def push(seed, state=state):
                nonlocal rebuild, values
                values, tans, rebuild = _pushed(state, seed)
                return tans
            if executor is not None:
                values, rebuild = _plain_outputs(g, args, kwargs)
                job = Job(plain_state, _tangents, state[:5] + (use_compiled(compiled), st))
                blocks = push_blocks(job, x.size, chunk, x.dtype, executor, "jacfwd")
            else:
                blocks = by_chunks(push, x.size, chunk, x.dtype, "jacfwd",
                                   fresh_seeds=any_traced([*args, *kwargs.values()]))
            per_arg.append([own(np.moveaxis(b, 0, -1).reshape(b.shape[1:] + x.shape),
                                result_dtype(x.dtype), args) for b in blocks])
        n_out = len(per_arg[0])
        if has_aux:
            n_out, rebuild, aux_rebuild = split_aux(rebuild, "jacfwd")
        # JAX's layout: the output structure outside, the argnums tuple inside
        per_out = [fa.regroup([p[j] for p in per_arg], multiple) if fa else
                   (tuple(p[j] for p in per_arg) if multiple else per_arg[0][j])
                   for j in range(n_out)]
        if has_aux:
            return rebuild(per_out), aux_rebuild([own(v, guards=args)
                                                  for v in values[n_out:]])
        return rebuild(per_out)
    jac.__name__ = f"jacfwd({getattr(f, '__name__', 'f')})"
    return jac


def _pushed(state, seed):
    """One forward pass of ``jacfwd``: ``seed: (w, n)`` into argument ``i`` ->
    :func:`push_forward`'s ``(values, tangents, rebuild)``."""
    g, args, kwargs, i, shape, compiled, static = state
    w = seed.shape[0]
    return push_forward(g, args, kwargs, {i: seed.reshape((w,) + shape)}, w, compiled, static)


def _tangents(state, seed):
    """:func:`_pushed`'s output tangents ``[(w, *out_shape_j)]``: the pass of ``jacfwd``'s
    blocks (:mod:`adops.program.blocks`)."""
    return _pushed(state, seed)[1]


def _tangent_rows(state, seed):
    """:func:`_tangents` of the one output as rows ``[(w, m)]`` (colouring's seeds)."""
    return [as_rows(_tangents(state, seed)[0])]


def _plain_outputs(g, args, kwargs):
    """The output leaves and structure of ``g`` called on plain arrays: what assembling blocks
    computed elsewhere needs."""
    leaves, rebuild = flatten(g(*args, **kwargs))
    for o in leaves:
        check_output(o, "jacfwd")
    return [np.asarray(v) for v in leaves], rebuild


def _refuse_traced(args, kwargs, where):
    if any_traced([*args, *kwargs.values()]):
        raise ValueError(f"{where}: executor= takes plain arrays; inside another transform "
                         "(values traced by an outer jacfwd/grad) the passes run here: pass "
                         "executor= to the outermost transform instead")


def _sparse(f, args, kwargs, multiple, nums, sparsity, compiled, static, chunk=None,
            executor=None, colourings=None):
    """jacfwd with a sparsity pattern: one forward pass per colour of columns (over raveled
    trees); ``chunk`` colours per pass (None: all in one), on ``executor`` when given."""
    from adops.sparsity import Pattern, sparse_jacobian_of
    if multiple:
        raise ValueError("sparsity= takes a single argnums (one Jacobian (m, n)); call jacfwd "
                         "once per argument")
    (i,) = nums
    if isinstance(sparsity, Pattern) and not is_leaf(args[i]):
        raise ValueError("a detected Pattern takes a bare array argument; for a tree pass "
                         "sparsity='auto' or an (m, n) pattern over the raveled trees")
    f, x = raveled(f, i, args[i], f"argument {i}")
    args = list(args)
    args[i] = as_primal(x, f"argument {i}")

    if executor is not None:
        _refuse_traced(args, kwargs, "jacfwd")

    def push_for(x):
        job = Job(plain_state, _tangent_rows,
                  (f, args, kwargs, i, x.shape, use_compiled(compiled), static))
        return lambda seeds: push_blocks(job, x.size, chunk, seeds.dtype, executor, "jacfwd",
                                         seeds=seeds)[0]
    return sparse_jacobian_of(f, args, kwargs, i, sparsity, "forward", push_for, colourings)


def derivative(f, *, compiled: bool | None = None, static_argnums=(), static_argnames=()):
    """``df/dx`` for a scalar input ``x``; the result has ``f(x)``'s shape (0-d for a scalar).
    ``compiled=True``: the compiled tier (see :func:`jvp`); ``static_argnums`` /
    ``static_argnames``: see :func:`jacfwd`.

    Example:
        >>> float(derivative(lambda x: (3 * x + 1) ** 2)(1.0))
        24.0
    """
    static = Static(static_argnums, static_argnames)

    def df(x, *rest, **kwargs):
        x = as_primal(x, "x")
        if len(x.shape) != 0:
            raise ValueError(f"derivative takes a scalar x, got shape {x.shape}; use jacfwd for "
                             "array inputs")
        seed = np.ones((1,), dtype=x.dtype)
        values, tans, rebuild = push_forward(f, (x, *rest), kwargs, {0: seed}, 1, compiled,
                                             static)
        return rebuild([own(t[0], result_dtype(v.dtype), (x,)) for t, v in zip(tans, values)])
    df.__name__ = f"derivative({getattr(f, '__name__', 'f')})"
    return df
