"""The optional peers (JAX, PyTorch; the ``peers`` extra): which are installed, which a run
times, and the note summary.md gives about them. Peers are chosen by name; each study maps a
name to its own way of timing that peer.

Example:
    >>> choose(False)
    ([], 'jax: skipped (--no-peers); torch: skipped (--no-peers)')
"""
from __future__ import annotations

NAMES = ("jax", "torch")


def available() -> dict:
    """``{"jax": None or reason, "torch": None or reason}`` (None means usable)."""
    out = {}
    for name in NAMES:
        try:
            __import__(name)
            out[name] = None
        except Exception as e:  # ImportError, or a broken install
            out[name] = f"not installed ({type(e).__name__}); pip install -e '.[peers]'"
    return out


def choose(use: bool = True) -> tuple[list, str]:
    """``(names, note)``: the installed peers to time (none when ``use`` is False: they are not
    even imported) and one line saying what became of each."""
    if not use:
        return [], "; ".join(f"{k}: skipped (--no-peers)" for k in NAMES)
    status = available()
    return ([k for k, why in status.items() if why is None],
            "; ".join(f"{k}: {why or 'timed'}" for k, why in status.items()))


def load(names):
    """Import the peers ``names`` before timing (ImportError when one is not installed), so an
    import is never inside a timing and the versions column names them."""
    for name in names:
        __import__(name)
