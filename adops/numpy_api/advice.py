"""Which ``adops.scipy`` function replaces the scipy function that called ``np.asarray`` on a
traced array (the refusal message of :meth:`adops.numpy_api.traced.Traced.__array__`).

Computed only when the refusal is raised: the calling frames are walked outward and the scipy
frame nearest the user's code names the function (``scipy.stats.norm.logpdf`` ->
``adops.scipy.stats.norm.logpdf``).

>>> def logpdf(): return advice()     # no scipy frame on the stack: the general advice
>>> "adops.scipy" in logpdf()
True
"""
from __future__ import annotations

import sys

PACKAGES = ("scipy.stats", "scipy.special", "scipy.integrate")
GENERAL = ("scipy functions that convert their input this way (scipy.stats, scipy.special."
           "logsumexp/softmax, scipy.integrate.odeint) have replacements in adops.scipy: "
           "from adops.scipy import stats, special; from adops.scipy.integrate import odeint")


def _stats_name(frames):
    """The distribution's name from a ``self`` in the scipy.stats frames (``norm``,
    ``multivariate_normal``), or None."""
    for frame in frames:
        obj = frame.f_locals.get("self")
        if obj is None:
            continue
        obj = getattr(obj, "dist", obj)  # a frozen distribution
        name = getattr(obj, "name", None)
        if isinstance(name, str) and name.isidentifier():
            return name
        cls = type(obj).__name__
        for suffix in ("_gen", "_frozen"):
            if cls.endswith(suffix):
                return cls[: -len(suffix)]
    return None


def advice(depth: int = 1, limit: int = 60) -> str:
    """The sentence naming the replacement, from the frames above ``depth``."""
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:
        return GENERAL
    package, chain = None, []
    try:
        for _ in range(limit):
            if frame is None:
                break
            module = frame.f_globals.get("__name__", "") or ""
            hit = next((p for p in PACKAGES if module == p or module.startswith(p + ".")), None)
            if hit is not None:
                if package not in (None, hit):
                    chain = []
                package = hit
                chain.append(frame)
            frame = frame.f_back
    finally:
        del frame
    if package is None:
        return GENERAL
    outer = chain[-1].f_code.co_name  # the scipy function the user called
    # read, not imported: adops.scipy sits above this layer, and adops imports it at start-up
    special, stats = sys.modules["adops.scipy.special"], sys.modules["adops.scipy.stats"]
    if package == "scipy.stats":
        name = _stats_name(chain)
        what = f"{name}.{outer}" if name else outer
        if name is not None and hasattr(getattr(stats, name, None), outer):
            return (f"It was called by scipy.stats ({what}): use adops.scipy.stats.{what} "
                    "instead (from adops.scipy import stats; same signature)")
        return (f"It was called by scipy.stats ({what}), which adops.scipy.stats does not "
                f"provide (it has {', '.join(stats.__all__)}): write the function with numpy "
                "calls and adops.scipy.special")
    if package == "scipy.special":
        if hasattr(special, outer):
            return (f"It was called by scipy.special.{outer}: use adops.scipy.special.{outer} "
                    "instead (from adops.scipy import special; same signature)")
        return (f"It was called by scipy.special.{outer}, which adops.scipy.special does not "
                f"provide (it has {', '.join(special.__all__)})")
    return (f"It was called by scipy.integrate.{outer}: use adops.scipy.integrate.odeint "
            "instead (scipy's odeint signature; an adaptive Dormand-Prince solver for non-stiff "
            "problems)")
