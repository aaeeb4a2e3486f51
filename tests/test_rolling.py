"""A Python loop that the trace unrolled, rolled back into one loop entry (adops.compile.runs,
adops.compile.rolling): the rolled program computes the same numbers from the same inputs, and
compiled whole it gives the eager tiers' derivatives."""
import re

import numpy as np
import pytest

import dualad
import revad
from adops.compile import compiled, whole_after
from adops.compile.rolling import rolled
from adops.program.tape import Trace, guard_holds


def evaluate(tape, leaves, outs, inputs, guards=None):
    """Run a program entry by entry (each op's own value; the loop entry runs its step);
    ``guards``: a list that gets whether each guard holds."""
    vals = [None] * len(tape.ops)
    for leaf, x in zip(leaves, inputs):
        vals[leaf] = x
    for e, op in enumerate(tape.ops):
        if op is None:
            continue
        args = [vals[r] if type(r) is int else r.value for r in tape.refs[e]]
        params = tape.params[e] or {}
        value = getattr(op, "value", None)
        vals[e] = value(*args, **params) if value else op.linearize(*args, **params)[0]
    if guards is not None:
        guards.extend(guard_holds(g, vals) for g in tape.guards)
    return [vals[o] for o in outs]


def roll(f, *xs):
    t = Trace(f, xs, {}, tuple(range(len(xs))), "test", linearize=False)
    return t, rolled(t.tape, t.leaves, t.outs)


def loops(tape):
    return sum(getattr(op, "name", None) == "rolled loop" for op in tape.ops)


W = np.random.default_rng(0).normal(size=(4, 4)) * 0.5
X = np.random.default_rng(1).normal(size=(30, 4))


def recurrence(x):
    h = x
    for _ in range(40):
        h = np.tanh(h * 0.9 + 0.1)
    return h


def rnn(x):  # strided reads x[t], outputs stacked
    w, h, seq = x[:16].reshape(4, 4), x[16:20], x[20:].reshape(-1, 4)
    out = []
    for t in range(seq.shape[0]):
        h = np.tanh(w @ h + seq[t]) * 0.9
        out.append(h[0] * h[1:])
    return np.stack(out, axis=1), h


def rnn_on_data(w):  # per-step constants: rows of a plain array
    h = np.zeros(4)
    for t in range(X.shape[0]):
        h = np.tanh(w.reshape(4, 4) @ h + X[t])
    return h


def rowwise(x):  # no carry: a map over the rows
    rows = x.reshape(-1, 4)
    return np.stack([np.tanh(W @ rows[t]) * rows[t, 0] for t in range(rows.shape[0])])


def backwards_over_columns(x):  # strided reads that step back, with an index after the step's
    seq = x.reshape(-1, 3)
    h = np.zeros(2)
    for t in reversed(range(seq.shape[0])):
        h = np.tanh(h * seq[t, 2] + seq[t, :2])
    return h


def two_loops(x):
    hs, h = [], x
    for _ in range(30):
        h = np.sin(h) * 0.95 + 0.01
        hs.append(h)
    total = 0.0
    for r in hs:
        total = total + np.sum(r * r)
    return total


CASES = [(recurrence, lambda r: r.normal(size=3)),
         (rnn, lambda r: r.normal(size=20 + 4 * 25) * 0.5),
         (rnn_on_data, lambda r: r.normal(size=16) * 0.5),
         (two_loops, lambda r: r.normal(size=5)),
         (rowwise, lambda r: r.normal(size=4 * 30)),
         (backwards_over_columns, lambda r: r.normal(size=3 * 40))]


@pytest.mark.parametrize("f, make", CASES, ids=[c[0].__name__ for c in CASES])
def test_a_rolled_program_computes_the_same_numbers(f, make):
    x = make(np.random.default_rng(2))
    t, new = roll(f, x)
    assert new is not None
    tape, leaves, outs = new
    assert loops(tape) >= 1 and len(tape) < len(t.tape) // 4
    want = f(x)
    got = evaluate(tape, leaves, outs, [x])
    for w, g in zip(want if isinstance(want, tuple) else (want,), got):
        np.testing.assert_array_equal(g, w)


def random_loop(seed):
    """A recurrent program drawn at random: a step of 2-6 ops from a vocabulary (matmul,
    strided reads of the input, per-step rows of a plain array, a second carry, rotations,
    means, maxima), 20-60 steps, rows stacked, stacked on axis 1, or summed in a second loop."""
    r = np.random.default_rng(seed)
    T, n = int(r.integers(20, 60)), 4
    W, consts, X = r.normal(size=(n, n)) * 0.4, r.normal(size=n), r.normal(size=(T, n))
    ops = r.integers(0, 9, size=int(r.integers(2, 7)))
    how = int(r.integers(0, 3))
    steps = [lambda z, c, w, s, a: (np.tanh(z), c), lambda z, c, w, s, a: (w @ z, c),
             lambda z, c, w, s, a: (z + s, c), lambda z, c, w, s, a: (z * consts, c),
             lambda z, c, w, s, a: (z + a, c),
             lambda z, c, w, s, a: (np.concatenate([z[1:], z[:1]]) * c, c),
             lambda z, c, w, s, a: (z - np.sum(z) / n, c),
             lambda z, c, w, s, a: (z, np.sin(c + z * 0.1)),
             lambda z, c, w, s, a: (np.maximum(z, 0.1 * z), c)]

    def f(x):
        w, seq = x[:n * n].reshape(n, n) * W, x[n * n:].reshape(T, n)
        h, c, ys = x[:n] * 0.5, np.ones(n) * 0.1, []
        for t in range(T):
            z = h
            for o in ops:
                z, c = steps[o](z, c, w, seq[t], X[t])
            h = np.tanh(z)
            ys.append(h[0] * c[1:] if how == 1 else h)
        if how == 0:
            return np.stack(ys)
        if how == 1:
            return np.stack(ys, axis=1).ravel()
        total = 0.0
        for y in ys:
            total = total + np.sum(y * y)
        return total + np.sum(h)
    return f, r.normal(size=n * n + T * n) * 0.5


@pytest.mark.parametrize("seed", range(40))
def test_random_loops_roll_and_compute_the_same_numbers(seed):
    f, x = random_loop(seed)
    _, new = roll(f, x)
    assert new is not None
    (got,) = evaluate(*new, [x])
    np.testing.assert_array_equal(got, f(x))


def long_unrollable_then_short(x):
    h = x
    for _ in range(30):  # rolls
        h = np.tanh(W @ h + 0.1)
    a, b = h, np.sin(h)
    for _ in range(60):  # longer, but each step reads two steps back: not a loop
        a, b = b, np.tanh(W @ a * 0.5 + b * 0.25)
    return b


def test_a_longer_stretch_that_cannot_roll_does_not_stop_a_shorter_one():
    x = np.linspace(-1, 1, 4)
    t, new = roll(long_unrollable_then_short, x)
    assert new is not None
    tape, leaves, outs = new
    assert loops(tape) == 1
    np.testing.assert_array_equal(evaluate(tape, leaves, outs, [x])[0],
                                  long_unrollable_then_short(x))


def test_a_second_loop_over_the_first_ones_rows_is_rolled_too():
    _, (tape, _, _) = roll(two_loops, np.ones(5))
    assert loops(tape) == 2


def test_float32_stays_float32():
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    _, (tape, leaves, outs) = roll(recurrence, x)
    (got,) = evaluate(tape, leaves, outs, [x])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, recurrence(x))


def guarded(x):
    h = x * 2.0 if np.sum(x) > 0 else x  # a guard before the loop
    for _ in range(40):
        h = np.tanh(h * 0.9 + 0.1)
    return h if np.max(h) < 0.99 else -h  # and one after it


def test_guards_around_a_loop_still_read_their_values():
    x = np.linspace(-0.5, 1, 5)
    t, (tape, leaves, outs) = roll(guarded, x)
    assert loops(tape) == 1 and len(tape.guards) == len(t.tape.guards) == 2
    seen = set()
    for y in (x, -x, x * 100):  # each guard holds, or fails, as it does on the unrolled tape
        want, got = [], []
        evaluate(t.tape, t.leaves, t.outs, [y], want)
        evaluate(tape, leaves, outs, [y], got)
        assert got == want
        seen.add(tuple(want))
    assert len(seen) > 1


def inverse_in_a_loop(x):
    a = np.outer(x, x) + 4.0 * np.eye(3)
    for _ in range(70):  # a step of one entry, whose carry the trace sees as a matrix of 0.5s
        a = np.linalg.inv(a)
    return a


def test_a_step_its_ops_refuse_at_example_values_is_left_unrolled():
    t, new = roll(inverse_in_a_loop, np.array([0.1, 0.2, 0.3]))
    assert new is None  # a matrix of 0.5s has no inverse: no error, nothing rolled


def reads_two_back(x):
    a, b = x, np.sin(x)
    for _ in range(40):
        a, b = b, np.tanh(a * 0.5 + b * 0.25)
    return b


def branches(x):
    h = x
    for _ in range(40):
        h = h * 0.9 if np.sum(h) > 0 else h * 1.1  # a guard in every step
        h = np.tanh(h + 0.1)
    return h


def short(x):
    for _ in range(3):
        x = np.tanh(x * 0.5)
    return x


def python_counter(x):
    h = x
    for t in range(40):
        h = np.tanh(h * 0.5 + t)  # a Python int that changes: its weak type would be lost
    return h


@pytest.mark.parametrize("f", [reads_two_back, branches, short, python_counter])
def test_what_does_not_fit_a_loop_is_left_unrolled(f):
    _, new = roll(f, np.linspace(-1, 1, 5))
    assert new is None


# ---------------------------------------------------------------------- compiled whole
def test_a_rolled_loop_runs_whole_with_the_eager_tiers_derivatives():
    rng = np.random.default_rng(3)
    x = rng.normal(size=20 + 4 * 25) * 0.5

    def f(x):
        out, h = rnn(x)
        return np.concatenate([out.ravel(), h])
    want_rev = revad.jacrev(f)(x)
    want_fwd = dualad.jacfwd(f)(x)
    with whole_after(1):
        got_rev = revad.jacrev(f, compiled=True)(x)
        got_fwd = dualad.jacfwd(f, compiled=True)(x)
        # directions in chunks the step's JVP does not divide (it takes 8 a call)
        got_7 = dualad.jacfwd(f, chunk=7, compiled=True)(x)
        V = rng.normal(size=(13, x.size))
        _, jv13 = dualad.jvp(f, (x,), (V,), batched=True, compiled=True)
        out, pull = revad.vjp(f, x, compiled=True)
        u, v = rng.normal(size=out.shape), rng.normal(size=x.shape)
        _, jv = dualad.jvp(f, (x,), (v,), compiled=True)
        before = pull(u)[0]
        np.testing.assert_array_equal(out, f(x))
    np.testing.assert_allclose(got_rev, want_fwd, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_fwd, want_rev, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_7, want_rev, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jv13, V @ want_rev.T, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np.dot(u, jv), np.dot(before, v), rtol=1e-12)
    x = rng.normal(size=x.shape) * 0.5
    e, h = rng.normal(size=x.shape), 1e-6
    fd = (f(x + h * e) - f(x - h * e)) / (2 * h)
    with whole_after(1):
        np.testing.assert_allclose(revad.jacrev(f, compiled=True)(x) @ e, fd,
                                   rtol=1e-6, atol=1e-8)
    programs = [p for ps in compiled(f).programs.values() for p in ps]
    assert programs and all(p.why_python is None and p.whole is not None for p in programs)
    for p in programs:  # one loop, its step compiled once, not cut into blocks
        assert len(re.findall(r"def r\d+step_primal", p.source)) == 1
        assert "def blk" not in p.source
