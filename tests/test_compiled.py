"""The compiled tier (issue 11): traced once per signature, fused loops from the op set's own
rules, guards compiled in, code cached on disk, and the eager tier's numbers (the mode tests also
run in both tiers: test_modes, test_trust, the random-program properties)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import dualad
import revad
from adops.compile import PROGRAMS_PER_SIGNATURE, compiled, whole_after
from programs import PROGRAMS, rosenbrock

TRANSFORMS = {
    "grad": lambda f, **kw: revad.grad(f, **kw),
    "jacrev": lambda f, **kw: revad.jacrev(f, **kw),
    "jacfwd": lambda f, **kw: dualad.jacfwd(f, **kw),
    "hessian": lambda f, **kw: revad.hessian(f, **kw),
}


def counting(f):
    calls = []

    def g(*args, **kwargs):
        calls.append(1)
        return f(*args, **kwargs)
    return g, calls


@pytest.mark.parametrize("name,f,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_compiled_jacobians_equal_eager(name, f, args):
    for jac in (dualad.jacfwd, revad.jacrev):
        want = jac(f)(*args)
        got = jac(f, compiled=True)(*args)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{name} {jac}")


@pytest.mark.parametrize("t", TRANSFORMS)
def test_traced_once_per_signature(t):
    f, calls = counting(lambda x: np.sum(np.sin(x) * x ** 2))
    d = TRANSFORMS[t](f, compiled=True)
    x = np.linspace(-1.0, 1.0, 5)
    first = d(x)
    n = len(calls)
    np.testing.assert_allclose(d(x * 0.5), TRANSFORMS[t](f)(x * 0.5), rtol=1e-10)
    np.testing.assert_allclose(d(x), first)
    assert len(calls) == n + 1  # the eager reference call only
    d(np.ones(6))  # a new shape traces again
    assert len(calls) == n + 2


def test_a_changed_branch_traces_again_and_keeps_both_programs():
    f, calls = counting(lambda x: np.sum(np.where(x > 0, x ** 2, -3.0 * x)))
    g = revad.grad(f, compiled=True)
    a, b = np.array([1.0, -2.0]), np.array([-1.0, 2.0])
    np.testing.assert_array_equal(g(a), [2.0, -3.0])
    np.testing.assert_array_equal(g(b), [-3.0, 4.0])
    np.testing.assert_array_equal(g(a), [2.0, -3.0])
    assert len(calls) == 2
    programs = next(iter(compiled(f).programs.values()))
    assert len(programs) == 2 <= PROGRAMS_PER_SIGNATURE


def test_python_branches_are_guarded():
    def f(x):
        if np.sum(x) > 0:  # a Python branch on a traced value: recorded as a guard
            return np.sum(x ** 2)
        return np.sum(np.sin(x))
    g = revad.grad(f, compiled=True)
    np.testing.assert_allclose(g(np.array([1.0, 2.0])), [2.0, 4.0])
    np.testing.assert_allclose(g(np.array([-1.0, -2.0])), np.cos([-1.0, -2.0]))


def test_non_float_arguments_and_keywords_are_part_of_the_signature():
    f = lambda x, idx, scale=1.0: np.sum(x[idx] ** 2) * scale
    g = revad.grad(f, compiled=True)
    x = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(g(x, np.array([0, 2])), [2.0, 0.0, 6.0, 0.0])
    np.testing.assert_array_equal(g(x, np.array([1, 3])), [0.0, 4.0, 0.0, 8.0])
    np.testing.assert_array_equal(g(x, np.array([1, 3]), scale=2.0), [0.0, 8.0, 0.0, 16.0])


def test_float_array_arguments_are_inputs_not_constants():
    g = revad.grad(lambda w, data: np.sum((data @ w) ** 2), compiled=True)
    w = np.ones(3)
    for seed in range(3):
        data = np.random.default_rng(seed).normal(size=(4, 3))
        np.testing.assert_allclose(g(w, data), 2 * data.T @ (data @ w), rtol=1e-12)


def test_generated_code_fuses_the_elementwise_run():
    x = np.linspace(-1, 1, 7)
    revad.grad(rosenbrock, compiled=True)(x)
    (program,) = next(iter(compiled(rosenbrock).programs.values()))
    src = program.driver.source  # the Python driver's (a program's first calls)
    (kernel,) = program.driver.kernels.values()  # one fused run: one kernel module
    assert "g0_vjp = k0_vjp" in src and "k0_vjp = k0.kernel_vjp" in src
    assert "k0 = KERNELS[" in src
    assert "def kernel_vjp(" in kernel and "for j in range(n):" in kernel
    # its primal loop, and the jvp and vjp each choosing between one path and many
    assert kernel.count("@njit") == 7
    assert "def kernel_vjp_one(" in kernel and "def kernel_jvp_many(" in kernel
    assert "# loop g0 runs k0: s0 = #" in src  # which entry each loop variable is
    assert "square" in kernel and "SMUL(" in kernel


def test_the_python_driver_compiles_only_the_path_it_runs():
    # numba compiles a function at its first call: through the Python driver, a gradient (one
    # seed) compiles the one-seed loop only, a jvp the one-direction loop only, a Jacobian of
    # three rows the many-seed loop
    from adops.compile import whole_after
    from adops.compile.cache import load_source

    def f(x):
        return np.sin(x) * x ** 3 + 0.375

    def loss(x):
        return np.sum(f(x))

    def kernels(fn):
        (program,) = next(iter(compiled(fn).programs.values()))
        return [load_source(text) for text in program.driver.kernels.values()]

    def compiled_paths(fn):
        return {kind: sum(len(getattr(k, f"kernel_{kind}").signatures) for k in kernels(fn))
                for kind in ("jvp_one", "jvp_many", "vjp_one", "vjp_many")}

    x = np.linspace(-1, 1, 3)
    expected = np.cos(x) * x ** 3 + 3 * np.sin(x) * x ** 2
    with whole_after(10 ** 9):  # the Python driver at every call
        np.testing.assert_allclose(revad.grad(loss, compiled=True)(x), expected, rtol=1e-13)
        assert compiled_paths(loss) == {"jvp_one": 0, "jvp_many": 0, "vjp_one": 1,
                                        "vjp_many": 0}
        _, t = dualad.jvp(loss, (x,), (np.ones(3),), compiled=True)
        np.testing.assert_allclose(t, expected.sum(), rtol=1e-13)
        assert compiled_paths(loss) == {"jvp_one": 1, "jvp_many": 0, "vjp_one": 1,
                                        "vjp_many": 0}
        J = revad.jacrev(f, compiled=True)(x)
        assert compiled_paths(f)["vjp_many"] == 1 and compiled_paths(f)["jvp_many"] == 0
    np.testing.assert_allclose(J, np.diag(expected), rtol=1e-13, atol=1e-15)


def test_a_losss_whole_program_compiles_the_one_seed_path_right_for_any_seeds():
    # one output number: the sweep's loops take the one-seed path only (the cheaper compile);
    # it loops over seeds, so a sweep of several seeds is still each seed times the gradient
    from adops.compile import whole_after

    def loss(x):
        return np.sum(np.sin(x[1:]) * x[:-1] ** 3 + 0.375 * x[1:])

    x = np.linspace(-1, 1, 9)
    with whole_after(1):
        g = revad.grad(loss, compiled=True)(x)
    np.testing.assert_allclose(g, dualad.jacfwd(loss)(x), rtol=1e-13, atol=1e-15)
    (program,) = next(iter(compiled(loss).programs.values()))
    # the entries call the one-seed sweep only, so numba compiles no other; asserted on the
    # generated source, since a warm disk cache loads the entries without compiling any kernel
    # in this process (the kernels' dispatchers then list no signature at all)
    assert "_vjp_one(" in program.source
    assert "_vjp(" not in program.source and "_vjp_many(" not in program.source
    outs, R = program.whole.forward((x,))
    seeds = np.array([[1.0], [2.5], [-0.5]])
    bars = program.whole.backward(R, (seeds,))[0]
    np.testing.assert_allclose(bars, seeds * g, rtol=1e-13, atol=1e-15)


def test_identical_runs_share_one_compiled_loop():
    def chain(x):
        for _ in range(40):
            x = np.sin(x) * 1.5
        return np.sum(x)
    x = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(revad.grad(chain, compiled=True)(x), revad.grad(chain)(x),
                               rtol=1e-12)
    (program,) = next(iter(compiled(chain).programs.values()))
    loops = program.driver.source.count("# loop g")
    # 80 ops in runs of 32, 32 and 16: the two full runs are one loop, compiled once
    assert loops == 3 and len(program.driver.kernels) == 2


def test_programs_share_the_kernel_of_an_identical_run_and_only_that():
    """A run's kernel is one module for every program that has the run; a run that differs
    (here only in a literal baked into its loop) is another kernel, and the program that binds
    it another module, so no program runs a loop of another's."""
    x = np.linspace(-1, 1, 5)
    kernels, programs = [], []
    for f in (lambda x: np.sum(np.tanh(x) * 2.0), lambda x: np.sum(np.tanh(x) * 2.0) + 1.0,
              lambda x: np.sum(np.tanh(x) * 3.0)):
        np.testing.assert_allclose(revad.grad(f, compiled=True)(x), revad.grad(f)(x),
                                   rtol=1e-13)
        (program,) = next(iter(compiled(f).programs.values()))
        programs.append(program)
        kernels.append(set(program.driver.kernels))
    assert kernels[0] == kernels[1] and not kernels[0] & kernels[2]
    assert programs[0].module is not programs[2].module
    bound = [p.module.g0_vjp for p in programs]
    assert bound[0] is bound[1] and bound[0] is not bound[2]


def test_nested_calls_of_compiled_transforms_run_eagerly_and_are_right():
    f = lambda x: np.sum(np.sin(x) * x ** 3)
    x = np.array([0.3, -0.8, 1.2])
    H = dualad.jacfwd(revad.grad(f, compiled=True))(x)
    np.testing.assert_allclose(H, revad.hessian(f)(x), rtol=1e-12)
    np.testing.assert_allclose(revad.hessian(f, compiled=True)(x), H, rtol=1e-12)
    np.testing.assert_allclose(revad.hvp(f, (x,), (x,), compiled=True), H @ x, rtol=1e-12)


def test_float32_stays_float32():
    x = np.linspace(-1, 1, 6, dtype=np.float32)
    g = revad.grad(rosenbrock, compiled=True)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, revad.grad(rosenbrock)(x), rtol=1e-5)
    J = dualad.jacfwd(lambda x: np.tanh(x) * x, compiled=True)(x)
    assert J.dtype == np.float32


SCRIPT = """
import os, sys, numpy as np, revad
from adops.compile import cache_dir
def f(x):
    return np.sum(np.tanh(x) * x ** 2 + np.sin(x))
g = revad.grad(f, compiled=True)(np.linspace(-1, 1, 5))
print(sorted(n for n in os.listdir(cache_dir()) if n.endswith('.py')))
print(repr(g.tolist()))
"""


def test_generated_code_is_cached_on_disk_across_processes(tmp_path):
    env = dict(os.environ, ADOPS_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    files = [r.stdout.splitlines()[0] for r in runs]
    assert files[0] == files[1] != "[]"  # the second process found the first one's file
    assert runs[0].stdout.splitlines()[1] == runs[1].stdout.splitlines()[1]
    # numba's own cache of the fused loops sits beside the generated source
    assert any(n.endswith(".nbi") for n in os.listdir(tmp_path / "__pycache__"))


def _kept(x):
    return np.tanh(x) ** 2 * x[::-1]


def test_a_pullback_kept_across_the_whole_programs_build_runs_its_own_sweep():
    """A pullback reads the residuals of the code that ran its forward pass: the Python
    driver's before the whole program is built, the whole program's after. Pullbacks kept from
    both sides of the build all give the gradient, and the whole program stays in use (before,
    a driver's residuals went to the whole sweep, which numba refused, dropping the whole
    program for good; then a whole program's residuals went to the driver: a ValueError)."""
    x = np.linspace(-1, 1, 5)
    want = revad.vjp(_kept, x)[1](np.ones(5))[0]
    with whole_after(3):
        pullbacks = [revad.vjp(_kept, x, compiled=True)[1] for _ in range(5)]
    (program,) = next(iter(compiled(_kept).programs.values()))
    assert program.whole is not None
    for pullback in pullbacks:
        (got,) = pullback(np.ones(5))
        np.testing.assert_allclose(got, want, rtol=1e-14)
    assert program.whole is not None, program.why_python
