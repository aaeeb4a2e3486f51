"""Reverse mode's value type: ``Var``, a value recorded on a tape, and the tape and trace that
make Vars.

The recorder itself is mode-neutral (:mod:`adops.program.tape`: the Wengert list, replay and
guards, shared with the compiled tier and sparsity detection); reverse mode gives its values
their name and mode here, so adops imports no mode.
"""
from __future__ import annotations

from adops.program.tape import BranchChanged, Recorded  # noqa: F401  (BranchChanged: revad's)
from adops.program.tape import Tape as ProgramTape, Trace as ProgramTrace


class Var(Recorded):
    """An array traced on a tape by reverse mode (create them with :meth:`Tape.leaf`,
    :class:`Trace` or the revad transforms). Applying an op computes ``out, lin =
    op.linearize(...)`` and pushes both on the tape; values of other levels are constants of the
    tape.

    Example:
        >>> import numpy as np
        >>> x = Tape().leaf(np.array(3.0))
        >>> (x * x).primal
        array(9.)
        >>> type(x * x).__name__
        'Var'
    """

    __slots__ = ()
    _mode = "reverse mode (revad)"


class Tape(ProgramTape):
    """A tape whose values are :class:`Var` (see :class:`adops.program.tape.Tape`)."""

    __slots__ = ()
    node = Var
    level_name = "a revad.Tape"


class Trace(ProgramTrace):
    """One run of a function on a new :class:`Tape` (see :class:`adops.program.tape.Trace`)."""

    __slots__ = ()
    tape_class = Tape
