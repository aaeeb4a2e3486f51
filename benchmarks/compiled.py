"""The compiled tier's speed targets (issue 11), as ratios measured in one run.

    python benchmarks/compiled.py              # all targets
    python benchmarks/compiled.py --quick      # smaller sizes

Prints, with the machine and BLAS threads: the fixed cost of a compiled call (grad of sum(x * x)
at n = 4 minus the numpy f; target <= 5 us); Rosenbrock n = 10^6, compiled grad / numpy f
(target <= 1.5) and / compiled primal (<= 3), with each side's page faults (:class:`PageFaults`);
compiled jvp with k = 1, 8, 32 / numpy f (<= 1 + 1.5 k); a two-layer MLP loss with ~10^5
parameters, compiled grad / numpy f (<= 3); a scalar chain of 1000 ops, compiled grad in us per op (<= 0.05); GMM at gradbench's sizes,
compiled grad / objective (<= 2.5); full Jacobians of tanh(W x + b)
at (n, m) = (1000, 1), (1, 1000), (100, 100) and n, m in {4, 16, 64}: best compiled and best eager mode, JAX jit and
torch.func beside them when installed. Compile time is excluded (warm-up first) and printed.
The two sides of a ratio are timed in turn, best of each (:func:`interleaved`).
A recurrent loop written with ``adops.scan``: compiled grad (the loop inside the numba
function) against the Python driver that calls the compiled step once per step, and JAX's
``lax.scan``. Also: a new process's first compiled grad call with the generated code already on disk (a warm
cache; target under 0.5 s), and with an empty cache.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import dualad
import revad
from adops.compile import compiled
from compare.common.timing import fixed_threads


def best(fn, repeat=5):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def interleaved(fns, repeat=9):
    """The best time of each of ``fns``, called in turn ``repeat`` times (each once first): a
    ratio of two of them is measured over the same minutes, so a change in the shared
    machine's load (numpy's f took 0.47 to 1.0 ms within minutes here, GMM d = 10) moves both."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return [min(ts) for ts in times]


class PageFaults:
    """``fn`` counting the minor page faults of its calls after the first two, which trace and
    build the program (``per_call``; nan without ``resource``). An array above glibc's mmap
    threshold may come as fresh pages at each allocation, each page faulting on first touch.
    Here, after numba had compiled in the process (an empty cache), numpy's Rosenbrock f took
    ~420 faults per call and the compiled gradient ~1900 (its 8 MB result, before
    :mod:`adops.compile.pages` gave numpy's huge-page advice; ~900 since), and both ran at
    about twice their time; in a warm-cache process both took 0. A ratio of a call that
    allocates to one that does not (the compiled primal) moves with that state, so the faults
    are printed beside it."""

    def __init__(self, fn):
        self.fn, self.faults, self.calls, self.skip = fn, 0, 0, 2
        try:
            import resource
            self._count = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        except ImportError:
            self._count = None

    def __call__(self):
        if self._count is None or self.skip:
            self.skip = max(self.skip - 1, 0)
            return self.fn()
        before = self._count()
        out = self.fn()
        self.faults += self._count() - before
        self.calls += 1
        return out

    @property
    def per_call(self):
        return self.faults / self.calls if self.calls else float("nan")


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def mlp_loss(w1, w2, x, y):
    h = np.tanh(x @ w1)
    return np.mean((h @ w2 - y) ** 2)


def chain(x):
    for _ in range(333):
        x = np.sin(x) * 1.0001 + 0.1
    return x


def main(quick=False):
    print(f"# {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    n = 10 ** 5 if quick else 10 ** 6
    x = np.random.default_rng(0).uniform(-1, 1, n)
    t0 = time.perf_counter()
    g = revad.grad(rosenbrock, compiled=True)
    g(x)
    print(f"rosenbrock n={n}: first compiled grad call (trace + compile) {time.perf_counter() - t0:.2f} s")
    counted = [PageFaults(lambda: rosenbrock(x)),
               PageFaults(lambda: compiled(rosenbrock).primal((x,), {})), PageFaults(lambda: g(x))]
    f, prim, gc_ = interleaved(counted, 25)
    ge = best(lambda: revad.grad(rosenbrock)(x))
    print(f"  numpy f {f * 1e3:.2f} ms; compiled primal {prim * 1e3:.2f} ms; minor page faults "
          f"per call while timed: f {counted[0].per_call:.0f}, compiled primal "
          f"{counted[1].per_call:.0f}, compiled grad {counted[2].per_call:.0f}")
    print(f"  compiled grad / f = {gc_ / f:.2f} (target 1.5); / compiled primal = {gc_ / prim:.2f} "
          f"(target 3); eager grad / f = {ge / f:.2f}")
    for k in (1, 8, 32):
        v = np.random.default_rng(k).normal(size=(k, n))
        jc = best(lambda: dualad.jvp(rosenbrock, (x,), (v,), batched=True, compiled=True), 3)
        je = best(lambda: dualad.jvp(rosenbrock, (x,), (v,), batched=True), 3)
        print(f"  jvp k={k}: compiled / f = {jc / f:.2f} (target {1 + 1.5 * k:g}); "
              f"eager / f = {je / f:.2f}")

    # second order compiled (issue 19: Rosenbrock n = 10^5, compiled hvp / compiled grad <= 3)
    n2 = 10 ** 4 if quick else 10 ** 5
    x2 = np.random.default_rng(2).uniform(-1, 1, n2)
    v2 = np.random.default_rng(3).normal(size=n2)
    g2 = revad.grad(rosenbrock, compiled=True)
    hv = lambda: revad.hvp(rosenbrock, (x2,), (v2,), compiled=True)
    t0 = time.perf_counter()
    hv()
    first = time.perf_counter() - t0
    tg, th = interleaved([lambda: g2(x2), hv])
    the = best(lambda: revad.hvp(rosenbrock, (x2,), (v2,)))
    print(f"rosenbrock n={n2}: compiled hvp / compiled grad = {th / tg:.2f} (target 3); "
          f"compiled hvp {th * 1e3:.2f} ms, eager hvp {the * 1e3:.2f} ms; first compiled hvp "
          f"(trace + compile) {first:.1f} s")

    rng = np.random.default_rng(1)
    d, h, b = (100, 50, 256) if quick else (300, 330, 1024)
    w1, w2 = rng.normal(size=(d, h)) / 10, rng.normal(size=h) / 10
    xs, ys = rng.normal(size=(b, d)), rng.normal(size=b)
    gm = revad.grad(mlp_loss, argnums=(0, 1), compiled=True)
    fm, gmc = interleaved([lambda: mlp_loss(w1, w2, xs, ys), lambda: gm(w1, w2, xs, ys)])
    gme = best(lambda: revad.grad(mlp_loss, argnums=(0, 1))(w1, w2, xs, ys))
    print(f"mlp loss, {w1.size + w2.size} parameters: compiled grad / f = {gmc / fm:.2f} "
          f"(target 3); eager {gme / fm:.2f}")

    # GMM at gradbench's sizes (issue 19: compiled gradient / objective <= 2.5 at every size)
    from compare.problems.standard import gmm
    for d, K in ((2, 5), (10, 25)) if quick else ((2, 5), (10, 25), (64, 100)):
        inst = gmm(d, K, 1000)
        gg = revad.grad(inst.f, compiled=True)
        t0 = time.perf_counter()
        gg(inst.x), gg(inst.x)
        first = time.perf_counter() - t0
        fo, go = interleaved([lambda: inst.f(inst.x), lambda: gg(inst.x)], 15)
        ge = best(lambda: revad.grad(inst.f)(inst.x), 3)
        print(f"gmm d={d}, K={K}, N=1000: compiled grad / objective = {go / fo:.2f} (target 2.5); "
              f"eager {ge / fo:.2f}; objective {fo * 1e3:.3f} ms; first two calls (trace + "
              f"compile) {first:.1f} s")

    gch = revad.grad(chain, compiled=True)
    x0 = np.float64(0.3)  # a numpy scalar is an input (a Python float is keyed by value)
    gch(x0)
    tc = best(lambda: gch(x0), 20)
    te = best(lambda: revad.grad(chain)(x0))
    print(f"scalar chain of 999 ops: compiled grad {tc / 999 * 1e6:.3f} us/op (target 0.05); "
          f"eager {te / 999 * 1e6:.2f} us/op")

    # the fixed cost of a compiled call (issue 19: at most 5 us over the numpy f)
    x4 = np.arange(4.0)
    sq = lambda x: np.sum(x * x)
    gs = revad.grad(sq, compiled=True)
    gs(x4)
    fs, gsc = best(lambda: sq(x4), 200), best(lambda: gs(x4), 200)
    print(f"fixed cost: compiled grad of sum(x * x) at n = 4 {gsc * 1e6:.1f} us, numpy f "
          f"{fs * 1e6:.1f} us, difference {(gsc - fs) * 1e6:.1f} us (target 5)")

    peers = _peers()
    sizes = ((1000, 1), (1, 1000), (100, 100)) + tuple((a, b) for a in (4, 16, 64)
                                                      for b in (4, 16, 64))
    for n_in, m_out in sizes:
        rng = np.random.default_rng(n_in * 7 + m_out)
        W, bb = rng.normal(size=(m_out, n_in)) / np.sqrt(n_in), rng.normal(size=m_out)
        xi = rng.normal(size=n_in)
        dense = lambda x: np.tanh(W @ x + bb)
        cf, cr = dualad.jacfwd(dense, compiled=True), revad.jacrev(dense, compiled=True)
        # ours and the peers' compiled calls in turn, over the same minutes (a ratio of
        # microseconds timed minutes apart read the machine's load as much as the code)
        reps = 300 if n_in * m_out < 10 ** 4 else 20
        fast = {"compiled fwd": lambda: cf(xi), "compiled rev": lambda: cr(xi),
                **peers(W, bb, xi)}
        times = dict(zip(fast, interleaved(list(fast.values()), reps)))
        times["eager fwd"] = best(lambda: dualad.jacfwd(dense)(xi))
        times["eager rev"] = best(lambda: revad.jacrev(dense)(xi))
        jax_best = min([v for k, v in times.items() if k.startswith("jax")], default=None)
        ours = min(times["compiled fwd"], times["compiled rev"])
        ratio = f"; best compiled / jax jit {ours / jax_best:.2f}" if jax_best else ""
        print(f"tanh(W x + b) Jacobian, n={n_in}, m={m_out}: " +
              ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in times.items()) + ratio)


def scan_rnn(T=200, h=32):
    """A recurrent loop written with adops.scan (T steps, h units): its compiled grad as one
    numba function (the loop inside it) against the Python driver calling the compiled step once
    per step (the tier before the loop had a numba form), the eager tier and JAX's lax.scan."""
    import adops
    from adops.compile import whole_after
    rng = np.random.default_rng(5)
    xs, h0 = rng.normal(size=(T, h)), np.zeros(h)

    def make():  # a new function: its own compiled programs
        def loss(w):
            W = w.reshape(h, h)
            hT, ys = adops.scan(lambda c, x: (np.tanh(W @ c + x), np.sum(c * c)), h0, xs)
            return np.sum(hT) + np.sum(ys)
        return loss
    w = rng.normal(size=h * h) / h
    with whole_after(10 ** 9):
        g = revad.grad(make(), compiled=True)
        t_driver = best(lambda: g(w), 3)
    g = revad.grad(make(), compiled=True)
    g(w), g(w)
    times = {"compiled (whole)": best(lambda: g(w), 5), "compiled (Python driver)": t_driver,
             "eager": best(lambda: revad.grad(make())(w), 3)}
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        xj, hj = jnp.asarray(xs), jnp.asarray(h0)

        def jloss(w):
            W = w.reshape(h, h)
            hT, ys = jax.lax.scan(lambda c, x: (jnp.tanh(W @ c + x), jnp.sum(c * c)), hj, xj)
            return jnp.sum(hT) + jnp.sum(ys)
        jg, wj = jax.jit(jax.grad(jloss)), jnp.asarray(w)
        times["jax jit lax.scan"] = best(lambda: jg(wj).block_until_ready(), 5)
    except ImportError:
        pass
    whole = times["compiled (whole)"]
    print(f"scan RNN grad, T={T}, h={h}: " + ", ".join(f"{k} {v * 1e3:.2f} ms"
                                                       for k, v in times.items()) +
          f"; Python driver / whole {t_driver / whole:.1f}")


WARM_START = """
import time, numpy as np
import revad
def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
g = revad.grad(rosen, compiled=True)
t = time.perf_counter()
g(np.linspace(-1, 1, 1000))
print(time.perf_counter() - t)
"""


def warm_start():
    """First compiled call in a new process: with an empty code cache, then with a warm one."""
    import os
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, ADOPS_CACHE_DIR=cache)
        times = [float(subprocess.run([sys.executable, "-c", WARM_START], env=env,
                                      capture_output=True, text=True, check=True).stdout)
                 for _ in range(3)]
    print(f"new process, first compiled grad call: empty cache {times[0]:.2f} s; warm cache "
          f"{min(times[1:]):.2f} s (target 0.5)")


def _peers():
    def make(W, b, x):
        out = {}
        try:
            import jax
            import jax.numpy as jnp
            jax.config.update("jax_enable_x64", True)
            Wj, bj, xj = jnp.asarray(W), jnp.asarray(b), jnp.asarray(x)
            fj = lambda x: jnp.tanh(Wj @ x + bj)
            jf, jr = jax.jit(jax.jacfwd(fj)), jax.jit(jax.jacrev(fj))
            out["jax jit jacfwd"] = lambda: jf(xj).block_until_ready()
            out["jax jit jacrev"] = lambda: jr(xj).block_until_ready()
        except ImportError:
            pass
        try:
            import torch
            from torch.func import jacfwd, jacrev
            Wt, bt, xt = (torch.as_tensor(a) for a in (W, b, x))
            ft = lambda x: torch.tanh(Wt @ x + bt)
            out["torch.func jacfwd"] = lambda: jacfwd(ft)(xt)
            out["torch.func jacrev"] = lambda: jacrev(ft)(xt)
        except ImportError:
            pass
        return out
    return make


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--blas-threads", type=int, default=1)
    a = ap.parse_args()
    with fixed_threads(a.blas_threads):
        main(a.quick)
        scan_rnn()
    warm_start()
