"""compare with two tiers: eager and compiled rows in results.csv with the compile time, a heatmap
per tier without blank cells and with its break-even as a line, recommend's tier, and the graph
page's generated code."""
import csv

import numpy as np
import pytest

from compare import recommend
from compare.__main__ import main
from compare.graph import draw, generated_code
from compare.common.compiled import payoff
from compare.common.results import best_times, complete_grid, heatmap_grids, read_rows
from compare.common.timing import COLUMNS
from compare.studies.grid.measure import GRID_COLUMNS
from compare.report import write_report
from compare.studies.grid import Grid, run_grid
from compare.studies.grid.heatmap import plot_heatmap

HEAT = [("dense", n, m) for n in (2, 16) for m in (2, 16)]


@pytest.fixture(scope="module")
def tier_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiers")
    grid = Grid(HEAT + [("rosenbrock", 8, 1)], repeat=1, chunks=(None,), compiled=HEAT + [
        ("rosenbrock", 8, 1)])
    run_grid(grid, str(out / "results.csv"), progress=False)
    write_report(str(out / "results.csv"), str(out))
    return out


def test_csv_has_both_tiers_and_a_compile_time_column(tier_reports):
    with open(tier_reports / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == GRID_COLUMNS and "compile_seconds" in COLUMNS and "tier" in COLUMNS
    for config in HEAT:
        at = [r for r in rows if (r["problem"], int(r["n"]), int(r["m"])) == config]
        tiers = {(r["mode"], r["tier"]) for r in at if r["phase"] == "jacobian"}
        assert {("forward", "eager"), ("reverse", "eager"), ("forward-compiled", "compiled"),
                ("reverse-compiled", "compiled")} <= tiers, config
        for r in at:
            if r["tier"] == "compiled":
                assert float(r["compile_seconds"]) >= 0 and float(r["seconds"]) > 0
                assert float(r["first_call_seconds"]) >= float(r["compile_seconds"])
            else:
                assert r["compile_seconds"] == ""
    # a problem's program serves every size: its first configuration pays the compile (the
    # others load the code, and may time a first call within noise of the best)
    first = {}
    for r in rows:
        if r["tier"] == "compiled" and r["phase"] == "jacobian":
            first.setdefault((r["problem"], r["mode"]), float(r["compile_seconds"]))
    assert first and all(c > 0 for c in first.values()), first


def test_summary_and_plots_show_both_tiers(tier_reports):
    text = (tier_reports / "summary.md").read_text()
    assert "forward-compiled" in text and "compile s (fwd/rev)" in text
    assert "Compile time" in text and "the compiled call was faster in" in text
    assert "Largest gain" in text and "Largest loss" in text
    assert "Cost of a gradient, compiled" in text and "Break-even, compiled tier, measured" in text
    png = tier_reports / "tiers.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000


def test_heatmap_has_no_blank_cell_in_either_tier(tier_reports):
    best = best_times(read_rows(str(tier_reports / "results.csv")))
    panels = heatmap_grids(best)
    assert [p[0] for p in panels] == ["eager", "compiled"]
    for tier, ns, ms, grid in panels:
        assert ns == [2, 16] and ms == [2, 16], tier
        assert grid.shape == (2, 2) and np.isfinite(grid).all(), tier


def test_complete_grid_drops_sparse_rows_and_columns():
    cells = {(n, m): 1.0 for n in (2, 8, 32) for m in (2, 8, 32)}
    cells.update({(4, 1): 1.0, (16, 1): 1.0, (16, 4): 1.0, (16, 64): 1.0, (64, 1): 1.0})
    assert complete_grid(cells) == ([2, 8, 32], [2, 8, 32])
    del cells[(8, 8)]
    ns, ms = complete_grid(cells)
    assert all((n, m) in cells for n in ns for m in ms) and len(ns) * len(ms) >= 3


def _synthetic_rows():
    """t_forward = n, t_reverse = m (x 2 in the compiled tier): break-even m = n, m = n / 2."""
    rows = []
    for n in (2, 8, 32, 128):
        for m in (2, 8, 32, 128):
            for mode, t, k in (("forward", n * 1e-3, n), ("reverse", m * 1e-3, m),
                               ("forward-compiled", n * 1e-4, n),
                               ("reverse-compiled", 2 * m * 1e-4, m)):
                rows.append(dict(problem="dense", mode=mode, n=n, m=m, chunk=k,
                                 chunk_rule="auto", phase="jacobian", seconds=t))
    return rows


def test_break_even_is_drawn_as_a_line_per_tier(tmp_path):
    drawn = plot_heatmap(_synthetic_rows(), str(tmp_path / "h.png"))
    assert set(drawn) == {"eager", "compiled"}
    # sizes step by 4x, one cell each: eager's m* = n is the diagonal, compiled's m* = n / 2
    # half a cell below it
    (x, y), = drawn["eager"]["measured"]
    assert np.ptp(x) >= 2 and np.allclose(x, y)
    (x, y), = drawn["compiled"]["measured"]
    assert np.ptp(x) >= 2 and np.allclose(y, x - 0.5)


def test_payoff():
    assert payoff(2.1e-3, 0.3e-3, 1.2) == 667
    assert payoff(1e-3, 2e-3, 0.1) is None


def test_recommend_advises_on_the_tier():
    rec = recommend(lambda x: np.sum(np.sin(x) * np.exp(-x * x) + x * x), np.linspace(0, 1, 300),
                    repeat=1)
    text = str(rec)
    assert rec.tier in ("eager", "compiled")
    assert "compiled" in text and "eager" in text and " s compile" in text
    assert set(rec.compile_seconds) == {"forward", "reverse"}
    assert all(t > 0 for t in rec.compile_seconds.values())
    # the rule: compiled exactly when compiling pays off within the calls assumed
    assert (rec.tier == "compiled") == (rec.payoff is not None and rec.payoff <= rec.calls)
    if rec.payoff is not None:
        assert f"pays off after {rec.payoff} Jacobian" in rec.advice()
    assert rec.advice().startswith(f"use {rec.mode} mode, {rec.tier}")


def test_recommend_cli_names_a_tier(capsys):
    assert main(["recommend", "dense", "--n", "16", "--calls", "1"]) == 0
    out = capsys.readouterr().out
    assert "mode, eager" in out.splitlines()[1]          # one call never pays for a compile
    assert "compiled" in out and "compile" in out


def _loss(w, b):
    return np.sum(np.tanh(w * 2.0 + b) ** 2)


def test_graph_page_shows_the_generated_code(tmp_path):
    paths = draw(_loss, np.array([0.5, -1.0]), 0.1, out_dir=str(tmp_path))
    page = open(paths[2]).read()
    assert 'id="generated-code"' in page
    # the fused loops, with the function's own ops' rules (partials included)
    for needle in ("def kernel_primal(", "def kernel_jvp(", "def kernel_vjp(",
                   "k0 = KERNELS[", "adops.ops.elementwise:tanh_d",
                   "adops.ops.elementwise:square", "SMUL(d"):
        assert needle in page, needle
    assert "node #" in page and "tanh(" in page          # loop names tied to the graph's nodes
    src = generated_code(_loss, np.array([0.5, -1.0]), 0.1)
    assert "def backward(R, S):" in src and "for q in range(m):" in src


def test_graph_code_option_prints_the_source(tmp_path, capsys):
    assert main(["graph", "numpy:sin", "--x", "1,2", "--code", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "def jvp(V, T, O, P, C, G, L):" in captured.out and "def backward(R, S):" in captured.out
    assert "graph.html" in captured.err and "graph.html" not in captured.out


def test_configurations_are_measured_once_by_their_actual_sizes(tmp_path):
    """mlp_loss rounds n to whole hidden units: n = 4 and n = 16 are both 11 parameters, so
    they are one configuration, with the compiled rows the second one asked for."""
    grid = Grid([("mlp_loss", 4, 1), ("mlp_loss", 16, 1)], repeat=1, chunks=(None,),
                compiled=[("mlp_loss", 16, 1)])
    run_grid(grid, str(tmp_path / "results.csv"), progress=False)
    with open(tmp_path / "results.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["phase"] == "jacobian"]
    assert sorted((r["mode"], r["n"]) for r in rows) == [
        ("finite_differences", "11"), ("forward", "11"), ("forward-compiled", "11"),
        ("reverse", "11"), ("reverse-compiled", "11")]
