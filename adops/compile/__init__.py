"""The compiled tier: trace a function once, run generated code with fused numba loops.

Contract: :func:`compiled(f)` gives a :class:`CompiledFunction`. Called with arguments, it finds
(or traces, once per argument signature) a :class:`Program`: the function's ops as one recorded
:class:`adops.program.Trace`, and generated code (:mod:`adops.compile.codegen`) for its primal,
its JVP with k directions and its value-and-VJP with m seeds. Both modes call it when a transform
is given ``compiled=True``:

- ``cf.jvp(args, kwargs, nums, tangents)`` -> ``(outs, out_tangents, rebuild)``;
- ``cf.vjp(args, kwargs, nums)`` -> ``(outs, pullback, rebuild)``, ``pullback(seeds)`` -> one
  cotangent ``(m, *x.shape)`` per argument in ``nums``.

Arguments that are float arrays are the program's inputs (new values, no new trace); others
(Python numbers, integer arrays, objects) and keyword arguments are part of the signature, so new
values trace again. As with ``jax.jit``, arrays a function closes over are constants of its
program. A call whose comparisons or masks differ from the trace (a guard) traces again for that
input and keeps both programs (up to :data:`PROGRAMS_PER_SIGNATURE`).

Caches: programs per function and signature in memory (a weak dictionary, so a function's
programs go with it); the generated source on disk in :func:`cache_dir` (``ADOPS_CACHE_DIR``,
default ``~/.cache/adops``), one file per distinct source, so numba's ``cache=True`` keeps the
compiled loops across processes and a warm process starts a cached program without compiling.
"""
from __future__ import annotations

from contextlib import contextmanager

import contextvars
import hashlib
import importlib.util
import os
import sys
import threading
import weakref

import numpy as np

from ..core.fpstate import user_wants_errors
from ..program.inputs import as_primal
from ..program.transform import batched_cotangents, result_dtype
from ..program import BranchChanged, Trace
from ..ops.kinds import LinearLin, LinearOp
from .codegen import generate

_TIER = contextvars.ContextVar("adops_compiled_tier", default=False)


@contextmanager
def tier(compiled: bool):
    """Within the block, transforms given ``compiled=None`` (their default) use this tier.

    Example:
        >>> import numpy as np, revad
        >>> with tier(compiled=True):
        ...     revad.grad(lambda x: np.sum(x * x))(np.ones(2)).tolist()
        [2.0, 2.0]
    """
    token = _TIER.set(bool(compiled))
    try:
        yield
    finally:
        _TIER.reset(token)


def use_compiled(compiled) -> bool:
    """A transform's ``compiled`` option: True/False, or None for the tier in force."""
    return _TIER.get() if compiled is None else bool(compiled)


#: programs kept per argument signature (one per branch pattern met)
PROGRAMS_PER_SIGNATURE = 4


def _source_version() -> str:
    """A hash of everything generated code compiles in: the modules holding the primal and
    partial bodies of every registered elementwise op (wherever those modules live), the kernels
    (``select``, ``smul``), the registry (the scalar ``strong_mul``), the runtime, the code
    generator and numba's version. numba's cache of a generated loop embeds the rules it calls
    but tracks only its own file, so a changed rule must give new file names."""
    import inspect
    import numba
    from ..core import kernels
    from ..ops import registry
    from . import codegen, runtime
    modules = {kernels, registry, codegen, runtime}
    for op in list(registry.OPS.values()):
        if isinstance(op, registry.ElementwiseOp):
            for fn in (op.primal, *(p.body or p.kernel for p in op.partials
                                    if isinstance(p, registry.Rule))):
                module = inspect.getmodule(getattr(fn, "py_func", fn))
                if module is not None and getattr(module, "__file__", None):
                    modules.add(module)
    digest = hashlib.sha1(numba.__version__.encode())
    for module in sorted(modules, key=lambda m: m.__name__):
        digest.update(module.__name__.encode())  # generated code names rules by module path
        with open(inspect.getsourcefile(module), "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:12]


_VERSION = _source_version()
_lock = threading.Lock()


def cache_dir() -> str:
    """Where generated source lives: ``$ADOPS_CACHE_DIR`` or ``~/.cache/adops``."""
    path = os.environ.get("ADOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "adops")
    os.makedirs(path, exist_ok=True)
    return path


def _rule(key):
    module, name = key.split(":")
    return getattr(importlib.import_module(module), name)


def load_source(source: str):
    """Import generated ``source`` as a module from a file named by its hash (written once)."""
    digest = hashlib.sha1((_VERSION + source).encode()).hexdigest()[:20]
    name = f"adops_generated_{digest}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    with _lock:
        module = sys.modules.get(name)
        if module is not None:
            return module
        path = os.path.join(cache_dir(), name + ".py")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        module.__dict__["RULES"] = _Rules()
        spec.loader.exec_module(module)
        sys.modules[name] = module
        return module


class _Rules:
    """``RULES[key]`` in generated code: the lazy kernel named ``module:qualname``."""

    def __getitem__(self, key):
        return _rule(key)


class Program:
    """One traced program and its generated code (see module doc)."""

    def __init__(self, trace: Trace, wrt, arg_positions):
        self.trace, self.arg_positions = trace, list(arg_positions)
        tape = trace.tape
        self.source, _ = generate(tape, trace.leaves, trace.outs, wrt)
        self.module = load_source(self.source)
        self.O = list(tape.ops)
        self.P = [p if p is not None else {} for p in tape.params]
        self.C = [[None if type(r) is int else r.value for r in refs] for refs in tape.refs]
        self.G = list(tape.guards)
        self.L = [_static_lin(tape, e) for e in range(len(tape.ops))]

    def primal(self, V):
        return self.module.primal(V, self.O, self.P, self.C, self.G)

    def jvp(self, V, T):
        return self.module.jvp(V, T, self.O, self.P, self.C, self.G, self.L)

    def forward(self, V):
        return self.module.forward(V, self.O, self.P, self.C, self.G, self.L)

    def backward(self, R, S):
        return self.module.backward(R, S)


def _static_lin(tape, e):
    """A structural op's linearization (its parameters and input shapes and dtypes), the same
    at every call of the program."""
    op = tape.ops[e]
    if not isinstance(op, LinearOp):
        return None
    refs = tape.refs[e]
    shapes = [tape.shapes[r] if type(r) is int else np.shape(r.value) for r in refs]
    dtypes = [tape.dtypes[r] if type(r) is int else np.asarray(r.value).dtype for r in refs]
    return LinearLin(op, tape.params[e] or {}, shapes, dtypes, tape.shapes[e])


def _static_key(v):
    if isinstance(v, np.ndarray):
        return ("array", v.shape, v.dtype.str, hashlib.sha1(np.ascontiguousarray(v)).hexdigest())
    try:
        hash(v)
        return ("value", type(v).__name__, v)
    except TypeError:
        return ("object", id(v))


def _is_input(v) -> bool:
    return isinstance(v, (np.ndarray, np.floating)) and np.issubdtype(np.asarray(v).dtype,
                                                                         np.floating)


class CompiledFunction:
    """``f`` compiled per argument signature (see module doc)."""

    def __init__(self, f):
        self.f = f
        self.programs: dict = {}

    def _signature(self, args, kwargs, nums):
        inputs = tuple(i for i, a in enumerate(args) if i in nums or _is_input(a))
        xs = list(args)
        for i in inputs:
            xs[i] = as_primal(args[i], f"argument {i}")
        key = (nums, inputs,
               tuple((xs[i].shape, xs[i].dtype.str) if i in inputs else _static_key(a)
                     for i, a in enumerate(args)),
               tuple(sorted((k, _static_key(v)) for k, v in kwargs.items())))
        return key, xs, inputs

    def _run(self, args, kwargs, nums, call):
        key, xs, inputs = self._signature(args, kwargs, nums)
        V = [xs[i] for i in inputs]
        wrt = tuple(inputs.index(i) for i in nums)
        for program in list(self.programs.get(key, ())):
            try:
                return program, _in_user_fp_state(program, V, call)
            except BranchChanged:
                continue
        trace = Trace(self.f, xs, kwargs, inputs, "compiled", linearize=False)
        program = Program(trace, wrt, inputs)
        kept = self.programs.setdefault(key, [])
        kept.append(program)
        del kept[:-PROGRAMS_PER_SIGNATURE]
        return program, _in_user_fp_state(program, V, call)

    def primal(self, args, kwargs):
        program, outs = self._run(args, kwargs, (), lambda p, V: p.primal(V))
        return _constants(program, outs), program.trace.rebuild

    def jvp(self, args, kwargs, nums, tangents):
        """Outputs and their tangents ``(k, *out_j.shape)`` for tangents of ``args[nums]``."""
        def call(p, V):
            T = [None] * len(V)
            for i, t in zip(nums, tangents):
                T[p.arg_positions.index(i)] = t
            return p.jvp(V, T)
        program, (outs, tans) = self._run(args, kwargs, tuple(nums), call)
        outs = _constants(program, outs)
        k = tangents[0].shape[0]
        tans = [t if t is not None else
                np.zeros((k,) + np.shape(o),
                         dtype=result_dtype(np.result_type(np.asarray(o).dtype,
                                                           tangents[0].dtype)))
                for t, o in zip(tans, outs)]
        return list(outs), tans, program.trace.rebuild

    def vjp(self, args, kwargs, nums):
        """``(outs, pullback, rebuild, shapes, dtypes)``: the outputs, ``pullback(seeds) ->
        [(m, *args[i].shape) for i in nums]``, and the shapes and dtypes of ``args[nums]``."""
        program, (outs, R) = self._run(args, kwargs, tuple(nums), lambda p, V: p.forward(V))
        outs = _constants(program, outs)
        trace = program.trace
        shapes = [trace.shapes[program.arg_positions.index(i)] for i in nums]
        dtypes = [trace.dtypes[program.arg_positions.index(i)] for i in nums]

        def pullback(seeds):
            m = seeds[0].shape[0]
            S = [s if o is not None else None for s, o in zip(seeds, trace.outs)]
            if all(s is None for s in S):
                bars = [None] * len(nums)
            else:
                with np.errstate(all="ignore"):
                    bars = program.backward(R, S)
            return batched_cotangents(bars, m, shapes, dtypes)
        return list(outs), pullback, trace.rebuild, shapes, dtypes


def _in_user_fp_state(program, V, call):
    """Run ``call(program, V)`` as the eager tier would under the user's ``np.errstate``
    (:mod:`adops.fpstate`): when the user asked for raise/call/log, the primal runs under that
    state (as numpy would) and the derivative arithmetic with errors ignored; otherwise
    floating-point warnings are off (partials are inf/nan at kinks by design)."""
    if user_wants_errors():
        program.primal(V)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return call(program, V)


def _constants(program, outs):
    """The outputs, with the traced constants where an output does not depend on the inputs."""
    return [program.trace.values[j] if entry is None else o
            for j, (o, entry) in enumerate(zip(outs, program.trace.outs))]


_BY_FUNCTION: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compiled(f) -> CompiledFunction:
    """The :class:`CompiledFunction` of ``f`` (one per function, kept while ``f`` lives).

    Example:
        >>> import numpy as np
        >>> cf = compiled(lambda x: np.sin(x) * x)
        >>> outs, tangents, _ = cf.jvp((np.zeros(2),), {}, (0,), [np.ones((1, 2))])
        >>> tangents[0].tolist()
        [[0.0, 0.0]]
    """
    try:
        cf = _BY_FUNCTION.get(f)
    except TypeError:  # not weak-referenceable: compiled for this call only
        return CompiledFunction(f)
    if cf is None:
        cf = CompiledFunction(f)
        try:
            _BY_FUNCTION[f] = cf
        except TypeError:
            pass
    return cf
