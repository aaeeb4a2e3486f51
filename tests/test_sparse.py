"""Sparse Jacobians by colouring (adops.sparse): valid colourings, exact recovery, and both modes
end to end on a banded function."""
import numpy as np
import pytest
import scipy.sparse as sp

from adops.sparsity import colouring as S


def banded_pattern(n, w):
    """w nonzero diagonals centred on the main one (w odd)."""
    h = w // 2
    return sp.diags([np.ones(n - abs(d)) for d in range(-h, h + 1)], list(range(-h, h + 1)))


def block_pattern(blocks, size):
    return sp.block_diag([np.ones((size, size))] * blocks)


def arrow_pattern(n):
    """Dense first row and column plus the diagonal: the classic case where reverse mode (rows)
    and forward mode (columns) each need n colours on one side only."""
    a = np.eye(n, dtype=bool)
    a[0, :] = True
    a[:, 0] = True
    return a


def random_pattern(m, n, density, seed):
    return sp.random(m, n, density=density, random_state=seed, format="csr")


PATTERNS = {
    "banded3": banded_pattern(200, 3),
    "banded7": banded_pattern(200, 7),
    "block": block_pattern(10, 6),
    "arrow": arrow_pattern(40),
    "random_tall": random_pattern(300, 120, 0.03, 1),
    "random_wide": random_pattern(80, 250, 0.02, 2),
}


def _row_degree(p):
    return int(np.diff(S.as_pattern(p).indptr).max(initial=0))


@pytest.mark.parametrize("order", S.ORDERS)
@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_colourings_are_valid_and_within_bounds(name, order):
    p = S.as_pattern(PATTERNS[name])
    for mode, fn, q in (("forward", S.colour_columns, p), ("reverse", S.colour_rows, p.T.tocsr())):
        colours, k = fn(p, order)
        assert colours.shape == (q.shape[1],)
        assert S.is_valid_colouring(p, colours, mode)
        assert k == colours.max() + 1
        # lower bound: the widest row (columns mode) needs as many colours as its nonzeros
        assert k >= _row_degree(q)
        # greedy upper bound: max degree in the intersection graph + 1
        g = (q.T.astype(int) @ q.astype(int)).tocsr()
        g.setdiag(0)
        g.eliminate_zeros()
        assert k <= int(np.diff(g.indptr).max(initial=0)) + 1


def test_banded_needs_its_bandwidth_and_arrow_is_one_sided():
    assert S.colour_columns(banded_pattern(1000, 3))[1] == 3
    assert S.colour_columns(banded_pattern(1000, 5))[1] == 5
    assert S.colour_rows(banded_pattern(1000, 5))[1] == 5
    # arrow: the dense first row joins every column, and the dense first column every row
    assert S.colour_columns(arrow_pattern(40))[1] == 40
    assert S.colour_rows(arrow_pattern(40))[1] == 40
    # a dense first column only: forward needs 2 colours, reverse needs m
    a = np.eye(30, dtype=bool)
    a[:, 0] = True
    assert S.colour_columns(a)[1] == 2
    assert S.colour_rows(a)[1] == 30


def test_invalid_colouring_is_detected():
    p = banded_pattern(10, 3)
    assert not S.is_valid_colouring(p, np.zeros(10, dtype=int))
    assert not S.is_valid_colouring(p, np.arange(10) % 2, "reverse")
    assert S.is_valid_colouring(p, np.arange(10) % 3, "reverse")


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_recovery_is_exact(name):
    p = S.as_pattern(PATTERNS[name])
    rng = np.random.default_rng(0)
    J = p.astype(float).tocsr()
    J.data = rng.normal(size=J.nnz)
    Jd = J.toarray()
    cols, kc = S.colour_columns(p)
    B = Jd @ S.seed_matrix(cols, kc).T                       # (m, n_colours)
    assert B.shape == (p.shape[0], kc)
    np.testing.assert_array_equal(S.recover_columns(B, p, cols).toarray(), Jd)
    rows, kr = S.colour_rows(p)
    C = S.seed_matrix(rows, kr) @ Jd                        # (n_colours, n)
    np.testing.assert_array_equal(S.recover_rows(C, p, rows).toarray(), Jd)
    # through the helper, with the product as the push
    for mode, push in (("forward", lambda s: (Jd @ s.T).T), ("reverse", lambda u: u @ Jd)):
        out = S.sparse_jacobian(push, p, mode)
        assert sp.isspmatrix_csr(out)
        np.testing.assert_array_equal(out.toarray(), Jd)


def test_pattern_from_jacobian_and_inputs():
    J = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 1e-12]])
    assert S.pattern_from_jacobian(J).nnz == 3
    assert S.pattern_from_jacobian(J, tol=1e-9).nnz == 2
    assert S.pattern_from_jacobian(sp.csr_matrix(J), tol=1e-9).nnz == 2
    assert S.as_pattern(np.array([[True, False]])).shape == (1, 2)
    with pytest.raises(ValueError, match="2-d"):
        S.as_pattern(np.ones(3))
    with pytest.raises(ValueError, match="mode"):
        S.colour(np.eye(2), "sideways")
    with pytest.raises(ValueError, match="order"):
        S.colour_columns(np.eye(2), order="random")
    with pytest.raises(ValueError, match="push returned"):
        S.sparse_jacobian(lambda s: np.zeros((1, 5)), np.eye(3), "forward")
    with pytest.raises(ValueError, match="computed for reverse"):
        S.sparse_jacobian(lambda s: s, S.colour(np.eye(3), "reverse"), "forward")


def banded_f(x):
    """y_i = sin(x_i) x_{i-1} + x_{i+1}^2 - 2 x_i: a tridiagonal Jacobian (bandwidth 3)."""
    xl = np.concatenate([np.zeros(1), x[:-1]])
    xr = np.concatenate([x[1:], np.zeros(1)])
    return np.sin(x) * xl + xr ** 2 - 2.0 * x


def banded_jacobian(x):
    n = x.size
    J = np.diag(np.cos(x) * np.concatenate([[0.0], x[:-1]]) - 2.0)
    J[np.arange(1, n), np.arange(n - 1)] = np.sin(x[1:])
    J[np.arange(n - 1), np.arange(1, n)] = 2 * x[1:]
    return J


def _coloured(x, pattern):
    import dualad
    import revad
    fwd = S.sparse_jacobian(lambda s: dualad.jvp(banded_f, (x,), (s,), batched=True)[1],
                            pattern, "forward")
    _, vjp_fn = revad.vjp(banded_f, x)
    rev = S.sparse_jacobian(lambda u: vjp_fn(u, batched=True)[0], pattern, "reverse")
    return fwd, rev


def test_banded_end_to_end_matches_dense_modes():
    import dualad
    import revad
    x = np.random.default_rng(1).normal(size=60)
    fwd, rev = _coloured(x, banded_pattern(60, 3))
    dense_f = dualad.jacfwd(banded_f)(x)
    np.testing.assert_allclose(fwd.toarray(), dense_f, rtol=0, atol=1e-14)
    np.testing.assert_allclose(rev.toarray(), revad.jacrev(banded_f)(x), rtol=0, atol=1e-14)
    np.testing.assert_allclose(dense_f, banded_jacobian(x), rtol=1e-14, atol=1e-14)


def test_banded_at_ten_thousand_needs_at_most_five_passes():
    n = 10 ** 4
    x = np.random.default_rng(2).normal(size=n)
    p = banded_pattern(n, 3)
    for mode in S.MODES:
        assert S.colour(p, mode).n_colours <= 5
    fwd, rev = _coloured(x, p)
    ref = sp.diags([np.sin(x[1:]), np.cos(x) * np.concatenate([[0.0], x[:-1]]) - 2.0,
                    2 * x[1:]], [-1, 0, 1]).tocsr()
    assert abs(fwd - ref).max() < 1e-13
    assert abs(rev - ref).max() < 1e-13
