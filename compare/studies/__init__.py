"""The studies: each one question, measured into rows of its own CSV and rendered into plots and
a part of summary.md. Every study is a :class:`compare.studies.base.Study` (name, CSV and
columns, ``measure``, ``render``); no study imports another; :mod:`compare.pipeline` runs the
default set in order and :mod:`compare.report` assembles their sections.

- :mod:`.grid`: full Jacobians over a grid of (problem, n, m) -> results.csv;
- :mod:`.tiers`: the compiled tier beside the eager one (its rows are in results.csv);
- :mod:`.depth`: memory and time as depth grows -> depth.csv; checkpointing's trade-off ->
  checkpointing.csv (its module :mod:`.depth.checkpointing`);
- :mod:`.hessian`: full Hessians by the four compositions -> hessian.csv;
- :mod:`.vanishing`: gradient norm per layer of deep chains -> vanishing.md;
- :mod:`.standard`: ADBench / gradbench problems -> standard.csv, standard.md;
- :mod:`.teaching`: the teaching pictures of every report (no timing).
"""
