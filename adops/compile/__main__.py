"""The compiled tier's command line: show or empty the code cache folder.

``python -m adops.compile cache info`` prints the folder, how many generated modules it holds,
their bytes (numba's files included), the cap, this code version and how many modules are of
other versions; ``python -m adops.compile cache clear`` removes the generated modules and their
numba files (nothing else in the folder) and says what it removed. Exit status 0, 1 on an
error (one line on stderr), 2 on a usage error.
"""
from __future__ import annotations

import argparse
import sys

from . import cache


def _mb(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adops.compile",
                                     description="The compiled tier's code cache.")
    sub = parser.add_subparsers(dest="command", required=True)
    group = sub.add_parser("cache", help="show or empty the code cache folder")
    action = group.add_subparsers(dest="action", required=True)
    action.add_parser("info", help="what the cache folder holds")
    action.add_parser("clear", help="remove the generated modules and their numba files")
    args = parser.parse_args(argv)
    try:
        folder = cache.cache_dir()
        if args.action == "info":
            got = cache.info(folder)
            print(f"folder: {got['folder']}")
            print(f"generated modules: {got['modules']}")
            print(f"size: {got['bytes']} bytes ({_mb(got['bytes'])}, numba's files included)")
            print(f"cap: {got['cap']} bytes ({_mb(got['cap'])}; ADOPS_CACHE_MAX_MB, "
                  f"default {cache.DEFAULT_MAX_MB})")
            print(f"code version: {got['version']}")
            print(f"of other code versions: {got['other_versions']}")
        else:
            modules, files, size = cache.clear(folder)
            print(f"removed {modules} generated modules ({files} files, {size} bytes) "
                  f"from {folder}")
    except (OSError, ValueError) as e:
        print(f"python -m adops.compile: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
