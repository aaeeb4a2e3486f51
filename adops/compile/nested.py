"""Nested loops: a fused loop (:mod:`adops.compile.loops`) that reads inputs numpy broadcasts
along one run of axes in place, at their own entries, rather than from a spread of the loop's
size made before it (a pass writing ``n`` entries, and in the sweep one more for the spread
cotangent and one summing it back).

Contract. A group's inputs of kind ``"repeat"`` or ``"tile"`` (:data:`NESTED`, set for whole
programs by :func:`adops.compile.groupstep.nest_broadcasts`) hold ``n // nb`` entries: loop
entry ``i = (jo * nb + jb) * nr + jr`` reads entry ``ib = jo * nr + jr`` (``nr = 1`` for a
repeat). The kernels take ``nb, nr`` after the pad bounds. The one-direction, one-seed and
primal loops run as a nest over ``(jo, jb, jr)`` (:func:`nested_loop`); the paths over flat
blocks of many directions or seeds spread the nested inputs first and sum their cotangents back
(:func:`spread_nested`, :func:`sum_nested`). A nested input's cotangent rows ``c: (m, n // nb)``
come zeroed and get ``rows.sum_blocks``' sums, bit for bit: a repeat's ``nb`` terms by numpy's
pairwise loop (:func:`nested_sums`), a tile's added in the order of ``jb``.
"""
from __future__ import annotations

#: input kinds a loop reads in place though they are numpy broadcasts of fewer entries:
#: ``"repeat"``, each entry repeated ``nb`` times (``(K, d, 1)`` in a ``(K, d, N)`` loop), and
#: ``"tile"``, runs of ``nr`` entries repeated ``nb`` times (``(K, 1, N)``, or a bias ``(m,)``
#: in a ``(batch, m)`` loop)
NESTED = ("repeat", "tile")


def nest_of(g):
    """The kind of the group's nested inputs (one per group: they share ``nb``, ``nr``), or
    None when the loop runs flat."""
    return next((kind for kind in g.kinds if kind in NESTED), None)


NESTED_HEADER = ("from adops.compile.rows import spread_blocks_into, sum_blocks\n"
                 "from adops.compile.sums import numpy_sum\n")


def nested_loop(src, depth, nest):
    """Opens the loop over the ``n`` elements as a nest in which the nested inputs' entry ``ib``
    is a sum of loop counters, not a division (a division per element would cost more than the
    spread it saves). ``"repeat"``: ``i = jo * nb + jb``, ``ib = jo``; ``"tile"``:
    ``i = (jo * nb + jb) * nr + jr``, ``ib = jo * nr + jr``. The innermost loop is contiguous in
    ``i`` (and in ``ib`` for a tile), so it vectorizes. Returns the body's depth; a repeat's
    inner loop is at ``depth + 1`` (where its per-entry lines go after the body)."""
    if nest == "repeat":
        src("for jo in range(n // nb if nb > 0 else 0):", depth)
        src("ib = np.uint64(jo)", depth + 1)
        src("base = ib * NB", depth + 1)
        src("for jb in range(nb):", depth + 1)
        src("i = base + np.uint64(jb)", depth + 2)
        return depth + 2
    src("for jo in range(n // (nb * nr) if nb * nr > 0 else 0):", depth)
    src("O = np.uint64(jo)", depth + 1)
    src("for jb in range(nb):", depth + 1)
    src("base = (O * NB + np.uint64(jb)) * NR", depth + 2)
    src("for jr in range(nr):", depth + 2)
    src("i = base + np.uint64(jr)", depth + 3)
    src("ib = O * NR + np.uint64(jr)", depth + 3)
    return depth + 3


def buffers(g, tangents=(), cotangents=()):
    """The last parameters of a nested loop's jvp (``tangents``: its inputs with tangents) or
    vjp (``cotangents``): arrays of the loop's size from the caller's workspace, for the flat
    paths' spreads (:func:`spread_nested`): ``ax{k}: (n,)`` per nested input, ``ux{k}: (k, n)``
    per nested input with a tangent, ``cx{k}: (m, n)`` per one with a cotangent. The nest never
    touches them (a workspace's pages untouched cost nothing; a fresh array of the loop's size
    per call cost its page faults, 20 ms at GMM d = 64's 51 MB). Each as ``(prefix, k)``,
    named ``{prefix}{k}`` in the kernel."""
    nested = [k for k, kind in enumerate(g.kinds) if kind in NESTED]
    return [("ax", k) for k in nested] + [("ux", k) for k in tangents if k in nested] + \
        [("cx", k) for k in cotangents if k in nested]


def spread_nested(src, g, depth, tangents=()):
    """A path over flat blocks (many directions or seeds) reads the nested inputs from spreads
    of the loop's size, ``ax{k}`` (values) and ``ux{k}`` (tangent rows of ``tangents``), made
    here into the caller's :func:`buffers`; cotangents go to ``cx{k}`` and are summed back by
    :func:`sum_nested` (the caller's rows, as ``rows.sum_blocks`` gives them)."""
    for k, kind in enumerate(g.kinds):
        if kind in NESTED:
            src(f"spread_blocks_into(ax{k}.reshape((1, n)), a{k}.reshape((1, a{k}.shape[0])), "
                "nb, nr)", depth)
    for k in tangents:
        if g.kinds[k] in NESTED:
            src(f"spread_blocks_into(ux{k}, u{k}, nb, nr)", depth)


def sum_nested(src, g, depth, cotangents):
    """After a flat path: the spread cotangents ``cx{k}`` summed into the caller's rows."""
    for k in cotangents:
        if g.kinds[k] in NESTED:
            src(f"c{k}[:, :] = sum_blocks(cx{k}, nb, nr, c{k}.shape[1])", depth)


def nested_cotangent(src, g, k, cins, depth, q, nest):
    """The line writing nested input ``k``'s cotangent ``z{k}`` of seed ``q``: inside the nest,
    a repeat's into ``Y`` (summed per entry after the inner loop, :func:`nested_sums`), a tile's
    added into its entry, in the order ``rows.sum_blocks`` adds (the same bits); on a flat
    path, into its spread ``cx{k}``."""
    if not nest:
        src(f"cx{k}[{q}, i] = z{k}", depth)
    elif g.kinds[k] == "repeat":
        src(f"Y[{repeats(g, cins).index(k)}, jb] = z{k}", depth)
    else:
        src(f"c{k}[{q}, ib] += z{k}", depth)


def repeats(g, cins):
    return [k for k in cins if g.kinds[k] == "repeat"]


def nested_sums(src, g, cins, depth, q):
    """After a repeat's inner loop: each entry's ``nb`` cotangents, kept in ``Y``, summed by
    numpy's loop in order (``rows.sum_blocks``' sum, so the same bits)."""
    for p, k in enumerate(repeats(g, cins)):
        src(f"c{k}[{q}, ib] = numpy_sum(Y[{p}, :nb])", depth)
