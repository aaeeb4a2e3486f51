"""Floating-point error state: the kernels' flags never reach the user's ``np.errstate``.

Partials are ``inf``/``nan`` at kinks by design (sqrt at 0) and the strong-zero kernels raise
spurious flags (LLVM may compute ``d * t`` before selecting 0), so derivative arithmetic runs with
floating-point errors ignored. The user's own setting is theirs:

- :func:`quiet` is entered by every transform. When the user's current state only warns or
  ignores, it ignores divide/overflow/invalid for the traced function, once per transform
  (entering ``np.errstate`` costs ~4 us, too much per op). When the user asked for
  ``raise``/``call``/``log``, it leaves the state alone.
- :func:`user_errstate_is_quiet` tells an op, at the cost of one context-variable read, whether
  the state in force ignores everything. When it does not (the user's ``np.errstate(all='raise')``
  inside or around ``f``), the op computes its primal under the user's state, as numpy would, and
  its partials and tangents under ``np.errstate(all='ignore')``.

numpy's error state is a context variable, so nothing here touches other threads. Earlier
versions also paused the cyclic garbage collector while tracing; that is process-wide, so it was
dropped (it saved about 1.5 us per op).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

try:  # numpy >= 2: the error state is one context variable; reading it is ~40 ns
    from numpy._core._ufunc_config import _extobj_contextvar as _STATE
except ImportError:  # pragma: no cover - other numpy layouts: fall back to np.geterr
    _STATE = None

_QUIET_KEYS = ("divide", "over", "invalid")


class _StateMemo:
    """A pure function of numpy's error state, remembered for the state object seen last: one
    context-variable read per call while the state does not change (``np.geterr`` costs a few
    microseconds, too much per op or per compiled call)."""

    __slots__ = ("of", "last")

    def __init__(self, of):
        self.of, self.last = of, (object(), False)

    def __call__(self) -> bool:
        if _STATE is None:  # pragma: no cover
            return self.of(np.geterr())
        state = _STATE.get()
        last = self.last
        if state is last[0]:
            return last[1]
        value = self.of(np.geterr())
        self.last = (state, value)
        return value


#: whether the user's state raises, calls or logs on divide/overflow/invalid (their primal then
#: runs under it, the derivative arithmetic with errors ignored)
user_wants_errors = _StateMemo(lambda err: any(err[k] in ("raise", "call", "log")
                                               for k in _QUIET_KEYS))

#: whether divide/overflow/invalid are all ignored in the current context
user_errstate_is_quiet = _StateMemo(lambda err: all(err[k] == "ignore" for k in _QUIET_KEYS))


@contextmanager
def quiet():
    """The context each transform runs the user's function and its sweeps in (see module doc).

    Example:
        >>> import numpy as np
        >>> with quiet():
        ...     float(np.float64(1.0) / 0.0)
        inf
    """
    if user_wants_errors():
        yield
        return
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yield
