"""A small MLP trained by gradient descent with revad.grad until the loss falls; the loss curve
is saved as a plot.

    python examples/train_mlp.py [OUT_PNG]
"""
import os
import sys
import tempfile

import numpy as np

import revad

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, size=(64, 1))
Y = np.sin(X)


def loss(params):
    w1, b1, w2, b2 = params
    h = np.tanh(X @ w1 + b1)
    return np.mean((h @ w2 + b2 - Y) ** 2)


def main(out_png=os.path.join(tempfile.gettempdir(), "adops-examples", "mlp_loss.png"),
         steps=300, lr=0.1):
    params = [rng.normal(size=(1, 16)) * 0.5, np.zeros(16), rng.normal(size=(16, 1)) * 0.5,
              np.zeros(1)]
    value_and_grad = revad.value_and_grad(lambda *p: loss(p), argnums=(0, 1, 2, 3))
    history = []
    for step in range(steps):
        L, grads = value_and_grad(*params)
        history.append(float(L))
        params = [p - lr * g for p, g in zip(params, grads)]
    print(f"loss: {history[0]:.4f} at step 0 -> {history[-1]:.4f} at step {steps - 1}")
    assert history[-1] < 0.25 * history[0], "the loss must fall"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(history)
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("mean squared error")
    ax.set_title("MLP fitting sin(x), trained with revad.grad")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
    fig.savefig(out_png, dpi=110)
    print(out_png)
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
