"""The standard problems' study (:mod:`compare.problems.standard`: GMM, BA, HT, LSTM, banded),
timed in gradbench's form -> standard.csv, standard.md, a plot per problem and a summary section.

Contract: :func:`measure(instance)` returns tidy rows, one per method, with ``seconds`` and
``ratio = seconds / objective seconds`` of the same tool (gradbench's measure):

- ``objective``: f in plain numpy (the unit);
- ``forward`` / ``reverse``: the dense derivative by ``dualad.jacfwd`` / ``revad.grad`` or
  ``revad.jacrev`` (chunked, ``passes`` = number of batched passes or sweeps);
  ``reverse-compiled``: the gradient by the compiled tier (``compiled=True``), scalar problems;
- ``forward-coloured`` / ``reverse-coloured``: :func:`adops.sparse.sparse_jacobian` with the
  pattern known from the problem's structure, pushing ``passes`` = colours seeds through
  ``dualad.jvp(..., batched=True)`` or one ``revad.vjp`` recording; ``setup_seconds`` is the
  colouring, done once per pattern and not in ``seconds`` (a solver reuses it);
- ``finite-differences`` (central, 2n evaluations) and ``fd-coloured`` (2 per colour);
- ``jax-objective`` / ``jax-derivative`` (jit; grad, or jacfwd / jacrev by the smaller side) and
  ``torch-objective`` / ``torch-derivative`` (torch.func) when installed: ratios to their own
  objective.

A derivative whose predicted time exceeds ``budget`` seconds is not run whole: one batched pass
(or the recording and one sweep) is timed and multiplied by the number of passes, and the row is
marked ``estimated``. Timing: one warm-up call (compilation excluded, its time in
``first_call_seconds``), then best of ``repeat`` (1 when a call takes over a second).
Peers are named (``peers=("jax", "torch")``, :data:`PEERS`).
"""
from __future__ import annotations

import math
import os
import platform
import time
import tracemalloc

import numpy as np

import dualad
import revad
from adops.compile import whole_after
from adops import sparse
from adops.program.inputs import auto_chunk

from ..common import peers as peers_mod
from ..common.claims import Claim, Facts, lines as claim_lines
from ..common.rows import CsvSink, read_csv
from ..common.style import STANDARD_COLOURS as COLOURS, fmt_time as _fmt_t, plt as _plt
from ..common.timing import best_of, finite_differences, versions as _versions
from ..problems import standard as st
from .base import Section, Study

COLUMNS = ["problem", "instance", "published", "n", "m", "method", "seconds", "ratio", "passes", "estimated",
           "setup_seconds", "first_call_seconds", "repeat", "versions"]
OURS = ("forward", "reverse", "reverse-compiled", "forward-coloured", "reverse-coloured")
METHODS = OURS + ("finite-differences", "fd-coloured", "jax-derivative", "torch-derivative")
#: bytes a batch of tangents or cotangents may take (k directions x the objective's footprint)
MEMORY = 1 << 31


def _best(fn, repeat):
    # a derivative over a second is timed once more only (the large instances)
    return best_of(fn, repeat, once_above=1.0)


def _footprint(f, x):
    tracemalloc.start()
    try:
        f(x)
        return max(1, tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def _chunked(push, k):
    """A push that sends at most ``k`` seeds per call (bounded memory), same result."""
    def run(seeds):
        return np.concatenate([np.asarray(push(seeds[i:i + k])).reshape(min(k, len(seeds) - i), -1)
                               for i in range(0, len(seeds), k)], axis=0)
    return run


def _fd_push(f, x):
    h = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, float(np.max(np.abs(x))))

    def push(seeds):
        return np.stack([(np.asarray(f(x + h * s)) - np.asarray(f(x - h * s))) / (2 * h)
                         for s in seeds])
    return push


def _rows_for(inst, m, versions, repeat):
    def row(method, seconds, unit, passes="", estimated=False, setup="", first=""):
        return dict(problem=inst.problem, instance=inst.label, published=inst.published or "",
                    n=inst.n, m=m, method=method,
                    seconds=seconds, ratio=seconds / unit if unit else "", passes=passes,
                    estimated=int(bool(estimated)), setup_seconds=setup,
                    first_call_seconds=first, repeat=repeat, versions=versions)
    return row


def measure(inst: st.Instance, *, repeat: int = 3, budget: float = 30.0, peers=(),
            versions: str = "", fd: bool = True, compiled: bool | None = None) -> list[dict]:
    """Time every method on ``inst``; see the module docstring. Returns the rows.

    Example:
        >>> rows = measure(st.banded(50), repeat=1)
        >>> sorted({r["method"] for r in rows})[:3]
        ['fd-coloured', 'finite-differences', 'forward']
    """
    f, x = inst.f, inst.x
    out = np.asarray(f(x))
    m, n, scalar = out.size, x.size, out.ndim == 0
    if compiled is None:
        # LSTM's 1023 unrolled time steps are rolled back into one loop (adops.compile.rolling)
        compiled = True
    row = _rows_for(inst, m, versions, repeat)
    t_obj, first = _best(lambda: f(x), repeat)
    rows = [row("objective", t_obj, t_obj, first=first)]
    foot = _footprint(f, x)
    k_mem = max(1, MEMORY // foot)

    # dense forward: one pass of k directions, then all of them if the budget allows
    k = min(auto_chunk(n), k_mem)
    passes = math.ceil(n / k)
    seed = np.eye(k, n)
    t1, first = _best(lambda: dualad.jvp(f, (x,), (seed,), batched=True), repeat)
    if t1 * passes <= budget:
        t, first = _best(lambda: dualad.jacfwd(f, chunk=k)(x), repeat)
        rows.append(row("forward", t, t_obj, passes, first=first))
    else:
        rows.append(row("forward", t1 * passes, t_obj, passes, True, first=first))

    # dense reverse: the gradient in one sweep, or a recording and ceil(m / k) sweeps
    if scalar:
        vg = revad.value_and_grad(f)
        t, first = _best(lambda: vg(x), repeat)
        rows.append(row("reverse", t, t_obj, 1, first=first))
        if compiled:
            # the compiled tier (adops.compile): traced and compiled once, first_call_seconds
            vgc = revad.value_and_grad(f, compiled=True)
            with whole_after(1):  # the first call compiles the whole program
                t, first = _best(lambda: vgc(x), repeat)
            rows.append(row("reverse-compiled", t, t_obj, 1, first=first))
    else:
        k = min(auto_chunk(m), k_mem)
        passes = math.ceil(m / k)
        seeds = np.eye(k, m)
        t_rec, first = _best(lambda: revad.vjp(f, x), repeat)
        _, vjp_fn = revad.vjp(f, x)
        t_sw, _ = _best(lambda: vjp_fn(seeds, batched=True), repeat)
        if t_rec + t_sw * passes <= budget:
            t, first = _best(lambda: revad.jacrev(f, chunk=k)(x), repeat)
            rows.append(row("reverse", t, t_obj, passes, first=first))
        else:
            rows.append(row("reverse", t_rec + t_sw * passes, t_obj, passes, True, first=first))

    if inst.pattern is not None:
        for mode in sparse.MODES:
            t0 = time.perf_counter()
            col = sparse.colour(inst.pattern, mode)
            setup = time.perf_counter() - t0
            k = min(col.n_colours, k_mem)
            passes = math.ceil(col.n_colours / k)
            seeds = col.seeds()[:k]
            if mode == "forward":
                def jac(k=k, col=col):
                    push = _chunked(lambda s: dualad.jvp(f, (x,), (s,), batched=True)[1], k)
                    return sparse.sparse_jacobian(push, col, "forward")
                t1, first = _best(lambda: dualad.jvp(f, (x,), (seeds,), batched=True), repeat)
                t_rec = 0.0
            else:
                def jac(k=k, col=col):
                    _, vjp_fn = revad.vjp(f, x)
                    push = _chunked(lambda u: vjp_fn(u, batched=True)[0], k)
                    return sparse.sparse_jacobian(push, col, "reverse")
                t_rec, first = _best(lambda: revad.vjp(f, x), repeat)
                _, vjp_fn = revad.vjp(f, x)
                t1, _ = _best(lambda: vjp_fn(seeds, batched=True), repeat)
            if t_rec + t1 * passes <= budget:
                t, first = _best(jac, repeat)
                rows.append(row(f"{mode}-coloured", t, t_obj, col.n_colours, setup=setup,
                                first=first))
            else:
                rows.append(row(f"{mode}-coloured", t_rec + t1 * passes, t_obj, col.n_colours,
                                True, setup=setup, first=first))
            if mode == "forward" and fd:
                fd_jac = lambda col=col: sparse.sparse_jacobian(_fd_push(f, x), col, "forward")
                t, first = _best(fd_jac, repeat)
                rows.append(row("fd-coloured", t, t_obj, col.n_colours, setup=setup, first=first))
    if fd:
        if 2 * n * t_obj <= budget:
            t, first = _best(lambda: finite_differences(f, x), max(1, repeat // 2))
            rows.append(row("finite-differences", t, t_obj, 2 * n, first=first))
        else:
            rows.append(row("finite-differences", 2 * n * t_obj, t_obj, 2 * n, True))
    for name in peers:
        rows.extend(PEERS[name](inst, row, repeat))
    return rows


# ------------------------------------------------------------------------------------- peers

def _dense_ok(inst, m):
    return m == 1 or inst.n * m * 8 <= 1 << 29


def jax_peer(inst, row, repeat):
    """JAX (jit) objective and derivative of the same instance, built with ``jax.numpy``.
    Not LSTM: XLA compiles its 1023 unrolled time steps for many minutes (it warns "very slow
    compile" already at 64 steps); a ``lax.scan`` would be a different program from ours."""
    if inst.problem == "lstm":
        return []
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    j = st.make(inst.problem, xp=jnp, **inst.size)
    x = jnp.asarray(j.x)
    obj = jax.jit(j.f)
    t_obj, first = _best(lambda: obj(x).block_until_ready(), repeat)
    m = int(np.size(obj(x)))
    rows = [row("jax-objective", t_obj, t_obj, first=first)]
    if not _dense_ok(inst, m):
        return rows
    der = jax.jit(jax.grad(j.f) if m == 1 and np.ndim(obj(x)) == 0
                  else (jax.jacfwd(j.f) if inst.n <= m else jax.jacrev(j.f)))
    t, first = _best(lambda: der(x).block_until_ready(), repeat)
    rows.append(row("jax-derivative", t, t_obj, first=first))
    return rows


def torch_peer(inst, row, repeat):
    """PyTorch objective and derivative (torch.func) of the same instance."""
    import torch
    torch.set_default_dtype(torch.float64)
    tp = st.make(inst.problem, xp=torch, **inst.size)
    x = torch.asarray(tp.x)
    with torch.no_grad():
        t_obj, first = _best(lambda: tp.f(x), repeat)
        m = int(tp.f(x).numel())
    rows = [row("torch-objective", t_obj, t_obj, first=first)]
    if not _dense_ok(inst, m):
        return rows
    scalar = tp.f(x).ndim == 0
    der = (torch.func.grad(tp.f) if scalar
           else (torch.func.jacfwd(tp.f) if inst.n <= m else torch.func.jacrev(tp.f)))
    t, first = _best(lambda: der(x), repeat)
    rows.append(row("torch-derivative", t, t_obj, first=first))
    return rows


PEERS = {"jax": jax_peer, "torch": torch_peer}


# ------------------------------------------------------------------------------------ running

def measure_all(out_dir: str, cases=st.FULL, *, repeat: int = 3, budget: float = 30.0,
                peers=(), peers_on_lstm: bool = True, progress: bool = True) -> str:
    """Measure ``cases`` (``(problem, size)`` pairs), appending rows to ``standard.csv`` in
    ``out_dir`` as they come; ``peers``: names; ``peers_on_lstm`` False: not on LSTM. Returns
    the CSV's path."""
    csv_path = os.path.join(out_dir, "standard.csv")
    sink = CsvSink(csv_path, COLUMNS)
    peers_mod.load(peers)
    ver = _versions()
    for problem, size in cases:
        t0 = time.perf_counter()
        inst = st.make(problem, **size)
        rows = measure(inst, repeat=repeat, budget=budget, versions=ver,
                       peers=peers if peers_on_lstm or problem != "lstm" else ())
        sink.write(rows)
        if progress:
            print(f"standard: {problem} {inst.label}: {time.perf_counter() - t0:.1f} s",
                  flush=True)
    return csv_path


def run(out_dir: str, cases=st.FULL, *, repeat: int = 3, budget: float = 30.0, peers=(),
        progress: bool = True, command: str = "python -m compare standard",
        peers_note: str = "") -> list[str]:
    """Measure ``cases`` into ``standard.csv``, then write ``standard.md`` and one plot per
    problem; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path = measure_all(out_dir, cases, repeat=repeat, budget=budget, peers=peers,
                           progress=progress)
    return write_report(csv_path, out_dir, command=command, peers_note=peers_note)


# ------------------------------------------------------------------------------------- report

def read_rows(csv_path):
    """standard.csv's rows, numbers parsed (``ratio`` None when empty, ``estimated`` a bool)."""
    return read_csv(csv_path, ints=("n", "m"), floats=("seconds",), optional=("ratio",),
                    flags=("estimated",))


def _table(rows):
    """{(problem, instance): {method: row}} in measurement order."""
    out = {}
    for r in rows:
        out.setdefault((r["problem"], r["instance"]), {})[r["method"]] = r
    return out


def best_ours(methods: dict):
    """(ratio, method) of our fastest measured (not estimated) derivative."""
    cands = [(r["ratio"], k) for k, r in methods.items()
             if k in OURS and not r["estimated"] and r["ratio"] is not None]
    return min(cands) if cands else (None, None)


def _cell(r, colours=False):
    if r is None:
        return "-"
    txt = ("~" if r["estimated"] else "") + f"{r['ratio']:.3g}"
    if colours and r["passes"]:
        txt += f" ({r['passes']})"
    return txt


PLOT_METHODS = ["forward", "reverse", "reverse-compiled", "forward-coloured", "reverse-coloured",
                "finite-differences", "fd-coloured", "jax-derivative", "torch-derivative"]
def plot_problem(problem, table, path):
    plt = _plt()
    keys = [k for k in table if k[0] == problem]
    methods = [mt for mt in PLOT_METHODS if any(mt in table[k] for k in keys)]
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(keys) + 2) + 2.4, 4.5))
    width = 0.8 / max(1, len(methods))
    for j, mt in enumerate(methods):
        for i, key in enumerate(keys):
            r = table[key].get(mt)
            if r is None or r["ratio"] is None:
                continue
            ax.bar(i + (j - (len(methods) - 1) / 2) * width, r["ratio"], width,
                   color=COLOURS[mt], hatch="//" if r["estimated"] else None,
                   edgecolor="black" if r["estimated"] else None, linewidth=0.3,
                   label=mt if i == 0 or mt not in ax.get_legend_handles_labels()[1] else None)
    marks = {"manual": "k*", "jax": "kx", "pytorch": "k+"}
    for i, key in enumerate(keys):
        pub = st.PUBLISHED.get((problem, next(iter(table[key].values()))["published"] or ""), {})
        for tool, v in pub.items():
            if v is not None:
                ax.plot(i + 0.45, v, marks[tool], markersize=9,
                        label=f"gradbench {tool} (published)"
                        if f"gradbench {tool} (published)" not in ax.get_legend_handles_labels()[1]
                        else None)
    ax.set_xticks(range(len(keys)), [k[1] for k in keys], fontsize=8)
    ax.set_yscale("log")
    ax.axhline(1, color="black", linewidth=0.5)
    ax.set_ylabel("derivative time / objective time")
    ax.set_title(f"{problem}: cost of the derivative in objective evaluations\n"
                 "(hatched: estimated from one pass)", fontsize=9)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(rows, command, peers_note=""):
    table = _table(rows)
    lines = ["# Standard problems (ADBench / gradbench): measured", "",
             f"- machine: {platform.machine()}, {os.cpu_count()} cores; "
             f"{platform.system()} {platform.release()}",
             f"- versions: {rows[0].get('versions', '')}" if rows else "",
             f"- command: `{command}`",
             "- ratio = derivative time / objective time of the same tool (gradbench's measure); "
             "`~`: estimated from one timed pass times the number of passes (too long to run "
             "whole); `(k)`: passes (colours) of a coloured Jacobian, whose colouring (done "
             "once per pattern) is not in the time; best of 3 after a warm-up.",
             f"- peers: {peers_note}" if peers_note else "",
             f"- published: {st.PUBLISHED_SOURCE}. Our instances are generated here "
             "(compare/problems/standard.py, GENERATORS) at ADBench's sizes, not read from its files, "
             "and this machine is not gradbench's: compare ratios, not times.", ""]
    for problem in [p for p in st.PROBLEMS if any(k[0] == p for k in table)]:
        lines += [f"## {problem}", "", f"Generator: {st.GENERATORS[problem]}.", "",
                  "| instance | n | m | objective | forward | reverse | reverse compiled | "
                  "fwd coloured | rev coloured | finite diff. | FD coloured | best ours | JAX | "
                  "PyTorch | gradbench manual | gradbench JAX | gradbench PyTorch |",
                  "|---" * 17 + "|"]
        for key, ms in table.items():
            if key[0] != problem:
                continue
            r0 = ms["objective"]
            best, which = best_ours(ms)
            pub = st.PUBLISHED.get((problem, r0.get("published") or ""), {})
            pub_cell = lambda t: "-" if pub.get(t) is None else f"{pub[t]:.3g}"
            lines.append(
                f"| {key[1]} | {r0['n']} | {r0['m']} | {_fmt_t(r0['seconds'])} | "
                f"{_cell(ms.get('forward'), True)} | {_cell(ms.get('reverse'), True)} | "
                f"{_cell(ms.get('reverse-compiled'))} | "
                f"{_cell(ms.get('forward-coloured'), True)} | "
                f"{_cell(ms.get('reverse-coloured'), True)} | "
                f"{_cell(ms.get('finite-differences'))} | {_cell(ms.get('fd-coloured'))} | "
                f"{'-' if best is None else f'**{best:.3g}** ({which})'} | "
                f"{_cell(ms.get('jax-derivative'))} | {_cell(ms.get('torch-derivative'))} | "
                f"{pub_cell('manual')} | {pub_cell('jax')} | {pub_cell('pytorch')} |")
        lines += _objective_only(table, problem)
        lines += ["", f"![{problem}](standard_{problem}.png)", ""]
    return "\n".join(lines)


def _objective_only(table, problem) -> list:
    """A note for each instance whose peers timed the objective but no derivative: their dense
    Jacobian would not fit (:func:`_dense_ok`), and they have no colouring."""
    out = []
    for key, ms in table.items():
        peers = [(tool, ms[f"{tool.lower()}-objective"]["seconds"]) for tool in ("JAX", "torch")
                 if key[0] == problem and f"{tool.lower()}-objective" in ms
                 and f"{tool.lower()}-derivative" not in ms]
        if peers:
            r0 = ms["objective"]
            out.append(f"\n{key[1]}: " + ", ".join(f"{t}'s objective {_fmt_t(s)}" for t, s in peers)
                       + f" (ours {_fmt_t(r0['seconds'])}); no peer derivative: its dense "
                       f"{r0['m']} x {r0['n']} Jacobian would take "
                       f"{int(r0['m']) * int(r0['n']) * 8 / 1e6:.0f} MB, and the peers have no "
                       "colouring.")
    return out


def write_report(csv_path, out_dir, command="python -m compare standard", peers_note=""):
    """standard.md and standard_<problem>.png from ``standard.csv`` alone; returns the paths."""
    rows = read_rows(csv_path)
    table = _table(rows)
    paths = []
    for problem in [p for p in st.PROBLEMS if any(k[0] == p for k in table)]:
        path = os.path.join(out_dir, f"standard_{problem}.png")
        plot_problem(problem, table, path)
        paths.append(path)
    md = os.path.join(out_dir, "standard.md")
    with open(md, "w") as fh:
        fh.write(summary(rows, command, peers_note))
    return paths + [md]


# ------------------------------------------------------------------------------- the study

class StandardStudy(Study):
    """The standard problems' section of the default ``python -m compare`` run: the smaller
    instances (:data:`compare.problems.standard.QUICK`, QUICKEST for a quick run), a short
    budget, JAX/PyTorch except on LSTM (its 1023 unrolled time steps take JAX's jit most of a
    minute to compile); standard.md, its plots, and a pointer with the headline figures in
    summary.md."""

    name = "standard"
    csv = "standard.csv"
    columns = tuple(COLUMNS)
    command = "python -m compare (standard section)"

    def __init__(self):
        self.peers_note = ""

    def measure(self, settings) -> list[str]:
        cases = st.QUICKEST if settings.quick else st.QUICK
        self.peers_note = settings.peers_note + ("; not on lstm in this section"
                                                 if settings.peers else "")
        return [measure_all(settings.out, cases, repeat=1 if settings.quick else 2,
                            budget=1.0 if settings.quick else 2.0, peers=settings.peers,
                            peers_on_lstm=False, progress=False)]

    def render(self, csv_dir: str, out_dir: str) -> Section:
        """standard.md and its plots, and the section of summary.md."""
        csv_path = os.path.join(csv_dir, self.csv)
        if not os.path.exists(csv_path):
            return Section()
        paths = write_report(csv_path, out_dir, command=self.command,
                             peers_note=self.peers_note)
        rows = read_rows(csv_path)
        lines = ["", "## Standard problems (ADBench / gradbench)", "",
                 "Derivative time / objective time, our best mode per instance (full table, "
                 "gradbench's published ratios and plots in [standard.md](standard.md); the larger "
                 "instances with `python -m compare standard`):", ""]
        facts, found = Facts(rows, self.csv), []
        for (problem, label), ms in _table(rows).items():
            best, which = best_ours(ms)
            if best is not None:
                t = [facts.q("seconds", "min", problem=problem, instance=label, method=md)
                     for md in (which, "objective")]
                found.append(Claim(f"- {problem} {label}: {{}} ({which}"
                                   + (f", {ms[which]['passes']} passes" if "coloured" in which
                                      else "") + ")", [(t[0] / t[1], lambda v: f"{v:.3g}")]))
        return Section(paths, text="\n".join(lines + claim_lines(found)) + "\n",
                       parts={"claims": found})
