"""Regenerate docs/SUPPORTED.md from the registry: ``python -m adops.docs``."""
import os

from .numpy_api.listing import supported_table

HEADER = ("# Supported numpy functions\n\nGenerated from the registry by `python -m adops.docs`; "
          "both modes accept exactly these.\n\n")


def main(path=None):
    path = path or os.path.join(os.path.dirname(__file__), "..", "docs", "SUPPORTED.md")
    with open(path, "w") as fh:
        fh.write(HEADER + supported_table())
    return path


if __name__ == "__main__":
    print(main())
