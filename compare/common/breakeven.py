"""Where reverse mode starts to beat forward mode, by measurement and by theory, and the run's own
noise floor: the analyses behind heatmap.png and summary.md's break-even sentences, each value a
:class:`compare.common.claims.Number` that carries its query over results.csv.

Contract, over results.csv's rows (``facts``: :class:`compare.common.claims.Facts`):

- :data:`PANELS`: the heatmap's panels, each a pair of row filters (forward, reverse): the eager
  tier and the compiled tier (each mode at its fastest chunk width) and the scalar modes (chunk
  1: one direction or one seed per pass).
- :func:`ratios(facts, panel)` -> ``(ns, ms, {(n, m): Number})``: ``t_reverse / t_forward`` on
  the panel's complete (n, m) rectangle of dense.
- :func:`crossings(ns, ms, cells)` -> :class:`Crossing` s: where ``log(t_rev / t_fwd)`` changes
  sign between two neighbouring cells, along n at each m and along m at each n, interpolated
  linearly in log size (the measured contour, which heatmap.png draws from the same cells).
- :func:`per_pass(facts, panel, ns, ms)` -> ``(t_fwd pass, t_rev pass)``: the median over the
  rectangle's cells of a Jacobian's time over its passes, ``ceil(n / k)`` forward and
  ``ceil(m / k)`` reverse (``k`` the row's chunk); :func:`theory_log2_ratio` is the theory's
  ``log2(ceil(m/k) t_rev / (ceil(n/k) t_fwd))`` at any (n, m).
- :func:`noise_floor(facts)` -> ``(floor, parts)``: the largest ratio between two timings of one
  computation in the run: the repeated timings of one configuration (``phase = repeat``) and
  pairs of rows that name one computation twice (the automatic chunk equal to chunk 1). A
  difference inside it is "within noise".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from adops.program.inputs import auto_chunk

from .claims import Number, combine, const
from .results import complete_grid

#: panel -> (forward rows, reverse rows) of results.csv
PANELS = {
    "eager": (dict(mode="forward"), dict(mode="reverse")),
    "compiled": (dict(mode="forward-compiled"), dict(mode="reverse-compiled")),
    "scalar": (dict(mode="forward", chunk_rule="fixed", chunk=1),
               dict(mode="reverse", chunk_rule="fixed", chunk=1)),
}
TITLES = {"eager": "eager tier", "compiled": "compiled tier",
          "scalar": "scalar modes (eager, chunk 1)"}


def _keys(rows, problem, where):
    return {(r["problem"], int(r["n"]), int(r["m"])) for r in rows
            if r["problem"] == problem and r["phase"] == "jacobian"
            and all(str(r.get(k, "")) == str(v) for k, v in where.items())}


def ratios(facts, panel: str, problem: str = "dense"):
    """``(ns, ms, {(n, m): t_rev / t_fwd})`` on the panel's complete rectangle (see module)."""
    fwd, rev = PANELS[panel]
    both = _keys(facts.rows, problem, fwd) & _keys(facts.rows, problem, rev)
    ns, ms = complete_grid({(n, m): 1 for _, n, m in both})
    if len(ns) < 2 or len(ms) < 2:
        return [], [], {}

    def t(where, n, m):
        return facts.q("seconds", "min", problem=problem, n=n, m=m, phase="jacobian", **where)
    return ns, ms, {(n, m): t(rev, n, m) / t(fwd, n, m) for n in ns for m in ms}


@dataclass
class Crossing:
    """``t_rev = t_fwd`` between ``lo`` and ``hi`` of the varied size ``along`` (``n`` or ``m``)
    at the other size ``at``; ``where``: the interpolated size; ``inside``: how many of the two
    cells lie within the noise floor of 1 (2: a sign change between two ties)."""

    along: str
    at: int
    lo: int
    hi: int
    where: Number
    inside: int = 0


def _interp(s0, s1, r0: Number, r1: Number) -> Number:
    l0, l1 = combine("log", r0), combine("log", r1)
    frac = l0 / (l0 - l1)
    return combine("exp", const(math.log(s0)) + frac * const(math.log(s1 / s0)))


def crossings(ns, ms, cells, floor: float = 1.0) -> list:
    """Every sign change of ``log(t_rev / t_fwd)`` between neighbouring cells (module docstring).

    >>> from compare.common.claims import const
    >>> cells = {(n, m): const(m / n) for n in (2, 8) for m in (1, 4)}
    >>> [(c.along, c.at, round(c.where.value, 6)) for c in crossings([2, 8], [1, 4], cells)]
    [('n', 4, 4.0), ('m', 2, 2.0)]
    """
    out = []
    for along, outer, inner in (("n", ms, ns), ("m", ns, ms)):
        for at in outer:
            for s0, s1 in zip(inner, inner[1:]):
                key = (lambda s: (s, at)) if along == "n" else (lambda s: (at, s))
                r0, r1 = cells[key(s0)], cells[key(s1)]
                if (r0.value - 1) * (r1.value - 1) < 0:
                    inside = sum(max(r.value, 1 / r.value) < floor for r in (r0, r1))
                    out.append(Crossing(along, at, s0, s1, _interp(s0, s1, r0, r1), inside))
    return out


def per_pass(facts, panel: str, ns, ms, problem: str = "dense"):
    """``(t_fwd pass, t_rev pass)``: the median time per pass over the rectangle (module)."""
    fwd, rev = PANELS[panel]
    out = []
    for where, size in ((fwd, lambda n, m: n), (rev, lambda n, m: m)):
        each = []
        for n in ns:
            for m in ms:
                hits = [r for r in facts.rows if r["problem"] == problem and int(r["n"]) == n
                        and int(r["m"]) == m and r["phase"] == "jacobian"
                        and all(str(r.get(k, "")) == str(v) for k, v in where.items())]
                best = min(hits, key=lambda r: float(r["seconds"]))
                k = int(float(best["chunk"]))
                t = facts.q("seconds", "min", problem=problem, n=n, m=m, phase="jacobian",
                            chunk=k, **{a: b for a, b in where.items() if a != "chunk"})
                each.append(t / const(math.ceil(size(n, m) / k)))
        out.append(combine("median", each))
    return tuple(out)


def chunk_of(panel: str, size):
    """The chunk width a panel's mode uses at ``size`` inputs (forward) or outputs (reverse)."""
    size = np.asarray(size, dtype=float)
    if panel == "scalar":
        return np.ones_like(size)
    return np.vectorize(lambda s: float(auto_chunk(max(1, math.ceil(s)))))(size)


def theory_log2_ratio(panel: str, n, m, t_fwd: float, t_rev: float):
    """``log2(ceil(m / k) t_rev / (ceil(n / k) t_fwd))`` (arrays broadcast)."""
    n, m = np.asarray(n, float), np.asarray(m, float)
    passes_f = np.ceil(n / chunk_of(panel, n))
    passes_r = np.ceil(m / chunk_of(panel, m))
    return np.log2(passes_r * t_rev / (passes_f * t_fwd))


def noise_floor(facts):
    """``(floor, parts)``: the largest ratio between two timings of one computation (module);
    ``parts``: ``[(what, Number)]`` each source's spread. None when the run has neither."""
    parts = []
    groups = {}
    for r in facts.rows:
        if r["phase"] == "repeat":
            groups.setdefault((r["problem"], r["mode"], r["n"], r["m"]), 0)
    for (p, mode, n, m) in sorted(groups):
        where = dict(problem=p, mode=mode, n=n, m=m, phase="repeat")
        k = facts.q("seconds", "count", **where).value
        parts.append((f"{mode} {p} n = {n}, m = {m}, {int(k)} timings",
                      facts.q("seconds", "max", **where) / facts.q("seconds", "min", **where)))
    twins = {}
    for r in facts.rows:
        if r["phase"] == "jacobian" and r.get("tier") == "eager" and r["chunk"]:
            key = (r["problem"], r["mode"], r["n"], r["m"], r["chunk"])
            twins.setdefault(key, set()).add(r["chunk_rule"])
    for (p, mode, n, m, k), rules in sorted(twins.items()):
        if rules >= {"auto", "fixed"}:
            base = dict(problem=p, mode=mode, n=n, m=m, chunk=k, phase="jacobian")
            a = facts.q("seconds", "min", chunk_rule="auto", **base)
            b = facts.q("seconds", "min", chunk_rule="fixed", **base)
            parts.append((f"{mode} {p} n = {n}, m = {m}: auto chunk = chunk {k}",
                          combine("max", [a / b, b / a])))
    if not parts:
        return None, []
    return combine("max", [x for _, x in parts]), parts
