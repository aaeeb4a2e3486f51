"""How the reports look: matplotlib without a display, the colour and marker of every mode and
method, and numbers (times, bytes) as text.

Example:
    >>> fmt_time(2.5e-3), fmt_time(2.5e-6), fmt_time(2.5, seconds=True), fmt_bytes(2.4e3)
    ('2.5 ms', '2.5 us', '2.5 s', '2.4 kB')
"""
from __future__ import annotations


def plt():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


#: results.csv's modes: (colour, marker)
STYLE = {"forward": ("tab:blue", "o"), "reverse": ("tab:red", "s"),
         "finite_differences": ("tab:gray", "^"), "jax-forward": ("tab:cyan", "x"),
         "jax-reverse": ("tab:pink", "x"), "torch-forward": ("tab:green", "+"),
         "torch-reverse": ("tab:orange", "+"), "forward-compiled": ("navy", "D"),
         "reverse-compiled": ("darkred", "D")}
#: the grid's problems: line style
LINES = {"dense": "-", "wide": "--", "rosenbrock": ":", "mlp_loss": "-."}
#: depth.csv's modes
DEPTH_STYLE = {"numpy": ("black", "."), "forward, 1 direction": ("tab:blue", "o"),
               "forward, k directions": ("tab:cyan", "D"), "reverse": ("tab:red", "s"),
               "reverse, sqrt(T) checkpoints": ("tab:purple", "v"),
               "reverse, 10 checkpoints": ("tab:pink", "^")}
#: hessian.csv's methods
HESSIAN_STYLE = {"forward-over-reverse": ("tab:purple", "o"),
                 "reverse-over-reverse": ("tab:red", "s"),
                 "forward-over-forward": ("tab:blue", "^"),
                 "reverse-over-forward": ("tab:olive", "v"),
                 "hvp": ("black", "D"), "grad": ("tab:gray", "."),
                 "jax-hessian": ("tab:cyan", "x"), "torch-hessian": ("tab:green", "+")}
#: standard.csv's methods: bar colour
STANDARD_COLOURS = {"forward": "tab:blue", "reverse": "tab:red", "reverse-compiled": "darkred",
                    "forward-coloured": "tab:cyan", "reverse-coloured": "tab:pink",
                    "finite-differences": "tab:gray", "fd-coloured": "silver",
                    "jax-derivative": "tab:purple", "torch-derivative": "tab:orange"}


def fmt_time(s: float, seconds: bool = False) -> str:
    """``s`` seconds in ms or us (3 digits); with ``seconds``, 1 s and above in s."""
    if seconds and s >= 1:
        return f"{s:.3g} s"
    return f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} us"


def fmt_ms(s: float) -> str:
    """``s`` seconds in ms, whatever its size (recommend's table)."""
    return f"{s * 1e3:.3g} ms"


def fmt_bytes(b: float) -> str:
    """MB from 100 kB up, else kB."""
    return f"{b / 1e6:.3g} MB" if b >= 1e5 else f"{b / 1e3:.3g} kB"
