"""A Jacobian's passes as blocks on a ``concurrent.futures.Executor``: split, ship, assemble.

Mode-neutral: a mode describes its passes as a :class:`Job` of two module-level functions and a
payload, and this module runs them, here or on an executor (a process pool, or Dask
distributed's executor on a cluster). It imports neither mode.

Contract:
- ``job.prepare(payload) -> state`` runs once per process and payload (a reverse-mode recording,
  or nothing); ``job.push(state, seeds: (w, n)) -> [(w, *shape_j)]`` is one batched pass.
- :func:`push_blocks(job, n, k, dtype, executor, where, seeds=None)` returns, per leaf ``j``,
  ``(r, *shape_j)``: the rows of the identity ``(n, n)`` (``seeds=None``, r = n) or of the given
  seeds ``(r, n)`` (colour groups), pushed ``k`` rows per pass. With an executor the passes are
  grouped into contiguous blocks, one task each; a task runs its passes exactly as the local loop
  does (same seeds, same widths), so the assembled result is bit-for-bit the local one on the
  same CPU and BLAS.
- The payload is shipped with cloudpickle (a function defined in ``__main__`` or a closure goes
  by value): to a Dask cluster once, placed on every worker before the blocks
  (:func:`~adops.program.executors.shipped`), to a process pool with each block. A worker keeps the unpickled payload and its state per content hash
  (:class:`_Warm`), so a function arriving in every task is one object per worker and the
  compiled tier's programs, keyed by function object, stay warm; a recording is made once per
  worker, not per task.
- Errors: the function's own exception is raised as is (not a wrapped scheduler error); a broken
  process pool is retried once on a fresh pool, else the lost blocks are named; a worker that
  cannot import the project, a payload that cannot be pickled, an executor that is shut down or
  a scheduler that cannot be reached each get a message naming the problem and the way out.
  Ctrl-C cancels the pending blocks and returns at once (running blocks finish on their workers
  and are discarded). A progress bar counts blocks when a run lasts over two seconds (on a
  terminal).
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import math
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .inputs import auto_chunk
from .transform import by_chunks, check_chunk
from .executors import (ExecutorError, check_payload, lost_blocks_error, missing_project,
                        resolve_executor, shipped, worker_count)

#: blocks per worker: a few, so a slow or lost worker's share is small and rebalanced
BLOCKS_PER_WORKER = 4


@dataclass(frozen=True)
class Job:
    """A Jacobian's passes: ``prepare(payload) -> state`` once per process, then
    ``push(state, seeds (w, n)) -> [(w, *shape_j)]`` per pass; both module-level functions."""

    prepare: object
    push: object
    payload: tuple


def plain_state(payload):
    """The ``prepare`` of a job whose passes need nothing prepared: the payload itself.

    >>> plain_state((1, 2))
    (1, 2)
    """
    return payload


def _rows(k: int, lo: int, hi: int):
    """Pass bounds ``(a, b)`` of rows ``lo .. hi`` (lo a multiple of k): ``k`` rows each, the
    last possibly fewer."""
    return [(a, min(a + k, hi)) for a in range(lo, hi, k)]


def _push_range(job, state, n, k, dtype, lo, hi, seeds):
    """The passes of rows ``lo .. hi``, concatenated per leaf: ``[(hi - lo, *shape_j)]``."""
    parts = None
    for a, b in _rows(k, lo, hi):
        if seeds is None:
            s = np.zeros((b - a, n), dtype=dtype)
            s[np.arange(b - a), np.arange(a, b)] = 1
        else:
            s = seeds[a - lo:b - lo]
        out = job.push(state, s)
        if parts is None:
            parts = [[] for _ in out]
        for acc, o in zip(parts, out):
            acc.append(np.array(o, copy=True) if np.may_share_memory(o, s) else np.asarray(o))
    if parts is None:  # no rows (an empty input, or no colour): one pass of no rows gives shapes
        s = np.zeros((0, n), dtype=dtype) if seeds is None else seeds[:0]
        return [np.array(o, copy=True) for o in job.push(state, s)]
    return [p[0] if len(p) == 1 else np.concatenate(p, axis=0) for p in parts]


class _Warm:
    """Per process: the last few payloads received, unpickled once and prepared once, by the
    SHA-256 of their bytes (an LRU of ``size`` entries). A worker serves every block of one
    Jacobian, and every later call with the same function and point, from one function object.
    A lock makes a worker running blocks in several threads prepare a payload once."""

    def __init__(self, size: int = 4):
        self.size, self.entries, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: str, blob: bytes):
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
            import cloudpickle
            job = cloudpickle.loads(blob)
            entry = (job, job.prepare(job.payload))
            self.entries[key] = entry
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
            return entry


_WARM = _Warm()


def _task(key: str, blob: bytes, n: int, k: int, dtype: str, lo: int, hi: int, seeds):
    """One block on a worker: rows ``lo .. hi``."""
    job, state = _WARM.get(key, blob)
    return _push_range(job, state, n, k, np.dtype(dtype), lo, hi, seeds)


def _blocks(n_rows: int, k: int, workers: int):
    """Contiguous blocks ``[(lo, hi)]`` of whole passes, about ``BLOCKS_PER_WORKER`` per worker.

    >>> _blocks(10, 2, 1)
    [(0, 2), (2, 4), (4, 8), (8, 10)]
    """
    passes = math.ceil(n_rows / k)
    count = max(1, min(passes, BLOCKS_PER_WORKER * max(workers, 1)))
    cuts = [round(i * passes / count) for i in range(count + 1)]
    return [(cuts[i] * k, min(cuts[i + 1] * k, n_rows)) for i in range(count)]


def push_blocks(job: Job, n: int, k, dtype, executor, where: str, seeds=None,
                fresh_seeds: bool = False):
    """Push the identity rows (``seeds=None``) or ``seeds: (r, n)`` through ``job``, ``k`` rows
    per pass, here (``executor=None``) or as blocks on ``executor``; see the module docstring.
    ``k=None``: the identity's automatic width (:func:`adops.program.inputs.auto_chunk`); given
    seeds, all in one pass here, or a few passes per worker on an executor (pass the same ``k``
    for a bit-for-bit equal result). Returns per leaf ``(r, *shape_j)``.

    >>> job = Job(plain_state, lambda state, s: [state * s], 3.0)
    >>> push_blocks(job, 2, 1, np.float64, None, "example")[0].tolist()
    [[3.0, 0.0], [0.0, 3.0]]
    """
    dtype = np.dtype(dtype)
    n_rows = n if seeds is None else seeds.shape[0]
    if executor is None:
        state = job.prepare(job.payload)
        if seeds is None:
            return by_chunks(lambda s: job.push(state, s), n, k, dtype, where, fresh_seeds)
        return _push_range(job, state, n, k or max(n_rows, 1), dtype, 0, n_rows, seeds)
    if n_rows == 0:  # no pass to ship
        return push_blocks(job, n, k, dtype, None, where, seeds)
    k = check_chunk(k, where)
    with resolve_executor(executor, where) as ex:
        workers = worker_count(ex)
        if k is None:  # identity: the local rule; colour groups: split over the workers
            k = auto_chunk(n, dtype.itemsize) if seeds is None else \
                math.ceil(n_rows / (BLOCKS_PER_WORKER * workers))
        k = max(1, min(k, n_rows))
        blob = check_payload(job, where)
        key = hashlib.sha256(blob).hexdigest()
        blocks = _blocks(n_rows, k, workers)
        payload = shipped(ex, blob)
        args = [(key, payload, n, k, dtype.str, lo, hi, None if seeds is None else seeds[lo:hi])
                for lo, hi in blocks]
        results = _run(ex, args, blocks, where)
    parts = list(zip(*results))
    return [np.concatenate(p, axis=0) if len(p) > 1 else p[0] for p in parts]


def _submit_all(ex, args, where):
    try:
        return [ex.submit(_task, *a) for a in args]
    except RuntimeError as e:
        if "shutdown" in str(e) or "shut down" in str(e):
            raise ExecutorError(f"{where}: the executor {type(ex).__name__} is shut down "
                                "(it takes no new tasks): pass a live executor, or "
                                "executor=None to run here") from None
        raise


def _run(ex, args, blocks, where, retried: bool = False):
    """Results of every block, in order."""
    futures = _submit_all(ex, args, where)
    results = [None] * len(futures)
    index = {f: i for i, f in enumerate(futures)}
    bar = _bar(len(futures), where)
    try:
        for fut in cf.as_completed(futures):
            try:
                results[index[fut]] = fut.result()
            except cf.process.BrokenProcessPool:
                lost = [i for i, f in enumerate(futures)
                        if not f.done() or f.exception() is not None]
                _cancel(futures)
                return _retry(ex, args, blocks, lost, results, where, retried)
            except ImportError as e:
                _cancel(futures)
                missing = missing_project(e)
                if missing:
                    raise ImportError(f"{where}: {missing}") from None
                raise
            except BaseException:
                _cancel(futures)
                raise
            bar.update(1)
    except KeyboardInterrupt:
        _cancel(futures)
        raise
    finally:
        bar.close()
    return results


def _cancel(futures):
    """Cancel every block not yet running (a Dask future is released: its worker drops it)."""
    for f in futures:
        f.cancel()


def _retry(ex, args, blocks, lost, results, where, retried):
    """A broken process pool: the lost blocks once more on a fresh pool of the same size."""
    if retried or not isinstance(ex, cf.ProcessPoolExecutor):
        raise lost_blocks_error(where, [blocks[i] for i in lost])
    with cf.ProcessPoolExecutor(max_workers=worker_count(ex),
                                mp_context=getattr(ex, "_mp_context", None)) as fresh:
        redone = _run(fresh, [args[i] for i in lost], [blocks[i] for i in lost], where, True)
    for i, r in zip(lost, redone):
        results[i] = r
    return results


def _bar(total: int, where: str):
    from tqdm import tqdm
    return tqdm(total=total, unit="block", desc=where, delay=2.0, leave=False, file=sys.stderr,
                disable=None)
