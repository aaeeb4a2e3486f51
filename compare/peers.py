"""Optional peers: JAX and PyTorch timing the same problems (the ``peers`` extra).

Each available peer gives rows like :func:`compare.timing.measure` with mode ``jax-forward``,
``jax-reverse``, ``torch-forward``, ``torch-reverse`` (phase ``jacobian``). A peer that is not
installed is skipped; :func:`available` says which are and why not, for summary.md.
"""
from __future__ import annotations

import numpy as np

from .problems import PROBLEMS
from .timing import best_of


def available() -> dict:
    """``{"jax": None or reason, "torch": None or reason}`` (None means usable)."""
    out = {}
    for name in ("jax", "torch"):
        try:
            __import__(name)
            out[name] = None
        except Exception as e:  # ImportError, or a broken install
            out[name] = f"not installed ({type(e).__name__}); pip install -e '.[peers]'"
    return out


def _rows(problem, n, m, repeat, versions, mode, jac, x):
    t, first = best_of(lambda: jac(x), repeat)
    return [dict(problem=problem, mode=mode, n=n, m=m, chunk="", chunk_rule="", phase="jacobian", seconds=t,
                 repeat=repeat, first_call_seconds=first, peak_bytes="", tape_bytes="",
                 versions=versions)]


def jax_peer(problem, n, m, repeat, versions):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    f, x = PROBLEMS[problem].make(n, m, jnp, np.random.default_rng(0))
    x = jnp.asarray(x)
    fwd = jax.jit(jax.jacfwd(f))
    rev = jax.jit(jax.jacrev(f))
    block = lambda j: (lambda x: j(x).block_until_ready())
    return (_rows(problem, n, m, repeat, versions, "jax-forward", block(fwd), x)
            + _rows(problem, n, m, repeat, versions, "jax-reverse", block(rev), x))


def torch_peer(problem, n, m, repeat, versions):
    import torch
    torch.set_default_dtype(torch.float64)
    f, x = PROBLEMS[problem].make(n, m, torch, np.random.default_rng(0))
    x = torch.asarray(x)
    return (_rows(problem, n, m, repeat, versions, "torch-forward", torch.func.jacfwd(f), x)
            + _rows(problem, n, m, repeat, versions, "torch-reverse", torch.func.jacrev(f), x))


def loader(name):
    """A peer's ``load()``: import its package (ImportError when it is not installed)."""
    def load():
        __import__(name)
    return load


jax_peer.load = loader("jax")
torch_peer.load = loader("torch")
PEERS = {"jax": jax_peer, "torch": torch_peer}
