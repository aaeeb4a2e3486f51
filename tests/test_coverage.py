"""The wider numpy surface (issue 12): linear algebra, structure and shape, statistics,
scipy.special. Every case is checked three ways through the numpy function in both modes
(compare.check_grads: forward vs reverse vs finite differences), and its value against numpy's
own; the linear-algebra ops also to second order in three compositions of the modes."""
import numpy as np
import pytest
import scipy.special as sc

import adops
import dualad
import revad
from adops.ops.special import log_softmax, logsumexp, softmax
from compare import check_grads

rng = np.random.default_rng(12)
A = rng.normal(size=(3, 3)) * 0.5 + 2 * np.eye(3)           # well conditioned
AB = rng.normal(size=(2, 3, 3)) * 0.5 + 2 * np.eye(3)       # a batch of them
R = rng.normal(size=(4, 3))                                  # tall, distinct singular values
B = rng.normal(size=(3, 2))
V = rng.normal(size=5)
M = rng.normal(size=(3, 4))
P = rng.uniform(0.2, 0.8, size=(3, 4))


def sym(a):
    """A symmetric positive definite function of any square ``a``."""
    return a @ np.swapaxes(a, -1, -2) + 3.0 * np.eye(a.shape[-1])


# (name, f, args): f is plain numpy code, differentiated unchanged
LINALG = [
    ("inv", lambda a: np.linalg.inv(a), (A,)),
    ("inv batched", lambda a: np.linalg.inv(a), (AB,)),
    ("solve matrix", lambda a, b: np.linalg.solve(a, b), (A, B)),
    ("solve vector", lambda a, b: np.linalg.solve(a, b), (A, V[:3])),
    ("solve batched", lambda a, b: np.linalg.solve(a, b), (AB, B)),
    ("det", lambda a: np.linalg.det(a), (AB,)),
    ("slogdet", lambda a: np.linalg.slogdet(a)[1] * np.linalg.slogdet(a)[0], (A,)),
    ("cholesky", lambda a: np.linalg.cholesky(sym(a)), (A,)),
    ("cholesky upper", lambda a: np.linalg.cholesky(sym(a), upper=True), (AB,)),
    ("eigh values", lambda a: np.linalg.eigh(sym(a))[0], (A,)),
    ("eigh vectors", lambda a: np.linalg.eigh(sym(a), UPLO="U").eigenvectors ** 2, (AB,)),
    ("eigvalsh", lambda a: np.linalg.eigvalsh(sym(a)), (AB,)),
    ("svd u", lambda a: np.linalg.svd(a, full_matrices=False)[0] ** 2, (R,)),
    ("svd s", lambda a: np.linalg.svd(a, full_matrices=False).S, (R.T,)),
    ("svd vh", lambda a: np.linalg.svd(a)[2] ** 2, (A,)),
    ("svd values", lambda a: np.linalg.svd(a, compute_uv=False), (R,)),
    ("svdvals", lambda a: np.linalg.svdvals(a), (R.T,)),
    ("pinv", lambda a: np.linalg.pinv(a), (R,)),
    ("qr tall", lambda a: np.concatenate([np.linalg.qr(a)[0].ravel(),
                                          np.linalg.qr(a)[1].ravel()]), (R,)),
    ("qr wide", lambda a: np.linalg.qr(a, mode="r"), (R.T,)),
    ("matrix_power", lambda a: np.linalg.matrix_power(a, 5), (A,)),
    ("matrix_power -2", lambda a: np.linalg.matrix_power(a, -2), (A,)),
    ("multi_dot", lambda a, b: np.linalg.multi_dot([b.T, a, a, b[:, 0]]), (A, B)),
    ("lstsq", lambda a, b: np.linalg.lstsq(a, b)[0], (R, rng.normal(size=(4, 2)))),
    ("lstsq residuals", lambda a, b: np.linalg.lstsq(a, b)[1], (R, rng.normal(size=4))),
    ("cond", lambda a: np.linalg.cond(a), (A,)),
    ("cond 1", lambda a: np.linalg.cond(a, 1), (A,)),
    ("tensorinv", lambda a: np.linalg.tensorinv(a.reshape(3, 3), ind=1), (A,)),
    ("tensorsolve", lambda a, b: np.linalg.tensorsolve(a, b), (A, V[:3])),
    ("matrix_norm", lambda a: np.linalg.matrix_norm(a, ord="nuc"), (AB,)),
    ("vector_norm", lambda a: np.linalg.vector_norm(a, axis=(0, 2), ord=3), (AB,)),
    ("la.vecdot", lambda a, b: np.linalg.vecdot(a, b), (M, M[::-1])),
    ("la.trace, diagonal", lambda a: np.linalg.trace(a)[:, None] * np.linalg.diagonal(a), (AB,)),
    ("la.matmul, outer", lambda a, v: np.linalg.matmul(a, a) @ np.linalg.outer(v, v), (A, V[:3])),
    ("la.tensordot", lambda a, b: np.linalg.tensordot(a, b, axes=1), (A, B)),
    ("la.matrix_transpose", lambda a: np.linalg.matrix_transpose(a) * a, (AB,)),
    ("la.cross", lambda a, b: np.linalg.cross(a, b), (M[:, :3], B.T[:1])),
] + [(f"norm {o!r}", lambda a, o=o: np.linalg.norm(a, o), (R,))
     for o in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)] + [
    ("norm axis keepdims", lambda a: np.linalg.norm(a, 2, axis=(2, 0), keepdims=True), (AB,)),
]

STRUCTURE = [
    ("diag of vector", lambda v: np.diag(v, 1), (V,)),
    ("diag of matrix", lambda m: np.diag(m, -1), (M,)),
    ("diagflat", lambda m: np.diagflat(m[:2]), (M,)),
    ("tril, triu", lambda m: np.tril(m, 1) - 2 * np.triu(m, -1), (AB,)),
    ("kron", lambda a, b: np.kron(a, b), (M[:2, :2], B)),
    ("kron mixed ndim", lambda a, b: np.kron(a, b), (V[:2], B)),
    ("cross 3", lambda a, b: np.cross(a, b), (M[:, :3], M[:, 1:])),
] + [(f"pad {mode}", lambda m, mode=mode: np.pad(m, ((1, 2), (2, 1)), mode=mode), (M,))
     for mode in ("edge", "reflect", "symmetric", "wrap")] + [
    ("pad constant", lambda m: np.pad(m, 2, constant_values=((1.0, 2.0), (3.0, 4.0))), (M,)),
    ("flipud, fliplr", lambda m: np.flipud(m) * np.fliplr(m), (M,)),
    ("rot90", lambda m: np.rot90(m) @ np.rot90(m, 3) + np.rot90(np.rot90(m, 2), -1).T, (A,)),
    ("rollaxis", lambda a: np.rollaxis(a, 2) * 1.0, (AB,)),
    ("atleast_3d", lambda v: np.atleast_3d(v) * np.atleast_3d(v[0]), (V,)),
    ("dstack", lambda m: np.dstack([m, m ** 2]), (M,)),
    ("append", lambda m: np.append(m, m[:1] ** 2, axis=0), (M,)),
    ("append flat", lambda m, v: np.append(m, v), (M, V)),
    ("insert", lambda m, v: np.insert(m, [1, 3], v[:2] ** 2, axis=1), (M, V)),
    ("insert flat", lambda m: np.insert(m, 2, 7.0), (M,)),
    ("delete", lambda m: np.delete(m, [0, 2], axis=1), (M,)),
    ("select", lambda m: np.select([m > 0.5, m < -0.5], [m ** 2, np.sin(m)], m * 3), (M,)),
    ("piecewise", lambda v: np.piecewise(v, [v < 0, v >= 0], [lambda x: x ** 2, np.sin]), (V,)),
    ("vsplit hsplit dsplit",
     lambda a: np.vsplit(a, [1])[1].sum() * np.hsplit(a, 3)[2] + np.dsplit(a, [1])[0], (AB,)),
    ("reshape order F", lambda m: np.reshape(m, (2, 6), order="F") ** 2, (M,)),
    ("ravel order F", lambda m: m.ravel(order="F") * np.arange(12.0), (M,)),
    ("resize", lambda v: np.resize(v, (3, 4)), (V,)),
    ("block", lambda a, b: np.block([[a, b], [b.T, a[:2, :2]]]), (A, B)),
    ("meshgrid", lambda x, y: np.sum(np.stack(np.meshgrid(x, y)) ** 2, axis=0), (V[:3], V)),
    ("meshgrid ij sparse", lambda x, y: np.meshgrid(x, y, indexing="ij", sparse=True)[1] * x[0],
     (V[:3], V)),
    ("broadcast_arrays", lambda a, b: np.broadcast_arrays(a, b)[0] * b, (V[:1], B)),
    ("compress, extract", lambda m: np.compress([True, False, True], m, axis=0).sum() *
     np.extract(m > 0, m), (M,)),
    ("choose", lambda a, b: np.choose([0, 1, 1, 0], [a, b]), (V[:4], V[1:])),
    ("unstack", lambda m: np.unstack(m, axis=1)[2] * 2.0, (M,)),
    ("apply_along_axis", lambda m: np.apply_along_axis(lambda r: np.sum(r ** 2) * r, 1, m), (M,)),
    ("einsum repeated 'ii->'", lambda a: np.einsum("ii->", a), (A,)),
    ("einsum repeated 'ii->i'", lambda a: np.einsum("ii->i", a), (A,)),
    ("einsum 'ijk,lji,lli->lki'", lambda a, b, c: np.einsum("ijk,lji,lli->lki", a, b, c),
     (rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 3, 2)), rng.normal(size=(5, 5, 2)))),
    ("einsum sublist", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [2, 0]), (A, B)),
    ("einsum implicit trace", lambda a: np.einsum("ii", a), (A,)),
]

NUMERICAL = [
    ("gradient", lambda v: np.gradient(v), (V,)),
    ("gradient 2-d edge 2", lambda m: np.stack(np.gradient(m, 0.5, 2.0, edge_order=2)), (M,)),
    ("gradient coordinates", lambda v: np.gradient(v, np.array([0.0, 0.5, 1.5, 2.0, 3.5])), (V,)),
    ("linspace", lambda a, b: np.linspace(a, b, 5), (V[0], V[1])),
    ("linspace arrays", lambda a, b: np.linspace(a, b, 4, endpoint=False, axis=1), (V[:2], V[2:4])),
    ("logspace", lambda a: np.logspace(a, 1.0, 4), (V[0],)),
    ("convolve", lambda a, v: np.convolve(a, v), (V, V[:3])),
    ("convolve same", lambda a, v: np.convolve(v, a, mode="same"), (V, V[:3])),
    ("convolve valid", lambda a, v: np.convolve(a, v, mode="valid"), (V, V[:3])),
    ("correlate", lambda a, v: np.correlate(a, v), (V, V[:3])),
    ("correlate full, longer v", lambda a, v: np.correlate(v, a, "full"), (V, V[:3])),
    ("interp", lambda x, fp: np.interp(x, [0.0, 1.0, 2.5, 3.0], fp),
     (np.array([-0.5, 0.3, 1.7, 2.9, 3.5]), np.array([1.0, -1.0, 2.0, 0.5]))),
    ("interp in xp", lambda xp: np.interp(np.array([0.3, 1.7, 2.9]), xp, [1.0, -1.0, 2.0, 0.5]),
     (np.array([0.0, 1.0, 2.5, 3.2]),)),
    ("polyval", lambda p, x: np.polyval(p, x), (V[:3], V)),
    ("polyder, polyint", lambda p: np.polyder(p, 2) * 2 + np.polyint(p)[:3], (V,)),
    ("polyadd, polysub, polymul", lambda p, q: np.polymul(np.polyadd(p, q), np.polysub(q, p)),
     (V[:2], V)),
    ("vander", lambda x: np.vander(x, 4), (V,)),
    ("polyfit", lambda x, y: np.polyfit(x, y, 2), (np.linspace(0, 1, 6), rng.normal(size=6))),
    ("cumprod", lambda m: np.cumprod(m, axis=1), (M,)),
    ("cumulative_sum, prod", lambda v: np.cumulative_sum(v, include_initial=True) *
     np.cumulative_prod(v, include_initial=True), (V,)),
    ("trapezoid", lambda m: np.trapezoid(m, dx=0.5), (M,)),
    ("trapezoid x", lambda m, x: np.trapezoid(m, x, axis=0), (M, np.array([0.0, 0.3, 1.0]))),
    ("ptp", lambda m: np.ptp(m, axis=0), (M,)),
    ("ediff1d", lambda v: np.ediff1d(v, to_begin=v[:1]), (V,)),
    ("cov", lambda m: np.cov(m), (M,)),
    ("cov rowvar, y", lambda m, v: np.cov(m, v[:4], rowvar=False), (M.T, V)),
    ("corrcoef", lambda m: np.corrcoef(m), (M,)),
    ("median", lambda m: np.median(m, axis=1), (M,)),
    ("median even", lambda m: np.median(m), (M,)),
    ("quantile", lambda m: np.quantile(m, [0.1, 0.5, 0.9], axis=0), (M,)),
    ("percentile keepdims", lambda m: np.percentile(m, 30, axis=1, keepdims=True), (M,)),
] + [(f"quantile {meth}", lambda m, meth=meth: np.quantile(m, [0.3, 0.62], method=meth), (M,))
     for meth in ("lower", "higher", "nearest", "midpoint")] + [
    ("partition", lambda v: np.partition(v, 2), (V,)),
    ("partition axis", lambda m: np.partition(m, (1, 2), axis=1), (M,)),
    ("sinc", lambda v: np.sinc(v), (np.array([0.0, 1e-4, -0.3, 1.2, 2.5]),)),
    ("real, imag, conj", lambda v: np.real(v) * 2 + np.imag(v) + np.conj(v) + np.conjugate(v),
     (V,)),
    ("copysign, ldexp", lambda v: np.copysign(v, -v[::-1]) + np.ldexp(v, 3), (V,)),
    ("modf, divmod", lambda v: np.modf(3 * v)[0] + np.divmod(v, 0.7)[1], (V,)),
    ("astype", lambda v: np.astype(v, np.float64, copy=True) * 2, (V,)),
    ("matvec, vecmat, vecdot", lambda a, v: np.matvec(a, v) + np.vecmat(v, a) +
     np.vecdot(a, v), (A, V[:3])),
    ("logaddexp.reduce", lambda m: np.logaddexp.reduce(m, axis=1), (M,)),
    ("logaddexp2.reduce", lambda m: np.logaddexp2.reduce(m), (M,)),
    ("multiply.accumulate", lambda m: np.multiply.accumulate(m), (M,)),
    ("maximum.accumulate", lambda v: np.maximum.accumulate(v), (V,)),
    ("minimum.accumulate", lambda m: np.minimum.accumulate(m, axis=1), (M,)),
    ("logaddexp.accumulate", lambda v: np.logaddexp.accumulate(v), (V,)),
    ("add.reduce axis 0", lambda m: np.add.reduce(m), (M,)),
]

NAN = np.array([[0.3, np.nan, -1.2, 2.0], [1.5, 0.7, np.nan, -0.4], [np.nan, 0.2, 0.9, 1.1]])


def _fill(x):
    """The NaN pattern of NAN on the differentiated entries."""
    return np.where(np.isnan(NAN), np.nan, x)


NANS = [
    (name, lambda x, fn=fn: fn(_fill(x)), (np.nan_to_num(NAN),))
    for name, fn in [
        ("nansum", lambda x: np.nansum(x, axis=0)), ("nanprod", lambda x: np.nanprod(x, axis=1)),
        ("nanmean", lambda x: np.nanmean(x)), ("nanvar", lambda x: np.nanvar(x, axis=1, ddof=1)),
        ("nanstd", lambda x: np.nanstd(x, axis=0)), ("nanmax", lambda x: np.nanmax(x, axis=1)),
        ("nanmin", lambda x: np.nanmin(x)), ("nancumsum", lambda x: np.nancumsum(x, axis=1)),
        ("nancumprod", lambda x: np.nancumprod(x)),
        ("nanmedian", lambda x: np.nanmedian(x, axis=1)),
        ("nanquantile", lambda x: np.nanquantile(x, [0.2, 0.7], axis=0)),
        ("nanpercentile", lambda x: np.nanpercentile(x, 40)),
        ("nan_to_num", lambda x: np.nan_to_num(x, nan=2.0) * x[0, 0]),
    ]
]

SPECIAL = [
    ("erf erfc", lambda x: sc.erf(x) * sc.erfc(x), (V,)),
    ("erfinv erfcinv", lambda p: sc.erfinv(p) + sc.erfcinv(p), (P,)),
    ("erfcx", lambda x: sc.erfcx(x), (V,)),
    ("expit logit", lambda x, p: sc.expit(x) + sc.logit(p) + sc.log_expit(x), (V[:4], P)),
    ("ndtr log_ndtr ndtri", lambda x, p: sc.ndtr(x) * sc.log_ndtr(x) + sc.ndtri(p), (V[:4], P)),
    ("gammaln digamma gamma", lambda p: sc.gammaln(p + 1) * sc.digamma(p) + sc.gamma(p + 1),
     (P,)),
    ("psi", lambda p: sc.psi(p * 3), (P,)),
    ("xlogy xlog1py entr", lambda x, p: sc.xlogy(x[:4], p) + sc.xlog1py(p, x[1:]) + sc.entr(p),
     (V, P)),
    ("logsumexp", lambda m: logsumexp(m, axis=1), (M,)),
    ("logsumexp b keepdims", lambda m: logsumexp(m, axis=0, b=P, keepdims=True), (M,)),
    ("softmax", lambda m: softmax(m, axis=0), (M,)),
    ("log_softmax", lambda m: log_softmax(m), (M,)),
]

ALL = LINALG + STRUCTURE + NUMERICAL + NANS + SPECIAL


def _value_oracle(name, f, args):
    """The value numpy (or scipy) computes, for the composites whose code differs from numpy's."""
    oracles = {"logsumexp": lambda m: sc.logsumexp(m, axis=1),
               "logsumexp b keepdims": lambda m: sc.logsumexp(m, axis=0, b=P, keepdims=True),
               "softmax": lambda m: sc.softmax(m, axis=0),
               "log_softmax": lambda m: sc.log_softmax(m)}
    return oracles.get(name, f)(*args)


@pytest.mark.parametrize("name,f,args", ALL, ids=[c[0] for c in ALL])
def test_both_modes_agree_with_finite_differences_and_numpy(name, f, args):
    report = check_grads(f, *args, raise_on_failure=False)
    assert report.ok, f"{name}: {report}"
    out, _ = dualad.jvp(f, args, tuple(np.zeros_like(a) for a in args))
    np.testing.assert_allclose(out, _value_oracle(name, f, args), rtol=1e-10, atol=1e-12,
                               err_msg=f"{name}: value differs from numpy's")
    value, _ = revad.vjp(f, *args)
    np.testing.assert_allclose(value, out, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- second order
SECOND_ORDER = [
    ("inv", lambda x: np.sum(np.sin(np.linalg.inv(x.reshape(3, 3)))), A.ravel()),
    ("solve", lambda x: np.sum(np.linalg.solve(x.reshape(3, 3), B) ** 2), A.ravel()),
    ("det", lambda x: np.linalg.det(x.reshape(3, 3)), A.ravel()),
    ("slogdet", lambda x: np.linalg.slogdet(x.reshape(3, 3))[1], A.ravel()),
    ("cholesky", lambda x: np.sum(np.sin(np.linalg.cholesky(sym(x.reshape(3, 3))))), A.ravel()),
    ("eigh", lambda x: np.sum(np.linalg.eigh(sym(x.reshape(3, 3)))[1][:, 0] ** 3 +
                              np.linalg.eigh(sym(x.reshape(3, 3)))[0] ** 2), A.ravel()),
    ("eigvalsh", lambda x: np.sum(np.sin(np.linalg.eigvalsh(sym(x.reshape(3, 3))))), A.ravel()),
    ("svd", lambda x: np.sum(np.linalg.svd(x.reshape(4, 3), full_matrices=False)[0][:, :2] ** 3)
     + np.sum(np.linalg.svd(x.reshape(4, 3), compute_uv=False) ** 3), R.ravel()),
    ("pinv", lambda x: np.sum(np.sin(np.linalg.pinv(x.reshape(4, 3)))), R.ravel()),
    ("qr", lambda x: np.sum(np.sin(np.linalg.qr(x.reshape(4, 3))[0])) +
     np.sum(np.linalg.qr(x.reshape(4, 3))[1] ** 2), R.ravel()),
    ("erf digamma gammaln", lambda x: np.sum(sc.erf(x) * sc.digamma(x + 2) + sc.gammaln(x + 2)),
     V[:3]),
    ("sinc median", lambda x: np.sinc(x[0]) * np.median(x), V[:3]),
]


@pytest.mark.parametrize("name,f,x", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order_in_three_compositions(name, f, x):
    g = revad.grad(f)
    h = 1e-5
    fd = np.stack([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(x.size)], axis=-1)
    tol = dict(rtol=1e-5, atol=1e-6 * (1 + np.abs(fd).max()))
    np.testing.assert_allclose(revad.hessian(f)(x), fd, **tol, err_msg="forward over reverse")
    np.testing.assert_allclose(revad.jacrev(revad.grad(f))(x), fd, **tol,
                               err_msg="reverse over reverse")
    np.testing.assert_allclose(dualad.jacfwd(dualad.jacfwd(f))(x), fd, **tol,
                               err_msg="forward over forward")


def test_sinc_derivatives_at_zero_are_exact():
    d1 = dualad.derivative(np.sinc)
    assert d1(0.0) == 0.0
    np.testing.assert_allclose(dualad.derivative(d1)(0.0), -np.pi ** 2 / 3, rtol=1e-12)


# ---------------------------------------------------------------------- documented edges
def test_eigvalsh_at_a_repeated_eigenvalue_is_exact_for_symmetric_functions():
    a = np.diag([1.0, 2.0, 2.0])
    g = revad.grad(lambda a: np.sum(np.linalg.eigvalsh(a)))(a)   # the trace: derivative I
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)          # (lower triangle read)
    g = dualad.jacfwd(lambda a: np.sum(np.linalg.eigh(a)[0] ** 2))(a)
    assert np.all(np.isfinite(g)), "eigenvalues of eigh stay finite when vectors are unused"
    np.testing.assert_allclose(g, np.tril(2 * a), atol=1e-12)


def test_eigh_vectors_at_a_repeated_eigenvalue_have_no_derivative():
    a = np.diag([1.0, 2.0, 2.0])
    with np.errstate(all="ignore"):
        j = revad.jacrev(lambda a: np.linalg.eigh(a)[1])(a)
    assert not np.all(np.isfinite(j))


def test_svd_full_matrices_of_a_rectangular_matrix_is_refused_with_the_way_out():
    with pytest.raises(TypeError, match="full_matrices=False"):
        revad.grad(lambda a: np.sum(np.linalg.svd(a)[0]))(R)


def test_eig_suggests_eigh():
    with pytest.raises(TypeError, match="numpy.linalg.eig .*eigh"):
        dualad.jacfwd(lambda a: np.linalg.eig(a)[0])(A)


# ------------------------------------------------------------------------ zero-length axes
ZERO = [
    ("matmul empty batch", lambda a, b: a @ b, (np.ones((0, 2, 3)), np.ones((3, 2)))),
    ("matmul empty output", lambda a, b: a @ b, (np.ones((0, 3)), np.ones((3, 2)))),
    ("matmul empty sum", lambda a, b: a @ b, (np.ones((2, 0)), np.ones((0, 4)))),
    ("dot empty", lambda a, b: np.dot(a, b), (np.ones((2, 3)), np.ones((3, 0)))),
    ("einsum empty", lambda a, b: np.einsum("bij,bjk->bik", a, b),
     (np.ones((0, 2, 3)), np.ones((0, 3, 2)))),
    ("tensordot empty", lambda a, b: np.tensordot(a, b, axes=([1], [0])),
     (np.ones((2, 0)), np.ones((0, 4)))),
]


@pytest.mark.parametrize("name,f,args", ZERO, ids=[c[0] for c in ZERO])
def test_zero_length_contractions(name, f, args):
    assert check_grads(f, *args).ok
    assert check_grads(lambda *xs: np.sum(f(*xs)), *args).ok
    out, _ = dualad.jvp(f, args, args)
    assert out.shape == f(*args).shape


# --------------------------------------------------------------------------------- listing
def test_supported_functions_reach_the_target():
    s = adops.supported_functions()
    assert len(s["op"]) + len(s["composite"]) >= 180
    for name in ("numpy.linalg.inv", "numpy.linalg.eigh", "numpy.kron", "numpy.median",
                 "numpy.logaddexp.reduce", "numpy.interp"):
        assert name in s["composite"], name
    for name in ("scipy.special.erf", "scipy.special.gammaln", "scipy.special.xlogy"):
        assert name in s["op"], name
