"""Claims: summary.md's sentences as data, each number with the query over a CSV that gives it,
so a reader (or a test) can recompute every number from the CSVs alone.

Contract: :class:`Facts(rows, csv)` answers queries over one CSV's rows: ``facts.q(column,
agg, **where)`` is a :class:`Number` (``agg``: ``min``, ``max`` or ``count`` of ``column`` over
the rows whose columns equal ``where``'s values, compared as text), and Numbers combine with
``/``, ``*`` and :func:`combine` (``median``, ``max``, ``min``, ``log``, ``exp``, ...), each
result keeping the expression that computes it. A :class:`Claim` is a sentence template and the
Numbers it shows, each with its formatter; ``claim.text`` is the sentence and ``claim.record()``
the sentence with every number's text, value and expression (``claims.json``). An expression is
Python over ``q(csv, column, agg, key=value, ...)``, ``median([...])``, ``max([...])``,
``min([...])``, ``sum([...])`` (of comparisons: a count), ``log``, ``exp`` and ``ceil``: a checker evaluates it with its own ``q``.

Example:
    >>> facts = Facts([dict(mode="reverse", n="4", seconds="2e-4"),
    ...                dict(mode="reverse", n="4", seconds="3e-4")], "results.csv")
    >>> t = facts.q("seconds", "min", mode="reverse", n=4)
    >>> c = Claim("reverse: {}", [(t, lambda v: f"{v * 1e6:.3g} us")])
    >>> c.text, c.record()["numbers"][0]["expr"]
    ('reverse: 200 us', "q('results.csv', 'seconds', 'min', mode='reverse', n='4')")
"""
from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass, field

#: the functions an expression may call besides ``q`` (a checker gives the same names)
FUNCTIONS = {"median": statistics.median, "max": max, "min": min, "log": math.log,
             "exp": math.exp, "ceil": math.ceil, "abs": abs, "sum": sum}


@dataclass(frozen=True)
class Number:
    """A value and the expression over the CSVs that gives it."""

    value: float
    expr: str

    def _op(self, other, sym, fn):
        o = other if isinstance(other, Number) else Number(float(other), repr(float(other)))
        return Number(fn(self.value, o.value), f"({self.expr}) {sym} ({o.expr})")

    def __truediv__(self, other):
        return self._op(other, "/", lambda a, b: a / b)

    def __mul__(self, other):
        return self._op(other, "*", lambda a, b: a * b)

    def __add__(self, other):
        return self._op(other, "+", lambda a, b: a + b)

    def __sub__(self, other):
        return self._op(other, "-", lambda a, b: a - b)


def const(v) -> Number:
    """A number that is not measured (a size, a chunk width)."""
    return Number(float(v), repr(float(v)) if not float(v).is_integer() else str(int(v)))


def combine(name: str, numbers, *extra) -> Number:
    """``FUNCTIONS[name]`` of ``numbers`` (a list for median/max/min, else one Number)."""
    fn = FUNCTIONS[name]
    if name in ("median", "max", "min"):
        numbers = list(numbers)
        return Number(float(fn([x.value for x in numbers])),
                      f"{name}([{', '.join(x.expr for x in numbers)}])")
    return Number(float(fn(numbers.value, *extra)),
                  f"{name}({numbers.expr}{''.join(', ' + repr(e) for e in extra)})")


def count_between(numbers, lo: float, hi: float) -> Number:
    """How many of ``numbers`` lie strictly between ``lo`` and ``hi``."""
    numbers = list(numbers)
    top = "" if math.isinf(hi) else f" < {hi!r}"
    return Number(float(sum(lo < x.value < hi for x in numbers)),
                  f"sum([{', '.join(f'{lo!r} < ({x.expr}){top}' for x in numbers)}])")


class Facts:
    """Queries over the rows of one CSV (``csv``: its file name, as the expression names it)."""

    def __init__(self, rows, csv: str):
        self.rows, self.csv = rows, csv

    def q(self, column: str, agg: str = "min", **where) -> Number:
        """``agg`` of ``column`` over the rows matching ``where``; ValueError when none match."""
        want = {k: _text(v) for k, v in where.items()}
        hits = [r for r in self.rows if all(_text(r.get(k, "")) == v for k, v in want.items())]
        if agg == "count":
            value = float(len(hits))
        else:
            if not hits:
                raise ValueError(f"{self.csv}: no row with {want}")
            value = float({"min": min, "max": max}[agg](float(r[column]) for r in hits))
        args = ", ".join(f"{k}={v!r}" for k, v in want.items())
        return Number(value, f"q({self.csv!r}, {column!r}, {agg!r}, {args})")


def _text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


@dataclass
class Claim:
    """A sentence (``template`` with one ``{}`` per number) and its numbers with formatters."""

    template: str
    numbers: list = field(default_factory=list)     # [(Number, formatter)]

    @property
    def text(self) -> str:
        return self.template.format(*(fmt(n.value) for n, fmt in self.numbers))

    def record(self) -> dict:
        return {"text": self.text,
                "numbers": [{"text": fmt(n.value), "value": n.value, "expr": n.expr}
                            for n, fmt in self.numbers]}


def lines(claims) -> list:
    """The sentences of ``claims`` (a Claim or plain text each), as summary.md lines."""
    return [c.text if isinstance(c, Claim) else c for c in claims]


def write(claims, json_path: str, md_path: str, csv_dir: str):
    """``claims.json`` (the CSVs' folder relative to it, and every claim's numbers with their
    expressions, for a checker) and ``claims.md`` (the same for a reader: each sentence, then
    each number's query)."""
    records = [c.record() for c in claims if isinstance(c, Claim)]
    rel = os.path.relpath(csv_dir, os.path.dirname(os.path.abspath(json_path)))
    with open(json_path, "w") as fh:
        json.dump({"csv_dir": rel, "claims": records}, fh, indent=1)
    out = ["# The numbers of summary.md and their queries", "",
           "Each number below is `q(csv, column, agg, filters)`: the min, max or count of that "
           "column over the CSV's rows that match every filter (compared as text), combined "
           "as written. `python -m compare claims DIR` recomputes them all.", ""]
    for k, r in enumerate(records, 1):
        out += [f"{k}. {r['text'].removeprefix('- ')}", ""]
        out += [f"   - `{x['text']}` = `{x['expr']}`" for x in r["numbers"]] + [""]
    with open(md_path, "w") as fh:
        fh.write("\n".join(out))


def recompute(folder: str) -> list:
    """Every number of ``folder/claims.json`` recomputed from the CSVs it names:
    ``[(claim text, number text, recorded value, recomputed value)]``. The query reads each
    CSV afresh (plain ``csv`` rows, every cell text), so it shares nothing with the writer but
    the expressions."""
    import csv
    with open(os.path.join(folder, "claims.json")) as fh:
        saved = json.load(fh)
    csv_dir = os.path.join(folder, saved["csv_dir"])
    tables = {}

    def q(name, column, agg, **where):
        if name not in tables:
            with open(os.path.join(csv_dir, name), newline="") as fh:
                tables[name] = list(csv.DictReader(fh))
        hits = [r for r in tables[name] if all(r.get(k) == v for k, v in where.items())]
        if agg == "count":
            return len(hits)
        return {"min": min, "max": max}[agg](float(r[column]) for r in hits)
    records = saved["claims"]
    scope = dict(FUNCTIONS, q=q, __builtins__={})
    return [(r["text"], x["text"], x["value"], float(eval(x["expr"], scope)))
            for r in records for x in r["numbers"]]
