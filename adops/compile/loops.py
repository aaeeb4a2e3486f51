"""Fused loops: a run of elementwise ops (a group) as three numba loops of scalar code.

Contract. For a group of the schedule (:mod:`adops.compile.codegen`), :func:`shared_kernels`
writes ``primal(n, a..., o...)``, ``jvp(n, k, a..., u..., o..., to...)`` (tangents of ``k``
directions per element) and ``vjp(n, m, a..., b..., c...)`` (``m`` seeds, adjoints as scalars,
the forward scalars recomputed): the ops' own rule bodies (``RULES[...]``, named by
:func:`rule_key`) and the strong-zero product ``SMUL``, so no formula is written again. ``jvp``
and ``vjp`` each take one of two paths, which are also functions of their own with the same
parameters: ``jvp_one`` (one direction, or any ``k`` when ``n`` is 0) and ``jvp_many`` (any
``k``), likewise ``vjp_one`` and ``vjp_many``; a caller that knows ``k`` may call either.
An input numpy broadcasts along one run of axes may be read in place, its loops then a nest
(kinds ``"repeat"``, ``"tile"``: :mod:`adops.compile.nested`).

The loops of a group are a module of their own (a *kernel*), named by its text
(:func:`kernel_key`), and a program only binds them: ``k0 = KERNELS['<key>']``,
``k0_vjp = k0.kernel_vjp``, ``g0_vjp = k0_vjp``. Identical runs, in one program or in any
number of programs (a ``tanh`` of one array, a chain repeating the same ops), so share one
kernel, compiled once and cached on disk once. The key is in the program's text, so programs
whose loops differ never share a module or numba's cache of it. Lines are written with
:class:`adops.compile.source.Source`, constants with :func:`adops.compile.source.literal`.
"""
from __future__ import annotations

import hashlib
import re

from ..ops.registry import Arg, Marker, Rule
from .nested import (NESTED, NESTED_HEADER, buffers, nest_of, nested_cotangent, nested_loop,
                     nested_sums, repeats, spread_nested, sum_nested)
from .simd import loop_name
from .source import Source, literal


def rule_key(fn):
    return f"{fn.py_func.__module__}:{fn.py_func.__qualname__}"


# ------------------------------------------------------------------------- fused loops
def _scalar_expr(tape, e, j, g, nest=False):
    r = tape.refs[e][j]
    if type(r) is int and r in g.entries:
        return f"s{r}"
    if literal(r, g.dtype) is not None:
        return literal(r, g.dtype)
    key = r if type(r) is int else ("c", e, j)
    return _read(tape, g, g.inputs.index(key), "a", nest=nest)


def padded(g):
    """The inputs of ``g`` read as zeros but for a run ``l{k} .. h{k}`` of the loop's entries
    (a slice's transpose the loop absorbed): their bounds follow the inputs in every kernel's
    parameters."""
    return [k for k, kind in enumerate(g.kinds) if kind == "pad"]


def _read(tape, g, k, name, row="", nest=False):
    """Entry ``i`` of input ``k`` (its values ``a``, or with ``row="q, "`` its tangent rows
    ``u``, read at offset ``f{k}`` within wider rows when ``k`` is in ``g.offsets``) as the loop
    reads it. A nested input is read at its own entry ``ib`` inside the nest (``nest``), else
    from its spread ``{name}x{k}`` (:func:`adops.compile.nested.spread_nested`)."""
    kind = g.kinds[k]
    at = f" + F{k}" if row and k in g.offsets else ""
    if kind in NESTED:
        return f"{name}{k}[{row}ib]" if nest else f"{name}x{k}[{row}i]"
    if kind == "one":
        return f"{name}{k}[{row}0{at}]"
    if kind == "pad":  # LLVM still vectorizes the loop (masked loads): as fast as a plain read
        key = g.inputs[k]
        zero = "np.float32(0.0)" if str(tape.dtypes[key]) == "float32" else "0.0"
        return f"({name}{k}[{row}i - L{k}{at}] if i >= L{k} and i < H{k} else {zero})"
    return f"{name}{k}[{row}i{at}]"


# Loop indices are unsigned: numba wraps a negative signed index around (``x[i]`` reads
# ``x[i + len(x)]`` for ``i < 0``), and unless LLVM proves ``i >= 0`` that test stays in the
# loop and the loop is not vectorized. It proves it for ``range(n)`` but not for ``range(i0, i1)``
# or ``i0 + j`` (a block's elements): a blocked loop of adds ran 4.7x slower than ``range(n)``.
def _element_loop(src, depth):
    """Opens ``for`` over the loop's ``n`` elements, ``i`` unsigned (body at ``depth + 1``)."""
    src("for j in range(n):", depth)
    src("i = np.uint64(j)", depth + 1)


def _loop(src, depth, nest):
    """Opens the loop over the elements, nested or flat; returns the body's depth."""
    if nest:
        return nested_loop(src, depth, nest)
    _element_loop(src, depth)
    return depth + 1


def _blocks(src, depth):
    """Opens ``for`` over blocks ``[i0, i1)`` of :data:`BLOCK` elements (body at ``depth + 1``)."""
    src(f"for i0 in range(0, n, {BLOCK}):", depth)
    src(f"i1 = min(i0 + {BLOCK}, n)", depth + 1)
    src("I0 = np.uint64(i0)", depth + 1)


def _block_loop(src, depth):
    """Opens ``for`` over a block's elements: ``j`` within the block, ``i`` unsigned in all."""
    src("for j in range(i1 - i0):", depth)
    src("i = I0 + np.uint64(j)", depth + 1)


def _unsigned_bounds(src, g, offsets=False, into=False):
    """A kernel's first lines: the pad bounds (and the tangent offsets, or the offsets of the
    cotangents added into wider rows) as unsigned, as ``i`` is."""
    for k in padded(g):
        src(f"L{k}, H{k} = np.uint64(l{k}), np.uint64(h{k})", 1)
    if nest_of(g):
        src("NB, NR = np.uint64(nb), np.uint64(nr)", 1)
    for k in (g.offsets if offsets else ()):
        src(f"F{k} = np.uint64(f{k})", 1)
    for k in (sorted(g.into) if into else ()):
        src(f"E{k} = np.uint64(e{k})", 1)


def _forward_body(src, tape, g, rules, depth, partials, rows=None, entries=None, nest=False):
    """Scalars ``s{e}`` (values) and ``d{e}_{j}`` (partials) of every op of the group (or of
    ``entries``); with ``rows`` (a group with vector ops) the values are read from ``S``;
    ``nest``: inside :func:`adops.compile.nested.nested_loop`."""
    for e in g.entries if entries is None else entries:
        op = tape.ops[e]
        xs = [_scalar_expr(tape, e, j, g, nest) for j in range(len(tape.refs[e]))]
        if rows is not None:
            src(f"s{e} = S[{rows[e]}, j]", depth)
        else:
            src(f"s{e} = {rules[rule_key(op.primal)]}({', '.join(xs)})", depth)
        if not partials:
            continue
        for j, p in enumerate(op.partials):
            if isinstance(p, Rule):
                src(f"d{e}_{j} = {rules[rule_key(p.kernel)]}({', '.join(xs + [f's{e}'])})",
                    depth)
            elif isinstance(p, Arg):
                scale = f"np.float32({p.scale!r})" if g.dtype == "float32" else repr(p.scale)
                src(f"d{e}_{j} = {scale} * {xs[p.index]}", depth)


def _apply(p, e, j, t):
    """``smul(d, t)`` for partial ``p`` of entry ``e``, input ``j``, as scalar code."""
    if isinstance(p, Marker):
        if p.refuses:  # a tangent reaches an input that is not differentiable: its own error
            p.apply(None)
            raise TypeError(f"{p.text}: a tangent reached an input that is not differentiable")
        return t if p.name == "ONE" else f"(-{t})"
    return f"SMUL(d{e}_{j}, {t})"


_LOCAL = re.compile(r"\b(s|w|o|to|b)(\d+)\b")
_LOCAL_D = re.compile(r"\bd(\d+)_(\d+)\b")

#: the functions of a kernel module, ``kernel_<name>``: the primal loop, the jvp and vjp that
#: pick their path by the number of directions or seeds, and the two paths of each
KERNEL_FUNCTIONS = ("primal", "jvp", "vjp", "jvp_one", "jvp_many", "vjp_one", "vjp_many")

#: the first lines of every kernel module (its loops name the rules ``_s<j>`` below these)
KERNEL_HEADER = ("import numpy as np\n"
                 "from numba import njit\n"
                 "from adops.compile.runtime import SMUL, scalar\n")
VECTOR_HEADER = "from adops.compile.simd import vapply\n"


def vector_entries(tape, g) -> dict:
    """The group's entries evaluated by numpy's own loop (:mod:`adops.compile.simd`), entry ->
    loop name: unary ops whose values come from a numpy ufunc (``op.evaluate``, as in the eager
    tier) that is faster than a numba loop of scalar calls for the group's dtype, on a traced
    value read elementwise (every entry of a group has its dtype: :func:`codegen.schedule`)."""
    found = {}
    for e in g.entries:
        refs = tape.refs[e]
        name = loop_name(getattr(tape.ops[e], "evaluate", None), g.dtype)
        if name is None or len(refs) != 1 or type(refs[0]) is not int:
            continue
        r = refs[0]
        if r in g.entries or (str(tape.dtypes[r]) == g.dtype and
                              g.kinds[g.inputs.index(r)] not in ("one", "pad")):
            found[e] = name
    return found


def _vector_stages(src, tape, g, rules, vector, depth):
    """Inside a block ``[i0, i1)``: every entry's value into its row of ``S: (E, BLOCK)``, the
    vector entries by one numpy loop over the block each, the others by element loops between
    them. Returns the rows, for :func:`_forward_body` to read the values back."""
    rows = {e: j for j, e in enumerate(g.entries)}
    stage = []

    def element_loop():
        if not stage:
            return
        _block_loop(src, depth)
        here = set(stage)
        for r in sorted({r for e in stage for r in tape.refs[e]
                         if type(r) is int and r in rows and r not in here}, key=rows.get):
            src(f"s{r} = S[{rows[r]}, j]", depth + 1)
        _forward_body(src, tape, g, rules, depth + 1, partials=False, entries=stage)
        for e in stage:
            src(f"S[{rows[e]}, j] = s{e}", depth + 1)
        stage.clear()

    for e in g.entries:
        if e not in vector:
            stage.append(e)
            continue
        element_loop()
        r = tape.refs[e][0]
        x = f"S[{rows[r]}, :i1 - i0]" if r in rows else f"a{g.inputs.index(r)}[i0:i1]"
        src(f"vapply({vector[e]!r}, {x}, S[{rows[e]}, :i1 - i0], i1 - i0)", depth)
    element_loop()
    return rows


def kernel_key(text: str) -> str:
    """The name of a kernel module's text in a program's ``KERNELS`` table.

    >>> kernel_key("x = 1") == kernel_key("x = 1") != kernel_key("x = 2")
    True
    """
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def group_rules(tape, g):
    """The scalar functions one group calls, by key ``module:qualname``, named ``_s<j>`` in the
    order the group first calls them."""
    names = {}
    for e in g.entries:
        op = tape.ops[e]
        for fn in [op.primal] + [p.kernel for p in op.partials if isinstance(p, Rule)]:
            names.setdefault(rule_key(fn), f"_s{len(names)}")
    return names


def shared_kernels(src, tape, g, gi, depends, kernels):
    """A group's three loops as a kernel module's text, added to ``kernels`` (key -> text, the
    program's table) unless an identical run put it there, and the lines binding them to the
    group's names ``g<gi>_primal`` etc. Variables are named by position in the group, so that
    identical runs give the same text."""
    rules = group_rules(tape, g)
    own = Source()
    vector = vector_entries(tape, g)
    _group_kernels(own, tape, g, "KERNEL", rules, depends, vector)
    local = {str(e): str(i) for i, e in enumerate(g.entries)}
    text = _LOCAL.sub(lambda m: m.group(1) + local.get(m.group(2), m.group(2)), own.text())
    text = _LOCAL_D.sub(lambda m: f"d{local.get(m.group(1), m.group(1))}_{m.group(2)}", text)
    text = KERNEL_HEADER + (VECTOR_HEADER if vector else "") + \
        (NESTED_HEADER if nest_of(g) else "") + "".join(f"{name} = scalar(RULES[{kernel!r}])\n"
                                   for kernel, name in rules.items()) + \
        "\n" + text.replace("gKERNEL_", "kernel_")
    key = kernel_key(text)
    fresh = key not in kernels
    kernels[key] = text
    name = f"k{list(kernels).index(key)}"
    if fresh:  # module-level names of the kernel's functions, which the segments resolve
        src(f"{name} = KERNELS[{key!r}]")  # the group's names to (:mod:`.segments`)
        for kind in KERNEL_FUNCTIONS:
            src(f"{name}_{kind} = {name}.kernel_{kind}")
    src(f"# loop g{gi} runs {name}: " + ", ".join(
        f"s{i} = #{e} {tape.ops[e].name}" for i, e in enumerate(g.entries)))
    for kind in KERNEL_FUNCTIONS:
        src(f"g{gi}_{kind} = {name}_{kind}")
    src("")


def _group_kernels(src, tape, g, gi, rules, depends, vector):
    nest = nest_of(g)
    assert not (nest and (vector or g.into)), "a nested loop has no vector entries or runs"
    ins = [f"a{k}" for k in range(len(g.inputs))] + [f"{c}{k}" for k in padded(g) for c in "lh"] + \
        (["nb", "nr"] if nest else [])
    outs = [f"o{e}" for e in g.outputs]
    # primal
    src("@njit(cache=True, error_model='numpy')")
    src(f"def g{gi}_primal(n, {', '.join(ins + outs)}):")
    _unsigned_bounds(src, g)
    if vector:  # by blocks: numpy's loops fill the vector entries' rows of S
        src(f"S = np.empty(({len(g.entries)}, {BLOCK}), dtype=np.{g.dtype})", 1)
        _blocks(src, 1)
        rows = _vector_stages(src, tape, g, rules, vector, 2)
        _block_loop(src, 2)
        src("pass", 3)
        for e in g.outputs:
            src(f"o{e}[i] = S[{rows[e]}, j]", 3)
    else:
        d = _loop(src, 1, nest)
        _forward_body(src, tape, g, rules, d, partials=False, nest=bool(nest))
        for e in g.outputs:
            src(f"o{e}[i] = s{e}", d)
    src("")
    # jvp: tangents of the external inputs that carry one
    tin = [k for k, key in enumerate(g.inputs) if type(key) is int and key in depends]
    touts = [e for e in g.outputs if e in depends]
    parts = _partial_names(tape, g)
    offs = [f"f{k}" for k in g.offsets]
    params = ", ".join(ins + [f"u{k}" for k in tin] + offs + outs + [f"to{e}" for e in touts] +
                       [f"{c}{k}" for c, k in buffers(g, tangents=tin)])

    # per block of BLOCK elements: the values and partials, stored in a small buffer, then one
    # contiguous loop per direction over the block (a direction loop inside the element loop
    # strides across rows of length n; partials stored for all n cost a fresh (P, n) array and a
    # pass over it). One code path for every k > 1, so one body to compile; one direction (an
    # hvp, a jvp) gets one loop with values, partials and tangents in registers, which
    # vectorizes, as one seed does in the vjp below (Rosenbrock's hvp: 6.6 ms -> 0.6 ms).
    def jvp_one(d):
        src("q = 0", d)
        bd = _loop(src, d, nest)
        _forward_body(src, tape, g, rules, bd, partials=bool(touts), nest=bool(nest))
        for e in g.outputs:
            src(f"o{e}[i] = s{e}", bd)
        if touts:
            _tangent_body(src, tape, g, depends, touts, bd, nest=bool(nest))

    def jvp_many(d):
        spread_nested(src, g, d, tangents=tin)
        _stored_partials(src, tape, g, rules, parts, d, vector=vector)
        if touts:
            src("for q in range(k):", d + 1)
            _block_loop(src, d + 2)
            _load_partials(src, parts, d + 3)
            _tangent_body(src, tape, g, depends, touts, d + 3)

    _paths(src, gi, "jvp", "k", params, vector, jvp_one, jvp_many,
           lambda: _unsigned_bounds(src, g, offsets=True))
    # vjp: seeds of the needed outputs in, cotangents of the inputs that need one out
    bouts = [e for e in g.outputs if e in depends]
    cins = [k for k in tin]
    into = [f"e{k}" for k in sorted(g.into)]
    params = ", ".join(ins + [f"b{e}" for e in bouts] + [f"c{k}" for k in cins] + into +
                       [f"{c}{k}" for c, k in buffers(g, cotangents=cins)])

    # one seed (a gradient) gets its own loop with no inner loop over seeds, which vectorizes;
    # with vector entries every m goes by blocks (their values come a block at a time)
    # cotangents added into wider rows (g.into) go through a block buffer Z first and are then
    # added by one loop per input: two runs of one array (x[1:], x[:-1]) added into its rows
    # straight from the element loop would make each element wait for the previous one's
    # store, and the loop would not vectorize
    def vjp_one(d):
        if g.into:
            src(f"Z = np.empty(({len(g.into)}, {BLOCK}), dtype=np.{g.dtype})", d)
            src("for q in range(m):", d)
            _blocks(src, d + 1)
            _block_loop(src, d + 2)
            _forward_body(src, tape, g, rules, d + 3, partials=True)
            _adjoint_body(src, tape, g, depends, bouts, cins, d + 3, "q")
            _add_into(src, g, d + 2)
        else:
            if repeats(g, cins):
                src(f"Y = np.empty(({len(repeats(g, cins))}, nb), dtype=np.{g.dtype})", d)
            src("for q in range(m):", d)
            bd = _loop(src, d + 1, nest)
            _forward_body(src, tape, g, rules, bd, partials=True, nest=bool(nest))
            _adjoint_body(src, tape, g, depends, bouts, cins, bd, "q", nest=bool(nest))
            if nest == "repeat":  # after the inner loop over an entry's repeats
                nested_sums(src, g, cins, d + 2, "q")

    def vjp_many(d):
        if g.into:
            src(f"Z = np.empty(({len(g.into)}, {BLOCK}), dtype=np.{g.dtype})", d)
        spread_nested(src, g, d)
        _stored_partials(src, tape, g, rules, parts, d, values=False, vector=vector)
        src("for q in range(m):", d + 1)
        _block_loop(src, d + 2)
        _load_partials(src, parts, d + 3)
        _adjoint_body(src, tape, g, depends, bouts, cins, d + 3, "q")
        _add_into(src, g, d + 2)
        sum_nested(src, g, d, cins)

    _paths(src, gi, "vjp", "m", params, vector, vjp_one, vjp_many,
           lambda: _unsigned_bounds(src, g, into=True))


def _paths(src, gi, kind, count, params, vector, one, many, bounds):
    """``g{gi}_{kind}``: the path for one direction (or seed; also right for any ``count`` when
    the loop is empty) when ``count`` is 1 or ``n`` is 0, else the path for many, as one
    function (for the whole programs' entries, which know ``count`` at run time only); and each
    path as a function of its own, ``{kind}_one`` and ``{kind}_many``, for the Python driver,
    which picks one by ``count``: numba compiles a function at its first call, so the driver
    compiles only the path it runs. (The entries call the two-path function, or ``vjp_one``
    for a program of one output number: calling the two paths from a third function cost 17%
    more compile time in a scratch run of two test files.) A group with vector entries has the
    path for many only; ``bounds()`` writes a function's first lines."""
    def function(name, body):
        src("@njit(cache=True, error_model='numpy')")
        src(f"def g{gi}_{name}(n, {count}, {params}):")
        bounds()
        body()
        src("")

    if vector:
        function(kind, lambda: many(1))
        src(f"g{gi}_{kind}_one = g{gi}_{kind}_many = g{gi}_{kind}")
        src("")
        return

    def both():
        src(f"if {count} == 1 or n == 0:", 1)
        one(2)
        src("else:", 1)
        many(2)

    function(kind, both)
    function(f"{kind}_one", lambda: one(1))
    function(f"{kind}_many", lambda: many(1))


def _add_into(src, g, depth):
    """After a block's element loop: each input's cotangents of the block, kept in ``Z``, added
    into the wider rows at the input's offset (:attr:`Group.into`)."""
    for p, k in enumerate(sorted(g.into)):
        src("for j in range(i1 - i0):", depth)
        src(f"c{k}[q, E{k} + I0 + np.uint64(j)] += Z[{p}, j]", depth + 1)


def _partial_names(tape, g):
    """The partials of the group held in variables (``d{e}_{j}``: rules and scaled arguments)."""
    return [f"d{e}_{j}" for e in g.entries
            for j, p in enumerate(tape.ops[e].partials) if isinstance(p, (Rule, Arg))]


#: elements per block of stored partials: ``D: (P, BLOCK)`` stays in the first cache levels
BLOCK = 512


def _stored_partials(src, tape, g, rules, parts, depth, values=True, vector=None):
    """Opens the loop over blocks ``[i0, i1)`` of ``BLOCK`` elements (its body at ``depth + 1``),
    with one element loop computing the values and storing every partial in ``D: (P, BLOCK)``
    (the values of a group with ``vector`` entries come from :func:`_vector_stages` first)."""
    src(f"D = np.empty(({len(parts)}, {BLOCK}), dtype=np.{g.dtype})", depth)
    if vector:
        src(f"S = np.empty(({len(g.entries)}, {BLOCK}), dtype=np.{g.dtype})", depth)
    _blocks(src, depth)
    rows = _vector_stages(src, tape, g, rules, vector, depth + 1) if vector else None
    _block_loop(src, depth + 1)
    _forward_body(src, tape, g, rules, depth + 2, partials=True, rows=rows)
    if values:
        for e in g.outputs:
            src(f"o{e}[i] = s{e}", depth + 2)
    for p, name in enumerate(parts):
        src(f"D[{p}, j] = {name}", depth + 2)


def _load_partials(src, parts, depth):
    for p, name in enumerate(parts):
        src(f"{name} = D[{p}, j]", depth)


def _tangent_body(src, tape, g, depends, touts, depth, nest=False):
    """Tangents of direction ``q`` through the group, as scalars, from the partials."""
    src("pass", depth)
    for e in g.entries:
        if e not in depends:
            continue
        terms = []
        for j, (r, p) in enumerate(zip(tape.refs[e], tape.ops[e].partials)):
            if p is None or type(r) is not int or r not in depends:
                continue
            if r in g.entries:
                t = f"w{r}"
            else:
                t = _read(tape, g, g.inputs.index(r), "u", "q, ", nest)
            terms.append(_apply(p, e, j, t))
        src(f"w{e} = {' + '.join(terms) if terms else '0.0'}", depth)
    for e in touts:
        src(f"to{e}[q, i] = w{e}", depth)


def _adjoint_body(src, tape, g, depends, bouts, cins, depth, q, nest=False):
    """Adjoints of one seed ``q`` through the group, in reverse, as scalars. A nested input's
    cotangent: :func:`adops.compile.nested.nested_cotangent`."""
    src("pass", depth)
    for e in g.entries:
        if e in depends:
            seed = f"b{e}[{q}, {'0' if e in g.column_seeds else 'i'}]"
            src(f"w{e} = {seed if e in bouts else '0.0'}", depth)
    for k in cins:
        src(f"z{k} = 0.0", depth)
    for e in reversed(g.entries):
        if e not in depends:
            continue
        for j, (r, p) in enumerate(zip(tape.refs[e], tape.ops[e].partials)):
            if p is None or type(r) is not int or r not in depends:
                continue
            term = _apply(p, e, j, f"w{e}")
            if r in g.entries:
                src(f"w{r} = w{r} + {term}", depth)
            else:
                src(f"z{g.inputs.index(r)} = z{g.inputs.index(r)} + {term}", depth)
    for k in cins:
        if g.kinds[k] in NESTED:
            nested_cotangent(src, g, k, cins, depth, q, nest)
        elif g.kinds[k] == "one":
            src(f"c{k}[{q}, 0] += z{k}", depth)
        elif k in g.into:  # added into the rows of the entry it is a run of (:func:`_add_into`)
            src(f"Z[{sorted(g.into).index(k)}, j] = z{k}", depth)
        elif g.kinds[k] == "pad":  # rows of the source's entries only, each written once
            src(f"if i >= L{k} and i < H{k}:", depth)
            src(f"c{k}[{q}, i - L{k}] = z{k}", depth + 1)
        else:  # each (q, i) written once: no zero-fill needed
            src(f"c{k}[{q}, i] = z{k}", depth)
