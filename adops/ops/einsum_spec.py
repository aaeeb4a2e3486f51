"""Einsum subscripts: the one parser of einsum specs, for the handlers and for the ops.

A spec names each operand's axes by letters: ``'ij,jk->ik'``. numpy accepts more forms than the
ops do; these functions take a user's spec to the ops' form, one step each:

- :func:`from_sublists`: ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` -> ``'ab,bc->ac'``;
- :func:`explicit`: spaces removed, the implicit output written out (``'ij,jk'`` -> ``'ij,jk->ik'``);
- :func:`canonical`: ``'...'`` expanded for the operands' dimensions, letters renamed in order of
  appearance to ``a``, ``b``, ... (the ops reserve ``Z`` for the direction axis and products
  reserve ``z``);
- :func:`parse_spec` / :func:`format_spec`: an explicit spec <-> ``(inputs, output)``.
"""
from __future__ import annotations

import string

LOWER = string.ascii_lowercase
_SUBLIST_LETTERS = string.ascii_letters


def parse_spec(spec: str):
    """``'ab,bc->ac'`` -> (['ab', 'bc'], 'ac').

    Example:
        >>> parse_spec("ab,bc->ac")
        (['ab', 'bc'], 'ac')
    """
    ins, out = spec.split("->")
    return ins.split(","), out


def format_spec(inputs, output: str) -> str:
    """``(['ab', 'bc'], 'ac')`` -> ``'ab,bc->ac'``, the inverse of :func:`parse_spec`."""
    return ",".join(inputs) + "->" + output


def has_repeat(letters: str) -> bool:
    """True when one operand's subscripts name an axis twice (``'ii'``: a diagonal)."""
    return len(set(letters)) != len(letters)


def from_sublists(args):
    """numpy's sublist form as a subscript string and its operands.

    Example:
        >>> from_sublists(["A", [0, 1], "B", [1, 2], [0, 2]])
        ('ab,bc->ac', ['A', 'B'])
    """
    args = list(args)
    out = args.pop() if len(args) % 2 == 1 else None
    operands, subs = args[0::2], args[1::2]

    def letters(sub):
        return "".join("..." if s is Ellipsis else _SUBLIST_LETTERS[int(s)] for s in sub)
    spec = ",".join(letters(s) for s in subs)
    if out is not None:
        spec += "->" + letters(out)
    return spec, operands


def explicit(spec: str) -> str:
    """``spec`` without spaces and with its output written out: numpy's implicit output is the
    letters used once, sorted, after ``'...'`` when there is one.

    Example:
        >>> explicit("ij, jk")
        'ij,jk->ik'
    """
    spec = spec.replace(" ", "")
    if "->" in spec:
        return spec
    letters = spec.replace(",", "").replace(".", "")
    implicit = "".join(sorted(l for l in set(letters) if letters.count(l) == 1))
    return spec + "->" + ("..." if "..." in spec else "") + implicit


def canonical(spec: str, ndims) -> str:
    """The ops' form of ``spec`` for operands of ``ndims`` dimensions: explicit, ``'...'``
    expanded, letters renamed to ``a``, ``b``, ... in order of appearance.

    Example:
        >>> canonical("...j,jk", (3, 2))
        'abc,cd->abd'
    """
    ins, out = parse_spec(explicit(spec))
    if "..." in spec:
        used = set("".join(ins).replace(".", ""))
        free = [l for l in LOWER if l not in used and l != "z"]
        ell_nd = max(nd - (len(s) - 3) for s, nd in zip(ins, ndims) if "..." in s)
        ell = "".join(free[:ell_nd])
        ins = [s.replace("...", ell[len(ell) - (nd - (len(s) - 3)):]) for s, nd in zip(ins, ndims)]
        out = out.replace("...", ell)
    mapping = {}
    pool = iter(LOWER)
    for l in "".join(ins) + out:
        if l not in mapping:
            mapping[l] = next(pool)
    return format_spec(["".join(mapping[c] for c in s) for s in ins],
                       "".join(mapping[c] for c in out))
