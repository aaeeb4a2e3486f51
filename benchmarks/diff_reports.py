"""Diff two report folders of ``python -m compare`` by what a run decides, not by what it timed.

    python benchmarks/diff_reports.py /tmp/before /tmp/after

Compares: the files written (relative paths, recursively); each CSV's header and its row keys
(every column that is configuration, not a measurement: problem, mode, n, m, chunk, phase,
method, depth, ...; in the order written); each markdown file's headings (``#`` lines) and the
names of its bold bullets (``- **Break-even**``). Prints one line per check and every
difference; exits 1 when any check differs.
"""
from __future__ import annotations

import csv
import os
import re
import sys

#: columns whose values are measurements (they differ between any two runs)
MEASURED = {"seconds", "first_call_seconds", "peak_bytes", "tape_bytes", "versions", "blas",
            "compile_seconds", "ratio", "estimated", "setup_seconds", "rel_error",
            "predicted_seconds"}


def files(root):
    out = set()
    for here, _, names in os.walk(root):
        for name in names:
            out.add(os.path.relpath(os.path.join(here, name), root))
    return out


def csv_keys(path):
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        keep = [i for i, c in enumerate(header) if c not in MEASURED]
        return header, [tuple(row[i] for i in keep) for row in reader], [header[i] for i in keep]


def md_outline(path):
    out = []
    for line in open(path, encoding="utf-8"):
        if line.startswith("#"):
            out.append(line.rstrip())
        m = re.match(r"- \*\*(.+?)\*\*", line)
        if m:
            out.append(f"  bullet: {m.group(1)}")
    return out


def main(before, after) -> int:
    differ = 0

    def report(name, a, b):
        nonlocal differ
        if a == b:
            print(f"same  {name}")
            return
        differ += 1
        print(f"DIFF  {name}")
        if isinstance(a, (set, list)):
            sa, sb = (set(a), set(b))
            for x in sorted(sa - sb, key=str):
                print(f"      only before: {x}")
            for x in sorted(sb - sa, key=str):
                print(f"      only after:  {x}")
            if sa == sb:
                print("      same entries, different order or count")

    fa, fb = files(before), files(after)
    report(f"file list ({len(fa)} files before, {len(fb)} after)", fa, fb)
    for name in sorted(fa & fb):
        pa, pb = os.path.join(before, name), os.path.join(after, name)
        if name.endswith(".csv"):
            ha, ka, cols = csv_keys(pa)
            hb, kb, _ = csv_keys(pb)
            report(f"{name}: header ({len(ha)} columns)", ha, hb)
            report(f"{name}: row keys ({len(ka)} rows before, {len(kb)} after; by "
                   f"{', '.join(cols)})", ka, kb)
        elif name.endswith(".md"):
            oa, ob = md_outline(pa), md_outline(pb)
            report(f"{name}: headings and bullets ({len(oa)} lines)", oa, ob)
    print(f"{differ} difference(s)")
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
