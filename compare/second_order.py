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
follows :mod:`compare.timing`: a warm-up call (compilation excluded, reported as
``first_call_seconds``), the best of ``repeat`` runs with BLAS fixed to ``blas_threads``, peak
memory in a separate untimed run under ``tracemalloc`` (numpy's buffers; not the peers').
``rel_error`` is ``max|H - H_ref| / max|H_ref|`` against forward-over-reverse, so a composition
that returns a wrong Hessian shows in the report, not only in the tests. A method whose time at
the next n, extrapolated from its last two sizes, exceeds ``max_seconds`` is not timed there or
beyond: its row has no ``seconds`` and the extrapolation in ``predicted_seconds`` (the
forward-inside compositions grow like n^4 on a dense problem).

:func:`plot` draws ``hessian.png`` (time and peak memory vs n) and :func:`paragraph` the
conclusions for summary.md, both from the CSV rows alone. ``python -m compare hessian`` runs the
study on its own (:func:`main`) and writes ``hessian.md`` beside the plot.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import shlex
import sys
import time

import numpy as np

import dualad
import revad
from .timing import BLAS_THREADS, fixed_threads, peak_bytes, thread_note

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
STYLE = {"forward-over-reverse": ("tab:purple", "o"), "reverse-over-reverse": ("tab:red", "s"),
         "forward-over-forward": ("tab:blue", "^"), "reverse-over-forward": ("tab:olive", "v"),
         "hvp": ("black", "D"), "grad": ("tab:gray", "."), "jax-hessian": ("tab:cyan", "x"),
         "torch-hessian": ("tab:green", "+")}


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


def _peer_names(peers):
    """Names of the peers to run, from names or compare.peers' peer functions."""
    from .peers import PEERS
    return [name for name, fn in PEERS.items() if name in peers or fn in peers]


def _time(fn, repeat):
    """(result of the warm-up call, best seconds, first-call seconds)."""
    t = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return out, best, first


def study(ns=DEFAULT_NS, *, repeat: int = 3, peers=(), csv_path: str | None = None,
          max_seconds: float = 10.0, blas_threads: int | None = BLAS_THREADS,
          progress=None) -> list[dict]:
    """Time the full Hessian by every method at each n (see the module docstring).

    Args:
        ns: problem sizes, ascending.
        repeat: best of this many runs after a warm-up.
        peers: ``"jax"``/``"torch"`` (or compare.peers' functions) to time beside ours.
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
    from .run import versions
    names = _peer_names(peers)
    for name in names:
        __import__(name)
    ver = versions()
    if csv_path:
        os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
        with open(csv_path, "w", newline="") as fh:
            csv.DictWriter(fh, COLUMNS).writeheader()
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
                out, best, first = _time(fn, repeat)
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
            if csv_path:
                with open(csv_path, "a", newline="") as fh:
                    csv.DictWriter(fh, COLUMNS).writerows(new)
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


def beside(csv_path: str, ns, *, repeat: int = 3, peers=(),
           blas_threads: int | None = BLAS_THREADS, progress: bool = True) -> list[dict]:
    """For run_grid: the study into ``hessian.csv`` beside ``csv_path`` when ``ns`` is not
    empty; otherwise a stale ``hessian.csv`` there is removed, so a report never mixes runs."""
    path = os.path.join(os.path.dirname(os.path.abspath(csv_path)), CSV_NAME)
    if not ns:
        if os.path.exists(path):
            os.remove(path)
        return []
    from tqdm import tqdm
    bar = tqdm(total=None, disable=not progress, unit="Hessian", file=sys.stderr)

    def step(method, n):
        bar.set_description(f"Hessian {method} n={n}")
        bar.update(1)
    try:
        return study(ns, repeat=repeat, peers=peers, csv_path=path, blas_threads=blas_threads,
                     progress=step)
    finally:
        bar.close()


def read_csv(path: str) -> list[dict]:
    """Rows of ``hessian.csv`` with numbers parsed (empty cells become None)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["n"] = int(r["n"])
        for k in ("seconds", "first_call_seconds", "peak_bytes", "rel_error",
                  "predicted_seconds"):
            r[k] = float(r[k]) if r.get(k) not in (None, "") else None
    return rows


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
    """``hessian.png``: seconds and peak bytes of each method vs n (log-log)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.6))
    for method, pts in _by_method(rows).items():
        color, marker = STYLE.get(method, ("black", "."))
        s = slope(pts)
        label = method + (" (one H v)" if method == "hvp" else "") + \
            (f", slope {s:.2g}" if s is not None else "")
        ax_t.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color,
                  linestyle="--" if method in ("hvp", "grad") else "-", label=label)
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
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt(s):
    return f"{s:.3g} s" if s >= 1 else (f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} us")


def paragraph(rows) -> str:
    """The conclusions of the second-order study, in the measured numbers (markdown)."""
    t = {(r["method"], r["n"]): r["seconds"] for r in rows if r["seconds"] is not None}
    mem = {(r["method"], r["n"]): r["peak_bytes"] for r in rows if r["peak_bytes"]}
    ns = sorted({n for _, n in t})
    comps = [c for c in COMPOSITIONS if any((c, n) in t for n in ns)]
    if not comps:
        return ""
    series = _by_method(rows)
    lines = ["## Second order: Hessians by the four compositions", ""]
    wins = []
    for n in ns:
        here = {c: t[c, n] for c in comps if (c, n) in t}
        if here:
            w = min(here, key=here.get)
            runner = sorted(here.values())[1] if len(here) > 1 else None
            ahead = f" ({runner / here[w]:.3g}x ahead)" if runner else ""
            wins.append(f"n = {n}: {w}{ahead}")
    lines.append("- **Fastest composition** (full dense Hessian, hessian.png): " + "; ".join(wins)
                 + ".")
    all4 = [n for n in ns if all((c, n) in t for c in comps)]
    if all4:
        n = all4[-1]
        lines.append(f"- **At n = {n}** (largest n all four ran): "
                     + ", ".join(f"{c} {_fmt(t[c, n])}" for c in comps) + ".")
    slopes = {c: slope(series[c]) for c in comps if c in series}
    sl = ", ".join(f"{c} {s:.2g}" for c, s in slopes.items() if s is not None)
    lines.append(
        "- **Why**: every composition computes n Hessian-vector products, so its cost is n times "
        "the cost of the inner gradient. With reverse mode inside, that gradient costs a few "
        "evaluations of f (O(n^2) for this dense f): forward-over-reverse runs ceil(n/k) forward "
        "passes through one trace and sweep carrying k directions, reverse-over-reverse records "
        "the sweep itself on a tape once and runs ceil(n/k) reverse sweeps of it; both grow like "
        "n^3. With forward mode inside, the inner gradient alone costs n directions: "
        "forward-over-forward carries k x k tangents (n^2 directions in all) on every value, and "
        "reverse-over-forward records every inner direction on the outer tape and sweeps it with "
        "n seeds; both grow like n^4. Measured slopes of log t vs log n over the last three "
        f"sizes: {sl} (below these exponents where the fixed Python cost per op still "
        "dominates, at small n).")
    stopped = [f"{r['method']} at n = {r['n']} (extrapolated {_fmt(r['predicted_seconds'])} "
               "per Hessian)" for r in rows if r.get("predicted_seconds")]
    if stopped:
        lines.append("- **Not timed** (over the per-point time limit, extrapolated from the two "
                     "sizes before): " + "; ".join(stopped) + ".")
    big = [n for n in ns if (comps[0], n) in mem and any((c, n) in mem for c in comps[1:])]
    if big:
        n = max(n for n in ns if sum((c, n) in mem for c in comps) == max(
            sum((c, k) in mem for c in comps) for k in ns))
        lines.append(f"- **Peak memory** at n = {n}: "
                     + ", ".join(f"{c} {mem[c, n] / 1e6:.3g} MB" for c in comps if (c, n) in mem)
                     + " (tracemalloc, numpy buffers); the forward-inside compositions hold k x k "
                       "(or k directions x k seeds) blocks per value.")
    hv = [n for n in ns if ("hvp", n) in t and ("grad", n) in t]
    if hv:
        n = hv[-1]
        best_h = min((t[c, n], c) for c in comps if (c, n) in t) if any(
            (c, n) in t for c in comps) else None
        txt = (f"- **hvp vs the full Hessian** (n = {n}): one `revad.hvp` (forward-over-reverse, "
               f"one forward pass through one sweep) takes {_fmt(t['hvp', n])}, "
               f"{t['hvp', n] / t['grad', n]:.2g}x a gradient ({_fmt(t['grad', n])})")
        if best_h:
            txt += (f"; the full Hessian by {best_h[1]} takes {_fmt(best_h[0])}, "
                    f"{best_h[0] / t['hvp', n]:.3g} hvps. When only H v is needed (Newton-CG, "
                    "curvature along a direction), never form H")
        hv_r = [f"{t['hvp', k] / t['grad', k]:.2g}" for k in ns if ("hvp", k) in t and
                ("grad", k) in t]
        lines.append(txt + f". hvp / grad over n = {', '.join(map(str, hv))}: "
                           f"{', '.join(hv_r)}.")
    peers = [p for p in ("jax-hessian", "torch-hessian") if p in series]
    if peers:
        n = max(n for n in ns if any((p, n) in t for p in peers))
        ours = min(((t[c, n], c) for c in comps if (c, n) in t), default=None)
        lines.append(f"- **Peers** (n = {n}): " + ", ".join(
            f"{p} {_fmt(t[p, n])}" for p in peers if (p, n) in t)
            + (f"; ours at best {ours[1]} {_fmt(ours[0])}" if ours else "")
            + ". jax.hessian is jacfwd(jacrev) compiled by XLA (compile time in "
              "first_call_seconds), torch.func.hessian is jacfwd(jacrev) under vmap.")
    bad = sorted({(r["method"], r["n"], r["rel_error"]) for r in rows
                  if r["rel_error"] is not None and r["rel_error"] > 1e-8},
                 key=lambda b: (b[0], b[1]))
    if bad:
        lines.append("- **Wrong results**: " + "; ".join(
            f"{m} at n = {n} differs from forward-over-reverse by {e:.2g} (relative)"
            for m, n, e in bad)
            + ". These are not rounding: `compare.check_grads(f, x, order=2)` reports them.")
    else:
        lines.append("- All methods agree with forward-over-reverse to a relative 1e-8 at every "
                     "n measured.")
    return "\n".join(lines) + "\n"


def section(csv_path: str, out_dir: str) -> tuple[list[str], str]:
    """For write_report: when ``hessian.csv`` lies beside ``csv_path``, draw ``hessian.png`` into
    ``out_dir`` and return ``([plot path], paragraph)``; else ``([], "")``."""
    path = os.path.join(os.path.dirname(os.path.abspath(csv_path)), CSV_NAME)
    if not os.path.exists(path):
        return [], ""
    rows = read_csv(path)
    if not rows:
        return [], ""
    return ([plot(rows, os.path.join(out_dir, PLOT_NAME))],
            "\n" + paragraph(rows) + f"\nPlot: [{PLOT_NAME}]({PLOT_NAME})\n")


def main(argv=None) -> int:
    """``python -m compare hessian``: the second-order study alone into ``--out``
    (hessian.csv, hessian.png, hessian.md)."""
    from . import __main__ as cli
    from . import peers as peers_mod
    ap = argparse.ArgumentParser(
        prog="python -m compare hessian",
        description="Time the full Hessian of a dense scalar f by the four compositions of "
                    "forward and reverse mode as n grows, and one hvp against it; JAX's and "
                    "PyTorch's hessian beside them when installed.")
    ap.add_argument("--out", default=cli.DEFAULT_OUT, help="output folder (default: reports/)")
    ap.add_argument("--quick", action="store_true", help=f"n = {QUICK_NS}, seconds")
    ap.add_argument("--n", type=cli._positive("--n"), nargs="+",
                    help=f"sizes (default {DEFAULT_NS})")
    ap.add_argument("--repeat", type=cli._positive("--repeat"), default=None)
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="a method whose extrapolated time at an n exceeds this is not timed "
                         "there or beyond (default 10, --quick 1)")
    ap.add_argument("--no-peers", action="store_true", help="skip JAX/PyTorch")
    ap.add_argument("--no-progress", action="store_true", help="no progress lines")
    cli._add_blas_threads(ap)
    argv = sys.argv[1:] if argv is None else list(argv)
    a = ap.parse_args(argv)
    out = cli._out_dir(a.out)
    ns = sorted(a.n) if a.n else (QUICK_NS if a.quick else DEFAULT_NS)
    status = {} if a.no_peers else peers_mod.available()
    peers = [k for k, why in status.items() if why is None]
    csv_path = os.path.join(out, CSV_NAME)

    def progress(method, n):
        if not a.no_progress:
            print(f"hessian: {method} n={n}", file=sys.stderr, flush=True)
    rows = study(ns, repeat=a.repeat or (2 if a.quick else 3), peers=peers, csv_path=csv_path,
                 max_seconds=a.max_seconds or (1.0 if a.quick else 10.0),
                 blas_threads=a.blas_threads, progress=progress)
    rows = read_csv(csv_path)
    png = plot(rows, os.path.join(out, PLOT_NAME))
    md = os.path.join(out, MD_NAME)
    command = "python -m compare hessian " + " ".join(shlex.quote(s) for s in argv)
    note = ("; ".join(f"{k}: {why or 'timed'}" for k, why in status.items())
            or "skipped (--no-peers)")
    with open(md, "w") as fh:
        fh.write(f"# Second order, measured\n\n- machine: {platform.machine()}, "
                 f"{os.cpu_count()} cores; {platform.system()} {platform.release()}\n"
                 f"- command: `{command.strip()}`\n"
                 f"- versions: {rows[0]['versions']}\n- BLAS while timing: {rows[0]['blas']}\n"
                 f"- peers: {note}\n\n" + paragraph(rows)
                 + f"\nPlot: [{PLOT_NAME}]({PLOT_NAME})\n")
    print("\n".join([csv_path, png, md]))
    return 0
