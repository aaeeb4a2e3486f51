"""A small checkpoint schedule, drawn: which steps the binomial schedule runs, keeps, recomputes
and sweeps, so a student sees what Revolve does.

Contract: :func:`timeline(T, s)` reads the schedule ``adops.scan(..., checkpoints=s)`` follows
for ``T`` steps (:func:`adops.control.schedule.actions`, the same cached actions) and returns
one row per step evaluation, in order: ``(step, kind, kept)`` with ``kind`` one of
:data:`KINDS` and ``kept`` the carries held at that moment (step indices). :func:`plot` draws
them as ``checkpoint_schedule.png``: time runs down, steps along, a bar per step taken (coloured
by kind) and a square at every kept carry.

Example:
    >>> rows = timeline(6, 2)
    >>> len(rows) - 2 * 6, max(len(r[2]) for r in rows)     # steps beyond T forward, T back
    (8, 2)
"""
from __future__ import annotations

from checkpoint_schedules import Copy, EndForward, Forward, Move, Reverse

from adops.control.schedule import actions, optimal_recomputations

from ..common.style import plt as _plt

#: what a row does: kind -> (colour, legend text)
KINDS = {"first pass": ("tab:gray", "forward, first pass (nothing kept but snapshots)"),
         "recomputed": ("tab:orange", "forward, recomputed from a snapshot"),
         "linearized": ("tab:blue", "forward, linearized for the sweep\n(recomputed too, "
                                    "after the first pass)"),
         "swept": ("tab:red", "reverse sweep of that step")}
PLOT = "checkpoint_schedule.png"


def timeline(T: int, s: int) -> list[tuple]:
    """``[(step, kind, kept)]`` in the order the schedule runs them (see module docstring)."""
    rows, kept, forward_done = [], set(), False
    for a in actions(T, s):
        if isinstance(a, EndForward):
            forward_done = True
        elif isinstance(a, Forward):
            if a.write_ics:
                kept.add(a.n0)
            for t in a:
                kind = "linearized" if a.write_adj_deps else (
                    "recomputed" if forward_done else "first pass")
                rows.append((t, kind, tuple(sorted(kept))))
        elif isinstance(a, Reverse):
            for t in a:
                rows.append((t, "swept", tuple(sorted(kept))))
        elif isinstance(a, Move):
            kept.discard(a.n)
        elif isinstance(a, Copy):
            pass
    return rows


def plot(path: str, T: int = 10, s: int = 3):
    """``checkpoint_schedule.png`` for ``T`` steps and ``s`` kept carries."""
    plt = _plt()
    rows = timeline(T, s)
    fig, ax = plt.subplots(figsize=(10.5, 0.17 * len(rows) + 1.6))
    for i, (t, kind, kept) in enumerate(rows):
        ax.barh(i, 0.8, left=t + 0.1, height=0.7, color=KINDS[kind][0])
        ax.plot(kept, [i] * len(kept), "s", color="tab:green", markersize=5)
    for kind, (colour, text) in KINDS.items():
        ax.barh(-10, 0, color=colour, label=text)
    ax.plot([], [], "s", color="tab:green", label="a kept carry (snapshot) at that step")
    ax.set_ylim(len(rows) - 0.5, -0.7)
    ax.set_xlim(-0.4, T + 0.4)
    ax.set_xticks(range(T + 1))
    ax.set_xlabel("step t (a bar from t to t + 1: the step taken; a square at t: carry h_t kept)")
    ax.set_ylabel("time: one row per step evaluated")
    extra = optimal_recomputations(T, s)
    ax.set_title(f"adops.scan(..., checkpoints={s}) over T = {T} steps: at most {s} carries "
                 f"kept;\n{extra} forward steps beyond the first {T} (orange and blue after the "
                 "first pass), the fewest possible", fontsize=9)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
