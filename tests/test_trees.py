"""Trees of arrays (issue 20, part 1) in every transform of both tiers.

The reference here is written independently of adops.tree (optree): ``_leaves`` / ``_rebuild``
/ ``_same_structure`` below walk lists, tuples, namedtuples and dicts (keys sorted, None an empty
subtree) by hand, and every derivative is checked three ways: forward against reverse, against
central finite differences of the function itself, and the dot-product identity
<u, J v> = <J^T u, v> on raveled trees.
"""
from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
import pytest

import adops.tree as T
import dualad
import revad
from adops.compile import EagerFallbackWarning, compiled as compiled_function
from compare.check import check_grads

pytestmark = pytest.mark.usefixtures("tier")  # every test in both tiers

Params = namedtuple("Params", "w b")


# ----------------------------------------------------------------- an independent reference
def _leaves(tree):
    if tree is None:
        return []
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]


def _rebuild(tree, leaves):
    it = iter(leaves)

    def go(t):
        if t is None:
            return None
        if isinstance(t, dict):
            new = {k: go(t[k]) for k in sorted(t)}
            return {k: new[k] for k in t}
        if isinstance(t, tuple) and hasattr(t, "_fields"):
            return type(t)(*[go(e) for e in t])
        if isinstance(t, (list, tuple)):
            return type(t)(go(e) for e in t)
        return next(it)
    return go(tree)


def _same_structure(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict):
        return type(a) is type(b) and sorted(a) == sorted(b) and \
            all(_same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and \
            all(_same_structure(x, y) for x, y in zip(a, b))
    return not isinstance(b, (dict, list, tuple)) and b is not None


def _ravel(tree):
    leaves = _leaves(tree)
    return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in leaves]) \
        if leaves else np.zeros(0)


def _unravel_like(tree, vector):
    out, start = [], 0
    for leaf in _leaves(tree):
        n = int(np.size(leaf))
        out.append(vector[start:start + n].reshape(np.shape(leaf)))
        start += n
    return _rebuild(tree, out)


def _dense(jac, out_tree, in_tree):
    """A nested Jacobian (out structure outside, in structure inside) as one (m, n) matrix."""
    outs, ins = _leaves(out_tree), _leaves(in_tree)
    # the out level holds one in-tree per output leaf: peel it with the out structure
    per_out = _leaves_upto(jac, out_tree)
    rows = []
    for o, block in zip(outs, per_out):
        assert _same_structure(block, in_tree)
        cols = []
        for i, leaf in zip(ins, _leaves(block)):
            assert np.shape(leaf) == np.shape(o) + np.shape(i)
            cols.append(np.asarray(leaf).reshape(np.size(o), np.size(i)))
        rows.append(np.concatenate(cols, axis=1))
    return np.concatenate(rows, axis=0)


def _leaves_upto(tree, structure):
    """The subtrees of ``tree`` at the leaves of ``structure``."""
    if structure is None:
        assert tree is None
        return []
    if isinstance(structure, dict):
        assert type(tree) is type(structure)
        return [s for k in sorted(structure) for s in _leaves_upto(tree[k], structure[k])]
    if isinstance(structure, (list, tuple)):
        assert type(tree) is type(structure) and len(tree) == len(structure)
        return [s for t, st in zip(tree, structure) for s in _leaves_upto(t, st)]
    return [tree]


def _fd_jacobian(f, tree, h=1e-6):
    x = _ravel(tree)
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((_ravel(f(_unravel_like(tree, x + e))) -
                     _ravel(f(_unravel_like(tree, x - e)))) / (2 * h))
    return np.stack(cols, axis=1)


# ----------------------------------------------------------------------------- the trees
rng = np.random.default_rng(7)
TREES = {
    "list": [rng.standard_normal(2), rng.standard_normal((2, 2))],
    "tuple": (0.7, rng.standard_normal(3)),
    "dict": {"w": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)},
    "nested": {"layers": [(rng.standard_normal((2, 2)), rng.standard_normal(2)),
                          (rng.standard_normal((2, 1)), np.array(0.3))], "scale": 1.3},
    "namedtuple": Params(w=rng.standard_normal(3), b=-0.4),
    "none leaves": {"w": rng.standard_normal(2), "frozen": None,
                    "extra": [None, rng.standard_normal(2)]},
}


def f_tree(p):
    """A tree in, a tree out (dict, tuple, None), mixing every leaf."""
    L = _leaves(p)
    first, last = L[0], L[-1]
    total = sum(np.sum(np.sin(v)) for v in L)
    return {"s": total * np.sum(last ** 2),
            "v": (np.tanh(first) * np.sum(last), None),
            "m": [first * 2.0 + total]}


def g_scalar(p):
    L = _leaves(p)
    return sum(np.sum(np.cos(v) * (k + 1.0)) for k, v in enumerate(L)) * np.sum(L[0] ** 2)


@pytest.fixture(autouse=True)
def _no_eager_fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("error", EagerFallbackWarning)
        yield


def _copy(tree):
    return _rebuild(tree, [np.array(v, dtype=np.float64) for v in _leaves(tree)])


# ----------------------------------------------------------------------------- the reproducer
def test_issue_reproducer_list_of_tuples():
    g = revad.grad(lambda ps: sum(np.sum(W * b) for W, b in ps))(
        [(np.ones((2, 2)), np.ones(2))])
    assert type(g) is list and len(g) == 1 and type(g[0]) is tuple and len(g[0]) == 2
    np.testing.assert_array_equal(g[0][0], [[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(g[0][1], [2.0, 2.0])


# ----------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("name", sorted(TREES))
def test_jacobians_three_ways(name):
    p = _copy(TREES[name])
    out = f_tree(p)
    jf = dualad.jacfwd(f_tree)(p)
    jr = revad.jacrev(f_tree)(p)
    assert _same_structure(_leaves_upto(jf, out)[0], p)
    Jf, Jr = _dense(jf, out, p), _dense(jr, out, p)
    np.testing.assert_allclose(Jf, Jr, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Jf, _fd_jacobian(f_tree, p), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(TREES))
def test_jvp_vjp_dot_product_and_structures(name):
    p = _copy(TREES[name])
    r = np.random.default_rng(1)
    v = _rebuild(p, [r.standard_normal(np.shape(x)) for x in _leaves(p)])
    out, jv = dualad.jvp(f_tree, (p,), (v,))
    out2, vjp_fn = revad.vjp(f_tree, p)
    assert _same_structure(jv, f_tree(p)) and _same_structure(out, out2)
    u = _rebuild(out, [r.standard_normal(np.shape(x)) for x in _leaves(out)])
    (jtu,) = vjp_fn(u)
    assert _same_structure(jtu, p)
    np.testing.assert_allclose(_ravel(u) @ _ravel(jv), _ravel(jtu) @ _ravel(v), rtol=1e-10)
    # and against the finite-difference Jacobian
    J = _fd_jacobian(f_tree, p)
    np.testing.assert_allclose(_ravel(jv), J @ _ravel(v), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_ravel(jtu), J.T @ _ravel(u), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(TREES))
def test_batched_tangents_and_cotangents(name):
    p = _copy(TREES[name])
    k = 3
    r = np.random.default_rng(2)
    V = _rebuild(p, [r.standard_normal((k,) + np.shape(x)) for x in _leaves(p)])
    out, jv = dualad.jvp(f_tree, (p,), (V,), batched=True)
    J = _fd_jacobian(f_tree, p)
    for d in range(k):
        vd = _rebuild(p, [x[d] for x in _leaves(V)])
        got = _rebuild(out, [x[d] for x in _leaves(jv)])
        np.testing.assert_allclose(_ravel(got), J @ _ravel(vd), rtol=1e-6, atol=1e-7)
    U = _rebuild(out, [r.standard_normal((k,) + np.shape(x)) for x in _leaves(out)])
    (jtu,) = revad.vjp(f_tree, p)[1](U, batched=True)
    for d in range(k):
        ud = _rebuild(out, [x[d] for x in _leaves(U)])
        got = _rebuild(p, [x[d] for x in _leaves(jtu)])
        np.testing.assert_allclose(_ravel(got), J.T @ _ravel(ud), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", sorted(TREES))
def test_grad_value_and_grad(name):
    p = _copy(TREES[name])
    g = revad.grad(g_scalar)(p)
    assert _same_structure(g, p)
    fd = _fd_jacobian(g_scalar, p)[0]
    np.testing.assert_allclose(_ravel(g), fd, rtol=1e-6, atol=1e-7)
    value, g2 = revad.value_and_grad(g_scalar)(p)
    assert float(value) == pytest.approx(float(g_scalar(_copy(p))))
    np.testing.assert_allclose(_ravel(g2), _ravel(g), rtol=1e-12)


def test_grad_argnums_tuple_of_trees():
    a, b = {"x": np.array([0.5, 1.0])}, [np.array(2.0), (np.array([1.0, -1.0]),)]

    def f(a, b, c):
        return np.sum(a["x"] * b[1][0]) * b[0] + c

    ga, gb = revad.grad(f, argnums=(0, 1))(a, b, np.array(3.0))
    assert _same_structure(ga, a) and _same_structure(gb, b)
    np.testing.assert_allclose(ga["x"], [2.0, -2.0])
    np.testing.assert_allclose(gb[0], -0.5)
    np.testing.assert_allclose(gb[1][0], [1.0, 2.0])
    jf = dualad.jacfwd(f, argnums=(0, 1))(a, b, np.array(3.0))
    assert type(jf) is tuple and _same_structure(jf[1], b)
    np.testing.assert_allclose(jf[0]["x"], ga["x"])


def test_hessian_and_hvp_nest_as_jax():
    p = {"a": np.array([0.3, -0.7]), "b": np.array(1.5)}

    def f(p):
        return np.sum(p["a"] ** 3) * p["b"] ** 2

    H = revad.hessian(f)(p)
    # H["a"]["b"] is d/db of grad_a: shape a.shape + b.shape
    assert _same_structure(H, {"a": {"a": 0, "b": 0}, "b": {"a": 0, "b": 0}})
    a, b = p["a"], p["b"]
    np.testing.assert_allclose(H["a"]["a"], np.diag(6 * a * b ** 2))
    np.testing.assert_allclose(H["a"]["b"], 6 * a ** 2 * b)
    np.testing.assert_allclose(H["b"]["a"], 6 * a ** 2 * b)
    np.testing.assert_allclose(H["b"]["b"], 2 * np.sum(a ** 3))
    v = {"a": np.array([1.0, 2.0]), "b": np.array(-1.0)}
    hv = revad.hvp(f, (p,), (v,))
    dense = np.block([[H["a"]["a"], H["a"]["b"][:, None]],
                      [H["b"]["a"][None, :], np.reshape(H["b"]["b"], (1, 1))]])
    np.testing.assert_allclose(_ravel(hv), dense @ _ravel(v), rtol=1e-12)


#: trees the compiled tier's second-order tests run on: flattening is the same code in both
#: tiers, and each compiled second-order program costs seconds to build (the suite's time limit)
COMPILED_SECOND_ORDER = ("nested", "none leaves")


@pytest.mark.parametrize("name", sorted(TREES))
def test_hessian_and_hvp_on_every_tree(name, tier):
    if tier == "compiled" and name not in COMPILED_SECOND_ORDER:
        pytest.skip("compiled second order is checked on the nested and none-leaves trees")
    p = _copy(TREES[name])
    H = revad.hessian(g_scalar)(p)
    dense = _dense(H, p, p)   # nested in-tree of in-tree, leaves in.shape + in.shape
    g = revad.grad(g_scalar)
    np.testing.assert_allclose(dense, _dense(revad.jacrev(g)(p), p, p), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dense, _fd_jacobian(g, p), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dense, dense.T, rtol=1e-10, atol=1e-12)
    r = np.random.default_rng(3)
    v = _rebuild(p, [r.standard_normal(np.shape(x)) for x in _leaves(p)])
    hv = revad.hvp(g_scalar, (p,), (v,))
    assert _same_structure(hv, p)
    np.testing.assert_allclose(_ravel(hv), dense @ _ravel(v), rtol=1e-10, atol=1e-12)


def test_derivative_output_tree():
    d = dualad.derivative(lambda x: {"y": [x ** 2, None], "z": np.sin(x) * np.ones(2)})(0.5)
    assert _same_structure(d, {"y": [0, None], "z": 0})
    np.testing.assert_allclose(d["y"][0], 1.0)
    np.testing.assert_allclose(d["z"], np.cos(0.5) * np.ones(2))


@pytest.mark.parametrize("name", ["nested", "namedtuple", "none leaves"])
def test_check_grads_on_trees(name, tier):
    if tier == "compiled" and name != "nested":
        pytest.skip("the compiled tier's check_grads on trees is checked on the nested tree")
    p = _copy(TREES[name])
    assert check_grads(f_tree, p).ok
    # compiled second order on trees is checked by test_hessian_and_hvp_on_every_tree (its
    # programs take seconds each to build, and the suite has a time bound)
    assert check_grads(g_scalar, p, order=1 if tier == "compiled" else 2).ok


def test_check_grads_catches_a_wrong_tree_derivative():
    # np.maximum(x, 0) has derivative 0 at its kink (ties go to the second argument), while
    # central differences give v / 2 there: on a tree, the checks must see the leaf and fail
    with pytest.raises(AssertionError, match="FAILED"):
        check_grads(lambda p: {"y": [np.maximum(p["x"], 0.0)]}, {"x": np.array([0.0, 1.0])})


# ----------------------------------------------------------------------------- has_aux
def test_has_aux_everywhere():
    p = {"w": np.array([1.0, 2.0]), "b": np.array(0.5)}

    def f(p):
        y = p["w"] * p["b"]
        return np.sum(y ** 2), {"y": y, "n": [np.array(3.0), None]}

    def fv(p):
        y = p["w"] * p["b"]
        return y ** 2, {"y": y}

    # aux is computed at each call, also by a compiled program: a new point, a new aux
    grad_aux = revad.grad(f, has_aux=True)
    grad_aux(p)
    _, aux_new = grad_aux({"w": np.array([3.0, 4.0]), "b": np.array(2.0)})
    np.testing.assert_allclose(aux_new["y"], [6.0, 8.0])

    expected_aux = np.array([0.5, 1.0])
    g, aux = revad.grad(f, has_aux=True)(p)
    np.testing.assert_allclose(aux["y"], expected_aux)
    assert aux["n"][1] is None and float(aux["n"][0]) == 3.0
    # grad of sum((w b)^2): w-part 2 w b^2, b-part 2 b sum(w^2)
    np.testing.assert_allclose(g["w"], 2 * p["w"] * 0.25)
    np.testing.assert_allclose(g["b"], 2 * 0.5 * 5.0)
    (value, aux2), g2 = revad.value_and_grad(f, has_aux=True)(p)
    assert float(value) == pytest.approx(1.25)
    np.testing.assert_allclose(aux2["y"], expected_aux)
    np.testing.assert_allclose(g2["w"], g["w"])
    out, vjp_fn, aux3 = revad.vjp(fv, p, has_aux=True)
    np.testing.assert_allclose(aux3["y"], expected_aux)
    (ct,) = vjp_fn(np.array([1.0, 0.0]))
    np.testing.assert_allclose(ct["w"], [2 * 0.5 * 0.5, 0.0])   # d(w0 b)^2/dw0 = 2 w0 b^2
    np.testing.assert_allclose(ct["b"], 2 * 1.0 * 0.5)            # d(w0 b)^2/db = 2 w0^2 b
    for jac in (dualad.jacfwd, revad.jacrev):
        J, aux4 = jac(fv, has_aux=True)(p)
        np.testing.assert_allclose(aux4["y"], expected_aux)
        np.testing.assert_allclose(J["w"], np.diag(2 * p["w"] * 0.25))
        np.testing.assert_allclose(J["b"], 2 * p["w"] ** 2 * 0.5)


def test_has_aux_needs_a_pair():
    with pytest.raises(TypeError, match=r"has_aux=True requires f to return a pair"):
        revad.grad(lambda x: np.sum(x), has_aux=True)(np.ones(2))
    with pytest.raises(TypeError, match=r"has_aux=True requires f to return a pair"):
        dualad.jacfwd(lambda x: (x, x, x), has_aux=True)(np.ones(2))


# ----------------------------------------------------------------------------- sparsity
@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev])
def test_sparsity_over_raveled_trees(jac):
    p = {"a": np.array([0.5, -1.0, 2.0]), "b": (np.array(0.7),)}

    def f(p):
        a, b = p["a"], p["b"][0]
        return [a[1:] * a[:-1], {"t": np.sin(a) * b}]

    S = jac(f, sparsity="auto")(p)
    dense = _fd_jacobian(f, p)
    assert S.shape == dense.shape == (5, 4)
    np.testing.assert_allclose(S.toarray(), dense, rtol=1e-6, atol=1e-7)
    # a known pattern over the raveled trees gives the same matrix
    S2 = jac(f, sparsity=np.abs(dense) > 0)(p)
    np.testing.assert_allclose(S2.toarray(), S.toarray(), rtol=1e-12)


# ----------------------------------------------------------------------------- errors
def test_bad_leaf_names_its_path():
    params = {"layers": [np.ones(2), 1.0, [np.ones(1), "relu"]]}
    with pytest.raises(TypeError, match=r"params\['layers'\]\[2\]\[1\] is a str"):
        revad.grad(lambda params: np.sum(params["layers"][0]))(params)
    with pytest.raises(TypeError, match=r"\.b is a object"):
        dualad.jacfwd(lambda p: p.w)(Params(w=np.ones(2), b=object()))


def test_tangent_structure_mismatch_names_both():
    p = {"w": np.ones(2), "b": 1.0}
    with pytest.raises(ValueError, match=r"tangent 0 has tree structure PyTreeSpec\(\[\*\]\) "
                                         r"but primal 0 has PyTreeSpec\(\{'b': \*, 'w': \*\}\)"):
        dualad.jvp(lambda p: p["w"] * p["b"], (p,), ([np.ones(2)],))
    with pytest.raises(ValueError, match=r"tangent 1 has tree structure PyTreeSpec\(\(\*, \*\)\) "
                                         r"but primal 1 has PyTreeSpec\(\[\*, \*\]\)"):
        dualad.jvp(lambda x, y: x * y[0], (1.0, [1.0, 2.0]), (1.0, (1.0, 2.0)))
    with pytest.raises(ValueError, match=r"tangent 0 has tree structure"):
        revad.hvp(lambda p: np.sum(p["w"] ** 2), (p,), ({"w": np.ones(2)},))


def test_cotangent_structure_mismatch_names_both():
    out, vjp_fn = revad.vjp(lambda p: {"y": p["w"] * 2.0, "z": (p["w"], None)},
                            {"w": np.ones(2)})
    with pytest.raises(ValueError, match=r"cotangent has tree structure PyTreeSpec\(\[\*, \*\]\)"
                                         r" but the function's output has PyTreeSpec\(\{'y'"):
        vjp_fn([np.ones(2), np.ones(2)])
    # the matching structure works
    (ct,) = vjp_fn({"y": np.ones(2), "z": (np.ones(2), None)})
    np.testing.assert_allclose(ct["w"], [3.0, 3.0])


def test_mismatched_leaf_shape_names_the_leaf():
    with pytest.raises(ValueError, match=r"tangent 0\['w'\] has shape \(3,\)"):
        dualad.jvp(lambda p: p["w"], ({"w": np.ones(2)},), ({"w": np.ones(3)},))


# ----------------------------------------------------------------------------- adops.tree
def test_ravel_pytree_round_trip_and_order():
    tree = {"b": [np.arange(3.0, dtype=np.float32), None],
            "a": Params(w=np.ones((2, 2)), b=np.float64(5.0))}
    flat, unravel = T.ravel_pytree(tree)
    assert flat.dtype == np.float64 and flat.shape == (8,)
    np.testing.assert_array_equal(flat, _ravel(tree))   # sorted keys, namedtuple in order
    back = unravel(flat * 2)
    assert _same_structure(back, tree)
    assert back["b"][0].dtype == np.float32 and back["b"][1] is None
    np.testing.assert_array_equal(back["a"].w, 2 * np.ones((2, 2)))
    np.testing.assert_array_equal(back["b"][0], [0.0, 2.0, 4.0])
    with pytest.raises(ValueError, match=r"vector of shape \(8,\)"):
        unravel(np.ones(7))


def test_tree_helpers():
    tree = {"w": np.ones(2), "b": (1.0, None)}
    leaves, treedef = T.tree_flatten(tree)
    assert [np.shape(v) for v in leaves] == [(), (2,)]   # 'b' before 'w'
    back = T.tree_unflatten(treedef, [3.0, np.zeros(2)])
    assert back["b"] == (3.0, None)
    scaled = T.tree_map(lambda x, y: x - 0.5 * y, tree, tree)
    np.testing.assert_array_equal(scaled["w"], [0.5, 0.5])
    assert T.tree_leaves([None, np.float32(1)]) == [np.float32(1)]   # numpy scalars are leaves


def test_bare_array_fast_path():
    assert T.flat_args(np.sin, (np.ones(2), [1, 2]), (0,)) is None
    g = revad.grad(lambda x: np.sum(x ** 2))(np.ones(2))
    assert type(g) is np.ndarray


def test_compiled_tier_keeps_one_program_per_tree_structure(tier):
    if tier != "compiled":
        pytest.skip("compiled tier only")

    def loss(p):
        return np.sum(np.sin(p["w"]) * p["b"][0])

    g = revad.grad(loss)
    p = {"w": np.ones(3), "b": (np.array(2.0),)}
    first = g(p)
    second = g({"w": np.zeros(3), "b": (np.array(1.0),)})
    np.testing.assert_allclose(first["w"], np.cos(1.0) * 2.0)
    np.testing.assert_allclose(second["w"], np.ones(3))
    wrappers = list(T._WRAPPERS[loss].values())
    assert len(wrappers) == 1
    assert sum(len(v) for v in compiled_function(wrappers[0]).programs.values()) == 1
    # the wrapper and its programs go with the function
    import gc
    import weakref
    ref, wref = weakref.ref(loss), weakref.ref(wrappers[0])
    del loss, g, wrappers
    gc.collect()
    assert ref() is None and wref() is None
