"""The field's standard problems (ADBench, and its successor gradbench): GMM, BA, HT, LSTM, plus a
banded problem for colouring; each written once against an array namespace ``xp`` (numpy for
dualad/revad, jax.numpy or torch for the optional peers), vectorised (no Python loop per data
point; LSTM loops over time steps and layers, HT over the 5 depth levels of the skeleton).

Contract: ``make(problem, xp=np, **size) -> Instance`` with ``x: (n,)`` the differentiated inputs
and ``f(x)`` a scalar ``()`` (GMM, LSTM: the derivative is a gradient) or a residual vector
``(m,)`` (BA, HT, banded: the derivative is a Jacobian, sparse for BA and banded, half sparse for
HT). ``Instance.pattern`` is the structural Jacobian pattern ``(m, n)`` known from the problem's
structure (None when dense). Instances are generated deterministically from ``seed``; ADBench's
data files are not used (see :data:`GENERATORS` for what each generator draws).

The problems (ADBench paper, arXiv:1807.10129, and gradbench's ``evals/*/README.md``):

- **GMM** ``(d, K, N)``: log posterior of a Gaussian mixture with a Wishart prior on the
  precision matrices. Parameters: ``alpha: (K,)`` log weights, ``mu: (K, d)``,
  ``icf: (K, d(d+1)/2)`` = per component the log-diagonal ``q: (d,)`` of the Cholesky factor
  ``Q`` of the precision, then its strict lower triangle ``l`` column by column.
  ``f = -N d/2 log 2pi + sum_i logsumexp_k(alpha_k + sum(q_k) - |Q_k (x_i - mu_k)|^2 / 2)
  - N logsumexp(alpha) + sum_k [m sum(q_k) - gamma^2/2 (|exp q_k|^2 + |l_k|^2)] + K C(d, m, gamma)``
  with ``C = n_w d (log gamma - log(2)/2) - log Gamma_d(n_w / 2)``, ``n_w = d + m + 1``: the prior
  with the sign gradbench corrected (ADBench subtracted it). ``n = K (1 + d + d(d+1)/2)``.
- **BA** ``(n_cams, n_pts, n_obs)``: bundle adjustment residuals. Camera ``(11,)`` = Rodrigues
  rotation (3), centre (3), focal length, principal point (2), radial distortion (2).
  Observation ``i`` sees camera ``i mod n_cams`` and point ``i mod n_pts`` (as ADBench's reader
  assigns them). Residuals: ``w_i (proj(cam, X) - feat_i)`` (2 per observation) then
  ``1 - w_i^2`` (1 per observation); ``proj`` = rotate ``X - C``, divide by depth, distort by
  ``1 + k1 r^2 + k2 r^4``, scale by ``f``, add the principal point. ``n = 11 n_cams + 3 n_pts +
  n_obs``, ``m = 3 n_obs``; a reprojection row has 15 nonzeros (11 + 3 + 1).
- **HT** ``(model, c)``: hand tracking, ADBench's "complicated" variant. 26 pose parameters
  (global rotation, translation, 4 per finger) pose a 22-bone skeleton (forward kinematics,
  Euler angles per bone), linear-blend skinning moves the model's vertices (544: small model,
  10000: big model), and each of the ``c`` correspondences is a point on a triangle with
  barycentric ``u: (2,)``. Residual ``point_i - (u0 v0 + u1 v1 + (1 - u0 - u1) v2)`` (3 per
  correspondence). ``x = (theta: 26, u: 2c)``, ``m = 3c``: a dense ``(3c, 26)`` block and a
  block-diagonal ``(3c, 2c)`` one, so forward mode needs 26 + 2 coloured passes.
- **LSTM** ``(l, c)``: ADBench's diagonal LSTM, ``l`` layers, a sequence of ``c`` characters as
  ``b = 14`` bits each; loss ``-mean`` log-softmax of the next character (ADBench's
  ``log(sum(exp(y)) + 2)`` normaliser kept). ``x = (main: 2l x 4b, extra: 3 x b)``,
  ``n = 8lb + 3b`` (266 for l = 2).
- **banded** ``(n,)``: ``y_i = sin(x_i) x_{i-1} + x_{i+1}^2 - 2 x_i``, a tridiagonal Jacobian.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp

#: what each generator draws (all from ``numpy.random.default_rng(seed)``)
GENERATORS = {
    "gmm": "gradbench's GMM generator: x ~ N(0, 1) (N, d); alpha ~ N(0, 1); mu ~ U(0, 1); "
           "q, l ~ N(0, 1); Wishart gamma = 1, m = 0",
    "ba": "cameras: rotation ~ N(0, 0.05) per axis, centre ~ N(0, 1) with depth in [-1, 0], "
          "f ~ U(400, 500), principal point ~ N(0, 5), k1 ~ U(0, 0.1), k2 ~ U(0, 0.005); "
          "points ~ N(0, 1) with depth in [4, 8]; w ~ U(0.5, 1); features = projection of the "
          "point + N(0, 1) pixel noise; observation i = (camera i mod n, point i mod m)",
    "ht": "a 22-bone hand with ADBench's skeleton (wrist, 5 fingers x 4 bones, forearm): base "
          "bone transforms from small random rotations and bone offsets, vertices attached to "
          "a bone (weight 0.7, parent 0.3), 1084 triangles of neighbouring vertices; "
          "correspondences to random triangles, u ~ U(0.1, 0.45), points = skinned model at a "
          "perturbed pose + N(0, 0.001) noise",
    "lstm": "b = 14 bits per character (as ADBench's text, whose widest character needs 14 "
            "bits); characters drawn from printable ASCII; main, extra and state ~ U(0, 1) "
            "(as ADBench's generator)",
    "banded": "x ~ N(0, 1)",
}


@dataclass
class Instance:
    """One sized problem: ``f(x)`` with ``x: (n,)``; ``pattern: (m, n)`` or None (dense)."""

    problem: str
    label: str
    f: Callable
    x: np.ndarray
    pattern: sp.csr_matrix | None = None
    published: str | None = None          # gradbench's workload name, when it publishes one
    size: dict = field(default_factory=dict)   # the generator's keywords: make(problem, **size)

    @property
    def n(self) -> int:
        return int(np.size(self.x))


def _lse(xp, a, axis):
    mx = xp.amax(a, axis=axis, keepdims=True)
    return xp.log(xp.sum(xp.exp(a - mx), axis=axis)) + xp.sum(mx, axis=axis)


# ---------------------------------------------------------------------------------------- GMM

def _gmm_q_index(d):
    """Flat index into ``[exp(q) (d), l (d(d-1)/2), 0]`` for each entry of ``Q: (d, d)``:
    ``Q[i, i] = exp(q_i)``, ``Q[j, i] = l`` filled column by column below the diagonal."""
    idx = np.full((d, d), d + d * (d - 1) // 2, dtype=np.int64)
    idx[np.arange(d), np.arange(d)] = np.arange(d)
    k = d
    for i in range(d):
        for j in range(i + 1, d):
            idx[j, i] = k
            k += 1
    return idx.ravel()


def gmm(d=2, K=5, N=1000, xp=np, seed=0):
    """GMM log posterior at ADBench's sizes; ``x = (alpha, mu, icf)``, scalar output.

    Example:
        >>> inst = gmm(2, 5, 100)
        >>> inst.n, float(inst.f(inst.x)) < 0
        (30, True)
    """
    from scipy.special import multigammaln
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d))
    alpha = rng.normal(size=K)
    mu = rng.uniform(size=(K, d))
    q = rng.normal(size=(K, d))
    l = rng.normal(size=(K, d * (d - 1) // 2))
    gamma, m = 1.0, 0
    x0 = np.concatenate([alpha, mu.ravel(), np.concatenate([q, l], axis=1).ravel()])
    n_w = d + m + 1
    const = (-N * d * 0.5 * math.log(2 * math.pi)
             + K * (n_w * d * (math.log(gamma) - 0.5 * math.log(2)) - multigammaln(0.5 * n_w, d)))
    idx = _gmm_q_index(d)
    Xt = xp.asarray(np.ascontiguousarray(X.T))
    zero = xp.asarray(np.zeros((K, 1)))
    t = d * (d + 1) // 2

    def f(p):
        a = p[:K]
        mu_ = p[K:K + K * d].reshape(K, d)
        icf = p[K + K * d:].reshape(K, t)
        qd = icf[:, :d]
        lt = icf[:, d:]
        eq = xp.exp(qd)
        sum_q = xp.sum(qd, axis=1)
        Q = xp.concatenate([eq, lt, zero], axis=1)[:, idx].reshape(K, d, d)
        QX = (Q.reshape(K * d, d) @ Xt).reshape(K, d, N)         # one GEMM for every component
        Qmu = xp.sum(Q * mu_.reshape(K, 1, d), axis=2)
        sq = xp.sum((QX - Qmu.reshape(K, d, 1)) ** 2, axis=1)     # (K, N)
        main = (a + sum_q).reshape(K, 1) - 0.5 * sq
        prior = xp.sum(m * sum_q - 0.5 * gamma * gamma * (xp.sum(eq * eq, axis=1)
                                                          + xp.sum(lt * lt, axis=1)))
        return const + xp.sum(_lse(xp, main, 0)) - N * _lse(xp, a, 0) + prior
    return Instance("gmm", f"d={d},K={K},N={N}", f, x0, None, f"{d}_{K}_{N}",
                    dict(d=d, K=K, N=N, seed=seed))


# ----------------------------------------------------------------------------------------- BA

def _ba_data(n_cams, n_pts, n_obs, seed):
    rng = np.random.default_rng(seed)
    cams = np.empty((n_cams, 11))
    cams[:, 0:3] = rng.normal(0, 0.05, size=(n_cams, 3))
    cams[:, 3:5] = rng.normal(size=(n_cams, 2))
    cams[:, 5] = rng.uniform(-1, 0, size=n_cams)
    cams[:, 6] = rng.uniform(400, 500, size=n_cams)
    cams[:, 7:9] = rng.normal(0, 5, size=(n_cams, 2))
    cams[:, 9] = rng.uniform(0, 0.1, size=n_cams)
    cams[:, 10] = rng.uniform(0, 0.005, size=n_cams)
    X = np.empty((n_pts, 3))
    X[:, :2] = rng.normal(size=(n_pts, 2))
    X[:, 2] = rng.uniform(4, 8, size=n_pts)
    w = rng.uniform(0.5, 1, size=n_obs)
    obs = np.stack([np.arange(n_obs) % n_cams, np.arange(n_obs) % n_pts], axis=1)
    feats = _ba_project(np, cams[obs[:, 0]], X[obs[:, 1]]) + rng.normal(size=(n_obs, 2))
    return cams, X, w, obs, feats


def _ba_project(xp, cam, X):
    """Projections ``(p, 2)`` of points ``X: (p, 3)`` by cameras ``cam: (p, 11)``."""
    Xo = X - cam[:, 3:6]
    rot = cam[:, 0:3]
    theta = xp.sqrt(xp.sum(rot * rot, axis=1))
    w = rot / theta.reshape(-1, 1)
    c, s = xp.cos(theta), xp.sin(theta)
    w0, w1, w2 = w[:, 0], w[:, 1], w[:, 2]
    p0, p1, p2 = Xo[:, 0], Xo[:, 1], Xo[:, 2]
    cross = xp.stack([w1 * p2 - w2 * p1, w2 * p0 - w0 * p2, w0 * p1 - w1 * p0], axis=1)
    tmp = (w0 * p0 + w1 * p1 + w2 * p2) * (1.0 - c)
    # ADBench's theta == 0 branch (rotation by cross product only) is never taken here: the
    # generated rotations are nonzero
    Xcam = Xo * c.reshape(-1, 1) + cross * s.reshape(-1, 1) + w * tmp.reshape(-1, 1)
    proj = Xcam[:, 0:2] / Xcam[:, 2:3]
    rsq = xp.sum(proj * proj, axis=1)
    L = 1.0 + cam[:, 9] * rsq + cam[:, 10] * rsq * rsq
    return proj * (L * cam[:, 6]).reshape(-1, 1) + cam[:, 7:9]


def _ba_pattern(n_cams, n_pts, n_obs, obs):
    i = np.arange(n_obs)
    cols = np.concatenate([11 * obs[:, 0:1] + np.arange(11),
                           11 * n_cams + 3 * obs[:, 1:2] + np.arange(3),
                           (11 * n_cams + 3 * n_pts + i)[:, None]], axis=1)     # (p, 15)
    rows = np.concatenate([np.repeat(2 * i, 15), np.repeat(2 * i + 1, 15), 2 * n_obs + i])
    cols = np.concatenate([cols.ravel(), cols.ravel(), 11 * n_cams + 3 * n_pts + i])
    n = 11 * n_cams + 3 * n_pts + n_obs
    return sp.csr_matrix((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(3 * n_obs, n))


def ba(n_cams=49, n_pts=7776, n_obs=31843, xp=np, seed=0):
    """Bundle adjustment residuals; the defaults are ADBench's ba1.

    Example:
        >>> inst = ba(3, 10, 20)
        >>> inst.n, inst.f(inst.x).shape, inst.pattern.nnz // 40
        (83, (60,), 15)
    """
    cams, X, w, obs, feats = _ba_data(n_cams, n_pts, n_obs, seed)
    x0 = np.concatenate([cams.ravel(), X.ravel(), w])
    ci, pi = obs[:, 0], obs[:, 1]
    feats_ = xp.asarray(feats)
    nc, npt = 11 * n_cams, 3 * n_pts

    def f(v):
        cam = v[:nc].reshape(n_cams, 11)[ci]
        pt = v[nc:nc + npt].reshape(n_pts, 3)[pi]
        wv = v[nc + npt:]
        err = wv.reshape(-1, 1) * (_ba_project(xp, cam, pt) - feats_)
        return xp.concatenate([err.reshape(-1), 1.0 - wv * wv])
    label = f"n={n_cams},m={n_pts},p={n_obs}"
    published = "ba1_n49_m7776_p31843" if (n_cams, n_pts, n_obs) == (49, 7776, 31843) else None
    return Instance("ba", label, f, x0, _ba_pattern(n_cams, n_pts, n_obs, obs), published,
                    dict(n_cams=n_cams, n_pts=n_pts, n_obs=n_obs, seed=seed))


# ----------------------------------------------------------------------------------------- HT

#: ADBench's hand skeleton: wrist, thumb1-4, index1-4, middle1-4, ring1-4, pinky1-4, forearm
HT_PARENTS = np.array([-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19, 0])
HT_VERTICES = {"small": 544, "big": 10000}
HT_TRIANGLES = 1084


def _ht_levels():
    depth = np.zeros(len(HT_PARENTS), dtype=int)
    for b in range(1, len(HT_PARENTS)):
        depth[b] = depth[HT_PARENTS[b]] + 1
    return [np.flatnonzero(depth == k) for k in range(depth.max() + 1)]


def _ht_angle_index():
    """Which of theta (26 entries; 26 is a zero slot) is each bone's x and z Euler angle
    (ADBench's ``to_pose_params``: finger bones 2-4 bend about x, bone 2 also about z)."""
    ax = np.full(22, 26)
    az = np.full(22, 26)
    for f in range(5):
        b = 4 * f + 2
        ax[b], az[b] = 6 + 4 * f, 6 + 4 * f + 1
        ax[b + 1], ax[b + 2] = 6 + 4 * f + 2, 6 + 4 * f + 3
    return ax, az


def _rot_xz(xp, tx, tz):
    """``Rz(tz) @ Rx(tx)`` as ``(B, 3, 3)`` for angle vectors ``(B,)`` (ADBench's Euler order
    with the y angle zero, as every hand pose has it)."""
    cx, sx, cz, sz = xp.cos(tx), xp.sin(tx), xp.cos(tz), xp.sin(tz)
    zero = 0.0 * tx
    return xp.stack([cz, -sz * cx, sz * sx, sz, cz * cx, -cz * sx, zero, sx, cx],
                    axis=1).reshape(-1, 3, 3)


def _ht_model(n_vertices, seed):
    rng = np.random.default_rng(seed + 1)
    nb = len(HT_PARENTS)
    base_rel = np.zeros((nb, 4, 4))
    tx = rng.normal(0, 0.2, nb)
    tz = rng.normal(0, 0.2, nb)
    base_rel[:, :3, :3] = _rot_xz(np, tx, tz)
    base_rel[:, :3, 3] = np.where(HT_PARENTS[:, None] < 0, 0.0,
                                  rng.normal(0, 0.01, (nb, 3)) + [0.0, 0.035, 0.0])
    base_rel[:, 3, 3] = 1
    base_abs = np.zeros_like(base_rel)
    for b in range(nb):
        base_abs[b] = base_rel[b] if HT_PARENTS[b] < 0 else base_abs[HT_PARENTS[b]] @ base_rel[b]
    bone = rng.integers(0, nb, n_vertices)
    local = np.concatenate([rng.normal(0, 0.01, (n_vertices, 3)), np.ones((n_vertices, 1))], 1)
    positions = np.einsum("vij,vj->iv", base_abs[bone], local)                     # (4, V)
    W = np.zeros((nb, n_vertices))
    W[bone, np.arange(n_vertices)] = np.where(HT_PARENTS[bone] < 0, 1.0, 0.7)
    has_parent = HT_PARENTS[bone] >= 0
    W[HT_PARENTS[bone][has_parent], np.flatnonzero(has_parent)] = 0.3
    start = rng.integers(0, n_vertices, HT_TRIANGLES)
    triangles = (start[:, None] + np.arange(3)) % n_vertices
    WP = (W[:, None, :] * positions[None, :, :]).reshape(4 * nb, n_vertices)
    return base_rel, np.linalg.inv(base_abs), WP, triangles


def _ht_vertices(xp, theta, base_rel, inv_base_abs, WP):
    """Skinned, globally transformed vertex positions ``(3, V)`` for pose ``theta: (26,)``."""
    ax, az = _ht_angle_index()
    th = xp.concatenate([theta, 0.0 * theta[:1]])
    R = _rot_xz(xp, th[ax], th[az])                                                # (22, 3, 3)
    zc = xp.asarray(np.zeros((22, 3, 1)))
    last = xp.asarray(np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (22, 1, 1)))
    tr = xp.concatenate([xp.concatenate([R, zc], axis=2), last], axis=1)            # (22, 4, 4)
    rel = base_rel @ tr
    levels = _ht_levels()
    absolutes = [rel[levels[0]]]
    order = list(levels[0])
    for lev in levels[1:]:
        prev = {b: i for i, b in enumerate(order[-len(absolutes[-1]):])}
        parents = np.array([prev[p] for p in HT_PARENTS[lev]])
        absolutes.append(absolutes[-1][parents] @ rel[lev])
        order += list(lev)
    absolute = xp.concatenate(absolutes, axis=0)[np.argsort(order)]
    T = (absolute @ inv_base_abs)[:, :3, :]                                        # (22, 3, 4)
    # linear-blend skinning as one product: pos[:, v] = sum_b T_b (w_bv p_v), with the
    # weighted base positions (22 x 4, V) a constant of the model
    pos = xp.concatenate([T[:, i, :].reshape(1, 88) for i in range(3)], axis=0) @ WP
    r = theta[0:3]
    norm = xp.sqrt(xp.sum(r * r))
    k = r / norm
    x_, y_, z_ = k[0], k[1], k[2]
    s, c = xp.sin(norm), xp.cos(norm)
    # ADBench's norm < 1e-4 branch (identity rotation) is never taken: the poses drawn rotate
    Rg = xp.stack([x_ * x_ + (1 - x_ * x_) * c, x_ * y_ * (1 - c) - z_ * s,
                   x_ * z_ * (1 - c) + y_ * s, x_ * y_ * (1 - c) + z_ * s,
                   y_ * y_ + (1 - y_ * y_) * c, y_ * z_ * (1 - c) - x_ * s,
                   x_ * z_ * (1 - c) - y_ * s, z_ * y_ * (1 - c) + x_ * s,
                   z_ * z_ + (1 - z_ * z_) * c]).reshape(3, 3)
    return Rg @ pos + theta[3:6].reshape(3, 1)


def ht(model="small", c=100, xp=np, seed=0):
    """Hand tracking residuals (complicated variant); ``x = (theta: 26, u: 2c)``, ``m = 3c``.

    Example:
        >>> inst = ht("small", 10)
        >>> inst.n, inst.f(inst.x).shape, inst.pattern.nnz
        (46, (30,), 840)
    """
    V = HT_VERTICES[model]
    rng = np.random.default_rng(seed)
    base_rel, inv_base_abs, WP, triangles = _ht_model(V, seed)
    theta = np.concatenate([rng.normal(0, 0.3, 3), rng.normal(0, 0.1, 3), rng.normal(0, 0.3, 20)])
    corr = rng.integers(0, HT_TRIANGLES, c)
    us = rng.uniform(0.1, 0.45, (c, 2))
    true_v = _ht_vertices(np, theta + rng.normal(0, 0.05, 26), base_rel, inv_base_abs, WP)
    tv = true_v[:, triangles[corr]]                                                # (3, c, 3)
    u_true = rng.uniform(0.1, 0.45, (c, 2))
    points = (tv[:, :, 0] * u_true[:, 0] + tv[:, :, 1] * u_true[:, 1]
              + tv[:, :, 2] * (1 - u_true[:, 0] - u_true[:, 1]) + rng.normal(0, 1e-3, (3, c)))
    consts = [xp.asarray(a) for a in (base_rel, inv_base_abs, WP, points)]
    verts = triangles[corr]

    def f(v):
        th, u = v[:26], v[26:].reshape(c, 2)
        P = _ht_vertices(xp, th, *consts[:3])[:, verts]                             # (3, c, 3)
        u0, u1 = u[:, 0], u[:, 1]
        hand = P[:, :, 0] * u0 + P[:, :, 1] * u1 + P[:, :, 2] * (1.0 - u0 - u1)
        return (consts[3] - hand).T.reshape(-1)
    rows = np.arange(3 * c)
    pat = sp.hstack([sp.csr_matrix(np.ones((3 * c, 26), dtype=bool)),
                     sp.csr_matrix((np.ones(6 * c, dtype=bool),
                                    (np.repeat(rows, 2), 2 * np.repeat(rows // 3, 2)
                                     + np.tile([0, 1], 3 * c))), shape=(3 * c, 2 * c))]).tocsr()
    published = f"hand1_t26_c{c}" if (model, c) == ("big", 100) else None
    return Instance("ht", f"{model},c={c}", f, np.concatenate([theta, us.ravel()]), pat,
                    published, dict(model=model, c=c, seed=seed))


# --------------------------------------------------------------------------------------- LSTM

LSTM_BITS = 14


def lstm(l=2, c=1024, xp=np, seed=0):
    """ADBench's LSTM loss over ``c`` characters, ``l`` layers; ``x = (main, extra)``, scalar.

    Example:
        >>> inst = lstm(2, 8)
        >>> inst.n, float(inst.f(inst.x)) > 0
        (266, True)
    """
    b = LSTM_BITS
    rng = np.random.default_rng(seed)
    chars = rng.integers(32, 127, c)
    seq = ((chars[:, None] >> np.arange(b - 1, -1, -1)) & 1).astype(np.float64)    # (c, b)
    main = rng.uniform(size=(2 * l, 4 * b))
    extra = rng.uniform(size=(3, b))
    state = rng.uniform(size=(2 * l, b))
    x0 = np.concatenate([main.ravel(), extra.ravel()])
    # sigmoid(z) = (1 + tanh(z / 2)) / 2: one tanh serves all four gates
    half = xp.asarray(np.concatenate([np.full(3 * b, 0.5), np.ones(b)]))
    shift = xp.asarray(np.concatenate([np.full(3 * b, 0.5), np.zeros(b)]))
    seq_ = xp.asarray(seq)
    state_ = xp.asarray(state)

    def f(v):
        mp = v[:8 * l * b].reshape(2 * l, 4 * b)
        ep = v[8 * l * b:].reshape(3, b)
        weights = [mp[2 * i] * half for i in range(l)]
        biases = [mp[2 * i + 1] * half for i in range(l)]
        hidden = [state_[2 * i] for i in range(l)]
        cell = [state_[2 * i + 1] for i in range(l)]
        inputs = seq_[:-1] * ep[0]
        preds = []
        for t in range(c - 1):
            inp = inputs[t]
            for i in range(l):
                g = xp.tanh(xp.concatenate([inp, hidden[i], inp, hidden[i]]) * weights[i]
                            + biases[i]) * half + shift
                cell[i] = cell[i] * g[:b] + g[b:2 * b] * g[3 * b:]
                hidden[i] = g[2 * b:3 * b] * xp.tanh(cell[i])
                inp = hidden[i]
            preds.append(inp)
        y = xp.stack(preds) * ep[1] + ep[2]                                         # (c-1, b)
        lse = xp.log(xp.sum(xp.exp(y), axis=1) + 2.0)
        return -xp.sum(seq_[1:] * (y - lse.reshape(-1, 1))) / ((c - 1) * b)
    return Instance("lstm", f"l={l},c={c}", f, x0, None, f"l={l},c={c}", dict(l=l, c=c, seed=seed))


# ------------------------------------------------------------------------------------- banded

def banded(n=10 ** 4, xp=np, seed=0):
    """``y_i = sin(x_i) x_{i-1} + x_{i+1}^2 - 2 x_i``: tridiagonal Jacobian, 3 colours.

    Example:
        >>> inst = banded(5)
        >>> inst.pattern.nnz
        13
    """
    x0 = np.random.default_rng(seed).normal(size=n)
    z = xp.asarray(np.zeros(1))

    def f(x):
        return xp.sin(x) * xp.concatenate([z, x[:-1]]) + xp.concatenate([x[1:], z]) ** 2 - 2.0 * x
    pat = sp.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csr")
    return Instance("banded", f"n={n}", f, x0, pat.astype(bool), None, dict(n=n, seed=seed))


PROBLEMS = {"gmm": gmm, "ba": ba, "ht": ht, "lstm": lstm, "banded": banded}


def make(problem: str, xp=np, **size) -> Instance:
    """The instance of ``problem`` at ``size`` (keywords of its generator), in namespace ``xp``.

    Example:
        >>> make("gmm", d=2, K=5).label
        'd=2,K=5,N=1000'
    """
    return PROBLEMS[problem](xp=xp, **size)


#: (problem, size) of ``python -m compare standard``: ADBench's published sizes
FULL = [("gmm", dict(d=2, K=5)), ("gmm", dict(d=10, K=25)), ("gmm", dict(d=64, K=100)),
        ("ba", {}), ("ht", dict(model="small", c=100)), ("ht", dict(model="big", c=100)),
        ("lstm", dict(l=2, c=1024)), ("banded", dict(n=10 ** 4))]
#: the section of the default ``python -m compare`` run (the smaller instances)
QUICK = [("gmm", dict(d=2, K=5)), ("gmm", dict(d=10, K=25)), ("ba", {}),
         ("ht", dict(model="small", c=100)), ("lstm", dict(l=2, c=1024)),
         ("banded", dict(n=10 ** 4))]

#: the section of ``python -m compare --quick`` (seconds)
QUICKEST = [("gmm", dict(d=2, K=5)), ("ht", dict(model="small", c=100)),
            ("banded", dict(n=2000))]

#: gradbench's published ratios (derivative time / objective time), from the nightly statistics
#: of 2026-03-14 (gradbench commit f26651a, ``evals/*/summary.json`` on its statistics branch);
#: None: that tool has no figure for the workload
PUBLISHED = {
    ("gmm", "2_5_1000"): dict(manual=1.77, jax=2.25, pytorch=1.76),
    ("gmm", "10_25_1000"): dict(manual=1.82, jax=4.11, pytorch=4.91),
    ("gmm", "64_100_1000"): dict(manual=3.91, jax=1.28, pytorch=3.31),
    ("ba", "ba1_n49_m7776_p31843"): dict(manual=7.15, jax=None, pytorch=5.95),
    ("ht", "hand1_t26_c100"): dict(manual=4.40, jax=None, pytorch=492.88),
    ("lstm", "l=2,c=1024"): dict(manual=5.41, jax=None, pytorch=2.20),
}
PUBLISHED_SOURCE = ("gradbench nightly statistics of 2026-03-14 (gradbench commit f26651a), "
                    "`evals/<eval>/summary.json`: ratio = derivative time / objective time of the "
                    "same tool; HT is gradbench's default (big model, complicated variant)")
