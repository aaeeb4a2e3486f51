"""compare: the smoke test of the main job, check_grads, recommend, bad input."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import vectorize

import adops
from compare import check_grads, recommend, run
from compare.__main__ import main
from compare.common.timing import COLUMNS
from compare.studies.grid import GRID_COLUMNS

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.fixture(scope="module")
def quick_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    res = subprocess.run([sys.executable, "-m", "compare", "--quick", "--no-progress",
                          "--no-peers", "--out", str(out)], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_quick_run_writes_csv_with_columns(quick_reports):
    with open(quick_reports / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == GRID_COLUMNS  # COLUMNS, and where each row was timed
    assert rows[0]["host"] and int(rows[0]["cores"]) >= 1
    modes = {r["mode"] for r in rows}
    assert {"numpy", "forward", "reverse", "finite_differences"} <= modes
    phases = {r["phase"] for r in rows if r["mode"] == "reverse"}
    assert phases == {"record", "sweep", "jacobian", "repeat"}     # repeat: the noise floor
    sizes = [(r["problem"], r["n"], r["m"]) for r in rows
             if r["mode"] == "reverse" and r["phase"] == "record" and r["chunk_rule"] == "auto"]
    assert len(sizes) == len(set(sizes)), "a configuration measured twice (by its actual n, m)"
    assert all(float(r["seconds"]) > 0 for r in rows)
    assert any(r["peak_bytes"] for r in rows if r["mode"] == "forward")


def test_quick_run_writes_every_plot_and_a_break_even(quick_reports):
    from compare.report import PLOTS
    for name in PLOTS:
        path = quick_reports / name
        assert path.exists() and path.stat().st_size > 5000, name
        assert path.read_bytes()[:4] == b"\x89PNG"
    text = (quick_reports / "summary.md").read_text()
    assert "Break-even" in text and "machine" in text and "| problem |" in text


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "MB": 1e6, "kB": 1e3}


def _q(rows_of, name, column, agg, **where):
    rows = [r for r in rows_of(name) if all(r[k] == v for k, v in where.items())]
    if agg == "count":
        return len(rows)
    values = [float(r[column]) for r in rows]
    return min(values) if agg == "min" else max(values)


def test_every_number_of_the_summary_is_recomputed_from_the_csv(quick_reports):
    """Each number of summary.md's conclusions, recomputed here from results.csv by the query
    claims.json gives for it (its own reader: csv rows, min / max / count), equals the number
    recorded, and the sentence in summary.md shows it to its digits."""
    import json
    import math
    import statistics
    tables = {}

    def rows_of(name):
        if name not in tables:
            with open(quick_reports / name, newline="") as fh:
                tables[name] = list(csv.DictReader(fh))
        return tables[name]
    saved = json.loads((quick_reports / "claims.json").read_text())
    assert saved["csv_dir"] == "."
    summary = (quick_reports / "summary.md").read_text()
    scope = {"q": lambda *a, **k: _q(rows_of, *a, **k), "median": statistics.median,
             "max": max, "min": min, "log": math.log, "exp": math.exp, "ceil": math.ceil,
             "abs": abs, "sum": sum, "__builtins__": {}}
    checked = 0
    for claim in saved["claims"]:
        assert claim["text"] in summary
        for number in claim["numbers"]:
            value = eval(number["expr"], scope)
            assert value == pytest.approx(number["value"], rel=1e-9), number
            token, *unit = number["text"].split()
            shown = float(token) * (_UNITS[unit[0]] if unit else 1.0)
            digits = len(token.replace(".", "").replace("-", "").lstrip("0").split("e")[0])
            assert shown == pytest.approx(value, rel=0.51 * 10 ** (1 - max(digits, 1)),
                                          abs=1e-300), number
            checked += 1
    assert checked >= 30
    assert "within noise" in summary and "Noise floor of this run" in summary
    assert main(["claims", str(quick_reports)]) == 0


def test_plot_redraws_from_csv_alone(quick_reports, tmp_path):
    assert main(["plot", str(quick_reports / "results.csv"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "heatmap.png").exists() and (tmp_path / "summary.md").exists()


def test_asymmetry_is_measured(quick_reports):
    from compare.common.results import best_times, read_rows
    best = best_times(read_rows(str(quick_reports / "results.csv")))
    big = max(n for (p, n, m) in best if p == "dense" and m == 1)
    modes = best[("dense", big, 1)]
    assert modes["reverse"][0] < modes["forward"][0], "reverse must win at many inputs, m = 1"


# --------------------------------------------------------------------------- check_grads
def test_check_grads_passes_on_correct_functions():
    report = check_grads(lambda x, y: np.sin(x) * y[:, None], np.ones(3), np.ones(2))
    assert report.ok and report.dot_product <= 1 and report.finite_differences <= 1


@vectorize(["float64(float64)"])
def cube(x):
    return x * x * x


@vectorize(["float64(float64, float64)"])
def cube_d(x, out):
    return 3.0 * x * x


@vectorize(["float64(float64, float64)"])
def cube_wrong_d(x, out):
    return 2.0 * x * x  # deliberately wrong: should be 3 x^2


@pytest.fixture
def user_op():
    """Register a user op for one test, and remove it after."""
    names = []

    def register(name, partial):
        names.append(name)
        return adops.defop(name, cube, [partial], doc="x^3")
    yield register
    for name in names:
        adops.unregister(name)


def test_check_grads_catches_a_wrong_custom_op(user_op):
    user_op("user_cube_wrong", cube_wrong_d)
    with pytest.raises(AssertionError, match="finite differences.*FAIL"):
        check_grads(lambda x: adops.call("user_cube_wrong", x), np.array([0.5, 1.5]))


def test_custom_op_works_in_both_modes(user_op):
    user_op("user_cube", cube_d)
    report = check_grads(lambda x: adops.call("user_cube", x) * 2.0, np.array([0.5, -1.5]))
    assert report.ok


# ----------------------------------------------------------------------------- recommend
def test_recommend_reverse_for_many_inputs_one_output():
    rec = recommend(lambda x: np.sum(np.sin(x) * x), np.linspace(0, 1, 1000), repeat=1)
    assert rec.mode == "reverse", str(rec)
    assert "n = 1000" in rec.reason


def test_recommend_forward_for_few_inputs_many_outputs():
    A = np.random.default_rng(0).normal(size=(1000, 2))
    rec = recommend(lambda x: np.sin(A @ x), np.array([0.1, 0.2]), repeat=1)
    assert rec.mode == "forward", str(rec)


def test_run_user_function(tmp_path):
    rows = run(lambda x: np.tanh(x) ** 2, np.ones(5), csv_path=str(tmp_path / "r.csv"), repeat=1)
    assert {r["mode"] for r in rows} >= {"forward", "reverse"}
    assert (tmp_path / "r.csv").read_text().startswith(",".join(COLUMNS))


# ------------------------------------------------------------------------------ bad input
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "compare", *args, "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("args,needle", [
    (["--n", "0", "--problem", "dense"], "positive"),
    (["--problem", "nosuch"], "expected package.module:function"),
    (["--problem", "nosuchmodule_xyz:f"], "cannot import"),
    (["--problem", "math:nosuchfn"], "no function"),
])
def test_bad_input_one_line_error(args, needle, tmp_path):
    res = _cli(*args, "--out", str(tmp_path))
    assert res.returncode != 0
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


def test_function_that_raises_or_returns_non_array(tmp_path):
    mod = tmp_path / "userprob.py"
    mod.write_text("def boom(x):\n    raise RuntimeError('kaput')\n\n"
                   "def text(x):\n    return 'hello'\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    for fn, needle in (("boom", "kaput"), ("text", "str")):
        res = subprocess.run([sys.executable, "-m", "compare", "--problem", f"userprob:{fn}",
                              "--n", "3", "--no-progress", "--out", str(tmp_path / fn)],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert res.returncode != 0 and needle in res.stderr and "Traceback" not in res.stderr


def test_user_problem_from_the_shell(tmp_path):
    mod = tmp_path / "userprob2.py"
    mod.write_text("import numpy as np\n\ndef f(x):\n    return np.sum(np.exp(x) * x)\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "compare", "--problem", "userprob2:f", "--n",
                          "8", "64", "--repeat", "1", "--no-progress", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "userprob2:f" in (tmp_path / "o" / "results.csv").read_text()


def test_peers_when_installed(tmp_path):
    from compare.common.peers import available
    usable = [k for k, why in available().items() if why is None]
    if not usable:
        pytest.skip("neither jax nor torch is installed (pip install -e '.[peers]')")
    assert main(["--problem", "dense", "--n", "8", "--m", "4", "--repeat", "1", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    text = (tmp_path / "results.csv").read_text()
    for peer in usable:
        assert f"{peer}-forward" in text and f"{peer}-reverse" in text
        assert f"{peer}-forward" in (tmp_path / "summary.md").read_text()


# --------------------------------------------------------------------------------- the layout
def test_each_study_is_one_module_with_the_interface_and_imports_no_other():
    import ast
    import importlib
    import pkgutil

    import compare.studies as studies
    from compare.studies.base import Study
    names = sorted(m.name for m in pkgutil.iter_modules(studies.__path__) if m.name != "base")
    assert {"grid", "tiers", "depth", "hessian", "vanishing", "standard", "teaching"} <= set(names)
    root = os.path.dirname(studies.__file__)
    for name in names:
        mod = importlib.import_module(f"compare.studies.{name}")
        classes = [c for c in vars(mod).values()
                   if isinstance(c, type) and issubclass(c, Study) and c is not Study]
        assert len(classes) == 1 and classes[0].name == name, name
        path = os.path.join(root, name)
        files = ([os.path.join(path, f) for f in os.listdir(path) if f.endswith(".py")]
                 if os.path.isdir(path) else [path + ".py"])
        for file in files:      # imports inside functions included
            for node in ast.walk(ast.parse(open(file).read())):
                if isinstance(node, ast.ImportFrom) and node.level:
                    target = (node.module or "").split(".")[0]
                    others = set(names) - {name}
                    assert target not in others, f"{file} imports the study {target}"
                    if not node.module:
                        assert not others & {a.name for a in node.names}, file


def test_sub_millisecond_timings_run_on_until_their_budget(monkeypatch):
    """A best of 3 of a microsecond call measures the machine's hiccups (and, compiled, the
    calls before the fused entry): with ``min_seconds`` fast calls run on until that much time
    is spent, at most MAX_RUNS times; slow calls and plain best_of keep their ``repeat``."""
    import time
    from compare.common import timing
    calls = []
    timing.best_of(lambda: calls.append(1), 3)
    assert len(calls) == 4  # the warm-up and 3
    calls.clear()
    timing.best_of(lambda: calls.append(1), 3, min_seconds=0.002)
    assert len(calls) > 10
    calls.clear()
    timing.best_of(lambda: (calls.append(1), time.sleep(0.003)), 2, min_seconds=0.001)
    assert len(calls) == 3
    monkeypatch.setattr(timing, "MAX_RUNS", 50)
    calls.clear()
    best, first = timing.best_of(lambda: calls.append(1), 3, min_seconds=1e9)
    assert len(calls) == 51 and 0 < best <= 1e-3
    calls.clear()
    timing.best_of(lambda: (calls.append(1), time.sleep(0.002)), 5, once_above=0.001,
                   min_seconds=1.0)
    assert len(calls) == 2  # a slow first call: timed once more only
