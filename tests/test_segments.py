"""Long whole programs cut into numba functions of bounded size (adops.compile.segments): the
cut entry computes what the uncut one does, an unrolled loop's blocks are one function, and a
long traced program runs whole in both modes with the derivatives of the eager tier.

The first tests run the cutter on generated text as plain Python (no numba); the last compiles
one long program (an RNN unrolled over 24 steps, some 150 steps of the program) and checks it
against the eager tier's other mode, finite differences and the dot-product identity."""
import ast
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import dualad
import revad
from adops.compile import compiled, segments, whole_after
from adops.compile.formbase import Tables
from adops.compile.whole import LONG_STEPS


def _unrolled(T):
    """An entry of ``T`` repeated bodies, a table read in each, a value carried through, an
    accumulator and a scratch counter (the shapes of generated code)."""
    lines = ["def primal(V, IX, W8):", "    o8 = 0", "    v0 = V[0]", "    acc = v0 * 0.0",
             "    w = v0 * 0.5"]
    h = "v0"
    for t in range(T):
        a, b, c = f"v{3 * t + 1}", f"v{3 * t + 2}", f"v{3 * t + 3}"
        lines += [f"    {a} = np.tanh({h} * W8[IX[{2 * t}]] + IX[{2 * t + 1}]) * w",
                  f"    o8 += IX[{2 * t + 1}]",
                  f"    {b} = {a} * 2.0",
                  f"    acc += {b}",
                  # two values carried from one statement: their order in a call is the
                  # block's, whatever the order of a set of names
                  f"    {c}, w{t} = {b} - {a}, {a} * 0.5 + 0.5"]
        h = c
        lines[-5] = lines[-5].replace(" * w", f" * w{t - 1}") if t else lines[-5]
    lines.append(f"    return (acc, {h}, o8)")
    return "\n".join(lines) + "\n"


def _run(text, V, IX, W8):
    scope = {"np": np}
    exec(text, scope)
    return scope["primal"](V, IX, W8)


def _split(text, IX):
    tables = Tables()
    tables.slots = list(IX)
    out = segments.Segmenter("", {}, tables).split(text)
    return out, np.array(tables.slots, dtype=np.int64)


@pytest.mark.parametrize("T", [30, 61, 200])
def test_a_cut_entry_computes_what_the_uncut_one_does(T):
    rng = np.random.default_rng(T)
    IX = rng.integers(0, 4, size=2 * T)
    W8 = rng.normal(size=4)
    V = (rng.normal(size=5),)
    text = _unrolled(T)
    cut, IX2 = _split(text, IX)
    want = _run(text, V, IX, W8)
    got = _run(cut, V, IX2, W8)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
    entry = cut[cut.index("def primal"):]
    assert len(ast.parse(entry).body[0].body) <= segments.TOP
    # the repeated body is one function, however many times the loop ran
    assert cut.count("def blk") <= 4


def test_the_cut_text_is_the_same_in_every_process():
    """Generated text names its file in the disk cache: it must not depend on the order of a
    set of strings (which Python's hash seed changes between processes)."""
    code = ("import hashlib, sys; sys.path.insert(0, sys.argv[1]); import test_segments as t; "
            "print(hashlib.sha1(t._split(t._unrolled(60), [1] * 120)[0].encode()).hexdigest())")
    texts = {subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)],
                            env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True,
                            text=True, check=True).stdout for seed in ("1", "2", "3")}
    assert len(texts) == 1


def test_a_program_without_repeats_is_cut_into_bounded_blocks():
    lines = ["def primal(V, IX, W8):", "    x0 = V[0]"]
    for i in range(1, 600):  # every statement differs in shape from its neighbours
        lines.append(f"    x{i} = x{i - 1} * 0.{i % 7 + 1} + np.sin(x{max(0, i - 1 - i % 5)})"
                     + " * 0.5" * (i % 3))
    lines.append("    return (x599,)")
    text = "\n".join(lines) + "\n"
    V = (np.linspace(-1, 1, 4),)
    cut, IX2 = _split(text, [])
    np.testing.assert_array_equal(_run(cut, V, IX2, None)[0], _run(text, V, [], None)[0])
    blocks = [n for n in ast.parse(cut).body if n.name.startswith("blk")]
    assert blocks and max(len(b.body) for b in blocks) <= segments.BLOCK + 1


def test_a_statement_that_returns_stays_in_the_entry():
    text = _unrolled(40).replace("    o8 += IX[7]\n", "    if o8 > 10 ** 9:\n"
                                 "        return (acc, v0, o8)\n    o8 += IX[7]\n")
    cut, _ = _split(text, np.zeros(80, dtype=np.int64))
    for fn in ast.parse(cut).body:
        if fn.name.startswith("blk"):
            assert not any(isinstance(n, ast.Return) for stmt in fn.body[:-1]
                           for n in ast.walk(stmt))


# ------------------------------------------------------------------ a long program, compiled
STEPS = 24


def rnn_unrolled(x):
    """A recurrent net written as a Python loop: the trace holds every step. Each step reads
    the state of two steps back, so the loop is not rolled (:mod:`adops.compile.rolling`) and
    the long program is cut into blocks."""
    w = x[:16].reshape(4, 4)
    h = back = x[16:20]
    seq = x[20:].reshape(STEPS, 4)
    out = []
    for t in range(STEPS):
        h, back = np.tanh(w @ h + seq[t] + 0.1 * back) * 0.9, h
        out.append(h[0] * h[1])
    return np.stack(out)


def _programs(f):
    return [p for ps in compiled(f).programs.values() for p in ps]


def test_an_unrolled_loop_runs_whole_with_the_eager_tiers_derivatives():
    rng = np.random.default_rng(3)
    x = rng.normal(size=20 + 4 * STEPS) * 0.4
    want_rev = revad.jacrev(rnn_unrolled)(x)
    want_fwd = dualad.jacfwd(rnn_unrolled)(x)
    with whole_after(1):
        got_rev = revad.jacrev(rnn_unrolled, compiled=True)(x)
        got_fwd = dualad.jacfwd(rnn_unrolled, compiled=True)(x)
        out, pull = revad.vjp(rnn_unrolled, x, compiled=True)
        u, v = rng.normal(size=out.shape), rng.normal(size=x.shape)
        _, jv = dualad.jvp(rnn_unrolled, (x,), (v,), compiled=True)
        before = pull(u)[0]
        x[:] = 0.0  # the pullback keeps the inputs it was made at, not the caller's array
        after = pull(u)[0]
    np.testing.assert_allclose(got_rev, want_fwd, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_fwd, want_rev, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(after, before)
    np.testing.assert_allclose(np.dot(u, jv), np.dot(before, v), rtol=1e-12)
    x = rng.normal(size=20 + 4 * STEPS) * 0.4
    e, h = rng.normal(size=x.shape), 1e-6
    fd = (rnn_unrolled(x + h * e) - rnn_unrolled(x - h * e)) / (2 * h)
    with whole_after(1):
        np.testing.assert_allclose(revad.jacrev(rnn_unrolled, compiled=True)(x) @ e, fd,
                                   rtol=1e-6, atol=1e-8)
    programs = _programs(rnn_unrolled)
    assert programs and all(p.why_python is None for p in programs)
    (program,) = programs
    assert program.whole is not None and len(program.trace.tape.ops) > LONG_STEPS
    # the 24 steps run a few block functions, each called for several steps, not 24 copies
    # of the step per entry
    defined = program.source.count("def blk")
    called = len(re.findall(r"(?<!def )\bblk\d+\(", program.source))
    assert 0 < defined and called >= 2 * defined
