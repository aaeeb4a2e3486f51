"""The one reverse sweep: reverse mode's, defined mode-neutrally in :mod:`adops.program.sweep`
(it reads only a :class:`adops.program.Tape` and the ``lin`` of each entry), so that ops of
adops can sweep a tape of their own too. Re-exported here under reverse mode's name.
"""
from adops.program.sweep import adjoints, backward, sweep  # noqa: F401
