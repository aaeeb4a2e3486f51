"""The derivative's generated code: what the compiled tier (:mod:`adops.compile`) made of the
chain rule for a function, and the note that explains how to read it.
"""
from __future__ import annotations

import numpy as np  # noqa: F401  (the doctest)

import revad
from adops.compile import compiled

def generated_code(f, *args) -> str:
    """The compiled tier's generated source for ``f`` at ``args`` (their shapes and dtypes):
    ``primal``, ``jvp`` (k tangent directions) and ``forward``/``backward`` (value and VJP with
    m seeds), each run of two or more elementwise ops fused into loops ``kernel_primal``,
    ``kernel_jvp`` and ``kernel_vjp`` (a kernel module ``k<i>`` of their own, listed first, and
    shared by identical runs; ``g<i>_...`` names each run's) that call the ops' own scalar
    rules (``_s<j> = scalar(...)``).
    Traced by ``revad.jacrev(f, argnums=all, compiled=True)`` (one call: a trace and a numba
    compile, about a second the first time; the disk cache makes later ones fast).

    Example:
        >>> src = generated_code(lambda x: np.sin(x) * x, 0.5)
        >>> "adops.ops.elementwise:sin_d" in src and "def kernel_vjp(" in src
        True
    """
    def f_copy(*xs):        # its own programs, whatever f is (a ufunc cannot be weakly keyed)
        return f(*xs)
    revad.jacrev(f_copy, argnums=tuple(range(len(args))), compiled=True)(*args)
    programs = [p for kept in compiled(f_copy).programs.values() for p in kept]
    return programs[-1].listing


CODE_NOTE = """The trace of f became one program. Each run of elementwise ops is one
fused numba loop over the elements (a kernel module, listed first, that every program with the
same run shares; the program binds it to g<i>_...): g<i>_primal computes the values; g<i>_jvp (forward mode)
computes each op's value, its local partials d<e>_<j> (the very rule the eager tier uses, _s<j>
= scalar(RULES[...])) and then, for each of the k tangent directions q, the chain rule forward:
w<e> = d<e>_0 * w<input 0> + d<e>_1 * w<input 1> (SMUL: the strong-zero product; with
one direction all in one pass, with many the partials of a block of elements stored first, and
each path is also a function of its own, _one and _many, that numba compiles only when it
runs); g<i>_vjp
(reverse mode) recomputes the values and partials instead of storing them and sweeps the same
products backwards, op by op in reverse order, for each of the m seeds, adding into the adjoint
of every input an op reads (multiply along a path, add across paths). Other ops (stack, matmul,
sums) run as one numpy call each: O[e].linearize, then l<e>.jvp / l<e>.vjp."""

