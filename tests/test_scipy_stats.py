"""adops.scipy.stats and adops.scipy.special (issue 20): values equal scipy's on plain arrays and
on traced inputs of both modes; derivatives in both modes against central finite differences
(compare.check_grads: forward vs reverse vs differences, full Jacobians and dot products);
second order for a few log-densities; clear refusals for the shape parameters of the cdfs."""
import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as ss

import dualad
import revad
from adops.scipy import special as S_special
from adops.scipy import stats
from compare import check_grads

rng = np.random.default_rng(20)
X = rng.normal(size=(3, 4)) * 2.0
POS = rng.uniform(0.2, 3.0, size=(3, 4))
UNIT = rng.uniform(0.05, 0.95, size=(3, 4))
LOC, SCALE = np.array([0.3, -0.2, 0.1, 0.5]), np.array([[1.7], [0.8], [1.2]])

# (name, x, shape-parameter args): loc and scale broadcast against x, as in scipy
CONTINUOUS = [
    ("norm", X, ()), ("t", X, (2.5,)), ("gamma", POS, (2.5,)), ("beta", UNIT, (2.5, 1.5)),
    ("expon", POS, ()), ("laplace", X, ()), ("logistic", X, ()), ("cauchy", X, ()),
    ("uniform", UNIT, ()),
]
METHODS = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def both_modes_value(f, *args):
    """f's value computed on traced inputs: by dualad.jvp and by revad.vjp."""
    fwd = dualad.jvp(f, args, tuple(np.zeros_like(a) for a in args))[0]
    rev = revad.vjp(f, *args)[0]
    return fwd, rev


# ------------------------------------------------------------------------------- values
@pytest.mark.parametrize("name,x,shape", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
@pytest.mark.parametrize("method", METHODS)
def test_continuous_values_equal_scipy(name, x, shape, method):
    ours, theirs = getattr(getattr(stats, name), method), getattr(getattr(ss, name), method)
    want = theirs(x, *shape, loc=LOC * 0.1, scale=SCALE)
    np.testing.assert_allclose(ours(x, *shape, loc=LOC * 0.1, scale=SCALE), want, rtol=1e-12)
    np.testing.assert_allclose(ours(x, *shape), theirs(x, *shape), rtol=1e-12)
    # traced x, loc and scale in both modes: the same values
    f = lambda x, loc, scale: ours(x, *shape, loc=loc, scale=scale)  # noqa: E731
    for got in both_modes_value(f, x, LOC * 0.1, SCALE):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name,x,shape", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_outside_the_support_and_invalid_scale(name, x, shape):
    wide = np.linspace(-4, 4, 17)
    for method in METHODS:
        ours = getattr(getattr(stats, name), method)
        theirs = getattr(getattr(ss, name), method)
        np.testing.assert_allclose(ours(wide, *shape), theirs(wide, *shape), rtol=1e-12,
                                   err_msg=method)
        np.testing.assert_array_equal(np.isnan(ours(wide, *shape, scale=-1.0)),
                                      np.isnan(theirs(wide, *shape, scale=-1.0)))


K = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 2.5, 7.0])


@pytest.mark.parametrize("name,param", [("poisson", 2.3), ("bernoulli", 0.3)])
@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
def test_discrete_values_equal_scipy(name, param, method):
    ours, theirs = getattr(getattr(stats, name), method), getattr(getattr(ss, name), method)
    np.testing.assert_allclose(ours(K, param), theirs(K, param), rtol=1e-12)
    np.testing.assert_allclose(ours(K, param, loc=1), theirs(K, param, loc=1), rtol=1e-12)
    for got in both_modes_value(lambda p: ours(K, p), np.full(7, param)):
        np.testing.assert_allclose(got, theirs(K, param), rtol=1e-12)


ALPHA = np.array([1.5, 2.0, 3.0])
XD = rng.dirichlet(ALPHA, size=5).T          # (3, 5): components along the first axis
A = rng.normal(size=(3, 3))
COV = A @ A.T + np.eye(3)
MEAN = rng.normal(size=3)
XM = rng.normal(size=(2, 5, 3))


def test_dirichlet_values_equal_scipy():
    for x in (XD, XD[:, 0], XD[:2]):
        want = ss.dirichlet.logpdf(x, ALPHA)
        np.testing.assert_allclose(stats.dirichlet.logpdf(x, ALPHA), want, rtol=1e-12)
        for got in both_modes_value(stats.dirichlet.logpdf, x, ALPHA):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(stats.dirichlet.pdf(XD, ALPHA), ss.dirichlet.pdf(XD, ALPHA),
                               rtol=1e-12)


@pytest.mark.parametrize("x", [XM, XM[0], XM[0, 0], XM[:, :1]], ids=["2x5", "5", "1", "2x1"])
def test_multivariate_normal_values_equal_scipy(x):
    want = ss.multivariate_normal.logpdf(x, MEAN, COV)
    got = stats.multivariate_normal.logpdf(x, MEAN, COV)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    for got in both_modes_value(stats.multivariate_normal.logpdf, x, MEAN, COV):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.pdf(x, MEAN, COV),
                               ss.multivariate_normal.pdf(x, MEAN, COV), rtol=1e-12)


def test_multivariate_normal_cov_forms_equal_scipy():
    diag = np.array([1.0, 2.0, 3.0])
    for args in [(XM, MEAN, diag), (XM, MEAN, 2.0), (XM[0, 0], None, COV), (X[0], 0.5, 2.0),
                 (0.3,)]:
        np.testing.assert_allclose(stats.multivariate_normal.logpdf(*args),
                                   ss.multivariate_normal.logpdf(*args), rtol=1e-12)
    frozen = stats.multivariate_normal(MEAN, COV)
    np.testing.assert_allclose(frozen.logpdf(XM), ss.multivariate_normal(MEAN, COV).logpdf(XM),
                               rtol=1e-12)


def test_frozen_and_norm_ppf():
    np.testing.assert_allclose(stats.norm(1.0, 2.0).logpdf(X), ss.norm(1.0, 2.0).logpdf(X),
                               rtol=1e-12)
    np.testing.assert_allclose(stats.gamma(2.5, scale=2.0).cdf(POS),
                               ss.gamma(2.5, scale=2.0).cdf(POS), rtol=1e-12)
    np.testing.assert_allclose(stats.norm.ppf(UNIT, 1.0, 2.0), ss.norm.ppf(UNIT, 1.0, 2.0),
                               rtol=1e-12)


# ------------------------------------------------------------------------ first order
@pytest.mark.parametrize("name,x,shape", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
@pytest.mark.parametrize("method", METHODS)
def test_continuous_gradients_in_x_loc_scale(name, x, shape, method):
    f = getattr(getattr(stats, name), method)
    x = x[:2, :3]  # inside the support; away from laplace's kink at x == loc
    loc = np.array([0.05, -0.03, 0.02]) if name != "laplace" else np.array([0.5, 0.41, 0.37])
    if name == "laplace":
        x = np.where(np.abs(x - loc) < 0.1, x + 0.3, x)
    if name == "uniform":  # inside (loc, loc + scale), away from the jumps at its ends
        x = 0.2 + 0.5 * x
    check_grads(lambda x, loc, scale: f(x, *shape, loc=loc, scale=scale),
                x, loc, np.array([[1.3], [0.9]]), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name,x,shape", [c for c in CONTINUOUS if c[2]],
                         ids=[c[0] for c in CONTINUOUS if c[2]])
def test_logpdf_gradients_in_shape_parameters(name, x, shape):
    f = getattr(getattr(stats, name), "logpdf")
    check_grads(lambda *p: f(x, *p, loc=0.0, scale=1.2), *[np.array(s) for s in shape])
    check_grads(lambda *p: f(x, *p), *[np.full(4, s) for s in shape])


def test_discrete_gradients():
    k = np.array([0.0, 1.0, 2.0, 5.0])
    for method in ("logpmf", "pmf", "cdf", "sf", "logcdf"):
        check_grads(lambda mu: getattr(stats.poisson, method)(k, mu), np.array([0.7, 1.5, 2.0, 4.0]))
    for method in ("logpmf", "pmf", "cdf", "sf"):
        check_grads(lambda p: getattr(stats.bernoulli, method)(k[:2], p), np.array([0.3, 0.6]))


def test_dirichlet_gradients():
    check_grads(stats.dirichlet.logpdf, XD, ALPHA)
    check_grads(stats.dirichlet.logpdf, XD[:2, 0], ALPHA)  # the last component completed


def test_multivariate_normal_gradients_in_x_mean_cov():
    check_grads(stats.multivariate_normal.logpdf, XM[0], MEAN, COV)
    check_grads(lambda x, m, c: stats.multivariate_normal.logpdf(x, m, c @ c.T + np.eye(3)),
                XM[0, 0], MEAN, A)


def test_gradients_against_closed_forms():
    """Derivatives known by hand, not by differencing the code under test."""
    x, mu, s = np.array([0.7, -1.2]), np.array([0.1, 0.4]), np.array([1.5, 0.6])
    z = (x - mu) / s
    g = revad.grad(lambda s: np.sum(stats.norm.logpdf(x, mu, s)))(s)
    np.testing.assert_allclose(g, (z * z - 1.0) / s, rtol=1e-12)
    g = dualad.jacfwd(lambda x: stats.norm.cdf(x, mu, s))(x)
    np.testing.assert_allclose(np.diag(g), ss.norm.pdf(x, mu, s), rtol=1e-12)
    g = revad.grad(lambda x: np.sum(stats.gamma.cdf(x, 2.5, scale=1.5)))(POS[0])
    np.testing.assert_allclose(g, ss.gamma.pdf(POS[0], 2.5, scale=1.5), rtol=1e-10)
    g = revad.grad(lambda x: np.sum(stats.beta.cdf(x, 2.5, 1.5)))(UNIT[0])
    np.testing.assert_allclose(g, ss.beta.pdf(UNIT[0], 2.5, 1.5), rtol=1e-10)
    g = revad.grad(lambda x: np.sum(stats.t.cdf(x, 3.5)))(X[0])
    np.testing.assert_allclose(g, ss.t.pdf(X[0], 3.5), rtol=1e-10)
    # d/dmu log N(x; mu, C) = C^-1 (x - mu)
    g = revad.grad(lambda m: stats.multivariate_normal.logpdf(XM[0, 0], m, COV))(MEAN)
    np.testing.assert_allclose(g, np.linalg.solve(COV, XM[0, 0] - MEAN), rtol=1e-10)
    # d/dC = 0.5 (C^-1 d d^T C^-1 - C^-1), read as a gradient over all entries of C
    g = revad.grad(lambda c: stats.multivariate_normal.logpdf(XM[0, 0], MEAN, c))(COV)
    ci = np.linalg.inv(COV)
    u = ci @ (XM[0, 0] - MEAN)
    full = 0.5 * (np.outer(u, u) - ci)
    # cholesky reads the lower triangle: the symmetric gradient folded onto it
    np.testing.assert_allclose(np.tril(g), np.tril(full + full.T - np.diag(np.diag(full))),
                               rtol=1e-9, atol=1e-12)
    # d/dalpha log Dir(x; alpha) = log x - digamma(alpha) + digamma(sum alpha)
    g = revad.grad(lambda a: stats.dirichlet.logpdf(XD[:, 0], a))(ALPHA)
    np.testing.assert_allclose(g, np.log(XD[:, 0]) - sc.digamma(ALPHA) + sc.digamma(ALPHA.sum()),
                               rtol=1e-10)


# ------------------------------------------------------------------------ second order
def test_second_order_logpdfs():
    def fd_hessian(f, x, h=1e-5):
        g = revad.grad(f)
        cols = [(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(x.size)]
        return np.stack(cols, axis=-1)

    cases = [
        lambda p: np.sum(stats.norm.logpdf(X[0], p[0], p[1])),
        lambda p: np.sum(stats.t.logpdf(X[0], p[0], p[1], p[2])),
        lambda p: np.sum(stats.gamma.logpdf(POS[0], p[0], scale=p[1])),
        lambda a: stats.dirichlet.logpdf(XD[:, 0], a),
        lambda m: stats.multivariate_normal.logpdf(XM[0], m, COV).sum(),
    ]
    points = [np.array([0.2, 1.3]), np.array([3.0, 0.1, 1.4]), np.array([2.5, 1.5]), ALPHA, MEAN]
    for f, p in zip(cases, points):
        h = revad.hessian(f)(p)
        np.testing.assert_allclose(h, fd_hessian(f, p), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)
    # a closed form: d2/dscale2 of sum log N(x; 0, s) = n/s^2 - 3 sum x^2 / s^4
    s = np.array(1.3)
    h = revad.hessian(lambda s: np.sum(stats.norm.logpdf(X[0], 0.0, s)))(s)
    np.testing.assert_allclose(h, 4 / s**2 - 3 * np.sum(X[0] ** 2) / s**4, rtol=1e-10)


# ------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("call,param", [
    (lambda a: stats.gamma.cdf(1.0, a), "a"),
    (lambda a: stats.gamma.logsf(1.0, a), "a"),
    (lambda a: stats.beta.cdf(0.3, a, 2.0), "a"),
    (lambda b: stats.beta.sf(0.3, 2.0, b), "b"),
    (lambda df: stats.t.cdf(0.3, df), "df"),
])
def test_cdf_in_a_shape_parameter_is_refused_by_name(call, param):
    for transform in (revad.grad, dualad.derivative):
        with pytest.raises(TypeError, match=f"differentiable in x, loc and scale, not in {param}"):
            transform(call)(2.0)


def test_special_ops_refuse_their_parameter_derivative():
    with pytest.raises(TypeError, match="gammainc is differentiable in x, not in a"):
        revad.grad(lambda a: sc.gammainc(a, 1.0))(2.0)
    with pytest.raises(TypeError, match="betainc is differentiable in x, not in b"):
        dualad.derivative(lambda b: sc.betainc(2.0, b, 0.3))(2.0)
    # differentiable in x at the same time as a constant a: fine
    assert revad.grad(lambda x: sc.gammainc(2.0, x))(1.0) == pytest.approx(np.exp(-1.0))


def test_multivariate_normal_refusals():
    with pytest.raises(NotImplementedError, match="allow_singular"):
        stats.multivariate_normal.logpdf(XM, MEAN, COV, allow_singular=True)
    with pytest.raises(ValueError, match="last axis"):
        stats.multivariate_normal.logpdf(np.ones(4), MEAN, COV)


# ------------------------------------------------------------------- adops.scipy.special
def test_special_reexports_and_new_ops():
    for name in ("erf", "logsumexp", "softmax", "log_softmax", "gammaln", "digamma", "xlogy",
                 "gammainc", "gammaincc", "betainc", "betaln", "stdtr", "polygamma"):
        assert hasattr(S_special, name), name
    a, b, x = np.array([1.5, 2.5]), np.array([0.7, 3.0]), np.array([0.3, 0.8])
    check_grads(S_special.betaln, a, b)
    check_grads(lambda x: S_special.gammainc(a, x), x)
    check_grads(lambda x: S_special.gammaincc(a, x), x)
    check_grads(lambda x: S_special.betainc(a, b, x), x)
    check_grads(lambda t: S_special.stdtr(b, t), x)
    check_grads(lambda x: S_special.polygamma(1, x), x)
    np.testing.assert_allclose(S_special.polygamma(2, x), sc.polygamma(2, x), rtol=1e-12)
    np.testing.assert_allclose(S_special.logsumexp(x), sc.logsumexp(x), rtol=1e-12)


# ------------------------------------------------------------- the np.asarray refusal
@pytest.mark.parametrize("call,advice", [
    (lambda x: ss.norm.logpdf(x), "use adops.scipy.stats.norm.logpdf"),
    (lambda x: ss.gamma(2.0).cdf(x), "use adops.scipy.stats.gamma.cdf"),
    (lambda x: ss.multivariate_normal.logpdf(x, np.zeros(2)),
     "use adops.scipy.stats.multivariate_normal.logpdf"),
    (lambda x: ss.lognorm.logpdf(x, 1.0), "lognorm.logpdf), which adops.scipy.stats does not "
     "provide"),
    (lambda x: sc.logsumexp(x), "use adops.scipy.special.logsumexp"),
    (lambda x: sc.softmax(x), "use adops.scipy.special.softmax"),
    (lambda x: np.asarray(x), "have replacements in adops.scipy"),
])
def test_asarray_refusal_names_the_replacement(call, advice):
    for transform in (revad.grad, dualad.jacfwd):
        with pytest.raises(TypeError, match="would drop its derivative") as info:
            transform(lambda x: np.sum(call(x)))(np.array([0.5, 1.5]))
        assert advice in str(info.value)


def test_asarray_refusal_from_scipy_integrate():
    import scipy.integrate as si
    with pytest.raises(TypeError, match="use adops.scipy.integrate.odeint"):
        revad.grad(lambda y0: si.odeint(lambda y, t: -y, y0, np.array([0.0, 1.0])).sum())(
            np.ones(2))
