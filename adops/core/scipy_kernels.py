"""scipy.special's scalar functions inside numba code, through ``scipy.special.cython_special``.

numba does not know scipy's ufuncs, so a rule body such as ``sc.erf(x)`` or
``np.exp(sc.xlogy(a - 1.0, x) - x)`` would not compile. This module gives numba an
implementation of each function of :data:`NAMES` for scalar arguments: a call of the very C
function behind scipy's ufunc loop (found in ``cython_special.__pyx_capi__`` by its signature),
so a compiled loop computes the same bits as the ufunc:

- float64 arguments call the ``double`` specialization;
- all-float32 arguments call the ``float`` specialization when scipy has one (its ``f->f`` loop
  does), else the ``double`` one on the widened arguments, rounded back to float32 (what the
  ufunc's cast loop does); the result is float32 either way, as numpy's.

The C function is reached by a symbol name registered with LLVM at import
(``llvmlite.binding.add_symbol``), not by an address baked into the code, so functions that call
it are cached on disk by numba and still link in a new process. scipy's ``numba-scipy`` package
does the same job but is pinned to scipy <= 1.11.

>>> import numpy as np, scipy.special as sc
>>> from numba import njit
>>> f = njit(lambda x: sc.ndtr(x))
>>> bool(f(0.3) == sc.ndtr(0.3)) and bool(f(np.float32(0.3)) == sc.ndtr(np.float32(0.3)))
True
"""
from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np
import scipy
import scipy.special as sc
import scipy.special.cython_special as cython_special
from numba import types
from numba.extending import get_cython_function_address, overload

#: the scipy.special functions numba code may call (each has a ``double`` specialization)
NAMES = ("erf", "erfc", "erfinv", "erfcinv", "erfcx", "expit", "log_expit", "logit", "ndtr",
         "log_ndtr", "ndtri", "gammaln", "gamma", "psi", "entr", "xlogy", "xlog1py", "betaln",
         "gammainc", "gammaincc", "betainc", "stdtr")

_C = {"double": types.float64, "float": types.float32}

# a prototype of its own (setting ctypes.pythonapi's would change it for every other user)
_capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
    ("PyCapsule_GetName", ctypes.pythonapi))


def _specializations(name):
    """``{"double" | "float": (capsule name, number of arguments)}`` of ``name`` in
    cython_special whose result and arguments are all of that C type."""
    out = {}
    for key, capsule in cython_special.__pyx_capi__.items():
        if key != name and not (key.startswith("__pyx_fuse_") and
                                key[len("__pyx_fuse_"):].lstrip("0123456789") == name):
            continue
        sig = _capsule_name(capsule).decode()
        ret, _, args = sig.partition(" (")
        args = [a.strip() for a in args.rstrip(")").split(",")]
        if args[-1] != "int __pyx_skip_dispatch" or ret not in _C:
            continue
        if all(a == ret for a in args[:-1]):
            out[ret] = (key, len(args) - 1)
    return out


def _external(name, ctype, key, nargs):
    symbol = f"adops_scipy_{name}_{ctype}"
    llvm.add_symbol(symbol, get_cython_function_address("scipy.special.cython_special", key))
    t = _C[ctype]
    return types.ExternalFunction(symbol, t(*([t] * nargs), types.intc))


def _bind(name):
    found = _specializations(name)
    if "double" not in found:
        raise RuntimeError(f"scipy.special.cython_special has no double {name}: scipy "
                           f"{scipy.__version__} is not supported by adops' compiled loops "
                           "(install a scipy version that pyproject.toml allows)")
    nargs = found["double"][1]
    c64 = _external(name, "double", *found["double"])
    c32 = _external(name, "float", *found["float"]) if "float" in found else None
    _overload(getattr(sc, name), nargs, c64, c32)


def _overload(ufunc, nargs, c64, c32):
    # numba wants an implementation with the function's exact arity
    if nargs == 1:
        def pick(x):
            return _implementation((x,), c64, c32)
    elif nargs == 2:
        def pick(x, y):
            return _implementation((x, y), c64, c32)
    else:
        def pick(x, y, z):
            return _implementation((x, y, z), c64, c32)
    overload(ufunc)(pick)


def _implementation(args, c64, c32):
    if not all(isinstance(a, (types.Float, types.Integer, types.Boolean)) for a in args):
        return None
    single = all(a == types.float32 for a in args)
    n = len(args)
    if single and c32 is not None:
        return {1: lambda x: c32(x, 0), 2: lambda x, y: c32(x, y, 0),
                3: lambda x, y, z: c32(x, y, z, 0)}[n]
    if single:
        return {1: lambda x: np.float32(c64(np.float64(x), 0)),
                2: lambda x, y: np.float32(c64(np.float64(x), np.float64(y), 0)),
                3: lambda x, y, z: np.float32(c64(np.float64(x), np.float64(y),
                                                  np.float64(z), 0))}[n]
    return {1: lambda x: c64(np.float64(x), 0),
            2: lambda x, y: c64(np.float64(x), np.float64(y), 0),
            3: lambda x, y, z: c64(np.float64(x), np.float64(y), np.float64(z), 0)}[n]


for _name in NAMES:
    _bind(_name)
