"""The one planner behind :func:`compare.recommend` and :func:`compare.jacobian`: a cost model of
a full Jacobian fitted to measured probes of the user's function.

Mode-neutral: the modes come in as :class:`Drivers` (``jvp``, ``vjp`` and the two Jacobian
transforms); this module imports neither mode (``compare.tools.jacobian`` and
``compare.tools.recommend`` pass dualad's and revad's).

Contract, for ``f`` with ``x: (*in_shape)`` (n entries) and ``f(x): (*out_shape)`` (m entries):
:func:`measure` times a few probes per tier, one forward pass with k directions and one
recording (compiled: one forward pass) and one sweep with k seeds, for k in :func:`widths` (1, 8,
32 and the automatic width), and predicts

    forward(k) = ceil(n / k) * t_pass(k)
    reverse(k) = t_record + ceil(m / k) * t_sweep(k)

The compiled tier's one-off cost per mode (trace and compile) is its first probe's extra time. A
sparse Jacobian (``sparsity="auto"``: the pattern detected by one trace) is also timed coloured,
one pass per colour (``forward-coloured``/``reverse-coloured``, k = the number of colours), when
colouring needs at most half the dense passes. :func:`choose` picks the (tier, mode, k) of least
``compile + calls * t`` for the ``calls`` Jacobians to come, among the dense modes only when the
dense ``(m, n)`` array fits in half the memory available (else colouring is always probed, and
without a pattern the plan is a clear ``MemoryError``). On W workers (:func:`on_workers`)
a Jacobian of P passes costs ``t_fixed + ceil(P / W) * t_pass + P * t_ship``: the passes divide,
the recording (reverse) is made once per worker, and each block pays its shipping and assembly.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from adops.compile import whole_after
from adops.program.inputs import auto_chunk
from ..common.compiled import own_copy
from ..common.timing import best_of, memory_available

#: tiers in the order of the tables
TIERS = ("eager", "compiled")
MODES = ("forward", "reverse", "forward-coloured", "reverse-coloured")
#: seconds per block to ship, run remotely and assemble, measured by benchmarks/scale_out.py on
#: 2 local Dask workers (docs/ARCHITECTURE.md, "Jacobians on workers")
SHIP_SECONDS = 4e-3
#: the share of the planned work (calls x the best Jacobian) that lean probes may cost
BUDGET = 0.1
#: what the compiled tier's probes are assumed to cost (a compile from a fresh cache: 1-2 s for
#: a small function, 6 s for the standard HT problem on a loaded 2-core machine): lean probing
#: compiles only when that fits its budget
COMPILE_SECONDS = 5.0
#: sparsity detection costs up to this many eager recordings of the function (measured, warm:
#: banded n = 2000 10x, GMM 20x, BA 23x, HT 224x: 0.45 s against a 2 ms recording), so lean
#: probing detects when that many fit its budget
DETECT_FACTOR = 250
#: sizes (inputs for forward mode, outputs for reverse) above which lean probing starts at
#: the narrowest width
LARGE = 1024
#: a dense Jacobian is planned only when its ``(m, n)`` array takes at most this share of the
#: memory available when planning (the passes' own arrays need the rest)
DENSE_MEMORY_SHARE = 0.5


@dataclass(frozen=True)
class Drivers:
    """The modes as the planner calls them: ``jvp(f, (x,), (V,), batched=True, compiled=c)``,
    ``vjp(f, x, compiled=c) -> (out, vjp_fn)``, and ``jacobian[mode](f, chunk=, compiled=,
    sparsity=, executor=)`` for ``mode`` in ``forward``, ``reverse``."""

    jvp: object
    vjp: object
    jacobian: dict


@dataclass
class Probes:
    """What :func:`measure` timed: predicted seconds per Jacobian by tier then ``(mode, k)``,
    each compiled mode's ``compile_seconds``, the colour ``counts`` by mode (``colour_bounds``:
    a mode left uncoloured because it needs over twice the other's colours), the raw ``passes``
    ``{(tier, kind, k): seconds}`` (kind: forward pass, record, sweep), the seconds the probes
    took in all (``probe_seconds``), and the sparsity ``pattern`` the coloured probes used."""

    n: int
    m: int
    predicted: dict = field(default_factory=dict)
    compile_seconds: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    #: modes not coloured: the fewest colours they could need (over twice the other's count)
    colour_bounds: dict = field(default_factory=dict)
    passes: dict = field(default_factory=dict)
    #: full Jacobians a probe computed at the planned point, by mode (the coloured modes'): the
    #: plan's first call hands its own out instead of computing it again
    results: dict = field(default_factory=dict)
    probe_seconds: float = 0.0
    pattern: object = None
    itemsize: int = 8
    #: bytes of memory available when the probes began (None: read when asked)
    memory: int | None = None

    @property
    def dense_bytes(self) -> int:
        """Bytes of the dense ``(m, n)`` Jacobian."""
        return self.m * self.n * self.itemsize

    def dense_fits(self, available: int | None = None) -> bool:
        """Whether the dense Jacobian takes at most :data:`DENSE_MEMORY_SHARE` of the memory
        ``available`` (by default, what was available when probing began: one reading serves
        every decision of a plan)."""
        if available is None:
            available = self.memory if self.memory is not None else memory_available()
        return self.dense_bytes <= DENSE_MEMORY_SHARE * available


@dataclass(frozen=True)
class Choice:
    """The plan :func:`choose` made: tier, mode, chunk (colours for a coloured mode), the
    predicted seconds per Jacobian, the one-off compile, and the total for ``calls``."""

    tier: str
    mode: str
    chunk: int
    seconds: float
    compile_seconds: float
    calls: int

    @property
    def total(self) -> float:
        """``compile + calls * seconds``."""
        return self.compile_seconds + self.calls * self.seconds


def widths(size: int):
    """The chunk widths probed for ``size`` directions or seeds.

    >>> widths(5), widths(1000)
    ([1, 5], [1, 8, 32, 256])
    """
    return sorted({k for k in (1, 8, 32, auto_chunk(size)) if 1 <= k <= max(size, 1)})


def _probe(fn, repeat):
    """``(best, first)`` seconds of ``fn``: best of ``repeat`` after a warm-up, or with
    ``repeat=0`` the one call (a cheap probe, for an eager tier with nothing to warm)."""
    if repeat == 0:
        t = time.perf_counter()
        fn()
        t = time.perf_counter() - t
        return t, t
    return best_of(fn, repeat)


class Budget:
    """Lean probing (:func:`measure_lean`): probes may cost :data:`BUDGET` of the work they plan
    (``calls`` x the best Jacobian predicted so far); a probe whose estimated cost exceeds what
    is left is skipped. ``None`` in place of a budget: probe everything."""

    def __init__(self, calls: int):
        self.calls, self.start = calls, time.perf_counter()

    def allows(self, probes, estimate: float) -> bool:
        best = min((t for table in probes.predicted.values() for t in table.values()),
                   default=math.inf)
        spent = time.perf_counter() - self.start
        return estimate <= BUDGET * self.calls * best - spent


@contextlib.contextmanager
def _uncounted(budget):
    """Time spent in the block is not charged to ``budget``: loading kernels on their first use
    in a process is paid once by whatever runs first, the plan's probes or the Jacobians."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if budget is not None:
            budget.start += time.perf_counter() - start


def _last(probes, tier, kind):
    """``(k, t)`` of the widest pass of ``kind`` probed so far in ``tier``, or None."""
    timed = sorted((k, t) for (tr, kd, k), t in probes.passes.items() if tr == tier and kd == kind)
    return timed[-1] if timed else None


def _allowed(budget, probes, prev, k):
    """Whether to probe width ``k`` after ``prev = (k_prev, t_prev)``: a pass costs at most
    linearly more with width, and a narrower one at most as much."""
    if budget is None or prev is None:
        return True
    return budget.allows(probes, prev[1] * max(k / prev[0], 1.0))


def _forward(drivers, f, x, n, ks, repeat, compiled, probes, tier, budget=None, warm=True):
    rng, compile_s, prev = np.random.default_rng(0), 0.0, _last(probes, tier, "forward pass")
    if repeat == 0 and warm:  # one cheap pass first: kernels load on first use, not inside a probe
        with _uncounted(budget):
            drivers.jvp(f, (x,), (np.ones((1,) + x.shape, dtype=x.dtype),), batched=True,
                        compiled=compiled)
    for k in ks:
        if not _allowed(budget, probes, prev, k):
            continue
        V = rng.standard_normal((k,) + x.shape).astype(x.dtype)
        t, first = _probe(lambda: drivers.jvp(f, (x,), (V,), batched=True, compiled=compiled),
                          repeat)
        compile_s = compile_s or max(first - t, 0.0)
        probes.passes[(tier, "forward pass", k)] = t
        probes.predicted[tier][("forward", k)] = math.ceil(n / k) * t
        prev = (k, t)
    return compile_s


def _reverse(drivers, f, x, m, ks, repeat, compiled, probes, tier, budget=None, warm=True):
    state, prev = {}, _last(probes, tier, "sweep")

    def record():
        state["out"], state["vjp"] = drivers.vjp(f, x, compiled=compiled)
    if repeat == 0 and warm:  # as in _forward: a recording and a one-seed sweep first
        with _uncounted(budget):
            record()
            out = np.asarray(state["out"])
            state["vjp"](np.ones((1,) + out.shape, dtype=out.dtype), batched=True)
    t_rec, first = _probe(record, repeat)
    compile_s = max(first - t_rec, 0.0) if compiled else 0.0
    probes.passes[(tier, "record", 1)] = min(t_rec, probes.passes.get((tier, "record", 1),
                                                                      t_rec))
    t_rec = probes.passes[(tier, "record", 1)]
    out = np.asarray(state["out"])
    for k in ks:
        if not _allowed(budget, probes, prev, k):
            continue
        seeds = np.zeros((k,) + out.shape, dtype=out.dtype)
        seeds.reshape(k, -1)[np.arange(k), np.arange(k)] = 1.0
        t_sweep, first = _probe(lambda: state["vjp"](seeds, batched=True), repeat)
        if compiled and k == ks[0]:
            compile_s += max(first - t_sweep, 0.0)
        probes.passes[(tier, "sweep", k)] = t_sweep
        probes.predicted[tier][("reverse", k)] = t_rec + math.ceil(m / k) * t_sweep
        prev = (k, t_sweep)
    return compile_s


def _pass_estimate(probes, kind, width):
    """A pass of ``width`` estimated from the eager probes of ``kind``: linear in the width
    from the nearest probed one (0 when none was probed)."""
    timed = sorted((abs(k - width), k, t) for (tier, kd, k), t in probes.passes.items()
                   if tier == "eager" and kd == kind)
    if not timed:
        return 0.0
    _, k, t = timed[0]
    return t * width / k


def _pays(budget, probes, estimate):
    """A coloured probe (one coloured Jacobian, estimated at ``estimate`` seconds) is worth
    its time when the saving it promises over the ``calls`` Jacobians exceeds it; once the
    pattern is detected this, not the budget, decides."""
    best = min((t for table in probes.predicted.values() for t in table.values()),
               default=math.inf)
    return estimate < budget.calls * (best - estimate)


def _coloured(drivers, f, x, repeat, sparsity, probes, budget=None,
              modes=("forward", "reverse")):
    """Coloured modes (eager tier) where colouring saves at least half the passes (and, with a
    budget, where probing it pays: :func:`_pays`)."""
    from adops.sparsity import Pattern, detect
    from adops.sparsity.colouring import colour_counts
    pattern = detect(f, x) if isinstance(sparsity, str) else sparsity
    p = pattern.pattern if isinstance(pattern, Pattern) else pattern
    m, n = p.shape
    colours, bounds = colour_counts(p, pattern.colouring if isinstance(pattern, Pattern)
                                    else None)
    probes.counts.update(colours)
    probes.colour_bounds.update(bounds)
    # a dense Jacobian that does not fit leaves the coloured modes as the plan: each one that
    # needs at most twice the fewest colours is timed
    dense = probes.dense_fits()
    for mode, size, kind in (("forward", n, "forward pass"), ("reverse", m, "sweep")):
        if mode not in modes or mode not in colours:
            continue
        c = colours[mode]
        if (not dense and c <= 2 * min(colours.values())) or dense and 2 * c <= size and (
                budget is None or _pays(budget, probes, _pass_estimate(probes, kind, c))):
            jac = drivers.jacobian[mode](f, sparsity=pattern)
            last = {}
            t, _ = _probe(lambda: last.update(J=jac(x)), repeat)
            probes.predicted["eager"][(f"{mode}-coloured", c)] = t
            probes.results[f"{mode}-coloured"] = last["J"]
    return pattern


def _new(f, x):
    out = np.asarray(f(x))
    itemsize = np.result_type(x.dtype, out.dtype).itemsize
    return Probes(x.size, out.size, {tier: {} for tier in TIERS}, itemsize=itemsize,
                  memory=memory_available())


def measure(drivers: Drivers, f, x, *, repeat: int = 3, compiled: bool = True,
            sparsity="auto", own_copies: bool = True) -> Probes:
    """Time every probe of ``f`` at ``x`` (see the module docstring): ``recommend``'s table.

    Args:
        drivers: the modes (:class:`Drivers`).
        f, x: a function of one array, and the point (an array).
        repeat: best-of repeats per probe.
        compiled: also probe the compiled tier (it compiles ``f`` once per mode: seconds).
        sparsity: ``"auto"``, a known ``(m, n)`` pattern or a detected ``Pattern``, or None.
        own_copies: each compiled mode compiles its own copy of ``f`` (its compile time is then
            its own).

    Returns:
        :class:`Probes`.
    """
    start = time.perf_counter()
    probes = _new(f, x)
    _forward(drivers, f, x, probes.n, widths(probes.n), repeat, False, probes, "eager")
    _reverse(drivers, f, x, probes.m, widths(probes.m), repeat, False, probes, "eager")
    if sparsity is not None:
        probes.pattern = _coloured(drivers, f, x, repeat, sparsity, probes)
    if compiled:
        copy = own_copy if own_copies else (lambda g: g)
        with whole_after(1):  # the first call compiles all, so its excess is the compile
            probes.compile_seconds["forward"] = _forward(
                drivers, copy(f), x, probes.n, widths(probes.n), repeat, True, probes,
                "compiled")
            probes.compile_seconds["reverse"] = _reverse(
                drivers, copy(f), x, probes.m, widths(probes.m), repeat, True, probes,
                "compiled")
    probes.probe_seconds = time.perf_counter() - start
    return probes


def measure_lean(drivers: Drivers, f, x, calls: int, *, sparsity="auto", compiled="auto",
                 modes=("forward", "reverse")) -> Probes:
    """:func:`compare.jacobian`'s probes, within a :class:`Budget` of the ``calls`` Jacobians
    they plan: each eager probe timed once; the automatic width of each mode first (the mode
    with fewer passes by size first; the rule's width is within 1.4x of the best,
    ``benchmarks/chunk_width.py``; above :data:`LARGE` directions the narrowest width first,
    as a wide pass there can cost more than a sparse Jacobian), then sparsity detection (``sparsity="auto"``, estimated at
    :data:`DETECT_FACTOR` recordings) and coloured modes when they pay, then the narrower
    widths (32, 8) while the budget lasts; in a close call the runner-up timed once more
    (:func:`_confirm`); the compiled tier
    (``compiled="auto"``) only when :data:`COMPILE_SECONDS` fits the budget, and then for the
    best eager dense mode at its best width only,
    on ``f`` itself so its programs stay warm. ``compiled=True`` probes both modes (each at its
    best eager width), ``False`` none.
    """
    start, budget = time.perf_counter(), Budget(calls)
    probes = _new(f, x)
    ks = {"forward": lean_widths(probes.n), "reverse": lean_widths(probes.m)}
    first = "forward" if probes.n <= probes.m else "reverse"
    order = [md for md in (first, "reverse" if first == "forward" else "forward") if md in modes]
    run = {"forward": _forward, "reverse": _reverse}
    size = {"forward": probes.n, "reverse": probes.m}
    # the widest width first (within 1.4x of the best), except where a wide pass is costly (a
    # large side: banded n = 10^4 at width 419 cost more than its whole coloured Jacobian):
    # there the narrowest first, and wider ones only while the budget allows
    planned = {mode: ks[mode] if size[mode] > LARGE else ks[mode][::-1] for mode in order}
    if not probes.dense_fits():  # no dense plan can run: only colouring is probed
        planned, order = {mode: [] for mode in order}, []
    for mode in order:  # the most promising width of each mode
        run[mode](drivers, f, x, size[mode], planned[mode][:1], 0, False, probes, "eager",
                  budget)
    # colouring next: cheap to detect, and the largest saving when the pattern is sparse
    detect_cost = DETECT_FACTOR * probes.passes.get(("eager", "record", 1), 0.0)
    if sparsity is not None and (not isinstance(sparsity, str) or not probes.dense_fits() or
                                 budget.allows(probes, detect_cost)):
        probes.pattern = _coloured(drivers, f, x, 0, sparsity, probes, budget, modes)
    for mode in order:  # then the other widths, while the budget lasts
        if planned[mode][1:]:
            run[mode](drivers, f, x, size[mode], planned[mode][1:], 0, False, probes, "eager",
                      budget, warm=False)
    if not order:  # the compiled tier times dense modes only
        tried = []
    elif compiled is True:
        tried = order
    elif compiled == "auto":
        best = _confirm(drivers, f, x, probes, calls, order, run, size)
        tried = [best.mode.split("-")[0]] if budget.allows(probes, COMPILE_SECONDS) else []
    else:
        _confirm(drivers, f, x, probes, calls, order, run, size)
        tried = []
    for mode in tried:
        dense = choose(probes, calls, modes=(mode,), tiers=("eager",))
        # the first call compiles the whole program (by default the second would, inside the
        # timed call, and the compiled tier would look seconds slow per Jacobian)
        with whole_after(1):
            probes.compile_seconds[mode] = run[mode](drivers, f, x, size[mode], [dense.chunk],
                                                     1, True, probes, "compiled")
    probes.probe_seconds = time.perf_counter() - start
    return probes


#: a runner-up predicted within this factor of the best is timed once more (:func:`_confirm`)
CLOSE = 1.5


def _confirm(drivers, f, x, probes, calls, modes, run, size):
    """The best eager choice, after timing the best dense choice of the other mode once more
    when it is predicted within :data:`CLOSE` of the best (the least of its two times kept): a
    probe timed once can be slowed tenfold by a pause of a loaded machine, and would then steer
    the plan away from the better mode. (Timing the best again could only make it faster: it
    could not change the plan.)"""
    coloured = tuple(f"{m}-coloured" for m in modes)
    best = choose(probes, calls, modes=tuple(modes) + coloured, tiers=("eager",))
    others = [m for m in modes if m != best.mode.split("-")[0]]
    if not others:
        return best
    try:
        runner = choose(probes, calls, modes=tuple(others), tiers=("eager",))
    except (MemoryError, ValueError):
        return best
    if runner.total > CLOSE * best.total:
        return best
    again = Probes(probes.n, probes.m, {"eager": {}}, itemsize=probes.itemsize,
                   memory=probes.memory)
    run[runner.mode](drivers, f, x, size[runner.mode], [runner.chunk], 0, False, again, "eager",
                     warm=False)
    for table, new in ((probes.passes, again.passes),
                       (probes.predicted["eager"], again.predicted["eager"])):
        for k, t in new.items():
            table[k] = min(table.get(k, t), t)
    return choose(probes, calls, modes=tuple(modes) + coloured, tiers=("eager",))


def lean_widths(size: int):
    """The widths :func:`measure_lean` probes, ascending: 8, 32 and the automatic width (a
    width of 1 is never much better than 8, and costs as many passes as entries).

    >>> lean_widths(5), lean_widths(1000)
    ([5], [8, 32, 256])
    """
    return sorted({min(k, max(size, 1)) for k in (8, 32, auto_chunk(size))})


def choose(probes: Probes, calls: int, *, modes=MODES, tiers=TIERS,
           available: int | None = None) -> Choice:
    """The (tier, mode, k) of least ``compile + calls * t`` among the measured ones, restricted
    to ``modes`` (their names, coloured ones included) and ``tiers``. Dense modes are left out
    when the dense ``(m, n)`` Jacobian does not fit in memory (:meth:`Probes.dense_fits` of
    ``available`` bytes, by default the probes' reading); a coloured one returns a sparse
    matrix.

    >>> p = Probes(4, 1, {"eager": {("forward", 4): 2e-3, ("reverse", 1): 1e-3},
    ...                   "compiled": {("forward", 4): 1e-4, ("reverse", 1): 1e-4}},
    ...            {"forward": 1.0, "reverse": 1.0})
    >>> choose(p, 10).mode, choose(p, 10).tier, choose(p, 10**5).tier
    ('reverse', 'eager', 'compiled')
    """
    fits = probes.dense_fits(available)
    best = None
    for tier in tiers:
        for (mode, k), t in probes.predicted.get(tier, {}).items():
            if mode not in modes or not (fits or mode.endswith("coloured")):
                continue
            c = Choice(tier, mode, k, t, probes.compile_seconds.get(mode, 0.0)
                       if tier == "compiled" else 0.0, calls)
            if best is None or c.total < best.total:
                best = c
    if best is None and not fits:
        gb = probes.dense_bytes / 2 ** 30
        raise MemoryError(
            f"the dense Jacobian ({probes.m}, {probes.n}) takes {gb:.3g} GiB, more than "
            f"{DENSE_MEMORY_SHARE:.0%} of the memory available, and no coloured mode was "
            f"measured among modes {modes}: pass sparsity='auto' (or a known pattern) for a "
            "sparse Jacobian when f's is sparse, or compute the products you need with "
            "dualad.jvp / revad.vjp instead of the whole Jacobian")
    if best is None:
        raise ValueError(f"no measured configuration among modes {modes} and tiers {tiers}")
    return best


def on_workers(probes: Probes, choice: Choice, workers: int, ship: float = SHIP_SECONDS):
    """Predicted seconds of the chosen Jacobian with its passes on ``workers`` workers:
    ``t_fixed + ceil(P / W) * t_pass + blocks * ship`` (P passes; blocks: 4 per worker, at most
    P; t_fixed: reverse mode's recording, made once on each worker).

    >>> p = Probes(100, 1, {"eager": {("forward", 10): 1.0}}, passes={("eager", "forward pass", 10): 0.1})
    >>> round(on_workers(p, Choice("eager", "forward", 10, 1.0, 0.0, 1), 2, ship=0.0), 3)
    0.5
    """
    base = choice.mode.split("-")[0]
    size = probes.n if base == "forward" else probes.m
    coloured = choice.mode.endswith("coloured")
    passes = 1 if coloured else math.ceil(size / choice.chunk)
    if coloured:
        return choice.seconds / max(workers, 1) + workers * ship
    fixed = probes.passes.get((choice.tier, "record", 1), 0.0) if base == "reverse" else 0.0
    t_pass = (choice.seconds - fixed) / passes
    blocks = min(passes, 4 * max(workers, 1))
    return fixed + math.ceil(passes / max(workers, 1)) * t_pass + blocks * ship
