"""Regenerate docs/SUPPORTED.md from the registry: ``python -m adops.docs``."""
import os

from .compile.forms import without_form
from .numpy_api.listing import supported_table
from .ops.registry import OPS

HEADER = ("# Supported numpy functions\n\nGenerated from the registry by `python -m adops.docs`; "
          "both modes accept exactly these.\n\n")


PYTHON_DRIVER = "## Ops that keep the Python driver in the compiled tier"


def python_driver_section() -> str:
    """The section of docs/SUPPORTED.md listing the ops no whole numba program holds.

    >>> "| `digamma` | ElementwiseOp: a rule numba does not compile |" in python_driver_section()
    True
    """
    rows = "".join(f"| `{name}` | {why} |\n" for name, why in without_form(OPS).items())
    matrix = sorted(name for name, op in OPS.items() if getattr(op, "matrix", None))
    return (f"\n{PYTHON_DRIVER}\n\nA compiled program holding one of these ops runs its "
            "structural ops from Python (`adops/compile/codegen.py`) instead of one numba "
            "function per derivative (`adops/compile/whole.py`); every other op has a numba "
            "form (structural ops, `adops/compile/forms.py`) or a fused loop (elementwise ops)."
            "\n\nLinear algebra with a numba form (" + ", ".join(f"`{m}`" for m in matrix) +
            ", and `slogdet`'s sign) runs numba's `np.linalg` (the same LAPACK routines as "
            "numpy's: in float64 numpy's bits, eigenvector and singular vector signs included) "
            "on each matrix of the batch, in float64 or float32 (`adops/compile/matrixforms.py`, "
            "`adops/compile/lapack.py`); its derivatives are the ops' own rules traced into "
            "numba functions. numba compiles such a program for several seconds per op on a "
            "cold cache. Two cases run numpy's call instead: a matrix holding inf or nan "
            "(numba's LAPACK wrappers refuse it; that call only), and `eigh`/`eigvalsh` with "
            "`UPLO='U'` (numba reads the lower triangle; that program keeps its Python driver)."
            "\n\n| op | why |\n|---|---|\n" + rows)


def main(path=None):
    path = path or os.path.join(os.path.dirname(__file__), "..", "docs", "SUPPORTED.md")
    with open(path, "w") as fh:
        fh.write(HEADER + supported_table() + python_driver_section())
    return path


if __name__ == "__main__":
    print(main())
