"""Executors for a Jacobian's blocks (:mod:`adops.program.blocks`): what ``executor=`` accepts,
and the errors that name what went wrong and the way out.

``executor=`` takes any ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor`` on one
machine; ``distributed.Client.get_executor()`` on a cluster), a Dask ``Client`` (its executor is
used), or an address ``"dask://HOST:PORT"`` (``tcp://`` too): a client is connected for the
call and closed after it. Dask is an optional extra (``pip install -e '.[dask]'``), imported
only when an address is given.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import time

#: seconds to wait for a Dask scheduler named by address
CONNECT_TIMEOUT = 10.0
#: the project's packages: a worker that cannot import one of them lacks the project
PROJECT = ("adops", "dualad", "revad", "compare")
DIST = "dualad-revad"


class ExecutorError(RuntimeError):
    """An executor that cannot run the blocks: shut down, unreachable, or broken twice."""


def _client_executor(client, where: str):
    status = getattr(client, "status", "running")
    if status not in ("running", "newly-created"):
        raise ExecutorError(f"{where}: the Dask client is {status} (closed clients take no "
                            "tasks): pass a connected Client, or executor=None to run here")
    return client.get_executor()


def check_executor(executor, where: str):
    """``executor`` if it is one ``executor=`` accepts (or None), else the TypeError naming
    what is.

    >>> check_executor(None, "example") is None
    True
    """
    if executor is None or isinstance(executor, cf.Executor) or \
            hasattr(executor, "get_executor") or \
            isinstance(executor, str) and executor.startswith(("dask://", "tcp://")):
        return executor
    raise TypeError(f"{where}: executor must be a concurrent.futures.Executor (e.g. "
                    "ProcessPoolExecutor(2)), a dask.distributed Client, an address "
                    f"'dask://HOST:PORT', or None; got {type(executor).__name__}")


@contextlib.contextmanager
def resolve_executor(executor, where: str):
    """The ``concurrent.futures.Executor`` behind ``executor`` for the block; a client this
    opened from an address is closed after it.

    >>> with resolve_executor(cf.ThreadPoolExecutor(1), "example") as ex:
    ...     ex.submit(abs, -2).result()
    2
    """
    if isinstance(executor, cf.Executor):
        yield executor
    elif hasattr(executor, "get_executor"):
        yield _client_executor(executor, where)
    elif isinstance(executor, str) and executor.startswith(("dask://", "tcp://")):
        client = connect(executor, where)
        try:
            yield client.get_executor()
        finally:
            client.close()
    else:
        check_executor(executor, where)


def shipped(ex, blob: bytes):
    """What a task receives for the payload ``blob``: on a Dask cluster a future of it, placed on
    every worker once (``scatter(broadcast=True)``: tasks then carry a key, not megabytes, and a
    rescheduled task finds a copy on a surviving worker); elsewhere (a process pool, which
    cannot address its workers) the bytes themselves, with each task.

    >>> shipped(cf.ThreadPoolExecutor(1), b"f") == b"f"
    True
    """
    client = getattr(ex, "_client", None)  # distributed's ClientExecutor
    if client is None or not hasattr(client, "scatter"):
        return blob
    return client.scatter(blob, broadcast=True, hash=False)


def connect(address: str, where: str, timeout: float | None = None):
    """A ``distributed.Client`` for ``dask://HOST:PORT`` (or ``tcp://``), or an error naming
    the address and the time waited."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(f"{where}: executor={address!r} needs Dask distributed: pip install "
                          "-e '.[dask]' (or pip install distributed)") from None
    tcp = "tcp://" + address.split("://", 1)[1]
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    start = time.perf_counter()
    try:
        return Client(tcp, timeout=timeout)
    except (OSError, TimeoutError) as e:
        waited = time.perf_counter() - start
        raise ExecutorError(f"{where}: no Dask scheduler reachable at {tcp} (waited "
                            f"{waited:.1f} s: {type(e).__name__}); start one (dask scheduler; "
                            "dask worker ADDRESS) or check the address") from None


def worker_count(ex) -> int:
    """Workers behind an executor (1 when it does not say).

    >>> worker_count(cf.ThreadPoolExecutor(3))
    3
    """
    client = getattr(ex, "_client", None)
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return int(getattr(ex, "_max_workers", 1) or 1)


def check_payload(job, where: str) -> bytes:
    """``job`` as cloudpickle bytes, or an error naming what could not be pickled.

    >>> len(check_payload((abs, 1), "example")) > 0
    True
    """
    import cloudpickle
    try:
        return cloudpickle.dumps(job)
    except Exception as e:  # pickling raises TypeError, PicklingError, AttributeError...
        raise TypeError(f"{where}: the function or its arguments cannot be pickled to ship "
                        f"them to the executor's workers ({type(e).__name__}: {e}); define the "
                        "function at module level and keep what it closes over to arrays, "
                        "numbers and picklable objects, or pass executor=None") from None


def project_version() -> str:
    """The installed project's version (``unknown`` when it runs from a checkout only)."""
    from importlib import metadata
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return "unknown"


def missing_project(error: ImportError) -> str | None:
    """The message for a worker that cannot import the project, or None for another import
    error (the function's own, raised as is).

    >>> missing_project(ModuleNotFoundError("x", name="numpy")) is None
    True
    """
    name = getattr(error, "name", None) or ""
    if name.split(".")[0] not in PROJECT:
        return None
    version = project_version()
    return (f"a worker cannot import {name!r}: the project ({DIST} {version}) is not installed "
            f"where the worker runs; install it there (pip install -e . from the same checkout, "
            f"version {version}) and restart the workers")


def lost_blocks_error(where: str, blocks) -> ExecutorError:
    """A process pool that broke (a worker died) on its retry too: the rows lost."""
    rows = ", ".join(f"{lo}..{hi - 1}" for lo, hi in blocks)
    return ExecutorError(f"{where}: the process pool broke (a worker process died) and the "
                         f"retry on a fresh pool broke too; blocks lost (rows of seeds): {rows}. "
                         "Check the function's memory use per pass (a smaller chunk= lowers "
                         "it), or run with executor=None")
