"""The CLI's doors: one line on stderr (no traceback) and a nonzero exit code for every user error
and for Ctrl-C; the rule that tells a problem factory from a plain f(x); BLAS threads fixed while
timing."""
import itertools
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from compare.cli import CliError, load_problem, main

ROOT = os.path.join(os.path.dirname(__file__), "..")
_names = itertools.count()


@pytest.fixture
def module(tmp_path, monkeypatch):
    """module(source) -> the name of a fresh importable module holding ``source``."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source):
        name = f"cli_user_mod_{os.getpid()}_{next(_names)}"
        (tmp_path / f"{name}.py").write_text(source)
        return name
    return make


def one_line_error(capsys, code, *needles):
    err = capsys.readouterr().err
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


# ------------------------------------------------------------------------------ --out and plot
def test_out_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "notes.md"
    path.write_text("hello")
    code = main(["--problem", "dense", "--n", "2", "--out", str(path), "--no-progress"])
    one_line_error(capsys, code, "is a file, not a folder", "give a folder")
    assert path.read_text() == "hello"


def test_out_that_cannot_be_created(capsys):
    code = main(["--problem", "dense", "--n", "2", "--out", "/proc/x/y", "--no-progress"])
    one_line_error(capsys, code, "/proc/x/y", "cannot write into this folder")


@pytest.mark.parametrize("sub", [["vanishing"], ["graph", "numpy:sin", "--x", "1"]])
def test_subcommand_out_that_is_a_file(sub, tmp_path, capsys):
    path = tmp_path / "f.txt"
    path.write_text("x")
    one_line_error(capsys, main(sub + ["--out", str(path)]), "is a file, not a folder")


def test_plot_given_a_folder(tmp_path, capsys):
    one_line_error(capsys, main(["plot", str(tmp_path)]), "is a folder, not a CSV")
    (tmp_path / "results.csv").write_text("problem\n")
    one_line_error(capsys, main(["plot", str(tmp_path)]),
                   "is a folder", str(tmp_path / "results.csv"))


def test_plot_given_a_missing_file_or_not_a_csv(tmp_path, capsys):
    one_line_error(capsys, main(["plot", str(tmp_path / "nope.csv")]), "no such file")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    one_line_error(capsys, main(["plot", str(bad)]), "not a results.csv")


# ------------------------------------------------------------------------------ module loading
WHERE = [["--problem", "{spec}", "--n", "2", "--no-progress"], ["recommend", "{spec}"],
         ["graph", "{spec}", "--x", "1"]]


def _argv(where, spec, tmp_path):
    argv = [a.format(spec=spec) for a in where]
    return argv + (["--out", str(tmp_path / "out")] if where[0] != "recommend" else [])


@pytest.mark.parametrize("where", WHERE, ids=["--problem", "recommend", "graph"])
@pytest.mark.parametrize("source,needles", [
    ("raise RuntimeError('broken at import')\n", ["raised RuntimeError: broken at import"]),
    ("def f(x:\n", ["syntax error in", "line 1", "fix the module"]),
    ("import sys\nsys.exit(3)\n", ["raised SystemExit"]),
    ("import no_such_dependency_xyz\n", ["no_such_dependency_xyz", "install what it needs"]),
], ids=["raises", "syntax-error", "sys-exit", "missing-dependency"])
def test_module_that_fails_at_import(where, source, needles, module, tmp_path, capsys):
    name = module(source)
    code = main(_argv(where, f"{name}:f", tmp_path))
    one_line_error(capsys, code, f"{name}:f", *needles)
    assert not (tmp_path / "out" / "results.csv").exists()


@pytest.mark.parametrize("where", WHERE, ids=["--problem", "recommend", "graph"])
def test_relative_module_name(where, tmp_path, capsys):
    code = main(_argv(where, ".mod:f", tmp_path))
    one_line_error(capsys, code, "relative module names are not supported", "absolute name")


def test_module_that_is_not_there(capsys, tmp_path):
    code = main(["recommend", "no_such_module_abc:f"])
    one_line_error(capsys, code, "cannot import 'no_such_module_abc'", "PYTHONPATH")


def test_plain_function_with_defaults_is_not_a_factory(module):
    name = module("import numpy as np\n\n"
                  "def f(x, scale=1.0, shift=0.0, power=1.0):\n"
                  "    return np.sum(np.sin(x) * scale + shift) ** power\n")
    problem = load_problem(f"{name}:f")
    f, x = problem.make(5, 1, np, np.random.default_rng(0))
    assert x.shape == (5,) and np.isclose(f(x), np.sum(np.sin(x)))


def test_factory_is_recognised_by_its_parameter_names(module):
    name = module("def make(n, m, xp, rng, scale=2.0):\n"
                  "    return (lambda x: xp.tanh(scale * x[:m])), rng.normal(size=n + 1)\n"
                  "def other(a, b, c, d):\n    return a\n"
                  "def kw(x, *, scale):\n    return x\n")
    f, x = load_problem(f"{name}:make").make(4, 2, np, np.random.default_rng(0))
    assert x.shape == (5,) and f(x).shape == (2,)
    for fn in ("other", "kw"):
        with pytest.raises(CliError, match="neither a plain f\\(x\\).*n, m, xp, rng"):
            load_problem(f"{name}:{fn}")
    f, x = load_problem("numpy:sin").make(3, 1, np, np.random.default_rng(0))  # no signature
    assert f is np.sin and x.shape == (3,)


def test_rule_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "exactly (n, m, xp, rng)" in help_text and "plain f(x)" in help_text
    assert "--blas-threads" in help_text
    readme = " ".join(open(os.path.join(ROOT, "README.md")).read().split())
    assert "exactly `n, m, xp, rng`" in readme and "--blas-threads" in readme


# ------------------------------------------------------------------------------ Ctrl-C
def test_keyboard_interrupt_anywhere_in_main(monkeypatch, capsys):
    import compare.cli as cli

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "load_problem", interrupted)
    monkeypatch.setattr(cli, "load_callable", interrupted)     # graph: f of several arguments
    for argv in (["--problem", "x:f"], ["recommend", "x:f"], ["graph", "x:f", "--x", "1"]):
        assert main(argv) == 130
        err = capsys.readouterr().err
        assert err.strip() == "python -m compare: interrupted"


SLOW = ("import os, time\n"
        "if os.environ.get('SLOW_AT') == 'import':\n"
        "    open(os.environ['MARKER'], 'w').close()\n"
        "    time.sleep(60)\n"
        "def f(x):\n"
        "    open(os.environ['MARKER'], 'w').close()\n"
        "    time.sleep(60)\n"
        "    return x\n")


#: seconds allowed for each step; generous because CI shares 2 cores with other work, where a
#: start-up or an interpreter's exit can take many times its quiet-machine time (the process
#: is sleeping for 60 s at the marker, so a Ctrl-C that is ignored still fails the test)
START_UP_DEADLINE, EXIT_DEADLINE = 120, 50


def _interrupt_when_marked(proc, marker) -> str:
    """Ctrl-C ``proc`` once it has written ``marker``; its stderr (it must exit in time)."""
    try:
        deadline = time.monotonic() + START_UP_DEADLINE
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            _, err = proc.communicate(timeout=EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"no exit {time.monotonic() - sent:.0f} s after Ctrl-C; stderr: {err}")
    finally:
        if proc.poll() is None:
            proc.kill()
    return err


@pytest.mark.parametrize("argv,at,needle", [
    (["--problem", "{name}:f", "--no-peers"], "import", "interrupted"),
    (["recommend", "{name}:f"], "import", "interrupted"),
    (["--problem", "{name}:f", "--no-peers", "--n", "2"], "call", "rows measured so far"),
], ids=["start-up", "recommend-start-up", "while-measuring"])
def test_ctrl_c_is_one_line_and_exit_130(argv, at, needle, module, tmp_path):
    name = module(SLOW)
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), MARKER=str(marker), SLOW_AT=at)
    cmd = [sys.executable, "-m", "compare", *[a.format(name=name) for a in argv]]
    if argv[0] != "recommend":
        cmd += ["--no-progress", "--out", str(tmp_path / "o")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    err = _interrupt_when_marked(proc, marker)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "python -m compare: interrupted" in err and needle in err


SLOW_IMPORT = ("import os, sys, time\n"
               "class _Slow:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'dualad':\n"
               "            open(os.environ['MARKER'], 'w').close()\n"
               "            time.sleep(60)\n"
               "sys.meta_path.insert(0, _Slow())\n")


def test_ctrl_c_while_the_package_itself_imports(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SLOW_IMPORT)    # stalls `import dualad`
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), MARKER=str(marker))
    proc = subprocess.Popen([sys.executable, "-m", "compare", "--no-peers", "--out",
                             str(tmp_path / "o")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    err = _interrupt_when_marked(proc, marker)
    assert proc.returncode == 130 and err.strip() == "python -m compare: interrupted", err


# ------------------------------------------------------------------------------ BLAS threads
def _blas_threads():
    from threadpoolctl import threadpool_info
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}


def _unchanged(before):
    now = _blas_threads()
    return {k: now[k] for k in before} == before


def test_timing_fixes_blas_threads_and_restores_them():
    from compare.common.timing import fixed_threads, measure
    from compare.studies.grid.summary import header
    before = _blas_threads()
    assert before, "numpy loads a BLAS"
    with fixed_threads(1):
        assert set(_blas_threads().values()) == {1}
    assert _blas_threads() == before
    rows = measure(lambda x: np.tanh(np.ones((3, 3)) @ x), np.ones(3), repeat=1, fd=False,
                   memory=False)
    assert _unchanged(before)       # (numba may have loaded scipy's BLAS meanwhile)
    assert all("1 thread" in r["blas"] and not re.search(r"\d threads", r["blas"])
               for r in rows)
    text = "\n".join(header([dict(r, n=int(r["n"]), m=int(r["m"])) for r in rows], "cmd"))
    assert "BLAS threads while timing: " in text and "1 thread" in text
    if max(before.values()) >= 2:
        rows = measure(lambda x: x * 2.0, np.ones(2), repeat=1, fd=False, memory=False,
                       blas_threads=2)
        assert "2 threads" in rows[0]["blas"]
    rows = measure(lambda x: x * 2.0, np.ones(2), repeat=1, fd=False, memory=False,
                   blas_threads=None)
    assert "library default" in rows[0]["blas"]


def test_blas_loaded_while_timing_is_limited_too():
    """numba loads scipy's BLAS on its first compile, inside the timed block: best_of limits it
    after the warm-up call (simulated here by a BLAS back at 2 threads inside the block)."""
    from threadpoolctl import threadpool_limits
    from compare.common.timing import best_of, fixed_threads
    before = _blas_threads()
    if max(before.values()) < 2:
        pytest.skip("BLAS runs one thread on this machine")
    seen = []
    with fixed_threads(1):
        threadpool_limits(limits=2, user_api="blas")
        best_of(lambda: seen.append(set(_blas_threads().values())), 2)
    assert seen == [{2}, {1}, {1}]
    assert _unchanged(before)


def test_torch_is_told_the_same():
    torch = pytest.importorskip("torch")
    from compare.common.timing import fixed_threads, thread_note
    before = torch.get_num_threads()
    with fixed_threads(1):
        assert torch.get_num_threads() == 1 and "torch: 1 thread" in thread_note()
    assert torch.get_num_threads() == before


def test_plain_function_with_defaults_is_measured_with_one_blas_thread(module, tmp_path, capsys):
    """End to end: f(x, scale, shift, power) is timed as a plain f(x) (four parameters made it a
    factory before), and summary.md and results.csv say how many BLAS threads timed it."""
    name = module("import numpy as np\n\n"
                  "def f(x, scale=1.0, shift=0.0, power=1.0):\n"
                  "    return np.sum(np.sin(x) * scale + shift) ** power\n")
    out = tmp_path / "o"
    assert main(["--problem", f"{name}:f", "--n", "3", "--repeat", "1", "--no-peers",
                 "--no-progress", "--blas-threads", "1", "--out", str(out)]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert "blas" in rows[0].split(",")
    assert any(r.startswith(f"{name}:f,forward,3,1,") for r in rows), rows[:3]
    text = (out / "summary.md").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("- BLAS threads while timing: "))
    assert ": 1 thread" in line and not re.search(r"\d threads", line)
    with pytest.raises(SystemExit):
        main(["--blas-threads", "-1"])
    assert "--blas-threads must be an integer >= 0" in capsys.readouterr().err


# ------------------------------------------------------------------------------ graph
def test_graph_takes_several_arguments_arrays_and_wrt_by_name(module, tmp_path, capsys):
    name = module("import numpy as np\n\n"
                  "def f(x, w):\n"
                  "    return np.sin(x[0] * x[1]) + w * np.exp(x[1])\n")
    pages = []
    for k, argv in enumerate((["--x", "1.0", "2.0", "--x", "0.5"],
                              ["--x", "1.0,2.0", "--x", "0.5", "--wrt", "w"])):
        out = tmp_path / f"g{k}"
        assert main(["graph", f"{name}:f", *argv, "--out", str(out)]) == 0
        pages.append((out / "graph.html").read_text())
    assert "evaluated at x = [1, 2], w = 0.5" in pages[0]
    assert "def f(x, w):" in pages[0]
    # --wrt w: the pictures' forward seed is e_2 (x has entries 0 and 1), the page offers all
    assert '"start": [0, 0]' in pages[0] and '"start": [2, 0]' in pages[1]
    one_line_error(capsys, main(["graph", f"{name}:f", "--x", "1", "--wrt", "v",
                                 "--x", "2", "--out", str(tmp_path / "g")]),
                   "--wrt 'v' is not one of its arguments ['x', 'w']")
    one_line_error(capsys, main(["graph", f"{name}:f", "--x", "1", "--out",
                                 str(tmp_path / "g")]), "give one --x per argument")
