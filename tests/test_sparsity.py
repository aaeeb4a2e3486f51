"""Sparsity detection from a traced program and sparse Jacobians in both modes (issue 13): the
detected pattern holds every nonzero of the Jacobian (at other points too), and the coloured
Jacobian equals the dense one, for random programs drawn from the op registry."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings, strategies as st

import dualad
import revad
from adops.sparsity.colouring import colour
from adops.sparsity.pattern import detect
from test_random_programs import apply_step, steps

JACS = {"forward": dualad.jacfwd, "reverse": revad.jacrev}


def banded(x):
    return np.concatenate([x[:1] ** 2, x[1:-1] ** 2 - x[:-2] * x[2:] + np.sin(x[1:-1]),
                           x[-1:] * 3.0])


@pytest.mark.parametrize("mode", JACS)
def test_banded_problem_needs_three_colours_and_equals_dense(mode):
    x = np.random.default_rng(0).normal(size=40)
    p = detect(banded, x)
    assert p.pattern.shape == (40, 40) and p.pattern.nnz == 3 * 38 + 2  # end rows: one entry
    assert colour(p.pattern, mode).n_colours == 3
    J = JACS[mode](banded, sparsity="auto")(x)
    assert sp.issparse(J)
    np.testing.assert_allclose(J.toarray(), JACS[mode](banded)(x), rtol=1e-12)


def test_pattern_is_structural_not_numerical():
    # at x = 0 the product's partials are 0, but the dependence is there
    p = detect(lambda x: x[1:] * x[:-1], np.zeros(4))
    assert p.pattern.toarray().astype(int).tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]


@pytest.mark.parametrize("f,x", [
    (lambda x: np.tanh(np.triu(np.tril(np.arange(36.0).reshape(6, 6) + 1, 1), -1) @ x), np.ones(6)),
    (lambda x: np.cumsum(x) * x, np.arange(1.0, 6.0)),
    (lambda x: np.sum(x.reshape(2, 3), axis=1) * np.max(x.reshape(3, 2), axis=0)[:2], np.arange(6.0)),
    (lambda x: np.where(x > 2, x ** 2, -x)[::-1] + np.roll(x, 2), np.arange(5.0)),
    (lambda x: np.linalg.norm(x[:3]) * x[3:], np.arange(1.0, 7.0)),
    (lambda x: np.outer(x[:2], x[2:]).ravel(), np.arange(1.0, 5.0)),
], ids=["banded-matmul", "cumsum", "reductions", "where-flip-roll", "norm", "outer"])
@pytest.mark.parametrize("mode", JACS)
def test_sparse_equals_dense(f, x, mode):
    dense = np.atleast_2d(JACS[mode](f)(x)).reshape(-1, x.size)
    p = detect(f, x)
    assert not np.any((dense != 0) & ~p.pattern.toarray()), "a nonzero outside the pattern"
    J = JACS[mode](f, sparsity=p)(x)
    np.testing.assert_allclose(J.toarray(), dense, rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.lists(steps, min_size=1, max_size=6), seed=st.integers(0, 2 ** 16))
def test_random_programs_pattern_holds_every_nonzero(program, seed):
    rng = np.random.default_rng(seed)

    def f(x):
        vals = [x, x * 0.5 + 0.1]
        for step in program:
            vals.append(apply_step(step, vals))
        return vals[-1]
    x0 = rng.normal(size=(3, 3))
    p = detect(f, x0)
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(f(x0))):
            return
    for x in (x0, x0 + 0.1 * rng.normal(size=(3, 3))):
        if not p.holds_at(x):
            continue  # a branch changed: the pattern is not claimed there
        dense = revad.jacrev(f)(x).reshape(-1, 9)
        finite = np.isfinite(dense)
        assert not np.any(finite & (dense != 0) & ~p.pattern.toarray())
        for mode in JACS:
            J = JACS[mode](f, sparsity=p)(x).toarray()
            np.testing.assert_allclose(J[finite], dense[finite], rtol=1e-9, atol=1e-12)


def test_a_pattern_from_another_branch_is_refused():
    f = lambda x: np.where(x > 0, x[::-1] * x, x)
    p = detect(f, np.array([1.0, 2.0, 3.0]))
    assert p.holds_at(np.array([1.0, 5.0, 2.0]))
    assert not p.holds_at(np.array([-1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="detect it again"):
        dualad.jacfwd(f, sparsity=p)(np.array([-1.0, 2.0, 3.0]))


@pytest.mark.parametrize("mode", JACS)
def test_bad_sparsity_arguments_are_named(mode):
    x = np.ones(3)
    with pytest.raises(ValueError, match="sparsity must be 'auto'"):
        JACS[mode](np.sin, sparsity="yes")(x)
    with pytest.raises(ValueError, match="one column per input"):
        JACS[mode](np.sin, sparsity=np.eye(4))(x)
    with pytest.raises(ValueError, match="single argnums"):
        JACS[mode](lambda a, b: a * b, argnums=(0, 1), sparsity="auto")(x, x)


def test_compiled_tier_with_sparsity():
    x = np.random.default_rng(1).normal(size=30)
    for mode in JACS:
        J = JACS[mode](banded, sparsity="auto", compiled=True)(x)
        np.testing.assert_allclose(J.toarray(), JACS[mode](banded)(x), rtol=1e-12)


def test_recommend_takes_sparsity_into_account():
    from compare import recommend
    # n = 3000: dense modes need 12 passes of 256 directions, coloured ones 1 pass of 3
    x = np.random.default_rng(0).normal(size=3000)
    rec = recommend(banded, x, repeat=2, compiled=False)
    assert rec.mode.endswith("coloured") and rec.chunk == 3
    assert "3 colours" in rec.reason
    dense = recommend(lambda x: np.sum(x ** 2), np.ones(300), repeat=1, compiled=False)
    assert dense.mode == "reverse" and "too many" in dense.reason


def _counted_colourings(monkeypatch, mode):
    """A list that grows by one at each greedy colouring for ``mode``."""
    from adops.sparsity import colouring as colouring_module
    calls = []
    name = "colour_columns" if mode == "forward" else "colour_rows"
    real = getattr(colouring_module, name)
    monkeypatch.setattr(colouring_module, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_detected_pattern_is_coloured_once_for_all_its_jacobians(monkeypatch, mode):
    """Greedy colouring cost 80% of each coloured Jacobian of a tridiagonal n = 10^4 function
    when it was redone per call; the pattern keeps its colouring per mode."""
    calls = _counted_colourings(monkeypatch, mode)
    f = lambda x: np.sin(x[1:]) * x[:-1]  # noqa: E731
    x = np.linspace(-1, 1, 8)
    p = detect(f, x)
    jac = (dualad.jacfwd if mode == "forward" else revad.jacrev)(f, sparsity=p)
    for _ in range(3):
        np.testing.assert_allclose(jac(x).toarray(), dualad.jacfwd(f)(x), rtol=1e-13)
    assert len(calls) == 1
    assert p.colouring(mode) is p.colouring(mode)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("kind", ["dense", "scipy"])
@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")  # the in-place edit
def test_a_given_pattern_is_coloured_once_per_transform_and_again_when_it_changes(
        monkeypatch, mode, kind):
    """A pattern passed as an array or a scipy matrix was coloured at every call; the transform
    keeps its colouring by the pattern's entries, so an equal pattern reuses it and a pattern
    edited in place (or another one) is coloured anew and gives the right Jacobian."""
    calls = _counted_colourings(monkeypatch, mode)
    f = lambda x: np.sin(x[1:]) * x[:-1]  # noqa: E731
    x = np.linspace(-1, 1, 8)
    P = (np.eye(7, 8) + np.eye(7, 8, 1)).astype(bool)
    given = P if kind == "dense" else sp.csr_matrix(P)
    jac = (dualad.jacfwd if mode == "forward" else revad.jacrev)(f, sparsity=given)
    for _ in range(3):
        np.testing.assert_allclose(jac(x).toarray(), dualad.jacfwd(f)(x), rtol=1e-13)
    assert len(calls) == 1
    # widening the pattern in place: a new colouring, still the exact Jacobian on it
    if kind == "dense":
        P[:, 0] = True
    else:
        given[0:7, 0] = True
    J = jac(x)
    assert len(calls) == 2
    np.testing.assert_allclose(J.toarray(), dualad.jacfwd(f)(x), rtol=1e-13)
    assert J.nnz == (P.sum() if kind == "dense" else given.nnz)
    # another transform colours for itself
    (dualad.jacfwd if mode == "forward" else revad.jacrev)(f, sparsity=given)(x)
    assert len(calls) == 3

def test_a_pattern_is_rechecked_by_one_trace_and_not_at_all_without_guards(monkeypatch):
    from adops.sparsity import pattern as pattern_module
    calls = []
    real = pattern_module.propagate
    monkeypatch.setattr(pattern_module, "propagate",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    p = detect(lambda x: x[1:] * x[:-1], np.ones(5))
    assert len(calls) == 1
    assert p.holds_at(np.arange(5.0))             # no guards, same shape: holds, no trace
    q = detect(lambda x: np.where(x > 0, x, 2 * x)[1:] * x[:-1], np.ones(5))
    assert q.holds_at(np.full(5, 2.0)) and not q.holds_at(-np.ones(5))
    assert len(calls) == 2  # re-checks trace, never propagate the pattern again
