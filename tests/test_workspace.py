"""Scratch arrays of whole programs come from workspaces kept with the program
(adops/compile/workspace.py): what a call returns never lives in one, a pullback kept across
later calls still reads its own forward pass, threads running one program at once each get their
own workspace, and only arrays that cannot reach the return are carved.
"""
import threading

import numpy as np
import pytest

import dualad
import revad
from adops.compile import compiled, whole_after
from adops.compile.workspace import carve


def _f(x):
    y = np.tanh(x[1:] * x[:-1])
    return np.sum(y * y + np.exp(-x[1:]))


def _vec(x):
    return np.sin(x) * x[::-1] + np.cos(x[0])


@pytest.fixture(autouse=True)
def _whole_at_the_first_call():
    with whole_after(1):
        yield


def _has_workspaces(f):
    progs = [p for ps in compiled(f).programs.values() for p in ps]
    assert progs and all(p.whole is not None for p in progs)
    assert any(p.whole.slots[e] for p in progs for e in p.whole.slots)


def test_results_of_earlier_calls_are_not_overwritten_by_later_ones():
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=40) for _ in range(3)]
    g = revad.grad(_f, compiled=True)
    grads = [g(x) for x in xs]                      # general path, then the fast path
    for x, got in zip(xs, grads):
        np.testing.assert_allclose(got, revad.grad(_f)(x), rtol=1e-12, atol=1e-14)
    jf = [dualad.jacfwd(_vec, compiled=True, chunk=7)(x) for x in xs]
    jr = [revad.jacrev(_vec, compiled=True, chunk=7)(x) for x in xs]
    for x, a, b in zip(xs, jf, jr):
        want = revad.jacrev(_vec)(x)
        np.testing.assert_allclose(a, want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, want, rtol=1e-12, atol=1e-14)
    V = rng.normal(size=(3, 40))
    jv = [dualad.jvp(_vec, (x,), (V,), batched=True, compiled=True) for x in xs]
    for x, (out, tan) in zip(xs, jv):
        np.testing.assert_allclose(out, _vec(x), rtol=1e-13)
        np.testing.assert_allclose(tan, V @ revad.jacrev(_vec)(x).T, rtol=1e-12, atol=1e-13)
    _has_workspaces(_f)
    _has_workspaces(_vec)


def _sliced(x):
    y = np.sin(x) * x
    return y[1:][:-1]  # views of a value the program computes: they must not be carved


def test_slices_of_computed_values_handed_back_are_not_in_a_workspace():
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=30) for _ in range(3)]
    for k in (1, 4):
        V = rng.normal(size=(k, 30))
        got = [dualad.jvp(_sliced, (x,), (V,), batched=True, compiled=True) for x in xs]
        for x, (out, tan) in zip(xs, got):  # checked after every call was made
            np.testing.assert_allclose(out, _sliced(x), rtol=1e-15)
            np.testing.assert_allclose(tan, V @ revad.jacrev(_sliced)(x).T, rtol=1e-13)
            assert out.flags.writeable and tan.flags.writeable


def test_a_kept_pullback_reads_its_own_forward_pass():
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=30), rng.normal(size=30)
    out1, pull1 = revad.vjp(_vec, x1, compiled=True)
    out2, pull2 = revad.vjp(_vec, x2, compiled=True)
    revad.grad(lambda x: np.sum(_vec(x)), compiled=True)(x2)
    u = rng.normal(size=30)
    np.testing.assert_allclose(pull1(u)[0], u @ revad.jacrev(_vec)(x1), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(pull2(u)[0], u @ revad.jacrev(_vec)(x2), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(out1, _vec(x1), rtol=1e-13)


def test_threads_running_one_program_at_once_get_their_own_workspaces():
    g = revad.grad(_f, compiled=True)
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=2000) for _ in range(8)]
    want = [revad.grad(_f)(x) for x in xs]
    g(xs[0])
    g(xs[0])  # built whole and on the fast path
    errors = []

    def work(i):
        for _ in range(20):
            got = g(xs[i])
            if not np.allclose(got, want[i], rtol=1e-12, atol=1e-14):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_only_arrays_that_cannot_reach_the_return_are_carved():
    src = (
        "def bwd(R, S, IX, ID, K):\n"
        "    m = S[0].shape[0]\n"
        "    c0 = np.empty((m, IX[1]), dtype=np.float64)\n"   # scratch: carved
        "    c1 = np.empty((m, IX[1]), dtype=np.float64)\n"   # returned through an alias
        "    c2 = np.zeros((m, IX[2]), dtype=np.float32)\n"   # a view of it is returned
        "    c3 = np.zeros((1, IX[2]), dtype=np.float32)\n"   # scratch, float32, zero-filled
        "    c4 = np.empty((m, q(IX[2])), dtype=np.float64)\n"  # a size of unknown form
        "    g(c0, c1, c2, c3, c4)\n"
        "    b1 = c1\n"
        "    b2 = c2.reshape((m, IX[2]))[0]\n"
        "    return (b1, b2, )\n")
    text, slots = carve(src, rows_known=True)
    assert "c0 = scratch(W8, o8, m * IX[1]).reshape((m, IX[1]))" in text
    assert "c3 = scratch(W4, o4, 1 * IX[2]).reshape((1, IX[2]))" in text and "c3[...] = 0" in text
    for kept in ("c1 = np.empty", "c2 = np.zeros", "c4 = np.empty"):
        assert kept in text
    assert [(s.dtype, s.rows) for s in slots] == [("float64", True), ("float32", False)]
    assert "def bwd(R, S, IX, ID, K, W8, W4):" in text
    # rows of a run-time size are only carved where the call's k or m is known
    text, slots = carve(src, rows_known=False)
    assert [s.dtype for s in slots] == ["float32"]


def test_a_program_keeps_bounded_workspaces_whatever_the_chunk_widths():
    """One pool per program, each pair grown to the largest need: many chunk widths and entries
    do not multiply the memory a program keeps."""
    from adops.compile import workspace
    x = np.linspace(0.1, 1.0, 3000)
    for chunk in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89):
        J = revad.jacrev(lambda x: _vec(x)[:89], compiled=True, chunk=chunk)(x[:89])
        np.testing.assert_allclose(J, revad.jacrev(_vec)(x[:89])[:89], rtol=1e-12, atol=1e-13)
        dualad.jacfwd(_vec, compiled=True, chunk=chunk)(x)
    for f in (_vec,):
        for p in (p for ps in compiled(f).programs.values() for p in ps):
            if p.whole is not None:
                kept = p.whole.workspaces.pool
                assert len(kept) <= workspace.KEPT
                assert sum(w.nbytes for pair in kept for w in pair) <= \
                    workspace.KEPT * workspace.KEEP_BYTES


def test_the_kept_workspace_size_follows_the_machines_memory_within_bounds():
    """A program keeps a workspace up to 1/64 of the machine's memory, between 32 and 256 MB:
    with 32 MB, GMM d = 64 (200 MB of scratch per sweep) made its workspace afresh every call
    and faulted its pages in (a third of the gradient)."""
    from adops.compile import workspace
    assert 32 << 20 <= workspace.KEEP_BYTES <= 256 << 20
    assert workspace._keep_bytes(share=1 << 60) == 32 << 20          # tiny share: the floor
    assert workspace._keep_bytes(floor=1, ceiling=1 << 62, share=1) > 1 << 20  # all memory
    assert workspace._keep_bytes(ceiling=100 << 20, share=1) == 100 << 20
