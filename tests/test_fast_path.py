"""The whole-program compiled tier and its fast call path (issue 19): the same numbers as the
eager tier, guards checked inside, fresh results, and the path actually taken."""
import numpy as np
import pytest

import dualad
import revad
from adops.compile import compiled, whole_after


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _programs(f):
    return [p for ps in compiled(f).programs.values() for p in ps]


def test_the_whole_program_is_numba_entries_with_no_op_object_called():
    x = np.linspace(-1, 1, 7)
    with whole_after(1):
        revad.grad(rosenbrock, compiled=True)(x)
    (program,) = _programs(rosenbrock)
    src = program.source
    assert program.whole is not None
    # each entry takes the tables, and workspaces for its scratch arrays (its fused loop's); the
    # sweep has none: its loop adds into the gradient it hands back (x[1:]'s and x[:-1]'s parts)
    for entry in ("def primal(V, IX, ID, K, W8, W4):", "def jvp(V, T, IX, ID, K, W8, W4):",
                  "def fwd(V, IX, ID, K, W8, W4, R8, R4):", "def bwd(R, S, IX, ID, K):"):
        assert entry in src
    assert "O[" not in src and "linearize" not in src  # no op object, no Python driver
    # sizes are tables, not source: one source serves every n
    with whole_after(1):
        revad.grad(rosenbrock, compiled=True)(np.linspace(-1, 1, 30))
    sources = {p.source for p in _programs(rosenbrock)}
    assert len(_programs(rosenbrock)) == 2 and len(sources) == 1


def test_a_program_is_built_whole_at_the_call_whole_after_names():
    f = lambda x: np.sum(np.sin(x) * x)
    x = np.linspace(-1, 1, 5)
    g = revad.grad(f, compiled=True)
    with whole_after(3):
        for call in range(1, 5):
            np.testing.assert_allclose(g(x), revad.grad(f)(x), rtol=1e-13)
            (program,) = _programs(f)
            assert (program.whole is not None) == (call >= 3)
    with pytest.raises(ValueError, match="whole number of calls"):
        with whole_after(0):
            pass


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_path_jacobians_equal_eager_and_are_fresh(dtype):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 4)).astype(dtype)
    b = rng.normal(size=5).astype(dtype)
    f = lambda x: np.tanh(W @ x + b) * 0.5
    x = rng.normal(size=4).astype(dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for jac in (revad.jacrev, dualad.jacfwd):
        want = jac(f)(x)
        for chunk in (None, 2):
            J = jac(f, compiled=True, chunk=chunk)
            results = [J(x) for _ in range(3)]  # the third call takes the fast path
            for r in results:
                assert r.dtype == dtype and r.shape == (5, 4) and r.flags.writeable
                np.testing.assert_allclose(r, want, rtol=tol, atol=tol)
            results[2][:] = 7.0  # a result the caller owns: writing it changes nothing else
            np.testing.assert_allclose(J(x), want, rtol=tol, atol=tol)
    assert compiled(f).fast, "the fast path registered the program"


def test_fast_path_grad_value_and_jvp():
    f = lambda x, y: np.sum(np.exp(x) * y[:3]) + np.sum(y ** 2)
    x, y = np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0, -1.0, 0.5])
    vg = revad.value_and_grad(f, argnums=(0, 1), compiled=True)
    want_v, want_g = revad.value_and_grad(f, argnums=(0, 1))(x, y)
    for _ in range(3):
        v, (gx, gy) = vg(x, y)
        assert v.shape == () and float(v) == pytest.approx(float(want_v), rel=1e-14)
        np.testing.assert_allclose(gx, want_g[0], rtol=1e-14)
        np.testing.assert_allclose(gy, want_g[1], rtol=1e-14)
    tx, ty = np.ones(3), np.arange(4.0)
    want = dualad.jvp(f, (x, y), (tx, ty))
    for _ in range(3):
        out, t = dualad.jvp(f, (x, y), (tx, ty), compiled=True)
        assert float(out) == pytest.approx(float(want[0]), rel=1e-14)
        assert float(t) == pytest.approx(float(want[1]), rel=1e-14)


def test_guards_inside_the_whole_program_trace_again_when_a_branch_changes():
    def f(x):
        y = np.where(x > 0, x ** 2, -x)
        if np.sum(x) > 0:
            return np.sum(y * 2.0)
        return np.sum(y)
    g = revad.grad(f, compiled=True)
    points = [np.array([1.0, -2.0, 3.0]), np.array([2.0, -1.0, 3.0]),
              np.array([-2.0, -1.0, 3.0]), np.array([-2.0, -1.0, -3.0])]
    with whole_after(1):
        for _ in range(2):
            for x in points:  # each pattern of signs, again and again: never a stale program
                np.testing.assert_allclose(g(x), revad.grad(f)(x), rtol=1e-14)
    assert all(p.whole is not None for p in _programs(f))
    assert len(_programs(f)) >= 3


def test_the_users_errstate_still_raises_in_the_compiled_tier():
    f = lambda x: np.sum(np.log(x))
    g = revad.grad(f, compiled=True)
    x = np.array([1.0, 2.0])
    with whole_after(1):
        for _ in range(3):
            g(x)
        with np.errstate(divide="raise"):
            with pytest.raises(FloatingPointError):
                g(np.array([0.0, 1.0]))


@pytest.mark.parametrize("x", [np.arange(3.0).astype(">f8"), np.arange(3.0, dtype=np.float32),
                               np.arange(3.0, dtype=np.float16), np.zeros(0)],
                         ids=["big-endian", "float32", "float16", "empty"])
def test_whole_programs_take_other_byte_orders_mixed_dtypes_and_empty_inputs(x):
    C = np.ones((3, x.shape[0]))  # float64 @ float32 promotes, as numpy does
    f = lambda x: np.tanh(C @ x) + np.sum(x * x)
    with whole_after(1):
        for jac in (revad.jacrev, dualad.jacfwd):
            want = jac(f)(x)
            for _ in range(3):
                got = jac(f, compiled=True)(x)
                assert got.dtype == want.dtype and got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=1e-6)


def _reshaped(x):
    return x.reshape(2, 3)


def _cast_same(x):
    return x.astype(x.dtype).ravel()


def _with_constant(x):
    return x.T.reshape(6) + np.zeros(6)


@pytest.mark.parametrize("f", [_reshaped, _cast_same, _with_constant])
def test_results_never_share_memory_with_the_callers_arrays(f):
    """A reshape passes its input's array through inside a whole program: every result is
    still a fresh array, never the caller's input, seed or cotangent (writing into a result
    must not change them, nor the next call's result)."""
    x = np.arange(6.0).reshape(3, 2) if f is _with_constant else np.arange(6.0)
    v = np.ones_like(x)
    with whole_after(1):
        for _ in range(2):  # the general path, then the fast path
            out, t = dualad.jvp(f, (x,), (v,), compiled=True)
            out2, pull = revad.vjp(f, x, compiled=True)
            u = np.ones_like(out2)
            (bar,) = pull(u)
            for r, other in ((out, x), (t, v), (out2, x), (bar, u)):
                assert not np.shares_memory(r, other)
            Jf = dualad.jacfwd(f, compiled=True)(x)
            Jr = revad.jacrev(f, compiled=True)(x)
            np.testing.assert_array_equal(Jf, Jr)
    want = f(x)
    out[...] = -1.0
    t[...] = -1.0
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(x.shape))
    np.testing.assert_array_equal(v, np.ones_like(x))
    with whole_after(1):
        again, t2 = dualad.jvp(f, (x,), (np.ones_like(x),), compiled=True)
    np.testing.assert_array_equal(again, want)
    np.testing.assert_array_equal(t2, np.ones_like(want))


def test_fast_jacobians_keep_seeds_per_chunk_and_still_check_the_chunk():
    """The fast path keeps small identity seeds with the program, one set per chunk width:
    every width gives the same Jacobian, the seeds never leak into a result, and a bad chunk is
    still refused with the transform's message."""
    f = lambda x: np.sin(x) * x[0]
    x = np.linspace(0.1, 1.0, 5)
    want = revad.jacrev(f)(x)
    with whole_after(1):
        for chunk in (None, 1, 2, 3, 5, 9, None, 2):
            for jac in (dualad.jacfwd, revad.jacrev):
                J = jac(f, compiled=True, chunk=chunk)(x)
                np.testing.assert_allclose(J, want, rtol=1e-13, atol=1e-15)
                J[...] = 7.0  # writing into a result must not touch the kept seeds
        for jac in (dualad.jacfwd, revad.jacrev):
            with pytest.raises(ValueError, match="chunk must be a positive integer"):
                jac(f, compiled=True, chunk=0)(x)
            for bad in ([2], 2.0, True):  # 2.0 == 2 and True == 1 as keys: still refused
                with pytest.raises(TypeError, match="chunk must be a positive integer"):
                    jac(f, compiled=True, chunk=bad)(x)
    identity = lambda x: x * 1.0
    with whole_after(1):
        for _ in range(2):
            J = revad.jacrev(identity, compiled=True)(x)
            J[...] = 3.0
        np.testing.assert_array_equal(revad.jacrev(identity, compiled=True)(x), np.eye(5))
        np.testing.assert_array_equal(dualad.jacfwd(identity, compiled=True)(x), np.eye(5))


@pytest.mark.parametrize("f", [lambda x: x, lambda x: x[0:], _reshaped, lambda x: x[1:] * 2.0,
                               lambda x: np.sin(x) * 2.0, lambda x: np.sum(x * x)])
@pytest.mark.parametrize("n", [1, 6])
def test_a_fast_jacobian_is_never_the_kept_seed(f, n):
    """The fast path keeps identity seeds per program; a Jacobian whose tangents pass the seed
    through (f(x) = x, a full slice, a reshape) must be a copy, else writing into it would change
    the next call's seed, and so its Jacobian. A Jacobian of one row or one column is handed
    back as the program's fresh tangent reshaped (no copy): C-contiguous and the caller's."""
    if f is _reshaped and n != 6:
        pytest.skip("a (2, 3) reshape needs 6 entries")
    x = np.arange(float(n))
    with whole_after(1):
        jac = dualad.jacfwd(f, compiled=True)
        want = dualad.jacfwd(f)(x)
        for _ in range(3):
            J = jac(x)
            np.testing.assert_array_equal(J, want)
            assert J.flags.c_contiguous and J.shape == want.shape
            J[...] = 7.0  # the caller owns it


def _two_halves(x):
    return np.concatenate([np.sin(x) * 3.0, x * 2.0])


def _grid(x):
    return x.reshape(20, 20)  # the tangent is the seed itself


@pytest.mark.parametrize("chunk", [None, 64])
def test_jacobians_of_many_lazily_made_seed_chunks_on_the_fast_path(chunk):
    """Seeds over a megabyte are made per call in one reused buffer. The fast path once peeked
    at the second chunk before sweeping the first (so rows 0-255 were rows 256-511), and kept a
    tangent that is the seed itself past the next chunk: both silently wrong from the second
    call on."""
    x = np.linspace(0.5, 1.5, 400)  # identities of 800^2 and 400^2 doubles: over a megabyte
    want_r, want_f = revad.jacrev(_two_halves)(x), dualad.jacfwd(_grid)(x)
    with whole_after(1):
        for _ in range(3):  # the first call builds the program, later ones take the fast path
            np.testing.assert_array_equal(revad.jacrev(_two_halves, compiled=True,
                                                       chunk=chunk)(x), want_r)
            np.testing.assert_array_equal(dualad.jacfwd(_grid, compiled=True, chunk=chunk)(x),
                                          want_f)
    assert compiled(_two_halves).fast and compiled(_grid).fast


def test_a_compiled_transform_called_once_still_pickles():
    """A transform keeps its function's compiled programs after the first call (numba code,
    weak references); sent to a worker (cloudpickle, as Dask sends it) it is the compiled tier
    of the same function there, and computes the same numbers."""
    import pickle

    import cloudpickle
    f = lambda x: np.sum(np.tanh(x) * x)
    x = np.linspace(-1.0, 1.0, 5)
    transforms = [revad.grad(f, compiled=True), revad.jacrev(np.sin, compiled=True),
                  dualad.jacfwd(np.sin, compiled=True)]
    with whole_after(1):
        for t in transforms:
            want = [t(x) for _ in range(3)][-1]  # the fast path's programs are kept
            copy = pickle.loads(cloudpickle.dumps(t))
            np.testing.assert_array_equal(copy(x), want)
