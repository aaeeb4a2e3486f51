"""adops.scan inside one numba function per derivative (adops.compile.loopforms): the loop runs
in numba, calling the step's traced maps once per step (never unrolled). Checked against the
other mode of the eager tier (whose scan is checked against the unrolled loop and finite
differences in test_scan.py), the value against numpy's bits, and the program must have run
whole. Loops the form does not take (checkpoints, a branching step, a scan in a scan's step)
keep the Python driver and its numbers.

numba compiles each whole program for several seconds on a cold cache: few programs, each
serving several checks."""
import numpy as np
import pytest

import adops
import dualad
import revad
from adops.compile import compiled, whole_after


def rnn(x):
    """A tree carry (one leaf a constant init), closed-over traced weights, ys a dict."""
    w = x[:9].reshape(3, 3)

    def step(c, xi):
        h = np.tanh(w @ c["h"] + xi)
        return {"h": h, "s": c["s"] + h.sum()}, {"y": h * 2.0, "z": np.sum(h ** 2)}
    c, ys = adops.scan(step, {"h": x[9:12], "s": np.zeros(())}, x[12:].reshape(4, 3))
    return np.concatenate([c["h"], c["s"][None], ys["y"].ravel(), ys["z"]])


def no_xs32(x):
    """No xs (length only), no y, float32 throughout."""
    c, _ = adops.scan(lambda c, _: (np.sin(c) * x[0] + np.float32(0.5), None), x[1:4],
                      length=5)
    return c


def _programs(f):
    return [p for ps in compiled(f).programs.values() for p in ps]


def test_a_scan_runs_inside_the_whole_program_in_both_modes():
    x = np.random.default_rng(0).normal(size=24) * 0.5
    want = dualad.jacfwd(rnn)(x)
    with whole_after(1):
        np.testing.assert_allclose(revad.jacrev(rnn, compiled=True)(x), want,
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dualad.jacfwd(rnn, compiled=True)(x),
                                   revad.jacrev(rnn)(x), rtol=1e-12, atol=1e-14)
        out, pull = revad.vjp(rnn, x, compiled=True)
        np.testing.assert_array_equal(out, rnn(x))
        u = np.random.default_rng(1).normal(size=out.shape)
        v = np.random.default_rng(2).normal(size=x.shape)
        _, jv = dualad.jvp(rnn, (x,), (v,), compiled=True)
        # the dot-product identity on the compiled maps: <u, J v> = <J^T u, v>
        np.testing.assert_allclose(np.dot(u, jv), np.dot(pull(u)[0], v), rtol=1e-12)
    (program,) = _programs(rnn)
    assert program.why_python is None
    # a loop over the steps inside numba, not the steps unrolled
    assert "for q" in program.source and program.source.count("tanh") <= 6


def test_float32_with_length_only_stays_float32():
    x = np.array([0.7, 0.1, -0.4, 0.9], dtype=np.float32)
    with whole_after(1):
        got = revad.jacrev(no_xs32, compiled=True)(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, dualad.jacfwd(no_xs32)(x), rtol=1e-5, atol=1e-6)
    assert all(p.why_python is None for p in _programs(no_xs32))


def _checkpointed(x):
    c, ys = adops.scan(lambda c, xi: (np.cos(c) * xi, c), x[:3], x[3:].reshape(-1, 3),
                       checkpoints=2)
    return ys.ravel()


def _branching(x):
    def step(c, xi):
        return (c * xi if xi[0] > -10 else c), c.sum()
    return adops.scan(step, x[:3], x[3:].reshape(-1, 3))[1]


def _nested(x):
    def outer(c, xi):
        inner, _ = adops.scan(lambda d, _: (np.sin(d) + xi, None), c, length=2)
        return inner, None
    return adops.scan(outer, x[:3], x[3:].reshape(-1, 3))[0]


@pytest.mark.parametrize("f, why", [(_checkpointed, "checkpoints"), (_branching, "branches"),
                                    (_nested, "scan in a scan")])
def test_loops_the_form_does_not_take_keep_the_python_driver(f, why):
    x = np.random.default_rng(3).normal(size=15) * 0.5
    with whole_after(1):
        np.testing.assert_allclose(revad.jacrev(f, compiled=True)(x), dualad.jacfwd(f)(x),
                                   rtol=1e-12, atol=1e-14)
    (program,) = _programs(f)
    assert why in program.why_python
