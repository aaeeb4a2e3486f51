"""Second order, measured: the full Hessian by the four compositions of the modes as n grows, and
one Hessian-vector product against it.

Contract: :func:`study(ns, ...)` times, for the dense scalar problem :func:`make` at each n,
- the full Hessian ``(n, n)`` by each of :data:`METHODS`' compositions
  (``dualad.jacfwd(revad.grad(f))`` = ``revad.hessian``, ``revad.jacrev(revad.grad(f))``,
  ``dualad.jacfwd(dualad.jacfwd(f))``, ``revad.jacrev(dualad.jacfwd(f))``), each at the automatic
  chunk widths;
- ``revad.hvp(f, (x,), (v,))`` (one ``H v``, forward-over-reverse) and ``revad.grad(f)`` (the unit);
- ``jax.jit(jax.hessian(f))`` and ``torch.func.hessian(f)`` when those peers are installed;
and appends one row per (method, n) to ``hessian.csv`` (:data:`COLUMNS`) as it goes. Timing
follows :mod:`compare.common.timing`: a warm-up call (compilation excluded, reported as
``first_call_seconds``), the best of ``repeat`` runs with BLAS fixed to ``blas_threads``, peak
memory in a separate untimed run under ``tracemalloc`` (numpy's buffers; not the peers').
``rel_error`` is ``max|H - H_ref| / max|H_ref|`` against forward-over-reverse, so a composition
that returns a wrong Hessian shows in the report, not only in the tests. A method whose time at
the next n, extrapolated from its last two sizes, exceeds ``max_seconds`` is not timed there or
beyond: its row has no ``seconds`` and the extrapolation in ``predicted_seconds`` (the
forward-inside compositions grow like n^4 on a dense problem).

:func:`plot` draws ``hessian.png`` (time and peak memory vs n) and :func:`paragraph` the
conclusions for summary.md, both from the CSV rows alone. ``python -m compare hessian`` runs the
study on its own (:func:`standalone`) and writes ``hessian.md`` beside the plot.
"""
from __future__ import annotations

import math
import os
import platform
import sys

import numpy as np

import dualad
import revad

from ..common import peers as peers_mod
from ..common.claims import Claim, Facts, lines as claim_lines
from ..common.rows import CsvSink, read_csv as _read_csv, remove_stale
from ..common.style import HESSIAN_STYLE as STYLE, fmt_time, plt as _plt
from ..common.timing import BLAS_THREADS, fixed_threads, peak_bytes, thread_note, timed, versions
from .base import Section, Study

COLUMNS = ["problem", "method", "n", "seconds", "first_call_seconds", "peak_bytes", "repeat",
           "rel_error", "predicted_seconds", "versions", "blas"]
COMPOSITIONS = {
    "forward-over-reverse": lambda f: dualad.jacfwd(revad.grad(f)),
    "reverse-over-reverse": lambda f: revad.jacrev(revad.grad(f)),
    "forward-over-forward": lambda f: dualad.jacfwd(dualad.jacfwd(f)),
    "reverse-over-forward": lambda f: revad.jacrev(dualad.jacfwd(f)),
}
METHODS = list(COMPOSITIONS) + ["hvp", "grad", "jax-hessian", "torch-hessian"]
DEFAULT_NS = (10, 30, 100, 300, 1000)
QUICK_NS = (8, 32, 128)
PROBLEM = "dense_scalar"
CSV_NAME, PLOT_NAME, MD_NAME = "hessian.csv", "hessian.png", "hessian.md"
def make(n: int, xp=np, rng=None):
    """The dense scalar problem ``f(x) = sum(tanh(W x + b)) + sum(x^2 sin x) / 2`` and its point.

    Dense: every entry of the Hessian is nonzero, and one evaluation costs O(n^2).

    Example:
        >>> f, x = make(3)
        >>> np.shape(f(x)), f.W.shape
        ((), (3, 3))
    """
    rng = np.random.default_rng(0) if rng is None else rng
    W = rng.normal(size=(n, n)) / np.sqrt(n)
    b = rng.normal(size=n)
    x = rng.normal(size=n)
    Wx, bx = xp.asarray(W), xp.asarray(b)

    def f(x):
        return xp.sum(xp.tanh(Wx @ x + bx)) + 0.5 * xp.sum(x ** 2 * xp.sin(x))
    f.W, f.b = W, b
    return f, x


def _peer_fns(name, n):
    """``(call, to_numpy)`` computing the full Hessian with a peer library at size n."""
    if name == "jax":
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        f, x = make(n, jnp)
        h = jax.jit(jax.hessian(f))
        x = jnp.asarray(x)
        return (lambda: h(x).block_until_ready()), np.asarray
    import torch
    torch.set_default_dtype(torch.float64)
    f, x = make(n, torch)
    h = torch.func.hessian(f)
    x = torch.asarray(x)
    return (lambda: h(x)), (lambda t: t.detach().numpy())


def study(ns=DEFAULT_NS, *, repeat: int = 3, peers=(), csv_path: str | None = None,
          max_seconds: float = 10.0, blas_threads: int | None = BLAS_THREADS,
          progress=None) -> list[dict]:
    """Time the full Hessian by every method at each n (see the module docstring).

    Args:
        ns: problem sizes, ascending.
        repeat: best of this many runs after a warm-up.
        peers: names of the peers (``"jax"``, ``"torch"``) to time beside ours.
        csv_path: append rows here as they are measured (created with a header).
        max_seconds: a method whose extrapolated time at an n exceeds this is not timed there
            or at larger n (a row with ``predicted_seconds`` says so).
        blas_threads: BLAS (and PyTorch) threads while timing (None: the libraries' defaults).
        progress: called with ``(method, n)`` before each measurement.

    Returns:
        The rows (dicts with :data:`COLUMNS`).

    Example:
        >>> rows = study((4,), repeat=1)
        >>> sorted({r["method"] for r in rows}) == sorted(list(COMPOSITIONS) + ["grad", "hvp"])
        True
    """
    names = [name for name in peers_mod.NAMES if name in peers]
    peers_mod.load(names)
    ver = versions()
    sink = CsvSink(csv_path, COLUMNS) if csv_path else None
    rows, too_slow, history = [], set(), {}
    with fixed_threads(blas_threads):
        note = thread_note() + ("" if blas_threads is not None else " (library default)")
        for n in ns:
            f, x = make(n)
            v = np.random.default_rng(1).normal(size=n)
            calls = {name: (lambda h=build(f): h(x), None) for name, build in COMPOSITIONS.items()}
            calls["hvp"] = (lambda: revad.hvp(f, (x,), (v,)), None)
            calls["grad"] = (lambda: revad.grad(f)(x), None)
            for name in names:
                calls[f"{name}-hessian"] = None
            ref, new = None, []
            for method, call in calls.items():
                if method in too_slow:
                    continue
                guess = _extrapolate(history.get(method, []), n)
                if guess > max_seconds:
                    too_slow.add(method)
                    new.append(dict(problem=PROBLEM, method=method, n=n, seconds="",
                                    first_call_seconds="", peak_bytes="", repeat=repeat,
                                    rel_error="", predicted_seconds=guess, versions=ver,
                                    blas=note))
                    continue
                if progress:
                    progress(method, n)
                to_numpy, memory = np.asarray, True
                if call is None:                 # a peer: its setup is not timed
                    fn, to_numpy = _peer_fns(method.split("-")[0], n)
                    memory = False
                else:
                    fn = call[0]
                out, best, first = timed(fn, repeat)
                err = ""
                if method not in ("hvp", "grad"):
                    H = np.asarray(to_numpy(out), dtype=np.float64)
                    if ref is None:
                        ref = H
                    err = float(np.max(np.abs(H - ref)) / max(np.max(np.abs(ref)), 1e-300))
                new.append(dict(problem=PROBLEM, method=method, n=n, seconds=best,
                                first_call_seconds=first,
                                peak_bytes=peak_bytes(fn) if memory else "",
                                repeat=repeat, rel_error=err, predicted_seconds="",
                                versions=ver, blas=note))
                history.setdefault(method, []).append((n, best))
            rows += new
            if sink:
                sink.write(new)
    return rows


def _extrapolate(history, n) -> float:
    """Seconds expected at n from the last two (n, seconds) of a method: ``t ~ n^p`` with p at
    least 3 (a dense Hessian costs n^3 or more, but small sizes are overhead-bound and flat)."""
    if not history:
        return 0.0
    (n1, t1) = history[-1]
    p = 3.0
    if len(history) > 1:
        n0, t0 = history[-2]
        p = max(3.0, math.log(t1 / t0) / math.log(n1 / n0))
    return t1 * (n / n1) ** p


def read_csv(path: str) -> list[dict]:
    """Rows of ``hessian.csv`` with numbers parsed (empty cells become None)."""
    return _read_csv(path, ints=("n",), optional=("seconds", "first_call_seconds", "peak_bytes",
                                                  "rel_error", "predicted_seconds"))


def _by_method(rows, key="seconds"):
    out = {}
    for r in rows:
        if r.get(key) is not None:
            out.setdefault(r["method"], []).append((r["n"], r[key]))
    return {m: sorted(v) for m, v in out.items()}


def slope(pts) -> float | None:
    """Least-squares exponent p of ``t ~ n^p`` over the last three points (None if < 2)."""
    pts = pts[-3:]
    if len(pts) < 2:
        return None
    a = np.log([p[0] for p in pts])
    b = np.log([p[1] for p in pts])
    return float(np.polyfit(a, b, 1)[0])


def plot(rows, path: str) -> str:
    """``hessian.png``: seconds and peak bytes of each method vs n (log-log), with the theory's
    n^3 and n^4 as guide lines on the seconds."""
    plt = _plt()
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 5.8))
    for method, pts in _by_method(rows).items():
        color, marker = STYLE.get(method, ("black", "."))
        s = slope(pts)
        label = method + (" (one H v)" if method == "hvp" else "") + \
            (f", slope {s:.2g}" if s is not None else "")
        ax_t.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color,
                  linestyle="--" if method in ("hvp", "grad") else "-", label=label)
    _guides(ax_t, _by_method(rows))
    for method, pts in _by_method(rows, "peak_bytes").items():
        color, marker = STYLE.get(method, ("black", "."))
        ax_m.plot([p[0] for p in pts], [max(p[1], 1.0) for p in pts], marker=marker,
                  color=color, linestyle="--" if method in ("hvp", "grad") else "-", label=method)
    for ax, ylabel, title in ((ax_t, "seconds", "Full Hessian of a dense f vs n"),
                              (ax_m, "peak bytes allocated (tracemalloc)",
                               "Peak memory (numpy buffers; peers not measured)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("inputs n")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _guides(ax, series):
    """The theory's slopes as dotted guide lines through the largest measured n: n^3 (reverse
    outside: n sweeps of an O(n^2) gradient) and n^4 (forward inside: n directions each)."""
    at = {m: pts[-1] for m, pts in series.items() if pts and not m.startswith(("hvp", "grad"))}
    if not at:
        return
    ns = sorted({p[0] for pts in series.values() for p in pts})
    t_lo = min(p[1] for pts in series.values() for p in pts)
    for power, method in ((3, "forward-over-reverse"), (4, "forward-over-forward")):
        if method not in at:
            continue
        n1, t1 = at[method]
        # from where the guide meets the fastest time measured, so it does not stretch the axis
        xs = np.array([max(ns[0], n1 * (t_lo / t1) ** (1 / power)), n1], dtype=float)
        ax.plot(xs, t1 * (xs / n1) ** power, color="0.55", linestyle=":", lw=1.2,
                label=f"theory guide: n^{power} through {method} at n = {n1}")


def _fmt(s):
    return fmt_time(s, seconds=True)


def _r3(v):
    return f"{v:.3g}"


def _r2(v):
    return f"{v:.2g}"


def claims(rows) -> list:
    """The conclusions of the second-order study: :class:`compare.common.claims.Claim` s whose
    numbers carry their query over hessian.csv (the slopes are least-squares fits, stated as
    text), and plain lines."""
    t = {(r["method"], r["n"]): r["seconds"] for r in rows if r["seconds"] is not None}
    mem = {(r["method"], r["n"]): r["peak_bytes"] for r in rows if r["peak_bytes"]}
    ns = sorted({n for _, n in t})
    comps = [c for c in COMPOSITIONS if any((c, n) in t for n in ns)]
    if not comps:
        return []
    facts = Facts([r for r in rows if r["seconds"] is not None], CSV_NAME)

    def T(method, n):
        return facts.q("seconds", "min", method=method, n=n)

    peaks = Facts([r for r in rows if r["peak_bytes"]], CSV_NAME)

    def M(method, n):
        return peaks.q("peak_bytes", "max", method=method, n=n)
    series = _by_method(rows)
    out = ["## Second order: Hessians by the four compositions", ""]
    text, nums = [], []
    for n in ns:
        here = {c: t[c, n] for c in comps if (c, n) in t}
        if here:
            w = min(here, key=here.get)
            runner = min((c for c in here if c != w), key=here.get, default=None)
            if runner:
                text.append(f"n = {n}: {w} ({{}}x ahead of {runner})")
                nums.append((T(runner, n) / T(w, n), _r3))
            else:
                text.append(f"n = {n}: {w}")
    out.append(Claim("- **Fastest composition** (full dense Hessian, hessian.png): "
                     + "; ".join(text) + ".", nums))
    all4 = [n for n in ns if all((c, n) in t for c in comps)]
    if all4:
        n = all4[-1]
        out.append(Claim(f"- **At n = {n}** (largest n all four ran): "
                         + ", ".join(f"{c} {{}}" for c in comps) + ".",
                         [(T(c, n), _fmt) for c in comps]))
    slopes = {c: slope(series[c]) for c in comps if c in series}
    sl = ", ".join(f"{c} {s:.2g}" for c, s in slopes.items() if s is not None)
    out.append(
        "- **Why**: every composition computes n Hessian-vector products, so its cost is n times "
        "the cost of the inner gradient. With reverse mode inside, that gradient costs a few "
        "evaluations of f (O(n^2) for this dense f): forward-over-reverse runs ceil(n/k) forward "
        "passes through one trace and sweep carrying k directions, reverse-over-reverse records "
        "the sweep itself on a tape once and runs ceil(n/k) reverse sweeps of it; both grow like "
        "n^3. With forward mode inside, the inner gradient alone costs n directions: "
        "forward-over-forward carries k x k tangents (n^2 directions in all) on every value, and "
        "reverse-over-forward records every inner direction on the outer tape and sweeps it with "
        "n seeds; both grow like n^4 (hessian.png draws both as guide lines). Measured slopes of "
        f"log t vs log n over the last three sizes (least-squares fits): {sl} (below these "
        "exponents where the fixed Python cost per op still dominates, at small n).")
    stopped = [f"{r['method']} at n = {r['n']} (extrapolated {_fmt(r['predicted_seconds'])} "
               "per Hessian)" for r in rows if r.get("predicted_seconds")]
    if stopped:
        out.append("- **Not timed** (over the per-point time limit, extrapolated from the two "
                   "sizes before): " + "; ".join(stopped) + ".")
    if [n for n in ns if (comps[0], n) in mem and any((c, n) in mem for c in comps[1:])]:
        n = max(n for n in ns if sum((c, n) in mem for c in comps) == max(
            sum((c, k) in mem for c in comps) for k in ns))
        here = [c for c in comps if (c, n) in mem]
        out.append(Claim(f"- **Peak memory** at n = {n}: " + ", ".join(f"{c} {{}}" for c in here)
                         + " (tracemalloc, numpy buffers); the forward-inside compositions hold "
                           "k x k (or k directions x k seeds) blocks per value.",
                         [(M(c, n), lambda v: f"{v / 1e6:.3g} MB") for c in here]))
    hv = [n for n in ns if ("hvp", n) in t and ("grad", n) in t]
    if hv:
        n = hv[-1]
        text = (f"- **hvp vs the full Hessian** (n = {n}): one `revad.hvp` (forward-over-reverse, "
                "one forward pass through one sweep) takes {}, {}x a gradient ({})")
        nums = [(T("hvp", n), _fmt), (T("hvp", n) / T("grad", n), _r2), (T("grad", n), _fmt)]
        best_h = min(((t[c, n], c) for c in comps if (c, n) in t), default=None)
        if best_h:
            text += (f"; the full Hessian by {best_h[1]} takes {{}}, {{}} hvps. When only H v is "
                     "needed (Newton-CG, curvature along a direction), never form H")
            nums += [(T(best_h[1], n), _fmt), (T(best_h[1], n) / T("hvp", n), _r3)]
        text += (f". hvp / grad over n = {', '.join(map(str, hv))}: "
                 + ", ".join("{}" for _ in hv) + ".")
        nums += [(T("hvp", k) / T("grad", k), _r2) for k in hv]
        out.append(Claim(text, nums))
    peers = [p for p in ("jax-hessian", "torch-hessian") if p in series]
    if peers:
        n = max(n for n in ns if any((p, n) in t for p in peers))
        here = [p for p in peers if (p, n) in t]
        ours = min(((t[c, n], c) for c in comps if (c, n) in t), default=None)
        out.append(Claim(
            f"- **Peers** (n = {n}): " + ", ".join(f"{p} {{}}" for p in here)
            + (f"; ours at best {ours[1]} {{}}" if ours else "")
            + ". jax.hessian is jacfwd(jacrev) compiled by XLA (compile time in "
              "first_call_seconds), torch.func.hessian is jacfwd(jacrev) under vmap.",
            [(T(p, n), _fmt) for p in here] + ([(T(ours[1], n), _fmt)] if ours else [])))
    bad = sorted({(r["method"], r["n"], r["rel_error"]) for r in rows
                  if r["rel_error"] is not None and r["rel_error"] > 1e-8},
                 key=lambda b: (b[0], b[1]))
    if bad:
        out.append("- **Wrong results**: " + "; ".join(
            f"{m} at n = {n} differs from forward-over-reverse by {e:.2g} (relative)"
            for m, n, e in bad)
            + ". These are not rounding: `compare.check_grads(f, x, order=2)` reports them.")
    else:
        out.append("- All methods agree with forward-over-reverse to a relative 1e-8 at every "
                   "n measured.")
    return out


def paragraph(rows) -> str:
    """The conclusions of the second-order study (:func:`claims`) as markdown."""
    found = claims(rows)
    return "\n".join(claim_lines(found)) + "\n" if found else ""


def md(rows, command: str, peers_note: str) -> str:
    """``hessian.md`` of the study run on its own."""
    return (f"# Second order, measured\n\n- machine: {platform.machine()}, "
            f"{os.cpu_count()} cores; {platform.system()} {platform.release()}\n"
            f"- command: `{command.strip()}`\n"
            f"- versions: {rows[0]['versions']}\n- BLAS while timing: {rows[0]['blas']}\n"
            f"- peers: {peers_note}\n\n" + paragraph(rows)
            + f"\nPlot: [{PLOT_NAME}]({PLOT_NAME})\n")


def standalone(out: str, ns, *, repeat: int, peers=(), peers_note: str = "",
               max_seconds: float = 10.0, blas_threads: int | None = BLAS_THREADS,
               progress: bool = True, command: str = "python -m compare hessian") -> list[str]:
    """``python -m compare hessian``: the study alone into ``out`` (hessian.csv, hessian.png,
    hessian.md); returns the paths."""
    csv_path = os.path.join(out, CSV_NAME)

    def step(method, n):
        if progress:
            print(f"hessian: {method} n={n}", file=sys.stderr, flush=True)
    study(ns, repeat=repeat, peers=peers, csv_path=csv_path, max_seconds=max_seconds,
          blas_threads=blas_threads, progress=step)
    rows = read_csv(csv_path)
    png = plot(rows, os.path.join(out, PLOT_NAME))
    path = os.path.join(out, MD_NAME)
    with open(path, "w") as fh:
        fh.write(md(rows, command, peers_note))
    return [csv_path, png, path]


class HessianStudy(Study):
    """Full Hessians by the four compositions (see the module docstring) -> hessian.csv,
    hessian.png and the second-order section of summary.md."""

    name = "hessian"
    csv = CSV_NAME
    columns = tuple(COLUMNS)

    def __init__(self, ns=None):
        self.ns = ns      # None: DEFAULT_NS, or QUICK_NS for a quick run

    def measure(self, settings) -> list[str]:
        """hessian.csv in ``settings.out``; with no sizes, a stale one there is removed, so a
        report never mixes runs."""
        path = os.path.join(settings.out, CSV_NAME)
        ns = self.ns
        if ns is None:
            ns = QUICK_NS if settings.quick else DEFAULT_NS
        if not ns:
            remove_stale(path)
            return []
        from tqdm import tqdm
        bar = tqdm(total=None, disable=not settings.progress, unit="Hessian", file=sys.stderr)

        def step(method, n):
            bar.set_description(f"Hessian {method} n={n}")
            bar.update(1)
        try:
            study(ns, repeat=settings.repeat or 3, peers=settings.peers, csv_path=path,
                  blas_threads=settings.blas_threads, progress=step)
        finally:
            bar.close()
        return [path]

    def render(self, csv_dir: str, out_dir: str) -> Section:
        """When hessian.csv lies in ``csv_dir``: hessian.png and the second-order section."""
        path = os.path.join(csv_dir, CSV_NAME)
        if not os.path.exists(path):
            return Section()
        rows = read_csv(path)
        if not rows:
            return Section()
        found = claims(rows)
        return Section([plot(rows, os.path.join(out_dir, PLOT_NAME))],
                       text="\n" + "\n".join(claim_lines(found)) + "\n"
                            + f"\nPlot: [{PLOT_NAME}]({PLOT_NAME})\n",
                       parts={"claims": found})
