"""The layout: the layers declared once here, checked on every project module's imports; the
documented import paths; ``pytest FILE``; the wheel; the compiled tier's cache version.

The layers, lowest first. A module may import from its own component or a lower layer; the
components of one layer never import each other (compile and sparsity, the two modes).
"""
import ast
import os
import pathlib
import re
import subprocess
import sys
import venv

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("adops", "dualad", "revad", "compare")

#: Layers, lowest first; each a tuple of independent components (module-name prefixes).
LAYERS = [
    ("adops.core",),              # levels, floating-point state, the generic kernels
    ("adops.ops",),               # the op set: registry, kinds, op tables
    ("adops.numpy_api",),         # numpy's API on traced arrays: dispatch, routes, handlers
    ("adops.program",),           # the recorded program, inputs, transform drivers
    ("adops.compile", "adops.sparsity"),  # the compiled tier; sparsity and colouring
    ("adops",),                   # the package front (adops/__init__.py)
    ("dualad", "revad"),          # the two modes
    ("compare",),                 # the comparison, the one package that knows both modes
]
#: Imports across or up the layers that are allowed: forward-over-reverse is where the modes meet.
ALLOWED = {("revad.forward_over_reverse", "dualad")}
#: Import cycles known and left to another change: drop an entry once that cycle is gone
#: (test_pending_cycles_still_exist says so). None today.
PENDING_CYCLES: set = set()

#: Modules over the 500-line limit, left to the change that owns them (codegen: the
#: whole-program tier, issue 19; a table module may be longer, none is here): drop an entry once
#: the module is split.
PENDING_SIZE: set = set()
MAX_LINES = 500


# ------------------------------------------------------------------------------- the checker
def modules_of(root: pathlib.Path, packages) -> dict:
    """Module name -> source file, for every module of ``packages`` under ``root``."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


def imports_of(root: pathlib.Path, packages) -> dict:
    """Module -> {(imported project module, private names taken from it)} for every import,
    those inside functions included. ``from p import m`` counts as importing the module ``p.m``
    when ``m`` is one; a name that resolves to no module file is reported as ``?name``."""
    mods = modules_of(root, packages)
    graph = {}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [(a.name, []) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module
                targets = []
                for a in node.names:
                    if f"{mod}.{a.name}" in mods:
                        targets.append((f"{mod}.{a.name}", []))
                    else:
                        private = a.name.startswith("_") and not a.name.endswith("__")
                        targets.append((mod, [a.name] if private else []))
            else:
                continue
            for target, private in targets:
                if target.split(".")[0] not in packages:
                    continue
                key = target if target in mods else "?" + target
                deps.setdefault(key, []).extend(private)
        graph[name] = deps
    return graph


def layer_of(module: str, layers) -> tuple:
    """(rank, component) of ``module``: the longest declared prefix it falls under."""
    best = None
    for rank, comps in enumerate(layers):
        for comp in comps:
            if module == comp or module.startswith(comp + "."):
                if best is None or len(comp) > len(best[1]):
                    best = (rank, comp)
    return best


def cycles(graph) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop(); on.discard(w); comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def violations(graph, layers, allowed=frozenset()) -> list:
    """Imports that go up the layers, across components of one layer, or to a missing module,
    and private names imported from another module."""
    out = []
    for src, deps in sorted(graph.items()):
        s = layer_of(src, layers)
        for dst, private in sorted(deps.items()):
            if dst.startswith("?"):
                out.append(f"{src} imports {dst[1:]}, which is no module of the project")
                continue
            if private and dst != src:
                out.append(f"{src} imports private {', '.join(sorted(set(private)))} from {dst}")
            if any(src.startswith(a) and (dst == b or dst.startswith(b + "."))
                   for a, b in allowed):
                continue
            d = layer_of(dst, layers)
            if s is None or d is None:
                out.append(f"{src} -> {dst}: a module outside the declared layers")
            elif d[0] > s[0]:
                out.append(f"{src} ({s[1]}) imports {dst} from the higher layer {d[1]}")
            elif d[0] == s[0] and d[1] != s[1]:
                out.append(f"{src} ({s[1]}) imports {dst} from the independent {d[1]}")
    return out


# --------------------------------------------------------------------------- the checks
@pytest.fixture(scope="module")
def graph():
    return imports_of(ROOT, PACKAGES)


def test_no_import_cycles(graph):
    found = [c for c in cycles(graph) if c not in PENDING_CYCLES]
    assert not found, [sorted(c) for c in found]


def test_pending_cycles_still_exist(graph):
    gone = PENDING_CYCLES - set(cycles(graph))
    assert not gone, f"these cycles are gone; remove them from PENDING_CYCLES: {gone}"


def test_imports_follow_the_layers(graph):
    assert [m for m in graph if layer_of(m, LAYERS) is None] == []
    assert violations(graph, LAYERS, ALLOWED) == []


def test_module_sizes():
    sizes = {m: len(p.read_text().splitlines()) for m, p in modules_of(ROOT, PACKAGES).items()}
    assert {m for m, n in sizes.items() if n > MAX_LINES} <= PENDING_SIZE
    assert all(sizes[m] > MAX_LINES for m in PENDING_SIZE), "split: drop it from PENDING_SIZE"


def test_adops_imports_no_mode(graph):
    for src, deps in graph.items():
        if src.split(".")[0] == "adops":
            assert not [d for d in deps if d.split(".")[0] in ("dualad", "revad", "compare")], src


def test_checker_catches_a_planted_cycle_and_upward_import(tmp_path):
    files = {
        "low/__init__.py": "",
        "low/a.py": "from . import b\n\ndef f():\n    from high.c import g\n",
        "low/b.py": "from .a import f\nfrom .a import _hidden\n",
        "high/__init__.py": "",
        "high/c.py": "import low\n",  # downward: fine
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    g = imports_of(tmp_path, ("low", "high"))
    assert cycles(g) == [frozenset({"low.a", "low.b"})]
    found = violations(g, [("low",), ("high",)])
    assert "low.a (low) imports high.c from the higher layer high" in found
    assert "low.b imports private _hidden from low.a" in found
    assert violations(g, [("low",), ("high",)], {("low.a", "high")}) == \
        ["low.b imports private _hidden from low.a"]


# ------------------------------------------------------------------- documented import paths
MODULE_PATHS = [
    "adops", "adops.compile", "adops.special", "adops.sparse", "adops.sparsity",
    "adops.kernels", "adops.registry", "adops.elementwise", "adops.linear", "adops.levels",
    "adops.inputs", "adops.transform", "adops.program", "adops.fpstate", "adops.numpy_api",
    "adops.docs", "adops.core", "adops.ops", "adops.sparsity.pattern", "adops.sparsity.colouring",
]
NAME_PATHS = [
    "adops.defop", "adops.deflinear", "adops.defbilinear", "adops.defreduce", "adops.defrule",
    "adops.OPS", "adops.bind", "adops.call", "adops.select", "adops.strong_mul", "adops.smul",
    "adops.Traced", "adops.unbroadcast", "adops.unregister", "adops.supported_functions",
    "adops.supported_table", "adops.Level", "adops.LeakedTracer", "adops.ElementwiseOp",
    "adops.LinearOp", "adops.RuleOp", "adops.special.logsumexp", "adops.special.softmax",
    "adops.compile.tier", "adops.compile.compiled", "adops.compile.cache_dir",
    "adops.sparse.sparse_jacobian", "adops.sparse.colour", "adops.sparsity.detect",
    "adops.sparsity.Pattern", "adops.registry.strong_mul", "adops.registry.quiet",
    "adops.kernels.select", "adops.kernels.LazyKernel", "adops.linear.contract",
    "adops.inputs.auto_chunk", "adops.inputs.identity_chunks", "adops.transform.by_chunks",
    "adops.levels.Level", "adops.numpy_api.astype_values", "adops.elementwise.KINKS",
    "adops.program.Tape", "adops.program.Recorded", "adops.program.Trace", "revad.Var",
    "revad.Tape",
]


def resolve(path: str):
    """Import the longest module prefix of a dotted ``path``, then take the rest as attributes."""
    import importlib
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def in_tree(module) -> bool:
    """Whether ``module`` is this checkout's file (an editable install elsewhere would serve a
    module missing here from its own tree)."""
    return pathlib.Path(module.__file__).resolve().is_relative_to(ROOT)


@pytest.mark.parametrize("path", MODULE_PATHS)
def test_documented_module_paths(path):
    import importlib
    assert in_tree(importlib.import_module(path)), path


@pytest.mark.parametrize("path", NAME_PATHS)
def test_documented_names(path):
    import inspect
    obj = resolve(path)
    module = inspect.getmodule(obj)
    assert module is None or not module.__name__.startswith(PACKAGES) or in_tree(module), path


def test_every_adops_path_in_docs_and_callers_resolves():
    """Every dotted adops path written in the README, docs, examples, benchmarks and the packages'
    and tests' code resolves (a module, then attributes)."""
    sources = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("examples/*.py"),
               *ROOT.glob("benchmarks/*.py"), *ROOT.glob("tests/*.py")]
    for pkg in ("compare", "dualad", "revad"):
        sources += (ROOT / pkg).rglob("*.py")
    pattern = re.compile(r"(?<![\w/.])adops(?:\.[A-Za-z_]\w*)+")
    bad = []
    for src in sources:
        for path in set(pattern.findall(src.read_text())):
            path = re.sub(r"\.(py|md)$", "", path)
            if path in ("adops",):
                continue
            try:
                resolve(path)
            except (ImportError, AttributeError) as e:
                bad.append(f"{src.relative_to(ROOT)}: {path} ({e})")
    assert not bad, bad


def test_python_m_adops_docs_still_runs(tmp_path):
    """``python -m adops.docs`` (the README's command) runs the generator by its old path."""
    out = subprocess.run([sys.executable, "-c", "import importlib.util; "
                          "print(importlib.util.find_spec('adops.docs').origin)"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert pathlib.Path(out.stdout.strip()).resolve() == ROOT / "adops" / "docs.py"


# ------------------------------------------------------------------------------- pytest FILE
def test_pytest_file_runs_that_file_only():
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "tests/test_errors.py"],
                         cwd=ROOT, capture_output=True, text=True)
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert ids and all(line.startswith("tests/test_errors.py::") for line in ids), out.stdout[-2000:]


def test_pytest_alone_runs_the_tests_and_every_package_doctests():
    """``pytest`` with no arguments (what .ci/run runs) still collects the tests and the doctests
    of every package."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True)
    roots = {line.split("/")[0] for line in out.stdout.splitlines() if "::" in line}
    assert {"tests", *PACKAGES} <= roots, out.stdout[-2000:]


# ---------------------------------------------------------------------------------- the wheel
@pytest.mark.slow
def test_wheel_installs_every_subpackage(tmp_path):
    """A wheel built from the tree holds every subpackage: installed into a fresh venv, each
    imports from the wheel (not from this tree, nor from an editable install elsewhere)."""
    import shutil
    import setuptools
    if tuple(map(int, setuptools.__version__.split(".")[:2])) < (70, 1):
        pytest.importorskip("wheel", reason="setuptools < 70.1 builds wheels with the wheel package")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(src)], check=True, env=env, cwd=tmp_path)
    (wheel,) = wheels.glob("*.whl")
    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=False)
    py = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "-q",
                    str(wheel)], check=True, env=env, cwd=tmp_path)
    subpackages = sorted(m for m, p in modules_of(ROOT, PACKAGES).items()
                         if p.name == "__init__.py")
    code = (f"import importlib, sys\nfor m in {subpackages!r}:\n    importlib.import_module(m)\n"
            "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items()\n"
            f"      if n.split('.')[0] in {PACKAGES!r})))")
    out = subprocess.run([py, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True)
    files = out.stdout.split()
    venv_dir = str((tmp_path / "venv").resolve())
    assert files and all(str(pathlib.Path(f).resolve()).startswith(venv_dir) for f in files), \
        [f for f in files if not f.startswith(venv_dir)]
    assert len(subpackages) >= 8


# ------------------------------------------------------------------- compiled tier's cache
def test_cache_version_hashes_every_rule_body_module(monkeypatch):
    """The compiled tier's cache names hash the module of every registered elementwise op's
    primal and partial bodies, and of ``strong_mul`` and ``select``, wherever they live."""
    import inspect
    import adops
    import adops.compile.cache as tier
    opened = []
    real = open

    def recording_open(path, *args, **kwargs):
        opened.append(os.path.realpath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tier, "open", recording_open, raising=False)
    tier.source_version()
    want = {inspect.getsourcefile(adops.strong_mul), inspect.getsourcefile(adops.select)}
    for op in adops.OPS.values():
        if isinstance(op, adops.ElementwiseOp):
            for fn in (op.primal, *(p.body for p in op.partials
                                    if isinstance(p, adops.registry.Rule))):
                try:
                    want.add(inspect.getsourcefile(getattr(fn, "py_func", fn)))
                except TypeError:  # a compiled ufunc (scipy's) has no Python source
                    pass
    want = {os.path.realpath(f) for f in want if f}
    assert want <= set(opened), want - set(opened)
