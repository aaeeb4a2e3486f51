"""The standard problems (compare.problems.standard, timed by compare.studies.standard): sizes as ADBench publishes them, derivatives of both
modes against finite differences, structural patterns that cover every nonzero, coloured
Jacobians equal to dense ones, objectives against independent implementations, and the timing
harness end to end on small instances."""
import math
import os

import numpy as np
import pytest
import scipy.stats

import dualad
import revad
from adops.sparsity import colouring as sparse
from compare.common.timing import finite_differences
from compare.problems import standard as st
from compare.studies import standard as sr

SMALL = [("gmm", dict(d=3, K=4, N=30)), ("ba", dict(n_cams=3, n_pts=5, n_obs=12)),
         ("ht", dict(model="small", c=5)), ("lstm", dict(l=2, c=5)), ("banded", dict(n=12))]


def test_adbench_sizes():
    assert st.gmm(64, 100).n == 100 * (1 + 64 + 64 * 65 // 2) == 214500
    b = st.ba()
    assert (b.n, b.pattern.shape[0]) == (11 * 49 + 3 * 7776 + 31843, 3 * 31843)
    row_nnz = np.diff(b.pattern.indptr)
    assert (row_nnz[:2 * 31843] == 15).all() and (row_nnz[2 * 31843:] == 1).all()
    h = st.ht("big", 100)
    assert h.n == 26 + 200 and h.pattern.shape == (300, 226)
    assert st.HT_VERTICES == {"small": 544, "big": 10000}
    assert st.lstm(2, 4).n == 8 * 2 * 14 + 3 * 14 == 266
    # generated, not drawn at random at each call
    np.testing.assert_array_equal(st.ba(3, 5, 12).x, st.ba(3, 5, 12).x)


@pytest.mark.parametrize("problem,size", SMALL, ids=[p for p, _ in SMALL])
def test_modes_agree_with_finite_differences_and_patterns(problem, size):
    inst = st.make(problem, **size)
    Jf = dualad.jacfwd(inst.f)(inst.x)
    Jr = revad.jacrev(inst.f)(inst.x)
    Jfd = finite_differences(inst.f, inst.x)
    np.testing.assert_allclose(Jf, Jr, rtol=1e-10, atol=1e-12)
    scale = max(1.0, float(np.abs(Jf).max()))
    assert np.abs(Jf - Jfd).max() / scale < 1e-5
    if inst.pattern is None:
        return
    J = np.atleast_2d(Jf)
    assert not np.any((J != 0) & ~inst.pattern.toarray()), "the pattern misses a nonzero"
    for mode in sparse.MODES:
        c = sparse.colour(inst.pattern, mode)
        if mode == "forward":
            push = lambda s: dualad.jvp(inst.f, (inst.x,), (s,), batched=True)[1]
        else:
            _, vjp_fn = revad.vjp(inst.f, inst.x)
            push = lambda u: vjp_fn(u, batched=True)[0]
        np.testing.assert_allclose(sparse.sparse_jacobian(push, c, mode).toarray(), J,
                                   rtol=1e-12, atol=1e-12)


def test_coloured_passes_of_the_sparse_problems():
    assert sparse.colour(st.ba(6, 20, 60).pattern, "forward").n_colours == 15
    assert sparse.colour(st.ht("small", 20).pattern, "forward").n_colours == 28
    assert sparse.colour(st.ht("small", 20).pattern, "reverse").n_colours == 60  # dense theta
    assert sparse.colour(st.banded(100).pattern, "reverse").n_colours == 3


def test_gmm_is_the_log_posterior_by_scipy_densities():
    """Independent of the vectorised formula: scipy's multivariate normal and Wishart densities
    with the precision Q^T Q and the scale matrix I / gamma^2 (gradbench's definition)."""
    d, K, N = 3, 4, 25
    inst = st.gmm(d, K, N)
    rng = np.random.default_rng(0)        # the generator's draws, in its order
    X = rng.normal(size=(N, d))
    alpha = rng.normal(size=K)
    mu = rng.uniform(size=(K, d))
    q = rng.normal(size=(K, d))
    l = rng.normal(size=(K, d * (d - 1) // 2))
    phi = np.exp(alpha) / np.exp(alpha).sum()
    lik = np.zeros(N)
    prior = 0.0
    for k in range(K):
        Q = np.diag(np.exp(q[k]))
        Q[np.tril_indices(d, -1)[1], np.tril_indices(d, -1)[0]] = 0   # strict lower, by column
        Q[[j for i in range(d) for j in range(i + 1, d)],
          [i for i in range(d) for j in range(i + 1, d)]] = l[k]
        P = Q.T @ Q
        lik += phi[k] * scipy.stats.multivariate_normal(mu[k], np.linalg.inv(P)).pdf(X)
        prior += scipy.stats.wishart(df=d + 0 + 1, scale=np.eye(d)).logpdf(P)
    assert float(inst.f(inst.x)) == pytest.approx(np.log(lik).sum() + prior, rel=1e-10)


def _torch():
    return pytest.importorskip("torch")


def test_ba_objective_against_torch_rotation_matrices():
    torch = _torch()
    inst = st.ba(4, 6, 15)
    cams, X, w, obs, feats = st._ba_data(4, 6, 15, 0)
    c = torch.tensor(cams[obs[:, 0]])
    r = c[:, :3]
    th = r.norm(dim=1, keepdim=True)
    k = r / th
    Kx = torch.zeros(15, 3, 3, dtype=torch.float64)
    Kx[:, 0, 1], Kx[:, 0, 2], Kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    Kx = Kx - Kx.transpose(1, 2)
    R = (torch.eye(3, dtype=torch.float64) + torch.sin(th)[:, :, None] * Kx
         + (1 - torch.cos(th))[:, :, None] * Kx @ Kx)                 # Rodrigues' formula
    Xc = (R @ (torch.tensor(X[obs[:, 1]]) - c[:, 3:6])[:, :, None])[:, :, 0]
    p = Xc[:, :2] / Xc[:, 2:]
    rsq = (p ** 2).sum(1, keepdim=True)
    proj = p * (1 + c[:, 9:10] * rsq + c[:, 10:11] * rsq ** 2) * c[:, 6:7] + c[:, 7:9]
    wt = torch.tensor(w)
    ref = torch.cat([(wt[:, None] * (proj - torch.tensor(feats))).reshape(-1), 1 - wt ** 2])
    np.testing.assert_allclose(inst.f(inst.x), ref.numpy(), rtol=1e-12, atol=1e-9)


def test_ht_objective_against_a_per_bone_torch_loop():
    torch = _torch()
    c = 7
    inst = st.ht("small", c)
    base_rel, inv_base_abs, WP, triangles = st._ht_model(544, 0)
    theta = torch.tensor(inst.x[:26])
    us = torch.tensor(inst.x[26:]).reshape(c, 2)

    def euler(tx, tz):
        Rx = torch.eye(3, dtype=torch.float64)
        Rx[1, 1], Rx[1, 2], Rx[2, 1], Rx[2, 2] = torch.cos(tx), -torch.sin(tx), torch.sin(tx), torch.cos(tx)
        Rz = torch.eye(3, dtype=torch.float64)
        Rz[0, 0], Rz[0, 1], Rz[1, 0], Rz[1, 1] = torch.cos(tz), -torch.sin(tz), torch.sin(tz), torch.cos(tz)
        return Rz @ Rx
    pose = torch.zeros(22, 2, dtype=torch.float64)        # ADBench's to_pose_params, by loops
    i_theta = 6
    for finger in range(5):
        for i in range(2, 5):
            pose[4 * finger + i, 0] = theta[i_theta]
            i_theta += 1
            if i == 2:
                pose[4 * finger + i, 1] = theta[i_theta]
                i_theta += 1
    absolutes = []
    for b in range(22):
        tr = torch.eye(4, dtype=torch.float64)
        tr[:3, :3] = euler(pose[b, 0], pose[b, 1])
        rel = torch.tensor(base_rel[b]) @ tr
        parent = st.HT_PARENTS[b]
        absolutes.append(rel if parent < 0 else absolutes[parent] @ rel)
    WP = torch.tensor(WP).reshape(22, 4, -1)
    verts = sum((absolutes[b] @ torch.tensor(inv_base_abs[b]))[:3] @ WP[b] for b in range(22))
    ang = theta[:3]
    n = ang.norm()
    k = ang / n
    K = torch.zeros(3, 3, dtype=torch.float64)
    K[0, 1], K[0, 2], K[1, 2] = -k[2], k[1], -k[0]
    K = K - K.T
    R = torch.eye(3, dtype=torch.float64) + torch.sin(n) * K + (1 - torch.cos(n)) * K @ K
    verts = R @ verts + theta[3:6, None]
    rng = np.random.default_rng(0)
    rng.normal(0, 0.3, 3), rng.normal(0, 0.1, 3), rng.normal(0, 0.3, 20)
    corr = rng.integers(0, st.HT_TRIANGLES, c)
    tri = torch.tensor(triangles[corr])
    hand = torch.stack([us[i, 0] * verts[:, tri[i, 0]] + us[i, 1] * verts[:, tri[i, 1]]
                        + (1 - us[i, 0] - us[i, 1]) * verts[:, tri[i, 2]] for i in range(c)])
    # f = points - hand(u): the difference between two u isolates the model's hand points
    f0 = inst.f(inst.x).reshape(c, 3)
    x2 = inst.x.copy()
    x2[26:] = 0.25
    hand2 = torch.stack([0.25 * verts[:, tri[i, 0]] + 0.25 * verts[:, tri[i, 1]]
                         + 0.5 * verts[:, tri[i, 2]] for i in range(c)])
    np.testing.assert_allclose(inst.f(x2).reshape(c, 3) - f0, (hand - hand2).numpy(),
                               rtol=1e-10, atol=1e-12)


def test_lstm_objective_against_adbench_torch_formulation():
    torch = _torch()
    l, c, b = 2, 9, st.LSTM_BITS
    inst = st.lstm(l, c)
    rng = np.random.default_rng(0)
    chars = rng.integers(32, 127, c)
    seq = torch.tensor(((chars[:, None] >> np.arange(b - 1, -1, -1)) & 1).astype(float))
    main = torch.tensor(inst.x[:8 * l * b]).reshape(2 * l, 4 * b)
    extra = torch.tensor(inst.x[8 * l * b:]).reshape(3, b)
    rng.uniform(size=(2 * l, 4 * b)), rng.uniform(size=(3, b))
    state = list(torch.tensor(rng.uniform(size=(2 * l, b))))
    total = 0.0
    for t in range(c - 1):                               # ADBench's PyTorch objective, by loops
        x = seq[t] * extra[0]
        for i in range(l):
            gates = torch.cat([x, state[2 * i], x, state[2 * i]]) * main[2 * i] + main[2 * i + 1]
            f_, i_, o_ = (torch.sigmoid(gates[j * b:(j + 1) * b]) for j in range(3))
            state[2 * i + 1] = state[2 * i + 1] * f_ + i_ * torch.tanh(gates[3 * b:])
            state[2 * i] = o_ * torch.tanh(state[2 * i + 1])
            x = state[2 * i]
        y = x * extra[1] + extra[2]
        total += (seq[t + 1] * (y - torch.log(torch.exp(y).sum() + 2))).sum()
    assert float(inst.f(inst.x)) == pytest.approx(float(-total / ((c - 1) * b)), rel=1e-12)


@pytest.mark.parametrize("peer", ["jax", "torch"])
def test_peers_compute_the_same_objective(peer):
    mod = pytest.importorskip(peer)
    if peer == "jax":
        mod.config.update("jax_enable_x64", True)
        xp, conv, wrap = mod.numpy, mod.numpy.asarray, mod.jit
    else:
        xp, conv, wrap = mod, mod.asarray, lambda f: f
    for problem, size in SMALL:
        ours = st.make(problem, **size)
        theirs = st.make(problem, xp=xp, **size)
        np.testing.assert_allclose(np.asarray(wrap(theirs.f)(conv(theirs.x))), ours.f(ours.x),
                                   rtol=1e-12, atol=1e-12)


def test_measure_rows_and_report(tmp_path):
    cases = [("banded", dict(n=300)), ("gmm", dict(d=2, K=3, N=40)),
             ("ht", dict(model="small", c=4))]
    paths = sr.run(str(tmp_path), cases, repeat=1, budget=5.0, progress=False)
    rows = sr.read_rows(os.path.join(tmp_path, "standard.csv"))
    by = {(r["problem"], r["method"]): r for r in rows}
    assert by[("banded", "forward-coloured")]["passes"] == "3"
    assert by[("banded", "forward")]["passes"] == str(math.ceil(300 / 256))
    assert by[("ht", "forward-coloured")]["passes"] == "28"
    assert ("gmm", "forward-coloured") not in by              # a gradient: no pattern
    for r in rows:
        assert r["seconds"] > 0 and r["ratio"] > 0
    assert by[("banded", "objective")]["ratio"] == 1.0
    md = open(os.path.join(tmp_path, "standard.md")).read()
    assert "## banded" in md and "gradbench" in md and "| n=300 |" in md
    for p in paths:
        assert os.path.getsize(p) > 0
    # a derivative over budget is estimated from one pass, not run
    est = sr.measure(st.banded(2000), repeat=1, budget=1e-6, fd=False)
    assert {r["method"]: r["estimated"] for r in est}["forward"] == 1


def test_cli_standard_subcommand_parses(capsys):
    from compare.__main__ import main
    with pytest.raises(SystemExit) as e:
        main(["standard", "--help"])
    assert e.value.code == 0
    assert "ADBench" in capsys.readouterr().out
