"""dualad: forward-mode AD with chunked dual numbers (k tangent directions per pass).

>>> import numpy as np, dualad
>>> dualad.derivative(lambda x: (3 * x + 1) ** 2)(2.0)
array(42.)
"""
from .dual import Dual
from .api import jvp, jacfwd, derivative
from adops.program.inputs import auto_chunk

__all__ = ["Dual", "jvp", "jacfwd", "derivative", "auto_chunk"]
