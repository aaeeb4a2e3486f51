"""Composed numpy programs that both modes must differentiate unchanged: (name, f, args)."""
import numpy as np

rng = np.random.default_rng(0)
W = rng.normal(size=(4, 5))
b = rng.normal(size=4)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def dense(x):
    return np.tanh(W @ x + b)


def mlp_loss(w1, w2, x=rng.normal(size=(6, 3)), y=rng.normal(size=6)):
    h = np.maximum(x @ w1, 0.0)
    return np.mean((h @ w2 - y) ** 2)


def softmax_xent(z):
    z = z - np.max(z, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return -np.mean(logp[np.arange(3), np.array([0, 2, 1])])


PROGRAMS = [
    ("rosenbrock", rosenbrock, (rng.uniform(-1, 1, 6),)),
    ("dense", dense, (rng.normal(size=5),)),
    ("mlp", mlp_loss, (rng.normal(size=(3, 4)), rng.normal(size=4))),
    ("softmax_xent", softmax_xent, (rng.normal(size=(3, 4)),)),
    ("broadcast_mix", lambda x, y: np.sin(x[:, None] * y) + np.exp(-y) / (1 + x[:, None] ** 2),
     (rng.normal(size=3), rng.normal(size=4))),
    ("reductions", lambda x: np.concatenate([np.sum(x, axis=0), np.mean(x, axis=1),
                                             np.prod(x, axis=0), np.max(x, axis=1),
                                             np.min(x, axis=0)]),
     (rng.uniform(0.5, 1.5, (3, 4)),)),
    ("var_std_norm", lambda x: np.stack([np.var(x), np.std(x, ddof=1), np.linalg.norm(x),
                                         np.linalg.norm(x, 1), np.linalg.norm(x, np.inf)]),
     (rng.normal(size=7),)),
    ("frobenius", lambda a: np.linalg.norm(a) + np.linalg.norm(a, axis=1).sum(),
     (rng.normal(size=(3, 4)),)),
    ("shapes", lambda x: np.moveaxis(np.expand_dims(x, 0), 0, -1).squeeze().T.reshape(-1)
     .cumsum() * np.flip(np.ravel(np.swapaxes(x, 0, 1))), (rng.normal(size=(2, 3)),)),
    ("indexing", lambda x: x[1:, ::2].sum() * x[[0, 2, 2]] + x[x.shape[0] - 1, -1] * x[..., 0],
     (rng.normal(size=(3, 3)),)),
    ("masks", lambda x: np.where(x > 0, np.sqrt(np.abs(x)), x ** 3) + np.clip(x, -0.5, 0.5),
     (rng.uniform(-2, 2, 6) + 0.01,)),
    ("products", lambda a, c: np.concatenate([np.dot(a, c).ravel(), np.inner(a, a).ravel(),
                                              np.outer(c, c).ravel(),
                                              np.tensordot(a, a, axes=([1], [1])).ravel(),
                                              np.einsum("ij,j->i", a, c),
                                              np.einsum("ij,kj,k->i", a, a, a[:, 0]),
                                              np.atleast_1d(np.vdot(c, c)), np.atleast_1d(np.trace(a @ a.T))]),
     (rng.normal(size=(3, 4)), rng.normal(size=4))),
    ("batched_matmul", lambda a, c: np.sum((a @ c) ** 2, axis=(1, 2)),
     (rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2)))),
    ("stack_split", lambda x: np.stack(np.split(x, 3), axis=1) * np.hstack([x[:3], x[3:6]])[:, None]
     .sum(), (rng.normal(size=9),)),
    ("sort_roll_diff", lambda x: np.diff(np.sort(x)) * np.roll(x, 1)[1:] + np.repeat(x, 2)[::3].sum(),
     (rng.permutation(7) * 0.3 + 0.1,)),
    ("special", lambda x: np.logaddexp(x, 2 * x) + np.hypot(x, 1.0) + np.arctan2(x, 2.0)
     + np.log1p(x ** 2) + np.expm1(x) + np.cbrt(x + 3) + x ** x, (rng.uniform(0.5, 2.0, 5),)),
    ("scalar_in", lambda t: np.stack([t * t, np.sin(t), 3 * t]), (0.7,)),
    ("setitem", lambda x: _setitem_prog(x), (rng.normal(size=5),)),
]


def _setitem_prog(x):
    y = x * 2.0
    y[1:3] = np.sin(x[:2])
    y[0] = 5.0
    return y * x
