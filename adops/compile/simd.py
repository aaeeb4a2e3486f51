"""numpy's own (SIMD) loops of transcendental ufuncs, called from inside numba code.

Contract. ``vapply(NAME, x, y, n)`` in a numba function writes ``y[:n] = ufunc(x[:n])`` for the
unary float ufunc and dtype that ``NAME`` (a string literal from :func:`loop_name`) names, by
calling the inner loop numpy itself runs for ``ufunc(x, out=y)``: the same bits as the eager
tier, which evaluates elementwise ops with numpy's ufuncs. ``x`` and ``y`` are 1-d arrays of
that dtype, of any strides. Returns numpy's loop status (0 on success).

Why: numpy 2 evaluates ``tanh``, ``exp``, ``log``... with SIMD loops (AVX2/AVX-512, by the CPU),
while a numba loop calls the C library once per element, 3 to 45 times slower
(:data:`FASTER` lists the measured ratios). The SIMD loops are not in a ufunc's legacy
``functions`` table (it holds ``PyUFunc_d_d`` around a scalar C function); they are reached
through ``ufunc._resolve_dtypes_and_context`` and ``ufunc._get_strided_loop`` (numpy >= 1.24,
"numpy_1.24_ufunc_call_info" capsule), which give the strided loop, its context and auxdata.

Like :mod:`adops.core.scipy_kernels`, the loop is reached by symbol names registered with LLVM at
import (``llvmlite.binding.add_symbol``): the loop function ``adops_np_<ufunc>_<dtype>`` and a
cell holding its context and auxdata pointers, so functions that call ``vapply`` are cached on
disk by numba and link again in a new process, where this module registers that process's
addresses. The capsules and cells are kept for the life of the process (the loops read them).

>>> from numba import njit
>>> @njit
... def tanh_into(x, y):
...     return vapply("tanh_float64", x, y, x.size)
>>> x = np.linspace(-2.0, 2.0, 7)
>>> y = np.empty(7)
>>> int(tanh_into(x, y)), bool(np.array_equal(y, np.tanh(x)))
(0, True)
"""
from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Unary ufuncs whose numpy loop beats a numba loop of scalar calls, per dtype: numba loop /
#: numpy ns per element at n = 10^5 on this project's x86_64 machine (AVX2), one run:
#: float64 exp 10.1, exp2 3.8, expm1 7.2, log 4.3, log2 3.9, log10 6.4, log1p 6.6, tan 5.1,
#: arcsin 10.7, arccos 9.9, arctan 2.9, sinh 9.9, cosh 9.3, tanh 8.8, arcsinh 8.4, arccosh 5.3,
#: arctanh 12.2, cbrt 13.7; sin 1.1, cos 1.0, sqrt 1.0 (left to numba). float32: every one of
#: them 7 to 45, sqrt 1.0.
_TRANSCENDENTAL = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "tan", "arcsin",
                   "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
                   "cbrt")
FASTER = {"float64": frozenset(_TRANSCENDENTAL),
          "float32": frozenset(_TRANSCENDENTAL + ("sin", "cos"))}

_CAPSULE = b"numpy_1.24_ufunc_call_info"
_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


class _CallInfo(ctypes.Structure):  # the capsule's leading fields (numpy documents them)
    _fields_ = [("loop", ctypes.c_void_p), ("context", ctypes.c_void_p),
                ("auxdata", ctypes.c_void_p)]


_KEPT: dict = {}  # symbol -> (capsule, cell): alive as long as code may call the loop


def _register(name: str, dtype: str) -> str | None:
    ufunc, d = getattr(np, name), np.dtype(dtype)
    try:
        if ufunc.nin == 2:  # a binary loop, called as numpy calls it to reduce (see vsum)
            _, info = ufunc._resolve_dtypes_and_context((None, d, None), reduction=True)
        else:
            _, info = ufunc._resolve_dtypes_and_context((d, None))
        ufunc._get_strided_loop(info)  # no fixed strides: the loop takes any
        call = _CallInfo.from_address(_pointer(info, _CAPSULE))
    except (AttributeError, TypeError, ValueError):  # a numpy without the API: scalar code
        return None
    symbol = f"adops_np_{name}_{d.name}"
    cell = (ctypes.c_void_p * 2)(call.context, call.auxdata)
    llvm.add_symbol(symbol, call.loop)
    llvm.add_symbol(symbol + "_cell", ctypes.addressof(cell))
    _KEPT[symbol] = (info, cell)
    return symbol


_SYMBOLS = {(name, dtype): _register(name, dtype) for dtype, names in FASTER.items()
            for name in sorted(names)}
#: numpy's add loops, whose reduction is its pairwise sum (SIMD: numba keeps the eight
#: accumulators of a pairwise sum written in numba scalar, at 2.6x numpy's time)
_SUMS = {dtype: _register("add", dtype) for dtype in ("float64", "float32")}


def loop_name(ufunc, dtype) -> str | None:
    """The ``NAME`` for :func:`vapply` of ``ufunc`` on ``dtype``, or None where a numba loop is as
    fast (or numpy gives no loop).

    >>> loop_name(np.tanh, "float64"), loop_name(np.sqrt, "float64"), loop_name(np.sin, "float64")
    ('tanh_float64', None, None)
    """
    if not isinstance(ufunc, np.ufunc) or getattr(np, ufunc.__name__, None) is not ufunc:
        return None
    symbol = _SYMBOLS.get((ufunc.__name__, str(np.dtype(dtype))))
    return None if symbol is None else symbol[len("adops_np_"):]


def _extern(module, name, ty):
    found = module.globals.get(name)
    if found is None:
        found = ir.GlobalVariable(module, ty, name=name)
        found.linkage = "external"
    return found


def _call_loop(context, builder, symbol, operands, n):
    """Emit a call of numpy's loop ``symbol`` (registered by :func:`_register`) on ``operands``,
    ``[(pointer, stride)]`` in its argument order, over ``n`` entries (an ``intp`` value);
    returns the loop's status."""
    intp = context.get_value_type(types.intp)
    i8p = ir.IntType(8).as_pointer()
    loop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
        ir.IntType(32), [i8p, i8p.as_pointer(), intp.as_pointer(), intp.as_pointer(), i8p]),
        symbol)
    cell = builder.bitcast(_extern(builder.module, symbol + "_cell", ir.IntType(8)),
                           i8p.as_pointer())
    ctx = builder.load(cell)
    aux = builder.load(builder.gep(cell, [ir.Constant(intp, 1)]))
    data = cgutils.alloca_once(builder, i8p, size=len(operands))
    strides = cgutils.alloca_once(builder, intp, size=len(operands))
    for j, (ptr, step) in enumerate(operands):
        builder.store(builder.bitcast(ptr, i8p), builder.gep(data, [ir.Constant(intp, j)]))
        builder.store(step, builder.gep(strides, [ir.Constant(intp, j)]))
    dims = cgutils.alloca_once(builder, intp, size=1)
    builder.store(n, dims)
    return builder.call(loop, [ctx, data, dims, strides, aux])


def _vector(context, builder, ty, value):
    """``(data pointer, stride)`` of a 1-d array value of numba type ``ty``."""
    arr = context.make_array(ty)(context, builder, value)
    return arr.data, cgutils.unpack_tuple(builder, arr.strides, 1)[0]


@intrinsic
def vapply(typingctx, name, x, y, n):
    """``y[:n] = ufunc(x[:n])`` by numpy's loop (see the module docstring)."""
    if not (isinstance(name, types.StringLiteral) and isinstance(x, types.Array) and
            isinstance(y, types.Array) and x.ndim == 1 and y.ndim == 1 and
            x.dtype == y.dtype and isinstance(n, types.Integer)):
        return None
    symbol = "adops_np_" + name.literal_value
    if symbol not in _KEPT or not symbol.endswith(str(x.dtype)):
        raise TypeError(f"vapply: no numpy loop {name.literal_value!r} for {x.dtype}")

    def codegen(context, builder, sig, args):
        _, xv, yv, nv = args
        operands = [_vector(context, builder, sig.args[1], xv),
                    _vector(context, builder, sig.args[2], yv)]
        return _call_loop(context, builder, symbol, operands,
                          context.cast(builder, nv, sig.args[3], types.intp))
    return types.int32(name, x, y, n), codegen


def sums_natively(dtype) -> bool:
    """Whether :func:`vsum` takes arrays of ``dtype`` (a numpy or numba dtype).

    >>> sums_natively(np.float32), sums_natively(np.int64)
    (True, False)
    """
    name = str(dtype) if isinstance(dtype, types.Type) else np.dtype(dtype).name
    return _SUMS.get(name) is not None


@intrinsic
def vsum(typingctx, x):
    """``np.sum(x)`` of a 1-d float array by numpy's own add loop, as numpy reduces: ``0 +``
    its pairwise sum of the entries (any stride), the same bits.

    >>> from numba import njit
    >>> total = njit(lambda x: vsum(x))
    >>> x = np.random.default_rng(0).normal(size=1001)
    >>> bool(total(x) == np.sum(x)), bool(total(x[::3]) == np.sum(x[::3]))
    (True, True)
    """
    if not (isinstance(x, types.Array) and x.ndim == 1 and sums_natively(x.dtype)):
        return None
    symbol = _SUMS[str(x.dtype)]

    def codegen(context, builder, sig, args):
        (xv,) = args
        xdata, xstride = _vector(context, builder, sig.args[0], xv)
        acc = cgutils.alloca_once_value(
            builder, ir.Constant(context.get_value_type(sig.return_type), 0.0))
        zero = ir.Constant(context.get_value_type(types.intp), 0)
        # numpy's reduce case of a binary loop: the output is the first input, both stride 0
        n = cgutils.unpack_tuple(builder, context.make_array(sig.args[0])(
            context, builder, xv).shape, 1)[0]
        _call_loop(context, builder, symbol, [(acc, zero), (xdata, xstride), (acc, zero)], n)
        return builder.load(acc)
    return x.dtype(x), codegen
