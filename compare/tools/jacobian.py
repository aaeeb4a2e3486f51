"""``compare.jacobian``: one call that plans mode, tier, chunk and colouring from measured probes
of your function (:mod:`compare.tools.planner`, the planner ``recommend`` prints), then computes
the Jacobian, here or with its passes on an executor.

Contract, for ``f(*args)`` differentiated in the array ``args[argnums]`` (n entries) with an
array output (m entries): ``jacobian(f)(*args)`` is the Jacobian ``out.shape + in.shape`` (a
``scipy.sparse.csr_matrix (m, n)`` when a coloured mode is chosen or forced), equal to
``dualad.jacfwd`` / ``revad.jacrev`` with the plan's options. The first call with a new argument
signature (shapes, dtypes) probes ``f`` (a few passes of each mode at small chunk widths, and the
compiled tier when it can pay off for the ``calls`` declared, default :data:`CALLS`) and keeps
the :class:`Plan` per function (weakly), options and signature; later calls with that
signature reuse it, also through a new ``jacobian(f)`` (``jac.plans``: the plans kept for its
function and options). Options
fixed by the caller (``mode``, ``compiled``, ``sparsity``, ``chunk``) restrict the plan.
``explain=True``: the call returns ``(J, plan)``; ``jacobian.plan(f, x)`` returns the plan alone.
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np

from adops.program.executors import check_executor, worker_count
from adops.program.inputs import as_primal
from adops.program.transform import argnums_tuple
from .planner import MODES, TIERS, choose, measure_lean, on_workers
from .recommend import DRIVERS
from ..common.style import fmt_ms

#: Jacobians assumed when ``calls`` is not given: few enough that a compile of seconds must pay
#: within them, so a single call is never slowed by a compile
CALLS = 10
MODE_CHOICES = ("auto", "forward", "reverse")
COMPILED_CHOICES = ("auto", True, False)


class Plan:
    """A plan and the measurements behind it; ``str(plan)`` says it in words.

    Attributes: ``choice`` (:class:`compare.tools.planner.Choice`: tier, mode, chunk, predicted
    seconds per Jacobian, compile seconds, calls), ``probes``
    (:class:`compare.tools.planner.Probes`), ``runner_up`` (the best choice of the other dense
    mode), ``workers`` and ``on_workers`` (predicted seconds with the passes on them; None
    without an executor).
    """

    def __init__(self, probes, choice, runner_up, workers=None):
        self.probes, self.choice, self.runner_up, self.workers = probes, choice, runner_up, \
            workers
        self.on_workers = on_workers(probes, choice, workers) if workers else None

    @property
    def mode(self):
        """``forward``, ``reverse``, ``forward-coloured`` or ``reverse-coloured``."""
        return self.choice.mode

    def options(self) -> dict:
        """The ``jacfwd``/``jacrev`` keyword arguments that carry out this plan."""
        coloured = self.choice.mode.endswith("coloured")
        opts = {"compiled": self.choice.tier == "compiled"}
        if coloured:
            opts["sparsity"] = self.probes.pattern
        else:
            opts["chunk"] = self.choice.chunk
        return opts

    def __str__(self):
        p, c = self.probes, self.choice
        lines = [f"f: R^{p.n} -> R^{p.m}; probes took {p.probe_seconds:.3g} s."]
        for (tier, kind, k), t in sorted(p.passes.items()):
            lines.append(f"  measured {tier:8s} {kind:12s} k = {k:>4}: {fmt_ms(t):>10}")
        for mode, secs in p.compile_seconds.items():
            lines.append(f"  measured compile of {mode} mode: {secs:.3g} s (once)")
        for mode, count in p.counts.items():
            lines.append(f"  colours of the pattern ({mode}): {count}")
        for mode, bound in p.colour_bounds.items():
            lines.append(f"  colours of the pattern ({mode}): at least {bound} (a row or column "
                         f"that full), over twice the other mode's: not coloured")
        lines.append("predicted full Jacobian (forward: ceil(n/k) passes; reverse: record + "
                     "ceil(m/k) sweeps):")
        for tier in TIERS:
            for (mode, k), t in sorted(p.predicted[tier].items(), key=lambda kv: kv[1]):
                lines.append(f"  {tier:8s} {mode:16s} k = {k:>4}: {fmt_ms(t):>10}")
        what = f"{c.mode} mode, {c.tier} tier, " + \
            (f"{c.chunk} colours" if c.mode.endswith("coloured") else f"chunk {c.chunk}")
        lines.append(f"plan: {what}: {fmt_ms(c.seconds)} per Jacobian; for {c.calls} calls "
                     f"{c.total:.3g} s in all (compile {c.compile_seconds:.3g} s + {c.calls} x "
                     f"{fmt_ms(c.seconds)}).")
        if self.runner_up is not None:
            r = self.runner_up
            lines.append(f"best of the other mode: {r.mode}, {r.tier}, chunk {r.chunk}: "
                         f"{r.total:.3g} s for {r.calls} calls.")
        if self.workers:
            lines.append(f"on {self.workers} workers: {fmt_ms(self.on_workers)} per Jacobian "
                         "(passes / W + recording once per worker + shipping per block).")
        return "\n".join(lines)


def _check(name, value, choices):
    if not any(value is c or (isinstance(c, str) and value == c) for c in choices):
        raise ValueError(f"jacobian: {name}={value!r} is not known; use one of "
                         f"{', '.join(repr(c) for c in choices)}")


def make_plan(f, x, *, mode="auto", compiled="auto", sparsity="auto", calls=None,
              workers=None) -> Plan:
    """Probe ``f`` at the array ``x`` and plan its Jacobian (see the module docstring).

    Example:
        >>> import numpy as np
        >>> plan = make_plan(lambda x: np.sum(x ** 2), np.ones(3000), compiled=False)
        >>> plan.mode, plan.choice.tier
        ('reverse', 'eager')
    """
    _check("mode", mode, MODE_CHOICES)
    _check("compiled", compiled, COMPILED_CHOICES)
    if not (sparsity is None or isinstance(sparsity, str) and sparsity == "auto" or
            not isinstance(sparsity, str)):
        raise ValueError(f"jacobian: sparsity={sparsity!r} is not known; use 'auto', None (dense "
                         "modes only), or a known (m, n) pattern")
    calls = CALLS if calls is None else int(calls)
    if calls < 1:
        raise ValueError(f"jacobian: calls={calls} must be a positive number of Jacobians")
    x = as_primal(x, "x")
    probes = measure_lean(DRIVERS, f, x, calls, sparsity=sparsity, compiled=compiled,
                          modes=("forward", "reverse") if mode == "auto" else (mode,))
    modes = MODES if mode == "auto" else (mode, f"{mode}-coloured")
    tiers = TIERS if compiled == "auto" else (("compiled",) if compiled else ("eager",))
    choice = choose(probes, calls, modes=modes, tiers=tiers)
    other = "reverse" if choice.mode.startswith("forward") else "forward"
    runner_up = None
    if mode == "auto":
        with contextlib.suppress(MemoryError, ValueError):  # the other mode may not fit
            runner_up = choose(probes, calls, modes=(other, f"{other}-coloured"), tiers=tiers)
    return Plan(probes, choice, runner_up, workers)


def jacobian(f, argnums=0, *, mode="auto", compiled="auto", sparsity="auto", chunk=None,
             executor=None, calls=None, explain: bool = False):
    """The Jacobian of ``f``, planned from measured probes; see the module docstring.

    Args:
        f: a function written with numpy; ``args[argnums]`` is an array.
        argnums: the position of the argument to differentiate (one).
        mode: ``"auto"``, ``"forward"`` or ``"reverse"``.
        compiled: ``"auto"``, True or False: the compiled tier.
        sparsity: ``"auto"`` (detect; coloured modes are timed when colouring halves the
            passes), None (dense only) or a known ``(m, n)`` pattern.
        chunk: directions or seeds per pass (None: planned).
        executor: run the passes as blocks on an executor (``dualad.jacfwd``'s ``executor``);
            the plan then also predicts the time on its workers.
        calls: Jacobians you will compute with this signature: compile time is weighed against
            them (default :data:`CALLS`).
        explain: return ``(J, plan)``.

    Example:
        >>> import numpy as np
        >>> J, plan = jacobian(lambda x: x ** 2, compiled=False, explain=True)(np.arange(3.0))
        >>> J.tolist(), plan.choice.tier
        ([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0]], 'eager')
    """
    _check("mode", mode, MODE_CHOICES)
    _check("compiled", compiled, COMPILED_CHOICES)
    check_executor(executor, "jacobian")
    plans = _kept(f, (argnums, mode, compiled, _pattern_key(sparsity), chunk, calls,
                      _workers(executor)))

    def jac(*args, **kwargs):
        if isinstance(argnums, (tuple, list)):
            raise ValueError(f"jacobian plans one argument's Jacobian; argnums={argnums!r} "
                             "names several: call it once per argument, or use "
                             "dualad.jacfwd/revad.jacrev")
        _, (i,) = argnums_tuple(argnums, len(args))
        if isinstance(args[i], (dict, list, tuple)):
            raise TypeError(f"jacobian plans the Jacobian of one array argument; argument {i} "
                            f"is a {type(args[i]).__name__}: pass an array (adops.tree."
                            "ravel_pytree flattens a tree), or use dualad.jacfwd/revad.jacrev, "
                            "which take trees")
        x = as_primal(args[i], f"argument {i}")
        key = (x.shape, x.dtype.str, tuple(np.shape(a) for a in args), tuple(sorted(kwargs)))
        planned = key not in plans
        if planned:
            def g(y):
                return f(*args[:i], y, *args[i + 1:], **kwargs)
            plans[key] = make_plan(f if len(args) == 1 and not kwargs else g, x, mode=mode,
                                   compiled=compiled, sparsity=sparsity, calls=calls,
                                   workers=_workers(executor))
        plan = plans[key]
        # the probe of the chosen mode computed this very Jacobian (same point, same options):
        # the first call hands it out, once (the probes keep no reference to it)
        J = None
        if planned:
            J = plan.probes.results.pop(plan.mode, None)
            plan.probes.results.clear()
        if J is None or executor is not None:
            opts = plan.options()
            if chunk is not None and "chunk" in opts:
                opts["chunk"] = chunk
            J = DRIVERS.jacobian[plan.mode.split("-")[0]](f, i, executor=executor, **opts)(
                *args, **kwargs)
        return (J, plan) if explain else J
    jac.__name__ = f"jacobian({getattr(f, '__name__', 'f')})"
    jac.plans = plans
    return jac


#: plans per function (weakly: a function's plans go with it), then per options, then per
#: argument signature, so ``jacobian(f)(x)`` called again in a loop probes once
_PLANS = weakref.WeakKeyDictionary()


def _pattern_key(sparsity):
    return sparsity if sparsity is None or isinstance(sparsity, str) else id(sparsity)


def _kept(f, options) -> dict:
    """The plans kept for ``f`` with these options: ``{signature: Plan}`` (a fresh dict for an
    object that cannot be weakly referenced, such as a bound method)."""
    try:
        return _PLANS.setdefault(f, {}).setdefault(options, {})
    except TypeError:
        return {}


def _workers(executor):
    if executor is None:
        return None
    return worker_count(executor.get_executor() if hasattr(executor, "get_executor")
                        else executor) if not isinstance(executor, str) else None


def plan(f, x, **options) -> Plan:
    """``jacobian.plan(f, x, mode=, compiled=, sparsity=, calls=)``: the plan alone, with its
    measured numbers (``str(plan)`` says it in words)."""
    return make_plan(f, x, **options)


jacobian.plan = plan
