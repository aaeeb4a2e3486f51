"""The Jacobian by columns and by rows. For f: R^3 -> R^2 forward mode needs 3 sweeps (one
column each) and reverse mode 2 (one row each); for the mirror g: R^2 -> R^3 it is the other way
round. Prints every sweep's column or row, checks both modes agree with the Jacobian written out
by hand, and writes jacobian_sweeps.png and a graph page per function (its Jacobian section
steps the same sweeps).

    python examples/jacobian_sweeps.py [OUT_DIR]
"""
import os
import sys
import tempfile

import numpy as np

from compare.graph import draw
from compare.jacobians import f_2_to_3, f_3_to_2, sweeps, write


def by_hand_3_to_2(x, y, z):
    return np.array([[y, x, 1.0], [np.cos(x) * z, 0.0, np.sin(x)]])


def by_hand_2_to_3(u, v):
    return np.array([[v, u], [1.0, 1.0], [np.cos(u) * v, np.sin(u)]])


def show(name, f, args, by_hand):
    s = sweeps(f, *args)
    n, m = len(s["inputs"]), len(s["outputs"])
    print(f"{name}: R^{n} -> R^{m}")
    for j, col in enumerate(s["columns"]):
        print(f"  forward sweep {j + 1}/{n} (tangent along {s['inputs'][j]}): column "
              f"{np.round(col, 6).tolist()}")
    for i, row in enumerate(s["rows"]):
        print(f"  reverse sweep {i + 1}/{m} (cotangent at {s['outputs'][i]}): row "
              f"{np.round(row, 6).tolist()}")
    J_fwd, J_rev = np.stack(s["columns"], axis=1), np.stack(s["rows"])
    assert np.allclose(J_fwd, J_rev) and np.allclose(J_fwd, by_hand(*args))
    print(f"  forward mode: {n} sweeps, reverse mode: {m} sweeps")


def main(out_dir=os.path.join(tempfile.gettempdir(), "adops-examples", "jacobians")):
    show("f_3_to_2", f_3_to_2, (1.0, 2.0, 3.0), by_hand_3_to_2)
    show("f_2_to_3", f_2_to_3, (1.0, 2.0), by_hand_2_to_3)
    paths = write(out_dir)
    paths += draw(f_3_to_2, 1.0, 2.0, 3.0, out_dir=os.path.join(out_dir, "f_3_to_2"))
    paths += draw(f_2_to_3, 1.0, 2.0, out_dir=os.path.join(out_dir, "f_2_to_3"))
    print("\n".join(paths))
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
