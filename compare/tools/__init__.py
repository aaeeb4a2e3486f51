"""Tools for your own function: :mod:`.check` (``check_grads``: forward vs reverse vs finite
differences vs the dot-product identity), :mod:`.recommend` (which mode, chunk and tier, from
measured probes), :mod:`.memory` (does reverse mode's tape fit a memory budget; checkpointing
advice) and :mod:`.run` (time its full Jacobian in both modes).
"""
