"""A sigmoid neuron with cross-entropy loss: yhat = sigmoid(w . x), L = -(y log yhat +
(1 - y) log(1 - yhat)). The gradient simplifies to dL/dw = (yhat - y) x.

    python examples/sigmoid_neuron.py
"""
import numpy as np

import dualad
import revad

x = np.array([0.5, -1.2, 2.0])
y = 1.0


def loss(w):
    yhat = 1 / (1 + np.exp(-np.dot(w, x)))
    return -(y * np.log(yhat) + (1 - y) * np.log(1 - yhat))


def main():
    w = np.array([0.1, 0.2, -0.3])
    yhat = 1 / (1 + np.exp(-w @ x))
    closed_form = (yhat - y) * x
    rev = revad.grad(loss)(w)
    fwd = dualad.jacfwd(loss)(w)
    print(f"yhat = {yhat:.4f}; (yhat - y) x = {np.round(closed_form, 6)}")
    print(f"reverse mode: {np.round(rev, 6)}\nforward mode: {np.round(fwd, 6)}")
    assert np.allclose(rev, closed_form) and np.allclose(fwd, closed_form)
    print("ok")


if __name__ == "__main__":
    main()
