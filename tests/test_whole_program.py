"""Every op with a numba form runs inside one compiled program per derivative (issue 19), with
the eager tier's values and conventions: max/min ties split 1/c, nan propagates, prod's partial
exact at zeros. Programs are few and small (each new program is a numba compile of seconds);
sizes change without a new compile. The ops with no form are the ones docs/SUPPORTED.md lists.
"""
import os
import re

import numpy as np
import pytest

import adops
import dualad
import revad
from adops.compile import compiled, whole_after
from adops.core.levels import bind
from adops.ops.registry import OPS


@pytest.fixture(autouse=True)
def _whole_at_the_first_call():
    """These tests check the whole programs, built here at a program's first call."""
    from adops.compile import whole_after
    with whole_after(1):
        yield


def _reduce_rows(x):
    """max, min and prod over the last axis (rows: no gather)."""
    return np.max(x, axis=1) * 2.0 + np.prod(x, axis=1) - np.min(x, axis=1)


def _reduce_cols(x):
    """A logsumexp over axis 0 with the max kept, min and prod over axis 0 (a gather first)."""
    m = np.max(x, axis=0, keepdims=True)
    lse = np.log(np.sum(np.exp(x - m), axis=0)) + m[0]
    return np.sum(lse) + np.sum(np.min(x, axis=0) ** 2) + np.sum(np.prod(x, axis=0))


def _scan(x):
    return np.cumsum(x, axis=0).ravel() * 1.5


def _index_add(x):
    v = x[:3] * x[:3]
    return bind(OPS["index_add"], x, v, index=(np.array([0, 2, 0]),)) * 2.0


def _einsums(x):
    w = x[:1] * 2.0                                   # (1, n): letter i broadcast in einsum
    a = np.einsum("ij,ij->ij", w, x)
    b = np.einsum("ij,jk->i", x, x.T)                 # k summed in one operand only
    return a.ravel() * 0.5 + np.sum(b)


def _ran_whole(f):
    progs = [p for ps in compiled(f).programs.values() for p in ps]
    assert progs, "no compiled program was built"
    assert all(p.whole is not None for p in progs), [p.why_python for p in progs]


def _both_modes(f, x, rtol=1e-12):
    """Compiled reverse and forward Jacobians against the eager tier's, and run whole."""
    want = revad.jacrev(f, compiled=False)(x)
    got_r = revad.jacrev(f, compiled=True)(x)
    got_f = dualad.jacfwd(f, compiled=True)(x)
    for got in (got_r, got_f):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dualad.jacfwd(f, compiled=False)(x), want, rtol=1e-12, atol=1e-12)
    _ran_whole(f)
    return want


SHAPES = [(3, 4), (1, 4), (3, 1), (0, 4)]


@pytest.mark.parametrize("shape", SHAPES)
def test_reductions_over_rows(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    _both_modes(_reduce_rows, x)


@pytest.mark.parametrize("shape", [(3, 4), (1, 4), (3, 1), (2, 0)])
def test_reductions_over_columns_and_grad(shape):
    x = np.random.default_rng(2).standard_normal(shape)
    _both_modes(_reduce_cols, x)
    np.testing.assert_allclose(revad.grad(_reduce_cols, compiled=True)(x),
                               revad.grad(_reduce_cols, compiled=False)(x), rtol=1e-12)


def test_reductions_float32_stay_float32():
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    g = revad.grad(_reduce_cols, compiled=True)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, revad.grad(_reduce_cols, compiled=False)(x), rtol=1e-5)
    J = dualad.jacfwd(_reduce_rows, compiled=True)(x)
    assert J.dtype == np.float32
    np.testing.assert_allclose(J, revad.jacrev(_reduce_rows, compiled=False)(x), rtol=1e-5)
    _ran_whole(_reduce_cols)


def test_ties_nan_and_zeros_follow_the_eager_conventions():
    x = np.array([[1.0, 3.0, 3.0, 3.0],     # a three-way tie for the max
                  [2.0, 0.0, 5.0, 0.5],     # one zero: prod's partial is exact
                  [0.0, 0.0, 4.0, 1.0],     # two zeros and a two-way tie for the min
                  [1.0, np.nan, 2.0, 3.0]])  # nan propagates to every partial of its row
    with np.errstate(all="ignore"):
        want = _both_modes(_reduce_rows, x)
    # the expected rows, by hand: 2 d max + d prod - d min
    np.testing.assert_allclose(want[0, 0], [0 + 27 - 1, 2 / 3 + 9, 2 / 3 + 9, 2 / 3 + 9])
    np.testing.assert_allclose(want[1, 1], [0 + 0 - 0, 0 + 5 - 1, 2 + 0, 0])
    np.testing.assert_allclose(want[2, 2], [0 - 0.5, 0 - 0.5, 2, 0])
    assert np.isnan(want[3, 3]).all()
    assert (want[0, 1:] == 0).all()  # an output reads its own row only


@pytest.mark.parametrize("shape", [(3, 2), (1, 3), (4, 1), (0, 2)])
def test_cumsum(shape):
    _both_modes(_scan, np.random.default_rng(4).standard_normal(shape))


@pytest.mark.parametrize("n", [3, 5])
def test_index_add_repeats_accumulate(n):
    x = np.arange(1.0, n + 1.0)
    J = _both_modes(_index_add, x)
    # out = 2 (x + scatter of x[:3]^2 at [0, 2, 0]): d out0/d x0 = 2 (1 + 2 x0 + 0)
    assert J[0, 0] == 2 * (1 + 2 * x[0])
    assert J[0, 2] == 2 * 2 * x[2] and J[2, 1] == 2 * 2 * x[1]


@pytest.mark.parametrize("shape", [(2, 3), (1, 3), (3, 1)])
def test_einsum_with_broadcast_and_one_sided_letters(shape):
    _both_modes(_einsums, np.random.default_rng(6).standard_normal(shape))


def test_reductions_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def ref(x):
        m = jnp.max(x, axis=0, keepdims=True)
        lse = jnp.log(jnp.sum(jnp.exp(x - m), axis=0)) + m[0]
        return jnp.sum(lse) + jnp.sum(jnp.min(x, axis=0) ** 2) + jnp.sum(jnp.prod(x, axis=0))
    x = np.random.default_rng(5).standard_normal((3, 4))
    np.testing.assert_allclose(revad.grad(_reduce_cols, compiled=True)(x),
                               np.asarray(jax.grad(ref)(x)), rtol=1e-12)


def _numpy_only_rule(rows, out):
    """prod's partial by division, with a call numba lacks (np.cumprod with an axis)."""
    return out / rows + 0 * np.cumprod(rows, axis=1)


def _my_prod(x):
    return bind(OPS["my_prod"], x, axis=(0,), keepdims=False) * 3.0


def test_a_rule_numba_cannot_compile_keeps_the_python_driver():
    adops.defreduce("my_prod", np.prod, _numpy_only_rule, numba="prod")
    try:
        x = np.array([2.0, 3.0, 4.0])
        got = revad.grad(_my_prod, compiled=True)(x)
        np.testing.assert_allclose(got, [36.0, 24.0, 18.0], rtol=1e-12)
        progs = [p for ps in compiled(_my_prod).programs.values() for p in ps]
        assert progs and all(p.whole is None for p in progs)
        assert "numba does not compile its rule" in progs[0].why_python
    finally:
        adops.unregister("my_prod")


#: the ops no whole program holds (written out: the registry and the docs must both say so)
NO_FORM = {
    "digamma", "polygamma",                        # scipy.special: no scalar polygamma
}


def test_ops_without_a_form_are_the_documented_ones():
    from adops.compile.forms import without_form
    assert set(without_form(OPS)) == NO_FORM
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "SUPPORTED.md")
    with open(path) as fh:
        text = fh.read()
    head = "## Ops that keep the Python driver in the compiled tier"
    assert head in text
    section = text.split(head, 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `(\w+)` \|", section, re.M)) == NO_FORM
    assert adops.OPS["max"].numba and adops.OPS["cumsum"].numba and adops.OPS["index_add"].numba


_CW = np.random.default_rng(11).normal(size=(3, 4))
_CW32 = _CW.astype(np.float32)
_CB = np.random.default_rng(12).normal(size=(2, 4, 3))


def _constant_operands(x):
    """Contractions whose other operand is a constant, in every letter order (its permuted
    entries are tables of the program, computed once), one of them float32 (cast once)."""
    X = x.reshape(4, 3)
    return np.concatenate([
        (_CW @ x[:4]).ravel(),                     # constant on the left
        (x[:3] @ _CW).ravel(),                     # on the right
        (_CW.T @ x[:3]).ravel(),                   # a transposed constant
        np.einsum("ij,jk->ik", _CW, X).ravel(),
        np.einsum("ji,bjk->bik", X, _CB).ravel(),  # batch letters, constant second
        (_CW32 @ x[:4]).ravel()])                  # float32 constant, float64 result


def test_contractions_with_a_constant_operand_in_both_modes():
    x = np.linspace(-1.0, 1.2, 12)
    want = revad.jacrev(_constant_operands)(x)
    for jac in (dualad.jacfwd, revad.jacrev):
        for _ in range(2):  # the general path, then the fast path
            np.testing.assert_allclose(jac(_constant_operands, compiled=True)(x), want,
                                       rtol=1e-12, atol=1e-12)
    _ran_whole(_constant_operands)
    out, pull = revad.vjp(_constant_operands, x, compiled=True)
    np.testing.assert_allclose(out, _constant_operands(x), rtol=1e-12)
    u = np.random.default_rng(0).normal(size=out.shape)
    np.testing.assert_allclose(pull(u)[0], u @ want, rtol=1e-12, atol=1e-12)


def _slices(x):
    return x[1:] * x[:-1] + x[2:].sum()


def test_the_tangent_of_a_contiguous_slice_is_a_view_where_loops_read_it():
    """x[1:]'s tangent rows were copied to C order before the loops read them: for Rosenbrock at
    n = 10^6 with 8 directions, two fresh 64 MB copies cost more than the jvp's loops. They are
    column views now; forms that need C rows (a reshape, a dot) and the tangents handed back get
    a contiguous copy, and every result is the eager tier's."""
    x = np.linspace(-1, 1, 9)
    v = np.random.default_rng(0).normal(size=(3, 9))
    for f in (_slices, lambda x: x[1:], lambda x: (x[1:].reshape(2, 4) @ np.ones(4)) * x[:2]):
        out, tan = dualad.jvp(f, (x,), (v,), batched=True, compiled=True)
        want = dualad.jvp(f, (x,), (v,), batched=True)
        np.testing.assert_allclose(out, want[0], rtol=1e-14)
        np.testing.assert_allclose(tan, want[1], rtol=1e-14)
        assert tan.flags.c_contiguous and tan.flags.writeable and tan.flags.owndata or \
            tan.base is not None and not np.shares_memory(tan, v)
        assert not np.shares_memory(tan, v)
        _ran_whole(f)
    g = lambda x: np.sum(_slices(x) ** 2)  # noqa: E731
    np.testing.assert_allclose(revad.grad(g, compiled=True)(x), revad.grad(g)(x), rtol=1e-14)
    _ran_whole(g)
    (grad_program,) = next(iter(compiled(g).programs.values()))
    bwd_text = grad_program.listing.split("def bwd(")[1]
    # the slices' transposes add into slices of x's cotangent, with no index table: the loop
    # adds x[1:]'s and x[:-1]'s into x's rows itself, x[2:]'s (a sum's input) goes by slice_add
    assert bwd_text.count("slice_add") == 1 and "scatter_add" not in bwd_text, bwd_text
    assert re.search(r"g0_vjp_one\(.*(b0), \1, ", bwd_text), bwd_text  # a loss: one seed
    (program,) = next(iter(compiled(_slices).programs.values()))
    jvp_text = program.listing.split("def jvp(")[1]
    views = re.findall(r"(t\d+) = t0\[:, ", jvp_text)
    assert len(views) == 3, jvp_text                # x[1:], x[:-1], x[2:]
    # the loop reads two of them as they are; only x[2:]'s sum (numba reshapes) takes a copy
    assert jvp_text.split("return")[0].count("ascontiguousarray") == 1, jvp_text


def _sum_and(x, then):
    return then(np.exp(x) * 0.5)  # one value, used by a sum and by what ``then`` does


@pytest.mark.parametrize("f, columns", [
    (lambda x: np.sum(np.tanh(x) * x), True),                                  # a loss
    (lambda x: np.stack([np.sum(x * x * 2.0), np.sum(np.sin(x) * x)]), True),  # m = 2 seeds
    (lambda x: _sum_and(x, lambda y: np.sum(y) * y), False),       # the sum and another use
    (lambda x: _sum_and(x, lambda y: np.stack([np.sum(y), y[2]])), False),
    (lambda x: _sum_and(x, lambda y: np.concatenate([y, np.sum(y)[None]])), False),
], ids=["loss", "two_sums", "sum_and_more", "sum_and_index", "sum_and_output"])
def test_a_sum_of_everything_hands_its_seed_to_the_loop_as_a_column(f, columns):
    """The sweep used to broadcast a loss's seed to a fresh (m, n) block before the loop read it
    (8 MB per seed at n = 10^6); the loop now reads the (m, 1) column where the sum is the
    output's only use, and every other case keeps the broadcast, with the eager tier's values."""
    x = np.linspace(-1, 1.3, 9)
    jac = revad.grad if np.ndim(f(x)) == 0 else revad.jacrev
    np.testing.assert_allclose(jac(f, compiled=True)(x), jac(f)(x), rtol=1e-13, atol=1e-15)
    _ran_whole(f)
    (program,) = next(iter(compiled(f).programs.values()))
    bwd = program.listing.split("def bwd(")[1]
    if columns:  # no broadcast of a seed anywhere in the sweep; the loops read columns
        assert "[q, 0]" in program.listing and "spread(" not in bwd and "gather(" not in bwd, \
            program.listing
    else:
        assert "spread(" in bwd or "gather(" in bwd, program.listing


def _rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_a_traced_gradient_adds_slice_transposes_into_slices_and_fuses_its_rows():
    """hvp compiles the traced gradient: its slice transposes (index_add onto zeros) were
    scatters with two index tables into fresh zeros, and its (1, n) rows and (n,) values were
    separate loops. They are slice adds now, and runs of shapes equal but for leading ones fuse:
    Rosenbrock's hvp program went from 8 loops to 4 (n = 10^5: 6.5 ms -> 3.4-5 ms, noisy)."""
    x = np.linspace(-1, 1.2, 11)
    v = np.random.default_rng(0).normal(size=11)
    hv = revad.hvp(_rosenbrock, (x,), (v,), compiled=True)
    np.testing.assert_allclose(hv, revad.hessian(_rosenbrock)(x) @ v, rtol=1e-12)
    g = compiled(_rosenbrock).derived[("grad", 0)]
    (program,) = next(iter(compiled(g).programs.values()))
    jvp_text = program.listing.split("def jvp(")[1]
    assert program.whole is not None
    assert "scatter_add_at" not in jvp_text and jvp_text.count("slice_add") >= 3, jvp_text
    # f's value, which grad(f) records but does not return, is not computed (one loop less),
    # and the slices of the first loop's outputs wait for the run to end (one loop less again)
    assert jvp_text.count("_jvp(") == 2 and "sum_rows" not in jvp_text, jvp_text
    # the tangent rows between loops are scratch, none a fresh block (a shape read off another
    # array, np.empty((t2.shape[0], n)), once made both arrays count as handed back)
    jvp_body = jvp_text.split("\n@njit")[0]
    fresh = re.findall(r"\bt\d+ = np\.(?:empty|zeros)\(", jvp_body)
    assert len(fresh) == 1, jvp_body  # the tangent handed back


def _broadcasts(x):
    """A (2, 3, 4) loop reading inputs broadcast along one run of axes (trailing, leading,
    middle: repeated blocks) and along two runs (an index table)."""
    X = x.reshape(2, 3, 4)
    trailing = np.sum(X, axis=2, keepdims=True)          # (2, 3, 1): B = 4, R = 1
    leading = X[0, 0] * 1.5                              # (4,): B = 6, R = 4
    middle = np.sum(X * X, axis=1, keepdims=True)        # (2, 1, 4): B = 3, R = 4
    two = np.exp(np.sum(X, axis=(0, 2), keepdims=True))  # (1, 3, 1): two runs of axes
    return (np.tanh(X - trailing) * leading + middle * X + two * X).ravel()


def test_inputs_broadcast_along_one_run_of_axes_are_spread_as_blocks_without_a_table():
    x = np.cos(np.arange(24.0))
    _both_modes(_broadcasts, x)
    loss = lambda x: np.sum(_broadcasts(x))  # noqa: E731
    with whole_after(1):
        np.testing.assert_allclose(revad.grad(loss, compiled=True)(x), revad.grad(loss)(x),
                                   rtol=1e-12)
    (program, *_) = [p for ps in compiled(_broadcasts).programs.values() for p in ps]
    src = program.source
    # values, tangents and cotangents: the three one-run inputs by blocks, the other by a table
    assert src.count("spread_blocks_into(") >= 6 and "sum_blocks(" in src
    assert "gather(" in src and "scatter_add(" in src
    # the spreads are scratch: in the workspace, spread again by the sweep, never kept from
    # the forward pass as fresh blocks of the loop's size (GMM d = 64: 51 MB each)
    (g,) = [p for ps in compiled(loss).programs.values() for p in ps]
    fwd = g.source.split("def fwd(")[1].split("\n@njit")[0]
    spreads = re.findall(r"spread_blocks_into\((\w+)", fwd)
    assert len(spreads) >= 3, fwd
    kept = fwd.split("return ok")[1]
    assert not any(re.search(rf"\b{n}\b", kept) for n in spreads), fwd
    assert all(re.search(rf"{n} = scratch\(W8", fwd) for n in spreads), fwd
    assert "spread_blocks_into(aw" in g.source.split("def bwd(")[1]


def test_a_broadcast_along_one_run_of_axes_is_found_as_blocks():
    """block_run finds (B, R) for exactly the broadcasts whose widened axes form one run, and
    its blocks map entries as numpy's broadcasting does."""
    from adops.compile.formbase import block_run
    from adops.compile.groupstep import _broadcast_ids
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(300):
        to = tuple(int(v) for v in rng.integers(1, 4, size=rng.integers(1, 5)))
        shape = tuple(1 if rng.random() < 0.5 else d for d in to)[rng.integers(0, len(to)):]
        padded = (1,) * (len(to) - len(shape)) + shape
        wide = [i for i, (a, b) in enumerate(zip(padded, to)) if a != b]
        one_run = bool(wide) and all(padded[i] == 1 for i in range(wide[0], wide[-1] + 1))
        ids = _broadcast_ids(shape, to)
        run = block_run(ids)
        if one_run:
            assert run is not None, (shape, to)
        if run is None:
            continue
        B, R = run
        i = np.arange(int(np.prod(to)))
        np.testing.assert_array_equal((i // (B * R)) * R + i % R, ids)
        checked += 1
    assert checked > 100


def _uniform_and_signed(x):
    """A constant of one value (stored and read once) and one of signed zeros (not one value
    bit for bit: read entry by entry, as numpy does)."""
    threes = np.full(x.shape, 3.0)
    signs = np.where(np.arange(x.size) % 2 == 1, -0.0, 0.0)
    return np.concatenate([np.sin(x) * threes, x * signs * 2.0])


@pytest.mark.parametrize("path", ["whole", "driver"])
def test_a_constant_of_one_value_is_read_once_and_signed_zeros_keep_their_bits(path):
    x = np.linspace(0.5, 1.5, 1000)
    with whole_after(1 if path == "whole" else 10 ** 9):
        (got,) = adops.compile.compiled(_uniform_and_signed).primal((x,), {})[0]
        want = _uniform_and_signed(x)
        assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))
        np.testing.assert_allclose(revad.jacrev(_uniform_and_signed, compiled=True)(x),
                                   revad.jacrev(_uniform_and_signed)(x), rtol=1e-14)
        np.testing.assert_allclose(dualad.jacfwd(_uniform_and_signed, compiled=True)(x),
                                   dualad.jacfwd(_uniform_and_signed)(x), rtol=1e-14)
    if path == "whole":
        programs = [p for ps in compiled(_uniform_and_signed).programs.values() for p in ps]
        for program in programs:  # the primal's and the Jacobians' (inputs differentiated)
            assert program.whole is not None, program.why_python
            K = program.whole.tables[2]
            # the signed zeros' 1000 entries, the threes' one
            assert 1000 * 8 <= K.nbytes < 1010 * 8, K.nbytes


def _views_of_rows(x):
    """Column views of the tangent rows: a slice, a slice of a slice, one entry (read as one
    value) and a reshape passing a view through."""
    inner = x[1:][2:]                      # offset 1 + 2 within the input's rows
    one = x[2:3]                           # one entry, at offset 2
    flat = x[:-3].reshape(-1)              # a relabelling of a view: the same offset
    return np.exp(inner) * flat + one * np.sin(x[3:])


@pytest.mark.parametrize("k", [1, 3])
def test_loops_read_column_views_of_tangent_rows_at_their_offset(k):
    x = np.linspace(-0.7, 0.9, 9)
    V = np.random.default_rng(k).normal(size=(k, 9))
    with whole_after(1):
        for _ in range(2):  # the general path, then the fast path
            out, tan = dualad.jvp(_views_of_rows, (x,), (V,), batched=True, compiled=True)
            want_out, want_tan = dualad.jvp(_views_of_rows, (x,), (V,), batched=True)
            np.testing.assert_allclose(out, want_out, rtol=1e-14)
            np.testing.assert_allclose(tan, want_tan, rtol=1e-13, atol=1e-15)
    _both_modes(_views_of_rows, x)
    (program,) = [p for key, ps in compiled(_views_of_rows).programs.items() for p in ps
                  if key[1] == (0,)]
    jvp_text = program.whole.source.split("def jvp(")[1].split("\n@njit")[0]
    # the loop is handed the input's own rows (t0) and the views' offsets, not t0[:, a:b]
    handed = re.findall(r"u\d+_\d+ = (t\d+)\b", jvp_text)
    assert handed and set(handed) == {"t0"}, jvp_text
    assert re.search(r"_jvp\(.*IX\[\d+\] \+ IX\[\d+\]", jvp_text), jvp_text


def _promoting(x, y):
    return np.cos(np.sin(x) * y) + y  # float32 sin, then float64 (numpy promotes the product)


@pytest.mark.parametrize("whole", [False, True], ids=["driver", "whole"])
def test_an_elementwise_run_is_cut_where_its_dtype_changes(whole):
    """A loop's block buffers and outputs have one dtype: a run of float32 ops feeding float64
    ops is two loops, so the float64 values and tangents are numpy's, never rounded through
    float32 (about 1e-8 off, and float32 results, before the cut)."""
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    y = np.linspace(1, 2, 7) + 1e-9
    tangents = (np.ones(7, dtype=np.float32), np.full(7, 0.5))
    want, want_t = dualad.jvp(_promoting, (x, y), tangents)
    assert want.dtype == want_t.dtype == np.float64
    with whole_after(1 if whole else 10 ** 9):
        for _ in range(3):  # the first call traces; the later ones run the program
            out, t = dualad.jvp(_promoting, (x, y), tangents, compiled=True)
            assert out.dtype == t.dtype == np.float64
            np.testing.assert_array_equal(out, _promoting(x, y))
            np.testing.assert_allclose(t, want_t, rtol=1e-14, atol=0)
            value, pullback = revad.vjp(_promoting, x, y, compiled=True)
            assert value.dtype == np.float64
            np.testing.assert_array_equal(value, _promoting(x, y))
            x_bar, y_bar = pullback(np.ones(7))
            assert (x_bar.dtype, y_bar.dtype) == (np.float32, np.float64)
            np.testing.assert_allclose(y_bar, revad.vjp(_promoting, x, y)[1](np.ones(7))[1],
                                       rtol=1e-14)
