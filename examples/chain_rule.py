"""The chain rule on y = (3x + 1)^2: dy/dx = 2 (3x + 1) * 3, so 42 at x = 2 and 24 at x = 1.

    python examples/chain_rule.py
"""
import numpy as np

import dualad
import revad


def y(x):
    return (3 * x + 1) ** 2


def main():
    for x, expected in ((2.0, 42.0), (1.0, 24.0)):
        u = 3 * x + 1
        by_hand = 2 * u * 3
        fwd = dualad.derivative(y)(x)
        rev = float(revad.grad(y)(x))
        print(f"x = {x}: u = 3x + 1 = {u}, dy/du = 2u = {2 * u}, du/dx = 3 -> dy/dx = {by_hand}; "
              f"forward mode {fwd}, reverse mode {rev}")
        assert by_hand == fwd == rev == expected
    print("ok")


if __name__ == "__main__":
    main()
