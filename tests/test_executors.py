"""A Jacobian's passes on Dask: a LocalCluster of 2 worker processes on loopback, started once for
the module. Equal to the local result bit for bit (same chunk), in both modes and tiers and with
colouring; a worker killed mid-run; a function that raises; Ctrl-C leaving no worker busy; clear
errors for a closed client, an unreachable scheduler and a function that cannot be pickled."""
import _thread
import os
import threading
import time

import numpy as np
import pytest

import dualad
import revad
from adops.program.executors import ExecutorError, missing_project

distributed = pytest.importorskip("distributed")

A = np.random.default_rng(1).standard_normal((5, 7))


def f(x):
    return np.tanh(A @ x) * x[:5] + np.sum(x ** 2)


def banded(x):
    return np.sin(x[1:] * x[:-1]) + x[1:] ** 2


def slow(x):
    time.sleep(0.1)
    return np.sin(x) * 2.0


def boom(x):
    raise ValueError("boom: f refuses this x")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


X = np.linspace(0.1, 1.3, 7)


@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev], ids=["forward", "reverse"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_dask_blocks_equal_the_local_run_bit_for_bit(client, jac, compiled):
    local = jac(f, chunk=2, compiled=compiled)(X)
    remote = jac(f, chunk=2, compiled=compiled, executor=client.get_executor())(X)
    assert np.array_equal(local, remote)
    other = (revad.jacrev if jac is dualad.jacfwd else dualad.jacfwd)(f)(X)
    np.testing.assert_allclose(remote, other, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev], ids=["forward", "reverse"])
def test_dask_coloured_blocks_equal_the_local_run(client, jac):
    x = np.linspace(0.1, 1.0, 12)
    local = jac(banded, sparsity="auto", chunk=1)(x)
    remote = jac(banded, sparsity="auto", chunk=1, executor=client)(x)  # a Client directly
    assert (local != remote).nnz == 0
    np.testing.assert_allclose(remote.toarray(), dualad.jacfwd(banded)(x), rtol=1e-13)


def test_hessian_on_dask_equals_the_local_run(client):
    g = lambda x: np.sum(np.sin(x) * x[::-1])  # noqa: E731 (a lambda goes by value)
    local = revad.hessian(g, chunk=3)(X)
    assert np.array_equal(local, revad.hessian(g, chunk=3, executor=client)(X))
    np.testing.assert_allclose(local, local.T, rtol=1e-12)


def test_a_function_that_raises_fails_with_its_own_error(client):
    with pytest.raises(ValueError, match="boom: f refuses this x"):
        dualad.jacfwd(boom, chunk=1, executor=client)(X)
    with pytest.raises(ValueError, match="boom"):
        revad.jacrev(boom, executor=client)(X)


def _busy(client):
    return sum(len(v) for v in client.processing().values())


def test_a_worker_killed_mid_run_leaves_the_result_unchanged(client):
    x = np.linspace(0, 1, 16)
    expected = np.diag(2.0 * np.cos(x))
    victim = sorted(client.scheduler_info()["workers"])[0]

    def kill():
        time.sleep(0.5)
        try:
            client.run(os._exit, 1, workers=[victim])
        except Exception:  # the worker's comm closes as it dies
            pass
    killer = threading.Thread(target=kill)
    killer.start()
    J = dualad.jacfwd(slow, chunk=1, executor=client)(x)
    killer.join()
    assert np.array_equal(J, expected)
    assert victim not in client.scheduler_info()["workers"]  # it did die
    client.wait_for_workers(2, timeout=60)


def test_ctrl_c_cancels_pending_blocks_and_leaves_no_worker_busy(client):
    x = np.linspace(0, 1, 40)
    timer = threading.Timer(0.4, _thread.interrupt_main)
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        dualad.jacfwd(slow, chunk=1, executor=client)(x)
    # the undisturbed run takes 2 s; Ctrl-C at 0.4 s returns within about a block (0.1 s)
    assert time.perf_counter() - start < 1.5
    deadline = time.perf_counter() + 5
    while _busy(client) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert _busy(client) == 0


def test_a_closed_client_is_a_clear_error():
    c = distributed.Client(processes=False, n_workers=1, dashboard_address=":0")
    c.close()
    with pytest.raises(ExecutorError, match="client is closed"):
        dualad.jacfwd(f, executor=c)(X)


def test_an_unreachable_scheduler_names_its_address_and_the_time_waited(monkeypatch):
    monkeypatch.setattr("adops.program.executors.CONNECT_TIMEOUT", 1.0)
    with pytest.raises(ExecutorError, match=r"tcp://127.0.0.1:9 \(waited \d"):
        revad.jacrev(f, executor="dask://127.0.0.1:9")(X)


def test_a_function_that_cannot_be_pickled_names_the_way_out(client):
    lock = threading.Lock()

    def g(x):
        with lock:
            return np.sin(x)
    with pytest.raises(TypeError, match="cannot be pickled.*module level"):
        dualad.jacfwd(g, executor=client)(X)


def test_a_worker_missing_the_project_is_named():
    msg = missing_project(ModuleNotFoundError("No module named 'adops'", name="adops"))
    assert "adops" in msg and "dualad-revad" in msg and "install" in msg
    assert missing_project(ModuleNotFoundError("x", name="torch")) is None


def test_compare_jacobian_on_dask_equals_its_local_plan(client):
    from compare import jacobian
    jac = jacobian(f, compiled=False, sparsity=None)
    J, plan = jacobian(f, compiled=False, sparsity=None, executor=client, explain=True)(X)
    assert plan.workers == 2 and "on 2 workers" in str(plan)
    np.testing.assert_allclose(J, jac(X), rtol=1e-12, atol=1e-12)


def test_compare_runs_its_grid_on_the_cluster(client, tmp_path):
    from compare.common.rows import read_csv
    from compare.problems import PROBLEMS
    from compare.studies.grid import Grid, run_on_workers
    grid = Grid([("dense", 4, 3), ("dense", 8, 3), ("wide", 2, 5)], repeat=1, chunks=(None,),
                executor=client.scheduler.address.replace("tcp://", "dask://"))
    count = run_on_workers(grid, str(tmp_path / "results.csv"), False, PROBLEMS)
    rows = read_csv(str(tmp_path / "results.csv"))
    assert len(rows) == count > 0
    assert {(r["problem"], r["n"], r["m"]) for r in rows} == \
        {("dense", "4", "3"), ("dense", "8", "3"), ("wide", "2", "5")}
    assert all(r["host"] and int(r["cores"]) >= 1 for r in rows)


def test_summary_says_rows_of_two_machines_are_compared_within_a_machine():
    from compare.studies.grid.summary import header
    rows = [dict(problem="dense", n=4, m=1, host=h, cores=c, repeat=1, versions="")
            for h, c in (("a", 8), ("b", 2))]
    text = "\n".join(header(rows, "python -m compare --executor dask://a:8786"))
    assert "2 hosts (a, 8 cores; b, 2 cores" in text
    assert "compared only within a machine" in text
    assert "compared only" not in "\n".join(header(rows[:1], "python -m compare"))


def test_compare_names_an_unreachable_scheduler(monkeypatch, tmp_path, capsys):
    from compare.cli import main
    monkeypatch.setattr("adops.program.executors.CONNECT_TIMEOUT", 1.0)
    code = main(["--problem", "dense", "--n", "4", "--no-peers", "--out", str(tmp_path),
                 "--executor", "dask://127.0.0.1:9"])
    assert code == 2
    assert "no Dask scheduler reachable at tcp://127.0.0.1:9" in capsys.readouterr().err


def _warm_keys():
    from adops.program.blocks import _WARM
    return [(key, id(job)) for key, (job, _) in _WARM.entries.items()]


def test_workers_keep_the_shipped_function_by_content(client):
    x = np.linspace(0.2, 0.9, 7)
    for _ in range(2):  # the function arrives pickled, a new object in every task
        revad.jacrev(f, chunk=1, compiled=True, executor=client)(x)
    before = client.run(_warm_keys)
    assert any(before.values())
    revad.jacrev(f, chunk=1, compiled=True, executor=client)(x)
    after = client.run(_warm_keys)
    # the payload's hash maps to the same unpickled object (so to its recording and compiled
    # programs) on each worker across calls: nothing was unpickled or traced again
    for w, keys in before.items():
        assert set(keys) <= set(after[w])
