"""Checkpoint schedules for ``adops.scan(..., checkpoints=s)``: how many snapshots, which steps.

Contract: :func:`snapshots` ``(checkpoints, T) -> s`` (None: keep every step's linearization, the
plain tape) checks the user's option; :func:`actions` ``(T, s)`` is the schedule, a tuple of
``checkpoint_schedules`` actions (``Forward(n0, n1, write_ics, write_adj_deps, storage)``,
``Reverse(n1, n0, clear)``, ``Copy``/``Move(n, from, to)``, ``EndForward``, ``EndReverse``),
computed once per ``(T, s)`` and cached. The schedule is the library's
``MultistageCheckpointSchedule`` (Stumm and Walther's multistage binomial schedule): it keeps at
most ``s`` carries in memory and takes the fewest forward steps possible, the count of Revolve
(Griewank and Walther, ACM TOMS Algorithm 799), and lists itself in milliseconds where
``Revolve`` takes a minute for ``T = 3000``. :func:`optimal_recomputations` is that optimum in
closed form, against which the tests and the benchmark check the count.
"""
from __future__ import annotations

import functools
import math
import numbers

from checkpoint_schedules import EndReverse, Forward, MultistageCheckpointSchedule

#: the names ``checkpoints`` takes besides an integer, and the s each picks for T steps
NAMED = {"sqrt": lambda T: math.isqrt(max(T - 1, 0)) + 1,
         "log": lambda T: max(1, math.ceil(math.log2(max(T, 2))))}


def snapshots(checkpoints, T: int, where: str = "adops.scan") -> int | None:
    """The number of snapshots ``s`` for ``checkpoints`` (None, an integer >= 1, ``"sqrt"`` or
    ``"log"``) and ``T`` steps.

    Example:
        >>> snapshots("sqrt", 3000), snapshots("log", 3000), snapshots(10, 3000)
        (55, 12, 10)
    """
    if checkpoints is None:
        return None
    if isinstance(checkpoints, str):
        if checkpoints not in NAMED:
            raise ValueError(f"{where}: checkpoints={checkpoints!r} is not a known name; give "
                             f"an integer >= 1 or one of {sorted(NAMED)}")
        return NAMED[checkpoints](T)
    if isinstance(checkpoints, bool) or not isinstance(checkpoints, numbers.Integral):
        raise TypeError(f"{where}: checkpoints must be an integer >= 1, 'sqrt', 'log' or None, "
                        f"not {type(checkpoints).__name__} {checkpoints!r}")
    if checkpoints < 1:
        raise ValueError(f"{where}: checkpoints={checkpoints} keeps no carry; give at least 1 "
                         "(1 recomputes from the start for every step; None keeps every step)")
    return int(checkpoints)


@functools.lru_cache(maxsize=64)
def actions(T: int, s: int) -> tuple:
    """The schedule for ``T`` steps and ``s`` snapshots, as a tuple of actions (cached).

    Example:
        >>> [type(a).__name__ for a in actions(2, 1)]
        ['Forward', 'Forward', 'EndForward', 'Reverse', 'Move', 'Forward', 'Reverse', 'EndReverse']
    """
    out = []
    for a in MultistageCheckpointSchedule(T, min(s, T), 0):
        out.append(a)
        if isinstance(a, EndReverse):
            break
    return tuple(out)


def recomputations(T: int, s: int) -> int:
    """The forward steps the schedule takes beyond the first ``T``.

    Example:
        >>> recomputations(3000, 10)
        13635
    """
    return sum(len(a) for a in actions(T, s) if isinstance(a, Forward)) - T


def optimal_recomputations(T: int, s: int) -> int:
    """The fewest extra forward steps with ``s`` snapshots: ``r T - C(s + r, s + 1)`` with ``r``
    the smallest integer such that ``C(s + r, s) >= T`` (Griewank and Walther).

    Example:
        >>> optimal_recomputations(3000, 10), optimal_recomputations(3000, 55)
        (13635, 7347)
    """
    if T <= 1:
        return 0
    r = 0
    while math.comb(s + r, s) < T:
        r += 1
    return r * T - math.comb(s + r, s + 1)
