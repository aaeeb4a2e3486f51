"""A Jacobian's passes on a process pool: equal to the local run bit for bit, a broken pool
retried once on a fresh pool, a pool that breaks again named with its lost blocks, a shut-down
pool a clear error. Dask's tests are in test_executors.py."""
import concurrent.futures as cf
import multiprocessing
import os

import numpy as np
import pytest

import dualad
import revad
from adops.program.executors import ExecutorError

X = np.linspace(0.2, 1.0, 6)


def f(x):
    return np.exp(np.sin(x) * x[::-1]) + np.cumsum(x)


@pytest.fixture(scope="module")
def pool():
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as ex:
        yield ex


@pytest.mark.parametrize("jac", [dualad.jacfwd, revad.jacrev], ids=["forward", "reverse"])
def test_process_pool_blocks_equal_the_local_run_bit_for_bit(pool, jac):
    assert np.array_equal(jac(f, chunk=2)(X), jac(f, chunk=2, executor=pool)(X))
    np.testing.assert_allclose(jac(f, executor=pool)(X), revad.jacrev(f)(X), rtol=1e-13)


def _dying(flag=None):
    """A function that kills the worker process running it (only the first one, with a flag
    file); here, where the assembly calls it once too, it is sin. A closure: shipped by value,
    so ``parent`` is this process."""
    parent = os.getpid()

    def g(x):
        if os.getpid() != parent and (flag is None or not os.path.exists(flag)):
            if flag is not None:
                open(flag, "w").close()
            os._exit(1)
        return np.sin(x)
    return g


def test_a_broken_pool_is_retried_once_on_a_fresh_pool(tmp_path):
    g = _dying(str(tmp_path / "died"))
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as ex:
        J = dualad.jacfwd(g, chunk=1, executor=ex)(X)
    assert np.array_equal(J, np.diag(np.cos(X)))


def test_a_pool_that_breaks_again_names_the_lost_blocks():
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as ex:
        with pytest.raises(ExecutorError, match=r"blocks lost \(rows of seeds\): 0\.\."):
            revad.jacrev(_dying(), executor=ex)(X)


def test_a_shut_down_pool_is_a_clear_error():
    ex = cf.ProcessPoolExecutor(1)
    ex.shutdown()
    with pytest.raises(ExecutorError, match="shut down"):
        dualad.jacfwd(f, executor=ex)(X)
