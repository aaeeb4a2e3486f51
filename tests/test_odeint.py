"""adops.scipy.integrate.odeint (issue 20): values against closed forms and scipy's LSODA;
derivatives with respect to y0, args and t in both modes against closed forms and central
finite differences of scipy.integrate.odeint (an independent solver), the modes against each
other and the dot-product identity; second order; clear errors on failure."""
import numpy as np
import pytest
import scipy.integrate as si

import dualad
import revad
from adops.scipy.integrate import ODEintError, odeint
from adops.program import BranchChanged

T = np.linspace(0.0, 2.0, 5)
Y0 = np.array([1.0, 2.0, -0.5])
K = np.array([0.5, 1.5, 0.8])


def decay(y, t, k):
    return -k * y


def exact(y0, t, k):
    return y0 * np.exp(-np.outer(t - t[0], k))


# ------------------------------------------------------------------ exponential decay
def test_decay_values_match_closed_form():
    np.testing.assert_allclose(odeint(decay, Y0, T, args=(K,)), exact(Y0, T, K), rtol=1e-7)
    for y in (dualad.jvp(lambda y0: odeint(decay, y0, T, args=(K,)), (Y0,), (Y0,))[0],
              revad.vjp(lambda y0: odeint(decay, y0, T, args=(K,)), Y0)[0]):
        np.testing.assert_allclose(y, exact(Y0, T, K), rtol=1e-7)


def test_decay_derivatives_match_closed_form_in_both_modes():
    yT = exact(Y0, T, K)[-1]
    span = T[-1] - T[0]
    last = lambda y0, k, t: odeint(decay, y0, t, args=(k,))[-1]  # noqa: E731
    for jac in (dualad.jacfwd, revad.jacrev):
        jy0, jk, jt = jac(last, argnums=(0, 1, 2))(Y0, K, T)
        np.testing.assert_allclose(jy0, np.diag(yT / Y0), rtol=1e-6)
        np.testing.assert_allclose(jk, np.diag(-span * yT), rtol=1e-6)
        want_t = np.zeros((3, len(T)))
        want_t[:, 0], want_t[:, -1] = K * yT, -K * yT    # y(T) = y0 exp(-k (T - t0))
        # intermediate output times: 0 in truth, the solver's tolerance here
        np.testing.assert_allclose(jt, want_t, rtol=1e-6, atol=1e-7)


def test_decay_second_order():
    """d2/dk2 of y0 exp(-k T) is T^2 y0 exp(-k T); d2/dk dy0 is -T exp(-k T)."""
    f = lambda k: np.sum(odeint(decay, Y0, T, args=(k,))[-1])  # noqa: E731
    h = revad.hessian(f)(K)
    np.testing.assert_allclose(h, np.diag(T[-1] ** 2 * exact(Y0, T, K)[-1]), rtol=1e-5,
                               atol=1e-9)
    g = lambda y0, k: np.sum(odeint(decay, y0, T, args=(k,))[-1])  # noqa: E731
    mixed = dualad.jacfwd(revad.grad(g, argnums=1), argnums=0)(Y0, K)
    np.testing.assert_allclose(mixed, np.diag(-T[-1] * np.exp(-K * T[-1])), rtol=1e-5)


# ------------------------------------------------------------------ Lotka-Volterra
P = (1.0, 0.1, 1.5, 0.075)
LV0 = np.array([10.0, 5.0])
TL = np.linspace(0.0, 6.0, 7)


def lotka_volterra(y, t, a, b, c, d):
    return [a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]]  # a list, as scipy users do


def lv_scipy(y0, params, t=TL):
    return si.odeint(lotka_volterra, y0, t, args=tuple(params), rtol=1e-12, atol=1e-12)


def central(f, x, h):
    cols = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        cols.append((f(x + e.reshape(x.shape)) - f(x - e.reshape(x.shape))) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(cols[0]) + x.shape)


def test_lotka_volterra_values_match_scipy():
    ours = odeint(lotka_volterra, LV0, TL, args=P)
    np.testing.assert_allclose(ours, lv_scipy(LV0, P), rtol=2e-7)
    tight = odeint(lotka_volterra, LV0, TL, args=P, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(tight, lv_scipy(LV0, P), rtol=1e-9)


def test_lotka_volterra_derivatives_against_finite_differences_of_scipy():
    params = np.array(P)
    f = lambda y0, p: odeint(lotka_volterra, y0, TL, args=tuple(p[i] for i in range(4)),  # noqa
                             rtol=1e-10, atol=1e-10)[-1]
    jf = dualad.jacfwd(f, argnums=(0, 1))(LV0, params)
    jr = revad.jacrev(f, argnums=(0, 1))(LV0, params)
    for a, b in zip(jf, jr):  # the same discrete program, differentiated two ways
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    fd_y0 = central(lambda y0: lv_scipy(y0, P)[-1], LV0, 1e-4)
    fd_p = central(lambda p: lv_scipy(LV0, p)[-1], params, 1e-6)
    np.testing.assert_allclose(jf[0], fd_y0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jf[1], fd_p, rtol=1e-5, atol=1e-5)


def test_lotka_volterra_dot_product_identity():
    """<u, J v> from forward mode equals <J^T u, v> from reverse mode, over all outputs."""
    rng = np.random.default_rng(3)
    f = lambda y0: odeint(lotka_volterra, y0, TL, args=P)  # noqa: E731
    v = rng.normal(size=2)
    u = rng.normal(size=(len(TL), 2))
    jv = dualad.jvp(f, (LV0,), (v,))[1]
    out, pullback = revad.vjp(f, LV0)
    (jtu,) = pullback(u)
    assert np.sum(u * jv) == pytest.approx(np.dot(jtu, v), rel=1e-10)


# ------------------------------------------------------------------ a small neural ODE
rng = np.random.default_rng(7)
W = rng.normal(size=(3, 3)) * 0.6
BIAS = rng.normal(size=3) * 0.3
TN = np.array([0.0, 0.5, 1.5])


def neural(y, t, w, b):
    return np.tanh(w @ y + b)


def test_neural_ode_gradients_against_finite_differences_of_scipy():
    loss = lambda y0, w, b: np.sum(odeint(neural, y0, TN, args=(w, b),  # noqa: E731
                                          rtol=1e-10, atol=1e-10)[1:] ** 2)
    ref = lambda y0, w, b: np.sum(si.odeint(neural, y0, TN, args=(w, b),  # noqa: E731
                                            rtol=1e-12, atol=1e-12)[1:] ** 2)
    gr = revad.grad(loss, argnums=(0, 1, 2))(Y0, W, BIAS)
    gf = dualad.jacfwd(loss, argnums=(0, 1, 2))(Y0, W, BIAS)
    for a, b in zip(gr, gf):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    fds = [central(lambda y0: ref(y0, W, BIAS), Y0, 1e-5),
           central(lambda w: ref(Y0, w, BIAS), W, 1e-5),
           central(lambda b: ref(Y0, W, b), BIAS, 1e-5)]
    for g, fd in zip(gr, fds):
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_neural_ode_hessian_against_differenced_gradients():
    loss = lambda b: np.sum(odeint(neural, Y0, TN, args=(W, b), rtol=1e-10,  # noqa: E731
                                   atol=1e-10)[-1] ** 2)
    h = revad.hessian(loss)(BIAS)
    g = revad.grad(loss)
    fd = central(g, BIAS, 1e-5)
    np.testing.assert_allclose(h, fd, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ options and errors
def test_signature_options():
    back = odeint(decay, Y0, T[::-1], args=(K,))  # decreasing t
    np.testing.assert_allclose(back, Y0 * np.exp(-np.outer(T[::-1] - T[-1], K)), rtol=1e-7)
    tf = odeint(lambda t, y, k: -k * y, Y0, T, args=(K,), tfirst=True)
    np.testing.assert_allclose(tf, exact(Y0, T, K), rtol=1e-7)
    y, info = odeint(decay, Y0, T, args=(K,), full_output=True)
    assert info["nst"][-1] > 0 and info["nfe"] > info["nst"][-1] and len(info["nst"]) == len(T)
    matrix = odeint(lambda y, t: -y, np.ones((2, 2)), T)
    assert matrix.shape == (len(T), 2, 2)
    np.testing.assert_allclose(matrix[-1], np.exp(-2.0) * np.ones((2, 2)), rtol=1e-7)
    repeated = odeint(decay, Y0, np.array([0.0, 1.0, 1.0, 2.0]), args=(K,))
    np.testing.assert_array_equal(repeated[1], repeated[2])


def test_mxstep_exceeded_is_an_error_with_time_and_step():
    stiff = lambda y, t: -1e6 * (y - np.cos(t))  # noqa: E731
    with pytest.raises(ODEintError, match=r"mxstep=50 .*stopped at t=[0-9.e-]+ with step size"):
        odeint(stiff, np.array([0.0]), np.array([0.0, 1.0]), mxstep=50)
    with pytest.raises(ODEintError, match="mxstep"):  # also under a transform
        revad.grad(lambda y0: odeint(stiff, y0, np.array([0.0, 1.0]), mxstep=50)[-1, 0])(
            np.array([0.0]))


def test_blow_up_is_an_error_not_a_truncated_result():
    """y' = y^2, y(0) = 1 blows up at t = 1."""
    with pytest.raises(ODEintError, match=r"underflow at t=(0\.99|1\.00)") as info:
        odeint(lambda y, t: y * y, np.array([1.0]), np.array([0.0, 2.0]), mxstep=100000)
    assert "step size" in str(info.value)


def test_bad_inputs():
    with pytest.raises(ValueError, match="func returned shape"):
        odeint(lambda y, t: np.ones(4), Y0, T)
    with pytest.raises(ValueError, match="monotonic"):
        odeint(decay, Y0, np.array([0.0, 1.0, 0.5]), args=(K,))


def test_a_replay_at_another_input_never_reuses_the_step_sizes():
    """The grid of steps is a replay guard: a recording replayed where the adaptive solver
    would choose other steps is refused (or traced again), never run on stale steps."""
    f = lambda k: np.sum(odeint(decay, Y0, T, args=(k,)))  # noqa: E731
    rec = revad.record(f, K)
    np.testing.assert_allclose(rec.grad(K), revad.grad(f)(K), rtol=1e-12)
    with pytest.raises(BranchChanged):
        rec.grad(K * 3.0)
    again = revad.record(f, K, rerecord=True)
    np.testing.assert_allclose(again.grad(K * 3.0), revad.grad(f)(K * 3.0), rtol=1e-12)


def test_parameters_closed_over_by_func():
    """A func closing over the differentiated value (common in user code) works in both modes;
    a replay elsewhere is refused (its steps cannot be planned again), or recorded again."""
    f = lambda k: np.sum(odeint(lambda y, t: -k * y, Y0, T)[-1])  # noqa: E731
    want = -T[-1] * exact(Y0, T, K)[-1]
    np.testing.assert_allclose(revad.grad(f)(K), want, rtol=1e-6)
    np.testing.assert_allclose(dualad.jacfwd(f)(K), want, rtol=1e-6)
    rec = revad.record(f, K)
    np.testing.assert_allclose(rec.grad(K), want, rtol=1e-6)
    with pytest.raises(BranchChanged, match="closes over"):
        rec.grad(2.0 * K)
    again = revad.record(f, K, rerecord=True)
    np.testing.assert_allclose(again.grad(2.0 * K), -T[-1] * exact(Y0, T, 2.0 * K)[-1],
                               rtol=1e-6)


def test_compiled_tier_runs_odeint_eagerly():
    """A compiled program would be compiled again for every step grid; the call is handed
    back to the eager tier, with the same numbers, at once."""
    f = lambda k: np.sum(odeint(decay, Y0, T, args=(k,))[-1])  # noqa: E731
    g = revad.grad(f, compiled=True)
    for k in (K, 2.0 * K):
        np.testing.assert_allclose(g(k), -T[-1] * exact(Y0, T, k)[-1], rtol=1e-6)
    np.testing.assert_allclose(dualad.jacfwd(f, compiled=True)(K), -T[-1] * exact(Y0, T, K)[-1],
                               rtol=1e-6)
