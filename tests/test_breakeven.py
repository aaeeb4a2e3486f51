"""The report's break-even and noise floor on a results table with a known answer: the measured
contour and summary.md's sentences put the boundary where the table does, the theory line uses
the table's per-pass costs, and cells inside the noise floor are ties."""
import math

import numpy as np
import pytest

from compare.common import breakeven as be
from compare.common.claims import Facts
from compare.studies.grid import summary
from compare.studies.grid.heatmap import plot_heatmap

SIZES = (2, 8, 32, 128)


def _row(mode, n, m, seconds, chunk, rule="auto", phase="jacobian"):
    return dict(problem="dense", mode=mode, n=n, m=m, chunk=chunk, chunk_rule=rule, phase=phase,
                seconds=seconds, tier="eager", repeat=1, peak_bytes="", compile_seconds="")


def _table(spread=1.2):
    """t_forward = 2 n ms, t_reverse = m ms (auto chunk = the size: one pass each), so
    t_rev / t_fwd = m / (2 n): the boundary is m = 2 n; one configuration repeated with a
    spread of ``spread``."""
    rows = []
    for n in SIZES:
        for m in SIZES:
            rows.append(_row("forward", n, m, 2 * n * 1e-3, n))
            rows.append(_row("reverse", n, m, m * 1e-3, m))
    rows += [_row("reverse", 8, 8, t, 8, phase="repeat") for t in (1e-3, 1.1e-3, spread * 1e-3)]
    return rows


def test_crossings_sit_on_the_known_boundary():
    facts = Facts(_table(), "results.csv")
    ns, ms, cells = be.ratios(facts, "eager")
    assert ns == list(SIZES) and ms == list(SIZES)
    assert cells[(8, 32)].value == pytest.approx(32 / 16)
    found = {(c.along, c.at): (c.lo, c.hi, c.where.value) for c in be.crossings(ns, ms, cells)}
    # along n at m: m / (2 n) = 1 at n = m / 2, between the neighbouring sizes
    assert found[("n", 8)] == pytest.approx((2, 8, 4))
    assert found[("n", 32)] == pytest.approx((8, 32, 16))
    assert found[("n", 128)] == pytest.approx((32, 128, 64))
    # along m at n: m = 2 n
    assert found[("m", 8)] == pytest.approx((8, 32, 16))
    assert ("n", 2) not in found            # m = 2: m / (2 n) <= 1/2, reverse wins at every n
    assert len(found) == 6


def test_noise_floor_is_the_largest_spread_and_names_ties():
    facts = Facts(_table(spread=1.5), "results.csv")
    floor, parts = be.noise_floor(facts)
    assert floor.value == pytest.approx(1.5)
    ns, ms, cells = be.ratios(facts, "eager")
    inside = [c.inside for c in be.crossings(ns, ms, cells, floor.value)]
    assert inside == [0] * 6    # each crossing's cells differ from 1 by x2: outside x1.5
    inside = [c.inside for c in be.crossings(ns, ms, cells, 2.5)]
    assert sorted(set(inside)) == [2]   # a floor above x2: every crossing is between two ties
    lines = [c.text for c in summary.conclusions(_table(spread=2.5))]
    measured = next(t for t in lines if t.startswith("- **Break-even, eager tier, measured"))
    assert "does not cross 1 along n or m between cells outside the noise" in measured
    assert "6 further sign changes lie between two cells within noise of 1" in measured
    text = summary.noise_claim(facts)[1].text
    assert "x1.5," in text


def test_summary_states_the_boundary_in_both_directions():
    lines = [c.text for c in summary.conclusions(_table())]
    measured = next(t for t in lines if t.startswith("- **Break-even, eager tier, measured"))
    along_n, along_m = measured.split("And along m")
    assert "m = 8: n* ~ 4 (between 2 and 8)" in along_n
    assert "m = 128: n* ~ 64 (between 32 and 128)" in along_n
    assert "n = 8: m* ~ 16 (between 8 and 32)" in along_m
    assert "runs from 0.00781 to 32" in measured       # 2 / (2 x 128) and 128 / (2 x 2)
    assert "within noise" not in measured              # every cell differs from 1 by >= x2
    theory = next(t for t in lines if t.startswith("- **Break-even, eager tier, theory"))
    # one pass each: per pass forward 2 n ms, reverse m ms; medians over the cells
    assert "forward 40 ms and reverse 20 ms" in theory


def test_the_heatmap_draws_the_same_boundary(tmp_path):
    drawn = plot_heatmap(_table(), str(tmp_path / "heatmap.png"))
    assert set(drawn) == {"eager"}
    (x, y), = drawn["eager"]["measured"]
    # cell coordinates: sizes step by 4x, so log size is linear in the index; the boundary
    # m = 2 n is the line y = x + 0.5
    assert np.allclose(y, x + 0.5, atol=1e-6)
    assert (tmp_path / "heatmap.png").stat().st_size > 5000


def test_theory_counts_passes():
    # chunk 1: n forward passes against m reverse passes
    assert be.theory_log2_ratio("scalar", 8, 4, 1.0, 1.0) == pytest.approx(math.log2(4 / 8))
    # automatic chunk: one pass each up to 256, then ceil(n / 256)
    assert be.theory_log2_ratio("eager", 200, 100, 1.0, 2.0) == pytest.approx(1.0)
    assert be.theory_log2_ratio("eager", 1024, 100, 1.0, 2.0) == pytest.approx(math.log2(2 / 4))
