"""compare's checkpointing: the trade-off study's rows and report, the schedule picture's
timeline, and recommend's memory advice."""
import numpy as np
import pytest

from adops.control import optimal_recomputations
from compare.cli import main
from compare.studies import depth
from compare.studies.depth import checkpointing
from compare.teaching import schedule
from compare.tools.memory import memory_advice


def test_tradeoff_rows_count_the_optimum_and_save_memory(tmp_path):
    T = 200
    rows = checkpointing.tradeoff(T, width=8, repeat=1, csv_path=str(tmp_path / checkpointing.CSV),
                                  s_list=[2, 6, T - 1])
    by = {r["label"]: r for r in rows}
    for s in (2, 6, T - 1):
        r = by[f"s = {s}"]
        assert r["recomputed"] == optimal_recomputations(T - 1, s) > 0
    plain = by["plain tape"]["peak_bytes"]
    assert by["s = 2"]["peak_bytes"] < plain / 3
    assert by["scan, no checkpoints"]["recomputed"] == 0
    back = checkpointing.read_csv(str(tmp_path / checkpointing.CSV))
    assert [r["label"] for r in back] == [r["label"] for r in rows]
    assert back[0]["checkpoints"] == 2 and back[-1]["checkpoints"] is None
    text = checkpointing.paragraph(back)
    assert "equal the optimum" in text and f"T = {T}" in text


def test_budget_choice_is_the_fastest_s_that_fits():
    rows = [dict(label="plain tape", checkpoints=None, peak_bytes=1000.0, seconds=1.0),
            dict(label="s = 3", checkpoints=3, peak_bytes=20.0, seconds=5.0),
            dict(label="s = 30", checkpoints=30, peak_bytes=45.0, seconds=2.0),
            dict(label="s = 300", checkpoints=300, peak_bytes=400.0, seconds=1.5)]
    picks = checkpointing.budget_choices(rows, fractions=(0.01, 0.03, 0.05, 0.5))
    assert [c["s"] for c in picks] == [None, 3, 30, 300]
    assert picks[2]["time_ratio"] == pytest.approx(2.0)


def test_depth_report_draws_the_tradeoff_and_the_schedule(tmp_path):
    rows = depth.study(depths=(2, 20), width=4, repeat=1)
    assert {"reverse, sqrt(T) checkpoints", "reverse, 10 checkpoints"} <= {r["mode"] for r in rows}
    depth.write_csv(rows, str(tmp_path / depth.CSV))
    checkpointing.tradeoff(40, width=4, repeat=1, csv_path=str(tmp_path / checkpointing.CSV),
                           s_list=[2, 39])
    section = depth.DepthStudy().render(str(tmp_path), str(tmp_path))
    for name in (depth.PLOT, checkpointing.PLOT, schedule.PLOT):
        assert (tmp_path / name).stat().st_size > 1000 and name in section.plots
    assert any("**Checkpointing**" in c for c in section.conclusions)


@pytest.mark.parametrize("T,s", [(10, 3), (6, 2), (25, 4)])
def test_schedule_timeline(T, s):
    rows = schedule.timeline(T, s)
    assert max(len(kept) for _, _, kept in rows) <= s
    swept = [t for t, kind, _ in rows if kind == "swept"]
    assert swept == list(range(T - 1, -1, -1))
    assert [t for t, kind, _ in rows if kind == "first pass"] == list(range(T - 1))
    assert len(rows) - 2 * T == optimal_recomputations(T, s)


def test_memory_advice_and_the_cli_flag(capsys):
    def deep(x):
        for _ in range(300):
            x = np.tanh(x * 0.9 + 0.1)
        return np.sum(x)
    small = memory_advice(deep, np.ones(50), budget=1e3)
    assert not small.fits and "checkpoints=s" in str(small)
    assert memory_advice(deep, np.ones(50), budget=1e9).fits
    assert main(["recommend", "dense", "--n", "4", "--no-compiled", "--memory-budget",
                 "0.000001"]) == 0
    assert "adops.scan" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["recommend", "dense", "--memory-budget", "0"])
    assert "--memory-budget must be a positive number" in capsys.readouterr().err
