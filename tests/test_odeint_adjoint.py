"""odeint(..., adjoint=True) (issue 20, part 3): the continuous adjoint method in reverse mode.
Its gradients against differentiating the accepted steps (adjoint=False, to the solver's
tolerance), closed forms and central finite differences of scipy's odeint, with respect to y0,
args and t; the dot-product identity between jacrev and jacfwd; reverse mode's tape flat in the
number of steps; clear refusals (second order, closures, nested args)."""
import numpy as np
import pytest
import scipy.integrate as si

import dualad
import revad
from adops.scipy.integrate import odeint
from revad.var import Trace
from test_odeint import (BIAS, K, LV0, T, TL, TN, W, Y0, central, decay,  # the problems
                         lotka_volterra, neural)

TOL = dict(rtol=1e-10, atol=1e-10)


def both(f_of_adjoint, args, argnums, jac=revad.jacrev):
    """The Jacobians with adjoint=True and adjoint=False."""
    return [jac(f_of_adjoint(adj), argnums=argnums)(*args) for adj in (True, False)]


def assert_close_all(a, b, rtol, atol):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ exponential decay
def test_decay_against_closed_form_and_the_discrete_adjoint():
    def last(adj):
        return lambda y0, k, t: odeint(decay, y0, t, args=(k,), adjoint=adj, **TOL)[-1]
    cont, disc = both(last, (Y0, K, T), (0, 1, 2))
    yT = Y0 * np.exp(-K * (T[-1] - T[0]))
    want_t = np.zeros((3, len(T)))
    want_t[:, 0], want_t[:, -1] = K * yT, -K * yT
    want = (np.diag(yT / Y0), np.diag(-(T[-1] - T[0]) * yT), want_t)
    assert_close_all(cont, want, rtol=1e-8, atol=1e-10)
    assert_close_all(cont, disc, rtol=1e-6, atol=1e-9)
    # intermediate output times: exactly 0 in the continuous adjoint
    assert np.all(cont[2][:, 1:-1] == 0.0)


def test_values_and_every_output_time_are_seeded():
    f = lambda y0, k: odeint(decay, y0, T, args=(k,), adjoint=True, **TOL)  # noqa: E731
    out, pullback = revad.vjp(f, Y0, K)
    np.testing.assert_allclose(out, Y0 * np.exp(-np.outer(T, K)), rtol=1e-9)
    u = np.random.default_rng(0).normal(size=out.shape)
    gy0, gk = pullback(u)
    e = np.exp(-np.outer(T, K))
    np.testing.assert_allclose(gy0, np.sum(u * e, axis=0), rtol=1e-8)
    np.testing.assert_allclose(gk, np.sum(u * -T[:, None] * Y0 * e, axis=0), rtol=1e-8)


def test_time_dependent_func_t_gradients_against_finite_differences():
    """A non-autonomous f: t[0]'s cotangent -a(t0).f(y0, t0) holds there too."""
    f = lambda y, t, k: -k * y + np.sin(3.0 * t)  # noqa: E731
    ts = np.array([0.2, 0.9, 1.7])
    loss = lambda t, adj=True: np.sum(odeint(f, Y0, t, args=(K,), adjoint=adj, **TOL) ** 2)  # noqa
    g = revad.grad(loss)(ts)
    ref = lambda t: np.sum(si.odeint(f, Y0, t, args=(K,), rtol=1e-12, atol=1e-12) ** 2)  # noqa
    np.testing.assert_allclose(g, central(ref, ts, 1e-6), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g, revad.grad(lambda t: loss(t, False))(ts), rtol=1e-6)


# ------------------------------------------------------------------ Lotka-Volterra
P = np.array([1.0, 0.1, 1.5, 0.075])


def lv(adj):
    return lambda y0, p, t: odeint(lotka_volterra, y0, t, args=tuple(p[i] for i in range(4)),
                                   adjoint=adj, **TOL)[-1]


def test_lotka_volterra_against_the_discrete_adjoint_and_finite_differences():
    cont, disc = both(lv, (LV0, P, TL), (0, 1, 2))
    assert_close_all(cont, disc, rtol=1e-6, atol=1e-7)
    ref = lambda y0, p, t: si.odeint(lotka_volterra, y0, t, args=tuple(p), rtol=1e-12,  # noqa
                                     atol=1e-12)[-1]
    fds = (central(lambda y0: ref(y0, P, TL), LV0, 1e-4),
           central(lambda p: ref(LV0, p, TL), P, 1e-6),
           central(lambda t: ref(LV0, P, t), TL, 1e-6))
    assert_close_all(cont[:2], fds[:2], rtol=1e-5, atol=1e-5)
    # t: the end points; the intermediate times are 0 in truth (scipy's differences: noise)
    np.testing.assert_allclose(cont[2][:, [0, -1]], fds[2][:, [0, -1]], rtol=1e-5)
    np.testing.assert_allclose(cont[2][:, 1:-1], 0.0, atol=0.0)
    np.testing.assert_allclose(fds[2][:, 1:-1], 0.0, atol=1e-4)


def test_dot_product_identity_jacrev_against_jacfwd():
    """jacrev (the adjoint op) and jacfwd (forward mode: the replay) give one Jacobian, and
    <u, J v> = <J^T u, v> across the two modes."""
    f = lambda y0: odeint(lotka_volterra, y0, TL, args=tuple(P), adjoint=True, **TOL)  # noqa
    jr, jf = revad.jacrev(f)(LV0), dualad.jacfwd(f)(LV0)
    np.testing.assert_allclose(jr, jf, rtol=1e-6, atol=1e-7)
    rng = np.random.default_rng(3)
    v, u = rng.normal(size=2), rng.normal(size=(len(TL), 2))
    jv = dualad.jvp(f, (LV0,), (v,))[1]
    (jtu,) = revad.vjp(f, LV0)[1](u)
    assert np.sum(u * jv) == pytest.approx(np.dot(jtu, v), rel=1e-6)


# ------------------------------------------------------------------ a small neural ODE


def test_neural_ode_against_the_discrete_adjoint_and_finite_differences():
    def loss(adj):
        return lambda y0, w, b, t: np.sum(odeint(neural, y0, t, args=(w, b), adjoint=adj,
                                                 **TOL)[1:] ** 2)
    cont, disc = both(loss, (Y0, W, BIAS, TN), (0, 1, 2, 3), jac=revad.grad)
    assert_close_all(cont, disc, rtol=1e-6, atol=1e-8)
    ref = lambda y0, w, b, t: np.sum(si.odeint(neural, y0, t, args=(w, b), rtol=1e-12,  # noqa
                                               atol=1e-12)[1:] ** 2)
    fds = (central(lambda y0: ref(y0, W, BIAS, TN), Y0, 1e-5),
           central(lambda w: ref(Y0, w, BIAS, TN), W, 1e-5),
           central(lambda b: ref(Y0, W, b, TN), BIAS, 1e-5),
           central(lambda t: ref(Y0, W, BIAS, t), TN, 1e-6))
    assert_close_all(cont, fds, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ memory
def oscillator(y, t, w):
    return np.stack([y[1], -w * w * y[0]])


def test_reverse_mode_memory_is_flat_in_the_number_of_steps():
    """adjoint=True: one tape entry for the solve, its residuals the output times' states, the
    same for 10x the steps; adjoint=False: the tape grows with the accepted steps."""
    y0, w = np.array([1.0, 0.0]), np.array(2.0)
    tapes = {}
    for adj in (True, False):
        for span in (2.0, 20.0):
            t = np.linspace(0.0, span, 4)
            f = lambda y0, w: np.sum(odeint(oscillator, y0, t, args=(w,), adjoint=adj,  # noqa
                                            **TOL)[-1])
            tapes[adj, span] = Trace(f, (y0, w), {}, (0, 1), "memory test").tape
    steps = [odeint(oscillator, y0, np.linspace(0.0, s, 4), args=(w,), full_output=True,
                    **TOL)[1]["nst"][-1] for s in (2.0, 20.0)]
    assert steps[1] > 5 * steps[0]
    short, long = tapes[True, 2.0], tapes[True, 20.0]
    assert len(short) == len(long) and short.nbytes == long.nbytes
    assert long.nbytes <= 8 * (4 * 2 + 2 + 4 + 1) * 2  # O(len(t) * y0.size): ys and inputs
    assert len(tapes[False, 20.0]) > 5 * len(tapes[False, 2.0]) > 100 * len(long)
    # and the gradient of the long integration still agrees with the discrete adjoint
    t = np.linspace(0.0, 20.0, 4)
    g = [revad.grad(lambda w: np.sum(odeint(oscillator, y0, t, args=(w,), adjoint=adj,  # noqa
                                           **TOL)[-1]))(w) for adj in (True, False)]
    np.testing.assert_allclose(g[0], g[1], rtol=1e-6)


# ------------------------------------------------------------------ modes, replay, errors
def test_forward_mode_takes_the_replay_and_record_resolves_at_a_new_input():
    f = lambda k, adj=True: np.sum(odeint(decay, Y0, T, args=(k,), adjoint=adj, **TOL)[-1])  # noqa
    np.testing.assert_allclose(dualad.jacfwd(f)(K), dualad.jacfwd(lambda k: f(k, False))(K),
                               rtol=1e-12)
    rec = revad.record(f, K)  # one op: a replay solves again, no step grid to guard
    for k in (K, 3.0 * K):
        np.testing.assert_allclose(rec.grad(k), -T[-1] * Y0 * np.exp(-k * T[-1]), rtol=1e-6)


def test_second_order_is_refused_naming_adjoint_false():
    f = lambda k: np.sum(odeint(decay, Y0, T, args=(k,), adjoint=True)[-1])  # noqa: E731
    with pytest.raises(NotImplementedError, match="adjoint=False"):
        revad.hessian(f)(K)
    with pytest.raises(NotImplementedError, match="adjoint=False"):
        revad.grad(lambda k: np.sum(dualad.jacfwd(f)(k)))(K)


def test_closures_and_nested_args_are_refused():
    with pytest.raises(ValueError, match="closes over a traced value.*args"):
        revad.grad(lambda k: np.sum(odeint(lambda y, t: -k * y, Y0, T, adjoint=True)))(K)
    with pytest.raises(TypeError, match="adjoint must be True or False"):
        odeint(decay, Y0, T, args=(K,), adjoint="yes")
    with pytest.raises(ValueError, match=r"args\[0\] holds traced values inside a list"):
        revad.grad(lambda k: np.sum(odeint(lambda y, t, ks: -ks[0] * y, Y0, T, args=([k],),
                                           adjoint=True)))(K)


def test_the_ops_jvp_is_the_transpose_of_its_vjp_and_options_carry_over():
    """The op's own jvp (what tools pushing tangents through reverse mode's tape read) against
    its vjp: the dot-product identity; tfirst and a matrix state go through the adjoint too."""
    from adops.scipy.ode_adjoint import ADJOINT
    f = lambda y0, k: odeint(decay, y0, T, args=(k,), adjoint=True, **TOL)  # noqa: E731
    tape = Trace(f, (Y0, K), {}, (0, 1), "jvp test").tape
    (lin,) = [lin for op, lin in zip(tape.ops, tape.lins) if op is ADJOINT]
    rng = np.random.default_rng(5)
    vy, vk, u = rng.normal(size=(1, 3)), rng.normal(size=(1, 3)), rng.normal(size=(1, 5, 3))
    jv = lin.jvp([vy, None, vk])
    bars = lin.vjp(u)
    assert np.sum(u * jv) == pytest.approx(np.sum(bars[0] * vy) + np.sum(bars[2] * vk), rel=1e-9)
    tf = lambda k: np.sum(odeint(lambda t, y, k: -k * y, np.ones((2, 2)), T, args=(k,),  # noqa
                                 tfirst=True, adjoint=True, **TOL)[-1])
    np.testing.assert_allclose(revad.grad(tf)(np.array(0.7)), -4 * T[-1] * np.exp(-0.7 * T[-1]),
                               rtol=1e-8)
