"""adops.scan and revad.checkpoint: the same derivatives as the plain loop (to the last bit in
the eager tier, where the arithmetic is the same), in every mode and nesting and both tiers; the
recomputation count of the binomial schedule; at most s carries kept; clear errors."""
import numpy as np
import pytest

import adops
import dualad
import revad
from adops.compile import tier
from adops.control import StepBranchChanged, counting, optimal_recomputations

RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 3)) * 0.6
XS = RNG.normal(size=(13, 3))
CHECKPOINTS = [None, 1, 2, 3, "sqrt", "log", 50]


def step(w):
    def f(carry, x):
        h, c = carry["h"], carry["c"]
        h = np.tanh(w @ h + x["a"]) * c[0]
        return {"h": h, "c": (c[0], c[1] + np.sum(h))}, (np.sum(h * h), h * x["b"])
    return f


def scanned(w, T, ck):
    init = {"h": np.zeros(3), "c": (np.array(0.9), np.array(0.0))}
    carry, (s, hs) = adops.scan(step(w), init, {"a": XS[:T], "b": XS[:T] * 0.5}, checkpoints=ck)
    return np.sum(carry["h"]) + carry["c"][1] + np.sum(s) + np.sum(hs)


def looped(w, T):
    carry = {"h": np.zeros(3), "c": (np.array(0.9), np.array(0.0))}
    ss, hss = [], []
    for t in range(T):
        carry, (s, hs) = step(w)(carry, {"a": XS[t], "b": XS[t] * 0.5})
        ss.append(s)
        hss.append(hs)
    return np.sum(carry["h"]) + carry["c"][1] + np.sum(np.stack(ss)) + np.sum(np.stack(hss))


@pytest.mark.parametrize("T", [1, 2, 5, 13])
@pytest.mark.parametrize("ck", CHECKPOINTS)
def test_gradient_is_the_plain_loops_to_the_last_bit(T, ck):
    want = revad.grad(looped)(W, T)
    got = revad.grad(scanned)(W, T, ck)
    assert np.array_equal(got, want)
    assert float(scanned(W, T, ck)) == float(looped(W, T))


def test_gradient_against_finite_differences_and_jax():
    g = revad.grad(scanned)(W, 13, 3)
    eps, fd = 1e-6, np.zeros_like(W)
    for i in np.ndindex(W.shape):
        d = np.zeros_like(W)
        d[i] = eps
        fd[i] = (scanned(W + d, 13, None) - scanned(W - d, 13, None)) / (2 * eps)
    assert np.allclose(g, fd, atol=1e-7)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jloss(w):
        def f(h, x):
            h = jnp.tanh(w @ h + x)
            return h, jnp.sum(h * h)
        h, s = jax.lax.scan(f, jnp.zeros(3), XS)
        return jnp.sum(h) + jnp.sum(s)

    def loss(w):
        h, s = adops.scan(lambda h, x: (np.tanh(w @ h + x), None), np.zeros(3), XS,
                          checkpoints=2)
        hs = adops.scan(lambda h, x: (np.tanh(w @ h + x), np.sum(np.tanh(w @ h + x) ** 2)),
                        np.zeros(3), XS, checkpoints=4)[1]
        return np.sum(h) + np.sum(hs)
    assert np.allclose(revad.grad(loss)(W), np.asarray(jax.grad(jloss)(W)), atol=1e-12)


def test_forward_mode_and_checkpoints_ignored():
    want = revad.jacrev(looped)(W, 13)
    with counting() as stats:
        got = dualad.jacfwd(scanned)(W, 13, 2)
    assert np.allclose(got, want, atol=1e-13)
    assert stats.recomputed == 0


@pytest.mark.parametrize("ck", [None, 2])
def test_second_order_through_a_scan(ck):
    want = revad.hessian(looped)(W, 5)
    assert np.allclose(revad.hessian(scanned)(W, 5, ck), want, atol=1e-12)
    v = RNG.normal(size=W.shape)
    hv = revad.hvp(lambda w: scanned(w, 5, ck), (W,), (v,))
    assert np.allclose(hv, revad.hvp(lambda w: looped(w, 5), (W,), (v,)), atol=1e-12)
    rr = revad.jacrev(lambda w: revad.grad(scanned)(w, 5, ck))(W)
    assert np.allclose(rr, want, atol=1e-12)
    rf = revad.jacrev(lambda w: dualad.jacfwd(scanned)(w, 5, ck))(W)
    assert np.allclose(rf, want, atol=1e-12)


@pytest.mark.parametrize("ck", [None, 1, 2])
def test_nested_scans(ck):
    def nested(w):
        def outer(h, x):
            h, _ = adops.scan(lambda c, _: (np.tanh(w @ c + x), None), h, length=3,
                              checkpoints=ck)
            return h, None
        return np.sum(adops.scan(outer, np.zeros(3), XS[:6], checkpoints=ck)[0])

    def plain(w):
        h = np.zeros(3)
        for x in XS[:6]:
            for _ in range(3):
                h = np.tanh(w @ h + x)
        return np.sum(h)
    # the inner loop sums w's cotangent over its 3 steps before the outer sum adds it: the
    # same terms in another association order, so equal to rounding, not to the bit
    assert np.allclose(revad.grad(nested)(W), revad.grad(plain)(W), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("T,s", [(5, 1), (13, 2), (13, 3), (40, 4), (100, 7)])
def test_recomputations_are_the_optimum_and_at_most_s_carries(T, s):
    xs = RNG.normal(size=(T, 3)) * 0.3

    def loss(w):
        return np.sum(adops.scan(lambda h, x: (np.tanh(w @ h + x), None), np.zeros(3), xs,
                                 checkpoints=s)[0])
    with counting() as stats:
        revad.grad(loss)(W)
    assert stats.recomputed == optimal_recomputations(T, s)
    assert 1 <= stats.peak_snapshots <= s
    assert stats.sweeps == 1


def test_optimum_formula_examples_from_the_issue():
    assert optimal_recomputations(3000, 10) == 13635
    assert optimal_recomputations(3000, 55) == 7347


def test_a_second_sweep_repeats_the_forward_pass():
    out, vjp_fn = revad.vjp(lambda w: adops.scan(
        lambda h, x: (np.tanh(w @ h + x), h), np.zeros(3), XS, checkpoints=2)[1], W)
    u = RNG.normal(size=out.shape)
    first, second = vjp_fn(u)[0], vjp_fn(u)[0]
    assert np.array_equal(first, second)
    jac = revad.jacrev(lambda w: adops.scan(
        lambda h, x: (np.tanh(w @ h + x), None), np.zeros(3), XS, checkpoints=3)[0])(W)
    want = dualad.jacfwd(lambda w: adops.scan(
        lambda h, x: (np.tanh(w @ h + x), None), np.zeros(3), XS)[0])(W)
    assert np.allclose(jac, want, atol=1e-13)


def test_values_length_and_empty_scan():
    carry, ys = adops.scan(lambda c, x: (c + 1.0, c * 2.0), np.zeros(2), length=4)
    assert carry.tolist() == [4.0, 4.0]
    assert ys.tolist() == [[0.0, 0.0], [2.0, 2.0], [4.0, 4.0], [6.0, 6.0]]
    carry, ys = adops.scan(lambda c, x: (c + x, c), np.ones(2), np.zeros((0, 2)))
    assert carry.tolist() == [1.0, 1.0] and ys.shape == (0, 2)


@pytest.mark.parametrize("compiled_ck", [None, 2])
def test_compiled_tier_runs_each_step_compiled(monkeypatch, compiled_ck):
    from adops.control import engine
    calls = {"n": 0}
    linearize = engine.CompiledStep.linearize

    def counted(self, args, where):
        calls["n"] += 1
        return linearize(self, args, where)
    monkeypatch.setattr(engine.CompiledStep, "linearize", counted)

    def loss(w, ck):
        h, s = adops.scan(lambda h, x: (np.tanh(w @ h + x), np.sum(h * h)), np.zeros(3), XS,
                          checkpoints=ck)
        return np.sum(h) + np.sum(s)
    eager = revad.grad(loss)(W, compiled_ck)
    got = revad.grad(loss, compiled=True)(W, compiled_ck)
    assert np.allclose(got, eager, atol=1e-13)
    assert calls["n"] >= len(XS)          # every step went through the compiled step
    with tier(compiled=True):
        plain = revad.grad(loss)(W, None)
        assert np.array_equal(revad.grad(loss)(W, 3), plain)
        assert np.allclose(dualad.jacfwd(loss)(W, 3), plain, atol=1e-13)


# ------------------------------------------------------------------------- revad.checkpoint
def layer(w, h, n=1):
    for _ in range(n):
        h = np.tanh(w @ h)
    return h


def test_checkpoint_changes_no_number_and_recomputes_once():
    ck = revad.checkpoint(layer)
    loss = lambda w: np.sum(ck(w, ck(w, np.ones(3))))       # noqa: E731
    plain = lambda w: np.sum(layer(w, layer(w, np.ones(3))))  # noqa: E731
    with counting() as stats:
        got = revad.grad(loss)(W)
    assert np.array_equal(got, revad.grad(plain)(W))
    assert stats.recomputed == 2
    # w used twice inside one call: its cotangent is summed inside the call first (another
    # association order of the same terms)
    twice = lambda w: np.sum(ck(w, np.ones(3), 2))           # noqa: E731
    want = revad.grad(lambda w: np.sum(layer(w, np.ones(3), 2)))(W)
    assert np.allclose(revad.grad(twice)(W), want, rtol=1e-14, atol=1e-15)
    assert np.allclose(revad.hessian(loss)(W), revad.hessian(plain)(W), atol=1e-12)
    assert np.allclose(dualad.jacfwd(loss)(W), revad.grad(plain)(W), atol=1e-13)


def test_checkpoint_nests_with_itself_and_scan_and_both_tiers():
    inner = revad.checkpoint(layer)
    outer = revad.checkpoint(lambda w, h: inner(w, inner(w, h)))
    loss = lambda w: np.sum(outer(w, np.ones(3)))                  # noqa: E731
    plain = lambda w: np.sum(layer(w, np.ones(3), 2))              # noqa: E731
    assert np.allclose(revad.grad(loss)(W), revad.grad(plain)(W), rtol=1e-14, atol=1e-15)
    in_scan = lambda w: np.sum(adops.scan(lambda h, x: (inner(w, h + x), None), np.zeros(3),  # noqa
                                          XS, checkpoints=2)[0])

    def looped_layers(w):
        h = np.zeros(3)
        for x in XS:
            h = layer(w, h + x)
        return np.sum(h)
    assert np.array_equal(revad.grad(in_scan)(W), revad.grad(looped_layers)(W))
    assert np.allclose(revad.grad(loss, compiled=True)(W), revad.grad(plain)(W), atol=1e-13)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("ck,err,match", [
    (0, ValueError, "at least 1"), (-2, ValueError, "at least 1"),
    (1.5, TypeError, "integer"), (True, TypeError, "integer"),
    ("half", ValueError, "not a known name")])
def test_bad_checkpoints(ck, err, match):
    with pytest.raises(err, match=match):
        adops.scan(lambda c, x: (c + x, None), np.zeros(2), XS[:, :2], checkpoints=ck)


def test_bad_lengths():
    with pytest.raises(ValueError, match="disagrees with xs"):
        adops.scan(lambda c, x: (c + x, None), np.zeros(3), XS, length=4)
    with pytest.raises(ValueError, match="different leading lengths"):
        adops.scan(lambda c, x: (c + x[0], None), np.zeros(3), (XS, XS[:4]))
    with pytest.raises(ValueError, match="give xs or length"):
        adops.scan(lambda c, x: (c, None), np.zeros(3))


def test_carry_that_changes_shape_dtype_or_structure():
    with pytest.raises(TypeError, match="shape \\(3,\\).*shape \\(1, 3\\)"):
        adops.scan(lambda c, x: (c[None] + x, None), np.zeros(3), XS)
    with pytest.raises(TypeError, match="dtype float32.*float64"):
        adops.scan(lambda c, x: (c + x, None), np.zeros(3, np.float32), XS)
    with pytest.raises(TypeError, match="structure"):
        adops.scan(lambda c, x: ((c, c), None), np.zeros(3), XS)


def test_a_step_that_is_not_pure_is_named():
    buf = np.ones(3)
    out, vjp_fn = revad.vjp(lambda w: adops.scan(
        lambda h, x: (np.tanh(w @ h + x) * buf, None), np.zeros(3), XS, checkpoints=2)[0], W)
    buf[:] = 2.0
    with pytest.raises(ValueError, match="recomputing step \\d+ .*not pure"):
        vjp_fn(np.ones(3))


def test_a_branch_that_changes_between_steps_is_named():
    def f(c, x):
        return (c + x if np.sum(c) < 1.0 else c - x), None
    with pytest.raises(StepBranchChanged, match="np.where"):
        adops.scan(f, np.zeros(1), np.ones((4, 1)))


@pytest.mark.parametrize("ck", [None, 3])
def test_gradient_with_respect_to_init_and_xs(ck):
    def loss(init, xs):
        h, ys = adops.scan(lambda h, x: (np.tanh(W @ h + x), h * x), init, xs, checkpoints=ck)
        return np.sum(h) + np.sum(ys)

    def plain(init, xs):
        h, ys = init, []
        for x in xs:
            ys.append(h * x)
            h = np.tanh(W @ h + x)
        return np.sum(h) + np.sum(np.stack(ys))
    init = RNG.normal(size=3)
    got = revad.grad(loss, argnums=(0, 1))(init, XS)
    want = revad.grad(plain, argnums=(0, 1))(init, XS)
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    jf = dualad.jacfwd(loss, argnums=1)(init, XS)
    assert np.allclose(jf, want[1], atol=1e-13)


def test_second_order_through_a_scan_compiled():
    def loss(w):
        h, s = adops.scan(lambda h, x: (np.tanh(w @ h + x), np.sum(h * h)), np.zeros(3),
                          XS[:5], checkpoints=2)
        return np.sum(h) + np.sum(s)
    want = revad.hessian(loss)(W)
    assert np.allclose(revad.hessian(loss, compiled=True)(W), want, atol=1e-12)
    v = RNG.normal(size=W.shape)
    assert np.allclose(revad.hvp(loss, (W,), (v,), compiled=True),
                       np.tensordot(want, v, axes=2), atol=1e-12)


def test_a_checkpointed_function_that_is_not_pure_is_named():
    buf = np.ones(3)
    block = revad.checkpoint(lambda w, h: np.tanh(w @ h) * buf)
    out, vjp_fn = revad.vjp(lambda w: block(w, np.ones(3)), W)
    buf[:] = 2.0
    with pytest.raises(ValueError, match="checkpoint.*not pure"):
        vjp_fn(np.ones(3))


def test_an_inner_scan_is_not_compiled_in_the_eager_tier(monkeypatch):
    from adops.control import engine

    def refuse(self, program):
        raise AssertionError("a step was compiled in the eager tier")
    monkeypatch.setattr(engine.CompiledStep, "__init__", refuse)

    def nested(w):
        def outer(h, x):
            return adops.scan(lambda c, _: (np.tanh(w @ c + x), None), h, length=2)[0], None
        return np.sum(adops.scan(outer, np.zeros(3), XS[:3], checkpoints=1)[0])
    assert np.isfinite(revad.grad(nested)(W)).all()
    inner = revad.checkpoint(layer)
    assert np.isfinite(revad.grad(lambda w: np.sum(adops.scan(
        lambda h, x: (inner(w, h + x), None), np.zeros(3), XS[:3])[0]))(W)).all()


@pytest.mark.parametrize("ck", [None, 4])
def test_forward_mode_keeps_nothing(ck):
    from compare.common.timing import peak_bytes
    xs = RNG.normal(size=(400, 8)) * 0.3
    w = RNG.normal(size=(8, 8)) * 0.3

    def loss(w0):
        return np.sum(adops.scan(lambda h, x: (np.tanh(w0 @ h + x), None), np.zeros(8), xs,
                                 checkpoints=ck)[0])
    v = np.ones_like(w)
    short = lambda: dualad.jvp(loss, (w,), (v,))                      # noqa: E731
    short()
    with counting() as stats:
        peak = peak_bytes(short)
    assert stats.recomputed == 0
    # a step's linearization kept per step would take 400 x (8 x 8 x 8 bytes) at least
    assert peak < 400 * 8 * 8 * 8 / 4
