"""Rule ops inside one numba function: ``solve``, ``inv``, ``det``, ``slogdet``, ``cholesky``.

Contract. A rule op that declares a :class:`~adops.ops.kinds.MatrixCall` (``defrule(...,
matrix=...)``) is emitted by :class:`Matrix`, values flat ``(n,)`` and tangent or cotangent rows
``(k, n)`` as every form (:mod:`adops.compile.formbase`):

- its value: numba's ``np.linalg`` call on each matrix of the batch (the last two axes of every
  input, numpy's batch broadcasting read off offset tables), in the op's result dtype;
- its JVP and VJP: the op's own ``residuals``, ``jvp_rule`` and ``vjp_rule``, traced once at
  build time on one direction (or one seed) into small programs of other ops, which the whole
  program emits as numba functions of their own (:meth:`Matrix.subprograms`), called once per
  direction (the rules are linear in the tangents, and batched over the direction axis, so a
  direction at a time is the same map). No derivative formula is written here.

A matrix holding ``inf`` or ``nan`` raises :class:`NonFiniteMatrix` inside the numba code:
numba's LAPACK wrappers refuse it, where numpy returns whatever LAPACK leaves. The compiled tier
catches it and runs that call through the Python driver (numpy), so the user gets the eager
tier's numbers (:class:`adops.compile.Program`).
"""
from __future__ import annotations

import numpy as np

from ..program.tape import Trace
from .formbase import Form, Unsupported, size_of

_FLOATS = ("float64", "float32")

NOT_FINITE = "a matrix of {op} holds inf or nan"


class NonFiniteMatrix(ArithmeticError):
    """Raised by whole-program code when a matrix it hands numba's ``np.linalg`` holds inf or
    nan; the compiled tier then runs the call through numpy (see module doc)."""


class SubProgram:
    """A rule traced into a program the whole program emits as the numba function ``name``:
    ``name(V, IX, ID, K) -> (ok, outs)`` (``V``: the flat leaves in ``trace.leaves`` order)."""

    __slots__ = ("name", "trace")

    def __init__(self, name, trace):
        self.name, self.trace = name, trace

    @classmethod
    def traced(cls, name, fn, args, what):
        """``fn`` traced on every one of ``args`` (``what`` names it in messages and the
        level); :class:`Unsupported` when it does not trace or branches on values."""
        try:
            trace = Trace(fn, args, {}, tuple(range(len(args))), what, linearize=False)
        except Exception as exc:  # noqa: BLE001 (a rule that does not trace: Python driver)
            raise Unsupported(f"{what}: it did not trace ({exc})") from None
        if trace.tape.guards:
            raise Unsupported(f"{what}: it branches on values")
        return cls(name, trace)


class MatrixLoop:
    """Numba's ``np.linalg`` call ``spec`` (a :class:`~adops.ops.kinds.MatrixCall`) on each
    matrix of a batch: the inputs' last two axes, their leading axes broadcast as numpy does
    (each input's matrix offsets in a table), the results into one flat array of ``dtype``.
    ``tag`` keeps its local names apart from other loops of the same function."""

    def __init__(self, tables, tag, spec, shapes, dtypes, dtype, name, core_shape, params=None):
        self.params = {} if params is None else dict(params)
        why = spec.refusal(self.params)
        if why is not None:
            raise Unsupported(f"{name}: {why}")
        if np.dtype(dtype).name not in _FLOATS or any(np.dtype(d).name not in _FLOATS
                                                      for d in dtypes):
            raise Unsupported(f"{name} on {dtype}: numba's linalg takes floats")
        if any(len(s) < 2 for s in shapes):
            raise Unsupported(f"{name}: an input is not a matrix")
        self.batch = np.broadcast_shapes(*[s[:-2] for s in shapes])
        self.spec, self.tag, self.name = spec, tag, name
        self.dtypes, self.dtype = [np.dtype(d) for d in dtypes], np.dtype(dtype)
        if len(core_shape) != spec.core:
            raise Unsupported(f"{name}: a result of axes {core_shape} per matrix, not "
                              f"{spec.core}")
        self.core = tuple(core_shape)
        t = tables
        self.nb = t.size(size_of(self.batch))
        self.n = t.size(size_of(self.batch) * size_of(self.core))
        self.n_core = t.size(size_of(self.core))
        #: per input: (offset of each batch entry's matrix, rows, columns, entries)
        self.mats = []
        for s in shapes:
            per = s[-2] * s[-1]
            starts = np.arange(size_of(s[:-2]), dtype=np.int64).reshape(s[:-2]) * per
            self.mats.append((t.array(np.broadcast_to(starts, self.batch).ravel()),
                              t.size(s[-2]), t.size(s[-1]), t.size(per)))
        self.tables = t

    def lines(self, args):
        """Lines setting ``{out}`` (flat) from the flat inputs ``args``."""
        dt, q = f"np.{self.dtype.name}", f"q{self.tag}"
        lines = [f"{{out}} = np.empty({self.n}, dtype={dt})", f"for {q} in range({self.nb}):"]
        mats = []
        for j, (x, (starts, r, c, per)) in enumerate(zip(args, self.mats)):
            cast = "" if self.dtypes[j] == self.dtype else f".astype({dt})"
            m = f"M{self.tag}_{j}"
            lines.append(f"    {m} = {x}[{starts}[{q}]:{starts}[{q}] + {per}]"
                         f".reshape(({r}, {c})){cast}")
            lines.append(f"    if not np.isfinite({m}).all():")
            lines.append(f"        raise NonFiniteMatrix({NOT_FINITE.format(op=self.name)!r})")
            mats.append(m)
        call = self.spec.expression(mats, self.params)
        if not self.core:
            lines.append(f"    {{out}}[{q}] = {call}")
        else:
            shape = ", ".join(self.tables.size(d) for d in self.core)
            lines.append(f"    {{out}}[{q} * {self.n_core}:({q} + 1) * {self.n_core}]"
                         f".reshape(({shape}))[...] = {call}")
        return lines


class Matrix(Form):
    def __init__(self, prog, e, tables):
        super().__init__(prog, e, tables)
        spec = self.op.matrix
        core = self.out_shape[len(self.out_shape) - spec.core:]
        self.loop = MatrixLoop(tables, str(e), spec, self.shapes, self.dtypes, self.dtype,
                               self.op.name, core, self.params)
        if self.out_shape != self.loop.batch + core:
            raise Unsupported(f"{self.op.name}: result {self.out_shape} is not one result "
                              f"of {spec.core} axes per matrix of the batch {self.loop.batch}")
        self.subs = []   # SubProgram built by jvp()/vjp(), emitted by the whole program
        self._examples = self._res_sub = None

    # --------------------------------------------------------------- the primal, per matrix
    def value(self, args):
        return self.loop.lines(args)

    # ------------------------------------------------------------ the rules, traced
    def _example(self):
        """Inputs of the right shapes and dtypes at which the op is defined (well-conditioned,
        symmetric positive definite where square), its result and residuals: the values the
        rules are traced at (they take no branch on values, so any such point gives the
        program)."""
        if self._examples is None:
            rng = np.random.default_rng(0)
            xs = []
            for s, dt in zip(self.shapes, self.dtypes):
                m = 2.0 * np.eye(s[-2], s[-1]) + 0.01 * rng.standard_normal(s)
                if s[-2] == s[-1]:
                    m = 0.5 * (m + np.swapaxes(m, -1, -2))
                xs.append(np.ascontiguousarray(m, dtype=dt))
            out = self.op.value(*xs, **self.params)
            res = () if self.op.residuals is None else \
                tuple(self.op.residuals(xs, out, **self.params))
            self._examples = xs, out, res
        return self._examples

    def _trace(self, name, fn, extra, with_residuals=True):
        """``fn`` traced at the example point on leaves ``xs, out, residuals, *extra``
        (without the residuals: ``xs, out``) as :class:`SubProgram` ``r{e}{name}_``."""
        xs, out, res = self._example()
        args = [*xs, out, *(res if with_residuals else ()), *extra]
        sub = SubProgram.traced(f"r{self.e}{name}_", fn, args, f"{self.op.name} rule")
        self.subs.append(sub)
        return sub

    def _split(self, a):
        """A rule program's leaves, in the order :meth:`_trace` lays them: ``(xs, out,
        residuals, the rest)``."""
        n, nres = len(self.refs), len(self._example()[2])
        return list(a[:n]), a[n], tuple(a[n + 1:n + 1 + nres]), a[n + 1 + nres:]

    def _residuals(self, args, lines):
        """Lines binding ``r{e}_{i}``, the op's residuals; their names."""
        if self.op.residuals is None:
            return []
        if self._res_sub is None:  # one program serves the jvp and the sweep
            self._res_sub = self._trace("res", lambda *a: tuple(self.op.residuals(
                *self._split(a)[:2], **self.params)), [], with_residuals=False)
        sub = self._res_sub
        if any(o is None for o in sub.trace.outs):
            raise Unsupported(f"{self.op.name}: a residual does not depend on the inputs")
        names = [f"r{self.e}_{i}" for i in range(len(sub.trace.outs))]
        lines.append(f"_, ({''.join(n + ', ' for n in names)}) = {sub.name}primal(("
                     f"{''.join(a + ', ' for a in args)}v{self.e}, ), IX, ID, K)")
        return names

    def jvp(self, args, tans):
        live = [j for j, t in enumerate(tans) if t is not None]

        def rule(*a):
            xs, out, res, seeds = self._split(a)
            x_dots = [None] * len(xs)
            for j, seed in zip(live, seeds):
                x_dots[j] = seed
            return self.op.jvp_rule(x_dots, xs, out, res, **self.params)
        seeds = [np.zeros((1,) + self.shapes[j], dtype=self.dtypes[j]) for j in live]
        lines = []
        names = self._residuals(args, lines)
        sub = self._trace("jvp", rule, seeds)
        if sub.trace.outs[0] is None:
            raise Unsupported(f"{self.op.name}: its tangent does not depend on the inputs")
        rows = [f"tr{self.e}_{i}" for i in range(len(live))]
        lines += [f"{r} = {tans[j]}" for r, j in zip(rows, live)]
        lines += self._per_row(sub, f"{rows[0]}.shape[0]", [self.loop.n], [*args, *names], rows,
                               ["{out}"])
        return lines

    def vjp(self, args, b, needed):
        want = [j for j in range(len(self.refs)) if needed[j]]

        def rule(*a):
            xs, out, res, (seed,) = self._split(a)
            bars = self.op.vjp_rule(seed, xs, out, res, tuple(bool(n) for n in needed),
                                    **self.params)
            return tuple(bars[j] for j in want)
        lines = []
        names = self._residuals(args, lines)
        seed = np.zeros((1,) + self.out_shape, dtype=self.dtype)
        sub = self._trace("vjp", rule, [seed])
        if any(o is None for o in sub.trace.outs):
            raise Unsupported(f"{self.op.name}: a cotangent does not depend on the seed")
        bars = [f"c{self.e}_{j}" for j in want]
        sizes = [self.tables.size(size_of(self.shapes[j])) for j in want]
        lines += self._per_row(sub, f"{b}.shape[0]", sizes, [*args, *names], [b], bars)
        return lines, list(zip(want, bars))

    def _per_row(self, sub, rows, sizes, fixed, per_row, outs):
        """Lines calling ``sub`` once per row ``j`` of ``rows``: its leaves ``fixed``, this
        entry's value, then row ``j`` of each of ``per_row``; its outputs copied into the rows
        of ``outs``."""
        j, dt = f"j{self.e}", f"np.{self.dtype.name}"
        lines = [f"{o} = np.empty(({rows}, {n}), dtype={dt})" for o, n in zip(outs, sizes)]
        lines.append(f"for {j} in range({rows}):")
        leaves = "".join(a + ", " for a in [*fixed[:len(self.refs)], f"v{self.e}",
                                            *fixed[len(self.refs):],
                                            *[f"{r}[{j}]" for r in per_row]])
        lines.append(f"    _, got{self.e} = {sub.name}primal(({leaves}), IX, ID, K)")
        lines += [f"    {o}[{j}] = got{self.e}[{i}]" for i, o in enumerate(outs)]
        return lines
