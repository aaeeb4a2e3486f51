"""The two-layer linear network: h = w1 x, yhat = w2 h, L = (y - yhat)^2 at x = 2, y = 1,
w1 = 0.5, w2 = 0.3. L = 0.49, dL/dw1 = -0.84, dL/dw2 = -1.4; one step of gradient descent with
learning rate 0.1 gives w1 = 0.584, w2 = 0.44.

    python examples/two_layer_net.py
"""
import numpy as np

import dualad
import revad

X, Y, LR = 2.0, 1.0, 0.1


def loss(w1, w2):
    h = w1 * X
    yhat = w2 * h
    return (Y - yhat) ** 2


def main():
    w1, w2 = 0.5, 0.3
    L, (g1, g2) = revad.value_and_grad(loss, argnums=(0, 1))(w1, w2)
    print(f"forward pass: h = {w1 * X}, yhat = {w2 * w1 * X:.2f}, L = {float(L):.4f}")
    print(f"reverse mode: dL/dw1 = {float(g1):.4f}, dL/dw2 = {float(g2):.4f}")
    f1 = dualad.derivative(lambda a: loss(a, w2))(w1)
    f2 = dualad.derivative(lambda b: loss(w1, b))(w2)
    print(f"forward mode: dL/dw1 = {f1:.4f}, dL/dw2 = {f2:.4f}")
    assert np.isclose(L, 0.49) and np.isclose(g1, -0.84) and np.isclose(g2, -1.4)
    assert np.isclose(f1, -0.84) and np.isclose(f2, -1.4)
    w1, w2 = w1 - LR * float(g1), w2 - LR * float(g2)
    print(f"one step with lr {LR}: w1 = {w1:.3f}, w2 = {w2:.3f}, L = {float(loss(w1, w2)):.4f}")
    assert np.isclose(w1, 0.584) and np.isclose(w2, 0.44)
    print("ok")


if __name__ == "__main__":
    main()
