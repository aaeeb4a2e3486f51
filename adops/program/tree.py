"""Trees of arrays (pytrees), as in JAX: what every transform takes and returns where arrays go.

A tree is nested lists, tuples, dicts (keys sorted, as JAX), namedtuples, ``OrderedDict``,
``defaultdict``, ``deque`` and types registered with :func:`register_pytree_node`; its leaves are
arrays and numbers (numpy scalars are leaves). ``None`` is an empty subtree (no leaf), as in
JAX. The flattening is optree's (``none_is_leaf=False``, namespace :data:`NAMESPACE`), so a
registration here does not change other libraries' trees.

Where trees are flattened (docs/ARCHITECTURE.md, "Trees"):

- **arguments**: :func:`flat_args` turns each differentiated argument that is not already an
  array into its leaves, passed as separate positional arguments to a wrapper of ``f`` that
  rebuilds the trees (one wrapper per function and tree structure, so the compiled tier keeps
  one program for it); results per leaf are regrouped into the argument's structure
  (:meth:`FlatArgs.regroup`). A bare array takes none of this (the fast path).
- **outputs**: :func:`adops.transform.flatten` (the one output flattener, used by the eager
  tape, forward mode and the compiled tier) gives the leaves and a :class:`Rebuild`, which
  carries the output's structure so cotangents can be checked against it.
- **tangents and cotangents** must have their primal's (output's) structure:
  :func:`leaves_like` refuses another, naming both structures.

Example:
    >>> import numpy as np
    >>> flat, unravel = ravel_pytree({"b": np.ones(2), "a": (3.0, None)})
    >>> flat.tolist(), unravel(flat)["b"].tolist()
    ([3.0, 1.0, 1.0], [1.0, 1.0])
"""
from __future__ import annotations

import inspect
import weakref

import numpy as np
import optree

from ..core.levels import TracedBase
from .inputs import as_primal
from .static import Static, positional_parameters

#: optree namespace of the toolkit's registrations (:func:`register_pytree_node`)
NAMESPACE = "adops"

_LEAF_TYPES = (np.ndarray, np.generic, float, int, bool, TracedBase)


def tree_flatten(tree, is_leaf=None):
    """``(leaves, treedef)``, leaves in JAX's order (dict keys sorted; ``None`` has no leaf;
    unflattening restores a dict's own key order).

    Example:
        >>> leaves, treedef = tree_flatten({"w": 1.0, "b": [2.0, None]})
        >>> leaves, tree_unflatten(treedef, [5.0, 6.0])
        ([2.0, 1.0], {'w': 6.0, 'b': [5.0, None]})
    """
    return optree.tree_flatten(tree, is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def tree_unflatten(treedef, leaves):
    """The tree of structure ``treedef`` holding ``leaves`` (see :func:`tree_flatten`).

    Example:
        >>> tree_unflatten(tree_structure([0, (0, None)]), [1.0, 2.0])
        [1.0, (2.0, None)]
    """
    return optree.tree_unflatten(treedef, leaves)


def tree_leaves(tree, is_leaf=None) -> list:
    """The leaves of ``tree``, in :func:`tree_flatten`'s order.

    Example:
        >>> tree_leaves([1.0, (2.0, None), {"a": 3.0}])
        [1.0, 2.0, 3.0]
    """
    return optree.tree_leaves(tree, is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def tree_structure(tree, is_leaf=None):
    """The structure (treedef) of ``tree``.

    Example:
        >>> tree_structure((1.0, {"a": None}))
        PyTreeSpec((*, {'a': None}))
    """
    return optree.tree_structure(tree, is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def tree_map(f, tree, *rest, is_leaf=None):
    """``f`` applied leaf by leaf over ``tree`` (and trees of the same structure in ``rest``).

    Example:
        >>> tree_map(lambda p, g: p - 0.1 * g, {"w": 1.0, "b": None}, {"w": 2.0, "b": None})
        {'w': 0.8, 'b': None}
    """
    return optree.tree_map(f, tree, *rest, is_leaf=is_leaf, none_is_leaf=False,
                           namespace=NAMESPACE)


def register_pytree_node(cls, flatten_func, unflatten_func):
    """Make ``cls`` a tree node for every transform, as ``jax.tree_util.register_pytree_node``:
    ``flatten_func(obj) -> (children, aux_data)``, ``unflatten_func(aux_data, children) -> obj``.

    Example:
        >>> class Pair:
        ...     def __init__(self, a, b): self.a, self.b = a, b
        >>> _ = register_pytree_node(Pair, lambda p: ((p.a, p.b), None),
        ...                          lambda aux, ch: Pair(*ch))
        >>> tree_leaves(Pair(1.0, [2.0]))
        [1.0, 2.0]
    """
    return optree.register_pytree_node(cls, flatten_func, unflatten_func, namespace=NAMESPACE)


def ravel_pytree(tree):
    """``(flat, unravel)``, as ``jax.flatten_util.ravel_pytree``: every leaf raveled and
    concatenated (in :func:`tree_flatten`'s order, promoted to one dtype), and the function
    that cuts such a vector back into a tree of ``tree``'s structure, shapes and dtypes.
    For optimizers and solvers that want one vector; works on traced values too.

    Example:
        >>> import numpy as np
        >>> flat, unravel = ravel_pytree([np.zeros((2, 2)), (np.ones(1), None)])
        >>> flat.shape, unravel(np.arange(5.0))[1][0].tolist()
        ((5,), [4.0])
    """
    leaves, treedef = tree_flatten(tree)
    shapes = [np.shape(leaf) for leaf in leaves]
    dtypes = [leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
              for leaf in leaves]
    sizes = [int(np.prod(s)) for s in shapes]
    dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
    if leaves:
        flat = np.concatenate([np.ravel(leaf) for leaf in leaves])
        if not isinstance(flat, TracedBase) and flat.dtype != dtype:
            flat = flat.astype(dtype)
    else:
        flat = np.zeros(0, dtype=dtype)
    cuts = np.cumsum([0] + sizes).tolist()

    def unravel(vector):
        if np.shape(vector) != (cuts[-1],):
            raise ValueError(f"unravel takes a vector of shape ({cuts[-1]},) (the raveled "
                             f"tree), got shape {np.shape(vector)}")
        parts = []
        for a, b, s, d in zip(cuts, cuts[1:], shapes, dtypes):
            part = np.reshape(vector[a:b], s)
            if not isinstance(part, TracedBase) and part.dtype != d:
                part = np.asarray(part).astype(d)
            parts.append(part)
        return tree_unflatten(treedef, parts)
    return flat, unravel


def is_leaf(x) -> bool:
    """Whether ``x`` is one leaf (an array, a number, a traced value): the transforms' fast
    path, which flattens nothing.

    Example:
        >>> is_leaf(np.ones(2)), is_leaf(np.float32(1)), is_leaf([1.0])
        (True, True, False)
    """
    return isinstance(x, _LEAF_TYPES)


def path_names(treedef, root: str) -> list[str]:
    """Each leaf's place in a tree called ``root``, as Python would index it.

    Example:
        >>> path_names(tree_structure({"layers": [(1.0, 2.0)]}), "params")
        ["params['layers'][0][0]", "params['layers'][0][1]"]
    """
    return [a.codify(root) for a in treedef.accessors()]


def check_leaves(leaves, treedef, root: str):
    """Refuse a leaf that is neither a number nor an array, naming its place in the tree."""
    for leaf, name in zip(leaves, path_names(treedef, root) if leaves else ()):
        if isinstance(leaf, (str, bytes)) or not (
                is_leaf(leaf) or isinstance(leaf, complex) or hasattr(leaf, "__array__")
                or hasattr(leaf, "__array_interface__")):
            raise TypeError(
                f"{name} is a {type(leaf).__name__}, not a number or an array: every leaf of a "
                "differentiated tree must be one (None is an empty subtree; pass other values "
                "as arguments that are not differentiated, or register a container with "
                "adops.tree.register_pytree_node)")


def leaves_like(tree, treedef, what: str, of: str):
    """The leaves of ``tree`` (a tangent or cotangent), which must have ``treedef``'s
    structure (its primal's or output's); a ValueError names both structures otherwise.

    Example:
        >>> leaves_like({"a": 1.0}, tree_structure({"a": 0.0}), "tangent 0", "primal 0")
        [1.0]
        >>> leaves_like([1.0], tree_structure({"a": 0.0}), "tangent 0", "primal 0")
        Traceback (most recent call last):
        ValueError: tangent 0 has tree structure PyTreeSpec([*]) but primal 0 has PyTreeSpec({'a': *}); they must match (the same containers, keys and None entries, one array per leaf)
    """
    leaves, got = tree_flatten(tree)
    if got != treedef:
        raise ValueError(f"{what} has tree structure {got} but {of} has {treedef}; they must "
                         "match (the same containers, keys and None entries, one array per "
                         "leaf)")
    return leaves


class Rebuild:
    """``rebuild(leaves) -> tree`` of one structure (``treedef``); what
    :func:`adops.transform.flatten` returns with an output's leaves."""

    __slots__ = ("treedef",)

    def __init__(self, treedef):
        self.treedef = treedef

    def __call__(self, leaves):
        if self.treedef.is_leaf():
            return leaves[0]
        return optree.tree_unflatten(self.treedef, list(leaves))

    @property
    def is_tree(self) -> bool:
        """Whether the structure is more than one bare leaf."""
        return not self.treedef.is_leaf()


def flatten_output(out):
    """``(leaves, rebuild)`` of a function's output (see :class:`Rebuild`).

    Example:
        >>> leaves, rebuild = flatten_output((1, [2, None]))
        >>> leaves, rebuild([4, 5])
        ([1, 2], (4, [5, None]))
    """
    if is_leaf(out):
        return [out], Rebuild(_LEAF)
    leaves, treedef = tree_flatten(out)
    return leaves, Rebuild(treedef)


_LEAF = tree_structure(0.0)


def split_aux(rebuild: Rebuild, where: str):
    """For ``has_aux=True``: f's output must be a pair ``(out, aux)``. Returns ``(n_out,
    out_rebuild, aux_rebuild)``: the first ``n_out`` leaves are ``out``'s, the rest ``aux``'s."""
    treedef = rebuild.treedef
    if treedef.type not in (tuple, list) or treedef.num_children != 2:
        raise TypeError(f"{where} with has_aux=True requires f to return a pair (out, aux), "
                        f"but it returned {treedef}")
    out_def, aux_def = treedef.children()
    return out_def.num_leaves, Rebuild(out_def), Rebuild(aux_def)


def parameter_names(f, nargs: int) -> list[str]:
    """Names for ``f``'s first ``nargs`` positional arguments in messages (its parameter names
    where known, else ``argument i``)."""
    try:
        ps = [p.name for p in inspect.signature(f).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        ps = []
    return [ps[i] if i < len(ps) else f"argument {i}" for i in range(nargs)]


class FlatArgs:
    """Differentiated arguments flattened into positional leaves (see module doc).

    ``f``: the wrapper of flat leaves; ``args``: the flat positional arguments; ``nums``: the
    leaves' positions, argument by argument in ``argnums`` order; ``static``: the static
    declarations moved to the flat positions; :meth:`regroup` turns one result per leaf back
    into one tree per argument.
    """

    __slots__ = ("f", "original", "args", "nums", "static", "treedefs", "counts")

    def regroup(self, per_leaf, multiple: bool):
        """One tree per differentiated argument (a tuple when ``multiple``) from results per
        leaf, in :attr:`nums` order."""
        out, start = [], 0
        for treedef, n in zip(self.treedefs, self.counts):
            part = list(per_leaf[start:start + n])
            out.append(part[0] if treedef is None else tree_unflatten(treedef, part))
            start += n
        return tuple(out) if multiple else out[0]


_WRAPPERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _same(f):
    return f


class WeakCall:
    """Calls ``f`` through a weak reference, so that a function derived from ``f`` and kept
    with it (a tree wrapper, ``hvp``'s ``grad(f)``) does not keep it alive; pickled (to run on
    a worker) as ``f`` itself.

    >>> f = lambda x: x + 1
    >>> WeakCall(f)(1), WeakCall(f).__name__
    (2, '<lambda>')
    """

    def __init__(self, f):
        self._ref = weakref.ref(f)
        self.__name__ = getattr(f, "__name__", "f")

    def __call__(self, *args, **kwargs):
        f = self._ref()
        if f is None:
            raise ReferenceError("a function derived from another outlived it: keep a reference "
                                 "to the function while its transform is used")
        return f(*args, **kwargs)

    def __reduce__(self):
        return _same, (self._ref(),)


#: wrappers kept per function
WRAPPERS_KEPT = 16


def _cached(f, key, make):
    """One wrapper of ``f`` per ``key``, made by ``make(fn)`` with ``fn`` calling ``f``. The
    cache holds its wrappers while ``f`` lives (up to :data:`WRAPPERS_KEPT`, the oldest dropped
    first), and they call ``f`` through a weak reference, so it keeps nothing alive that ``f``
    does not: the compiled tier, whose programs are kept per function object, finds a tree
    argument's program again at every call (and they go with ``f``)."""
    try:
        cache = _WRAPPERS.setdefault(f, {})
    except TypeError:  # not weak-referenceable: a wrapper for this call only
        return make(f)
    g = cache.get(key)
    if g is None:
        g = cache[key] = make(WeakCall(f))
        while len(cache) > WRAPPERS_KEPT:
            cache.pop(next(iter(cache)))
    return g


def _wrapper(f, layout):
    """``g(*flat, **kwargs) = f(*rebuilt, **kwargs)`` for ``layout`` (per positional argument,
    its treedef or None for one leaf): one per function and layout while it is in use
    (:func:`_cached`), so the compiled tier keeps its programs."""
    def make(fn):
        def g(*flat, **kwargs):
            args, p = [], 0
            for treedef in layout:
                if treedef is None:
                    args.append(flat[p])
                    p += 1
                else:
                    n = treedef.num_leaves
                    args.append(tree_unflatten(treedef, list(flat[p:p + n])))
                    p += n
            return fn(*args, *flat[p:], **kwargs)
        g.__name__ = getattr(f, "__name__", "f")
        return g
    return _cached(f, ("args", layout), make)


def flat_args(f, args, nums, static=None, names=None) -> FlatArgs | None:
    """Flatten the differentiated arguments ``args[nums]`` that are trees; None when all are
    leaves already (the fast path: nothing to do). ``static``: the transform's
    :class:`adops.compile.Static`, moved to the flat positions. ``names``: how messages call
    each argument (default: ``f``'s parameter names).

    Example:
        >>> fa = flat_args(lambda p, s: p["w"] * s, ({"w": 2.0}, 3.0), (0,))
        >>> fa.args, fa.nums, fa.f(*fa.args)
        ([array(2.), 3.0], (0,), np.float64(6.0))
    """
    if all(is_leaf(args[i]) for i in nums):
        return None
    names = names or parameter_names(f, len(args))
    layout, flat, position, leaf_positions = [], [], [], {}
    for i, a in enumerate(args):
        position.append(len(flat))
        if i in nums and not is_leaf(a):
            leaves, treedef = tree_flatten(a)
            check_leaves(leaves, treedef, names[i])
            leaves = [as_primal(leaf, p) for leaf, p in zip(leaves, path_names(treedef,
                                                                               names[i]))]
            leaf_positions[i] = list(range(len(flat), len(flat) + len(leaves)))
            layout.append(treedef)
            flat.extend(leaves)
        else:
            leaf_positions[i] = [len(flat)]
            layout.append(None)
            flat.append(a)
    fa = FlatArgs()
    fa.original = f  # the wrapper calls f weakly: whoever holds fa keeps f
    fa.f = _wrapper(f, tuple(layout))
    fa.args = flat
    fa.nums = tuple(p for i in nums for p in leaf_positions[i])
    fa.treedefs = [layout[i] for i in nums]
    fa.counts = [len(leaf_positions[i]) for i in nums]
    fa.static = static
    if static:
        positions, argnames = static.resolve(positional_parameters(f), len(args))
        fa.static = Static(tuple(position[i] for i in sorted(positions)), tuple(argnames))
    return fa


def ravel_output(out):
    """An output tree as one vector (leaves raveled and concatenated, as
    :func:`ravel_pytree`); a bare array is returned as it is.

    Example:
        >>> ravel_output({"b": np.ones(2), "a": [3.0, None]}).tolist()
        [3.0, 1.0, 1.0]
    """
    if is_leaf(out):
        return out
    leaves = tree_leaves(out)
    if not leaves:
        return np.zeros(0)
    return np.concatenate([np.ravel(leaf) for leaf in leaves])


def raveled(f, argnum: int, x, name: str = "argument"):
    """``(g, x_flat)`` for a Jacobian over raveled trees (``sparsity=``): ``g`` is ``f`` with
    argument ``argnum`` taken as the raveled vector of trees like ``x`` and its output
    raveled; a bare array ``x`` is kept (``g`` then only ravels an output tree). Wrappers are
    cached as :func:`flat_args`'s are."""
    if is_leaf(x):
        key, unravel, flat = ("raveled", argnum, None), None, x
    else:
        leaves, treedef = tree_flatten(x)
        check_leaves(leaves, treedef, name)
        leaves = [as_primal(leaf, p) for leaf, p in zip(leaves, path_names(treedef, name))]
        flat, unravel = ravel_pytree(tree_unflatten(treedef, leaves))
        key = ("raveled", argnum, treedef, tuple(np.shape(v) for v in leaves),
               tuple(v.dtype.str for v in leaves))

    def make(fn):
        def g(*args, **kwargs):
            if unravel is not None:
                args = list(args)
                args[argnum] = unravel(args[argnum])
            return ravel_output(fn(*args, **kwargs))
        g.__name__ = getattr(f, "__name__", "f")
        return g
    return _cached(f, key, make), flat
