"""``python -m compare`` (or ``adcompare``): the forward-vs-reverse comparison; every subcommand
and its arguments are in :mod:`compare.cli` (usage there)."""
import sys

from .cli import CliError, load_problem, main  # noqa: F401  (the adcompare entry point: main)

if __name__ == "__main__":
    sys.exit(main())
