"""The compiled tier: trace a function once, run generated code with fused numba loops.

Contract: :func:`compiled(f)` gives a :class:`CompiledFunction`. Called with arguments, it finds
(or traces, once per argument signature) a :class:`Program`: the function's ops as one recorded
:class:`adops.program.Trace`, and generated code (:mod:`adops.compile.codegen`) for its primal,
its JVP with k directions and its value-and-VJP with m seeds. Both modes call it when a transform
is given ``compiled=True``:

- ``cf.jvp(args, kwargs, nums, tangents, static)`` -> ``(outs, out_tangents, rebuild)``;
- ``cf.vjp(args, kwargs, nums, static)`` -> ``(outs, pullback, rebuild, shapes, dtypes)``,
  ``pullback(seeds)`` -> one cotangent ``(m, *x.shape)`` per argument in ``nums``;
- both raise :class:`RunEagerly` for a call the transform must run eagerly (see below).

What a program is traced for (its signature), argument by argument (positional and keyword;
the rules live in :mod:`adops.compile.arguments`):

- **inputs**: the arguments differentiated and the other float arrays (and numpy float
  scalars) passed by position. New values run the same program; only shapes and dtypes are in
  the signature.
- **keyed by value**: numbers (``0.0`` and ``-0.0`` differ), strings, ``None``, lists, tuples
  and dicts of them (nested), integer and bool arrays and float arrays passed by keyword or
  inside a container (by shape, dtype and a hash of their contents, on every call). A new value
  traces again, so a list changed in place between calls is never read stale; the trace sees a
  private copy, so writing into an array afterwards cannot change a kept program. Integer
  arrays are keyed, not inputs: each new index array traces again.
- **static**: a callable, by identity (a function replaced by another traces again; one whose
  own closure or attributes change does not); arguments a transform declares with
  ``static_argnums`` / ``static_argnames`` (as ``jax.jit``), by hash and equality; an
  unhashable one is a TypeError.
- **eager**: any other object (its attributes could change unseen) makes the call run eagerly
  with one :class:`EagerFallbackWarning` per function, naming the argument and the way out
  (declare it static, or pass its numbers as arrays). So does a call whose trace meets a value
  traced by an outer transform (a closure over the outer variable; no warning): nesting is the
  eager tier's job. :class:`RunEagerly` is how a call is handed back.

Values a function closes over are constants of its program, as with ``jax.jit``: pass what
changes as an argument. A call whose comparisons or masks differ from the trace (a guard) traces
again for that input and keeps both programs (up to :data:`PROGRAMS_PER_SIGNATURE`; up to
:data:`SIGNATURES_KEPT` signatures per function, the oldest dropped first).

Caches: programs per function and signature in memory (a weak dictionary, so a function's
programs go with it); the generated source on disk (:mod:`adops.compile.cache`: in
:func:`cache_dir`, one file per distinct source, so numba's ``cache=True`` keeps the compiled
loops across processes and a warm process starts a cached program without compiling; the folder
is private, kept under a size cap, and ``python -m adops.compile cache info|clear`` shows and
empties it).
"""
from __future__ import annotations

from contextlib import contextmanager

import contextvars
import sys
import warnings
import weakref

import numpy as np
from numba.core.errors import NumbaError

from ..core.fpstate import user_wants_errors
from ..program.inputs import as_primal
from ..program.tree import WeakCall
from ..program.transform import batched_cotangents, result_dtype
from ..program import BranchChanged, MetOuterLevel, Trace
from ..ops.kinds import LinearLin, LinearOp
from .cache import cache_dir, load_source  # noqa: F401 (API)
from .codegen import generate
from .entries import WholeEntries, calls_in_force, env_calls, fused_after  # noqa: F401 (API)
from .fast import key_of as fast_key
from .forms import Unsupported
from .matrixforms import NonFiniteMatrix
from .whole import generate_whole
from .arguments import (EagerFallbackWarning, RunEagerly, is_input, private_copy,  # noqa: F401
                        static_key, value_key)
from ..program.static import NO_STATIC, Static, positional_parameters  # noqa: F401 (API)

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


_WHOLE_AFTER = contextvars.ContextVar("adops_whole_after",
                                      default=env_calls("ADOPS_WHOLE_AFTER", 2))


@contextmanager
def whole_after(calls: int):
    """Within the block, a program is compiled whole (:mod:`adops.compile.whole`: one numba
    function per derivative) at its ``calls``-th call with one argument signature; earlier calls
    run its Python driver (fused loops only), which compiles in a fraction of the time. The
    default is 2 (``ADOPS_WHOLE_AFTER``): a program called once is not worth compiling whole.

    Example:
        >>> import numpy as np, revad
        >>> with whole_after(1):
        ...     revad.grad(lambda x: np.sum(x * x), compiled=True)(np.ones(2)).tolist()
        [2.0, 2.0]
    """
    with calls_in_force(_WHOLE_AFTER, calls, "whole_after"):
        yield


def use_compiled(compiled) -> bool:
    """A transform's ``compiled`` option: True/False, or None for the tier in force."""
    return _TIER.get() if compiled is None else bool(compiled)


#: programs kept per argument signature (one per branch pattern met)
PROGRAMS_PER_SIGNATURE = 4


class Program:
    """One traced program and its generated code (see module doc)."""

    def __init__(self, trace: Trace, wrt, arg_positions):
        self.trace, self.arg_positions, self.wrt = trace, list(arg_positions), tuple(wrt)
        #: the whole program as numba entries (one call per derivative), once built (see
        #: :func:`whole_after`) and when every entry has a numba form; else None and the
        #: Python driver runs the program
        self.whole, self.why_python, self.calls = None, "not built yet", 0
        self._driver = None
        self.count_call()

    def count_call(self):
        """Count a call; build the whole program at the call :func:`whole_after` names."""
        self.calls += 1
        if self.calls == _WHOLE_AFTER.get():
            try:
                self.whole = WholeEntries(generate_whole(self.trace.tape, self.trace.leaves,
                                                         self.trace.outs, self.wrt))
                self.why_python = None
            except Unsupported as e:
                self.why_python = str(e)

    @property
    def driver(self):
        """The Python driver (:mod:`adops.compile.codegen`): structural ops from Python, fused
        elementwise loops; generated when first needed."""
        if self._driver is None:
            self._driver = _Driver(self.trace, self.wrt)
        return self._driver

    @property
    def source(self):
        """The generated source that runs the program (the whole program's, else the driver's)."""
        return self.whole.source if self.whole is not None else self.driver.source

    @property
    def kernels(self):
        """The kernel modules (fused loops) that source binds: ``{key: text}``."""
        return self.whole.kernels if self.whole is not None else self.driver.kernels

    @property
    def listing(self):
        """The program as a person reads it: each kernel module it binds, then its source."""
        parts = [f"# ---- kernel {key}\n{text}" for key, text in self.kernels.items()]
        return "\n".join(parts + ["# ---- program\n" + self.source])

    @property
    def module(self):
        return self.whole.module if self.whole is not None else self.driver.module

    def _run(self, name, *args):
        """``(code, result)``: entry ``name`` run by the whole program, else by the driver. A
        whole program numba refuses to type (an argument it has no type for) is dropped for the
        driver, once."""
        whole = self.whole  # (read once: another thread may build or drop it meanwhile)
        if whole is not None:
            try:
                return whole, getattr(whole, name)(*args)
            except NumbaError as e:
                self.drop_whole(whole, e)
            except NonFiniteMatrix:  # numba's LAPACK refuses inf/nan: numpy's numbers, once
                pass
        return self.driver, getattr(self.driver, name)(*args)

    def _entry(self, name, *args):
        return self._run(name, *args)[1]

    def drop_whole(self, whole, error):
        """Run on the driver from now on: numba refused ``whole`` (``error``), if it is still
        this program's code."""
        if self.whole is whole:
            self.whole, self.why_python = None, f"numba: {str(error).splitlines()[0]}"

    def primal(self, V):
        return self._entry("primal", V)

    def numpy_primal(self, V):
        """The primal through the Python driver (numpy's floating-point errors)."""
        return self.driver.primal(V)

    def jvp(self, V, T):
        return self._entry("jvp", V, T)

    def forward(self, V):
        """``(outs, R)``: R holds the residuals and the code that made them, whose sweep
        :meth:`backward` runs, even if the whole program is built or dropped in between (a
        pullback kept for later, another thread's calls)."""
        code, (outs, R) = self._run("forward", V)
        return outs, _Residuals(code, R)

    def backward(self, R, S):
        return R.code.backward(R.R, S)


class _Residuals:
    """A forward pass's residuals ``R`` and the ``code`` (whole program or Python driver) that
    made them: only that code's sweep reads them (each orders and shapes them its own way)."""

    __slots__ = ("code", "R")

    def __init__(self, code, R):
        self.code, self.R = code, R


class _Driver:
    """The generated Python entry points of :mod:`adops.compile.codegen` and their tables."""

    def __init__(self, trace, wrt):
        tape = trace.tape
        self.source, self.kernels = generate(tape, trace.leaves, trace.outs, wrt)
        self.module = load_source(self.source, self.kernels)
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


#: argument signatures kept per function (the oldest goes first): arrays keyed by content can
#: give a new signature at every call
SIGNATURES_KEPT = 64


class CompiledFunction:
    """``f`` compiled per argument signature (see module doc)."""

    def __init__(self, f, weak=False):
        # kept by a weak reference when this object is the value of ``_BY_FUNCTION[f]``: a
        # strong one would keep the key, so a function and its programs would never be freed
        self._f = weakref.ref(f) if weak else (lambda: f)
        self.programs: dict = {}
        #: the fast call path's programs, by :func:`adops.compile.fast.key_of` (see there)
        self.fast: dict = {}
        #: functions made from f (see :func:`derived`), by key
        self.derived: dict = {}
        self.warned = False  # the eager-fallback warning is given once per function
        self._params = None  # f's positional parameter names, read when statics need them

    def __reduce__(self):
        # programs hold numba code and weak references: a pickled copy (a transform sent to
        # a worker) is the compiled tier of the same function there, compiling its own
        return compiled, (self.f,)

    @property
    def f(self):
        f = self._f()
        if f is None:  # only reachable through a CompiledFunction kept past its function
            raise ReferenceError("compiled(f) holds f weakly (its programs go with f), and f "
                                 "was freed: keep a reference to f while you use compiled(f)")
        return f

    def _signature(self, args, kwargs, nums, static):
        if static and self._params is None:
            self._params = positional_parameters(self.f)
        positions, names = static.resolve(self._params, len(args)) if static else ((), ())
        both = sorted(set(nums) & set(positions))
        if both:
            raise ValueError(f"argument {both[0]} is both differentiated (argnums) and static "
                             "(static_argnums / static_argnames): remove it from one of them")
        inputs = tuple(i for i, a in enumerate(args)
                       if i in nums or (i not in positions and is_input(a)))
        xs = list(args)
        for i in inputs:
            xs[i] = as_primal(args[i], f"argument {i}")
        key = (nums, inputs,
               tuple((xs[i].shape, xs[i].dtype.str) if i in inputs else
                     (static_key if i in positions else value_key)(a, f"argument {i}")
                     for i, a in enumerate(args)),
               tuple((k, (static_key if k in names else value_key)(
                   v, f"keyword argument {k!r}")) for k, v in sorted(kwargs.items())))
        return key, xs, inputs, positions, names

    def _run(self, args, kwargs, nums, static, call):
        try:
            key, xs, inputs, positions, names = self._signature(args, kwargs, nums, static)
        except RunEagerly as e:
            if e.reason is not None and not self.warned:
                self.warned = True
                warnings.warn(f"{getattr(self.f, '__name__', 'f')}: {e.reason}",
                              EagerFallbackWarning, stacklevel=_user_stacklevel())
            raise
        V = [xs[i] for i in inputs]
        wrt = tuple(inputs.index(i) for i in nums)
        for program in list(self.programs.get(key, ())):
            program.count_call()
            try:
                result = program, _in_user_fp_state(program, V, call)
            except BranchChanged:
                continue
            self.remember(args, kwargs, nums, static, program)
            return result
        # the trace sees private copies: a program must not change when the caller later
        # writes into an array it was traced with (and keyed by)
        xs = [a if i in inputs or i in positions else private_copy(a) for i, a in enumerate(xs)]
        kwargs = {k: v if k in names else private_copy(v) for k, v in kwargs.items()}
        try:
            trace = Trace(self.f, xs, kwargs, inputs, "compiled", linearize=False)
        except MetOuterLevel:
            raise RunEagerly() from None
        program = Program(trace, wrt, inputs)
        kept = self.programs.setdefault(key, [])
        kept.append(program)
        del kept[:-PROGRAMS_PER_SIGNATURE]
        while len(self.programs) > SIGNATURES_KEPT:
            self.programs.pop(next(iter(self.programs)), None)
        result = program, _in_user_fp_state(program, V, call)
        self.remember(args, kwargs, nums, static, program)
        return result

    def remember(self, args, kwargs, nums, static, program):
        """Register ``program`` for the fast call path (:mod:`adops.compile.fast`) when this
        call qualifies: plain float arrays only, one array out, one numba program."""
        if kwargs or static or program.whole is None or program.trace.rebuild.is_tree or \
                len(program.trace.outs) != 1 or program.trace.outs[0] is None:
            return
        key = fast_key(args, tuple(nums))
        if key is not None:
            self.fast[key] = program.whole
            while len(self.fast) > SIGNATURES_KEPT:
                self.fast.pop(next(iter(self.fast)), None)

    def primal(self, args, kwargs, static=NO_STATIC):
        program, outs = self._run(args, kwargs, (), static, lambda p, V: p.primal(V))
        return _constants(program, outs), program.trace.rebuild

    def jvp(self, args, kwargs, nums, tangents, static=NO_STATIC):
        """Outputs and their tangents ``(k, *out_j.shape)`` for tangents of ``args[nums]``."""
        def call(p, V):
            T = [None] * len(V)
            for i, t in zip(nums, tangents):
                T[p.arg_positions.index(i)] = t
            return p.jvp(V, T)
        program, (outs, tans) = self._run(args, kwargs, tuple(nums), static, call)
        outs = _constants(program, outs)
        k = tangents[0].shape[0]
        tans = [t if t is not None else
                np.zeros((k,) + np.shape(o),
                         dtype=result_dtype(np.result_type(np.asarray(o).dtype,
                                                           tangents[0].dtype)))
                for t, o in zip(tans, outs)]
        return list(outs), tans, program.trace.rebuild

    def vjp(self, args, kwargs, nums, static=NO_STATIC):
        """``(outs, pullback, rebuild, shapes, dtypes)``: the outputs, ``pullback(seeds) ->
        [(m, *args[i].shape) for i in nums]``, and the shapes and dtypes of ``args[nums]``."""
        program, ((outs, R), V) = self._run(args, kwargs, tuple(nums), static,
                                            lambda p, V: (p.forward(V), V))
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
                    try:
                        bars = program.backward(R, S)
                    except NumbaError as e:  # the whole sweep does not type: the driver's
                        program.drop_whole(R.code, e)
                        bars = program.driver.backward(program.driver.forward(V)[1], S)
                    except NonFiniteMatrix:  # a cotangent numba's LAPACK refuses: numpy's
                        bars = program.driver.backward(program.driver.forward(V)[1], S)
            return batched_cotangents(bars, m, shapes, dtypes)
        return list(outs), pullback, trace.rebuild, shapes, dtypes


def _user_stacklevel() -> int:
    """The ``stacklevel`` (for a warning given by the caller) of the first frame outside this
    toolkit's packages, so that a warning points at the user's call."""
    frame, level = sys._getframe(1), 1
    while frame is not None and \
            frame.f_globals.get("__name__", "").split(".")[0] in ("adops", "revad", "dualad"):
        frame, level = frame.f_back, level + 1
    return level


def _in_user_fp_state(program, V, call):
    """Run ``call(program, V)`` as the eager tier would under the user's ``np.errstate``
    (:mod:`adops.fpstate`): when the user asked for raise/call/log, the primal runs under that
    state (as numpy would) and the derivative arithmetic with errors ignored; otherwise
    floating-point warnings are off (partials are inf/nan at kinks by design)."""
    if user_wants_errors():
        program.numpy_primal(V)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return call(program, V)


def _constants(program, outs):
    """The outputs, with the traced constants where an output does not depend on the inputs."""
    return [program.trace.values[j] if entry is None else o
            for j, (o, entry) in enumerate(zip(outs, program.trace.outs))]


_BY_FUNCTION: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compiled(f) -> CompiledFunction:
    """The :class:`CompiledFunction` of ``f`` (one per function, kept while ``f`` lives; it
    holds ``f`` weakly, so keep ``f``).

    Example:
        >>> import numpy as np
        >>> f = lambda x: np.sin(x) * x
        >>> cf = compiled(f)
        >>> outs, tangents, _ = cf.jvp((np.zeros(2),), {}, (0,), [np.ones((1, 2))])
        >>> tangents[0].tolist()
        [[0.0, 0.0]]
    """
    try:
        cf = _BY_FUNCTION.get(f)
    except TypeError:  # not weak-referenceable: compiled for this call only
        return CompiledFunction(f)
    if cf is None:
        cf = CompiledFunction(f, weak=True)
        _BY_FUNCTION[f] = cf
    return cf


def derived(f, key, make):
    """``make(f)``, made once per ``f`` and ``key`` and kept while ``f`` lives, so that the
    compiled programs of a transform built inside a call (``hvp``'s ``grad(f)``) are traced once
    and reused by later calls. ``make`` receives a stand-in that calls ``f``.

    Example:
        >>> import numpy as np, revad
        >>> f = lambda x: np.sum(x ** 3)
        >>> derived(f, "grad", revad.grad) is derived(f, "grad", revad.grad)
        True
    """
    cf = compiled(f)
    fn = cf.derived.get(key)
    if fn is None:
        fn = cf.derived[key] = make(WeakCall(f))
    return fn
