"""Second order: textbook Hessians by all four compositions of the modes, hvp, and
check_grads(order=2) passing on a composed program and failing on a planted wrong op."""
import numpy as np
import pytest
from numba import vectorize

import adops
import dualad
import revad
from compare import check_grads
from compare.tools.check import COMPOSITIONS

FOUR = {"forward-over-reverse": lambda f: dualad.jacfwd(revad.grad(f)),
        "reverse-over-reverse": lambda f: revad.jacrev(revad.grad(f)),
        "forward-over-forward": lambda f: dualad.jacfwd(dualad.jacfwd(f)),
        "reverse-over-forward": lambda f: revad.jacrev(dualad.jacfwd(f)),
        "revad.hessian": revad.hessian}


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def composed(x, y):
    """A program touching matmul, tanh, power, sin, exp, a reduction and broadcasting."""
    W = np.linspace(-1.0, 1.0, y.size * x.size).reshape(y.size, x.size)
    h = np.tanh(W @ x + 0.3)
    return np.sum(h * y ** 2) + np.sum(np.sin(x) * np.exp(-x ** 2)) + np.max(y) * np.sum(x)


# ----------------------------------------------------------------------------- textbook
@pytest.mark.parametrize("how", sorted(FOUR))
def test_second_derivative_of_a_square(how):
    d2 = FOUR[how](lambda x: (3 * x + 1) ** 2)(2.0)
    assert np.shape(d2) == () and float(d2) == pytest.approx(18.0)


@pytest.mark.parametrize("how", sorted(FOUR))
def test_rosenbrock_hessian_at_the_minimum(how):
    H = FOUR[how](rosenbrock)(np.array([1.0, 1.0]))
    np.testing.assert_allclose(H, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-12)


def test_hvp_is_the_hessian_times_v():
    rng = np.random.default_rng(1)
    x, v = rng.normal(size=7), rng.normal(size=7)
    hv = revad.hvp(rosenbrock, (x,), (v,))
    np.testing.assert_allclose(hv, revad.hessian(rosenbrock)(x) @ v, rtol=1e-12, atol=1e-9)


# ------------------------------------------------------------------ check_grads(order=2)
def test_check_grads_order2_passes_on_a_composed_program():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=4), rng.normal(size=3)
    report = check_grads(composed, x, y, order=2)
    assert report.ok and report.full and report.first_order.ok
    assert set(report.finite_differences) == set(COMPOSITIONS) == set(report.symmetry)
    assert len(report.agreement) == 6 and max(report.agreement.values()) < 1e-3


def test_check_grads_order2_projects_large_hessians():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.normal(size=30)
    report = check_grads(composed, x, y, order=2, max_hessian=16)
    assert report.ok and not report.full
    assert "projected onto random directions" in str(report)


def test_order1_stays_the_first_order_report():
    report = check_grads(lambda x: np.sin(x) * x, np.array([0.5, 1.5]))
    assert type(report).__name__ == "GradCheckReport" and report.ok


def test_order2_needs_a_scalar_and_order_is_1_or_2():
    with pytest.raises(TypeError, match="scalar"):
        check_grads(lambda x: x ** 2, np.ones(3), order=2)
    with pytest.raises(ValueError, match="order"):
        check_grads(lambda x: np.sum(x), np.ones(3), order=3)


@vectorize(["float64(float64)"])
def cube(x):
    return x * x * x


@vectorize(["float64(float64)"])
def three_x2(x):
    return 3.0 * x * x


@vectorize(["float64(float64, float64)"])
def three_x2_wrong_d(x, out):
    return 5.0 * x  # deliberately wrong: should be 6 x


@pytest.fixture
def cube_with_wrong_second_derivative():
    """``user_cube``: x^3, whose partial 3x^2 is the op ``user_3x2`` with a wrong partial: right
    at first order, wrong at second."""
    adops.defop("user_3x2", three_x2, [three_x2_wrong_d], doc="3 x^2, wrong derivative")
    adops.defop("user_cube", cube, [lambda x, out: adops.call("user_3x2", x)], doc="x^3")
    yield lambda x: adops.call("user_cube", x)
    adops.unregister("user_cube")
    adops.unregister("user_3x2")


def test_check_grads_order2_catches_a_wrong_second_derivative(cube_with_wrong_second_derivative):
    cube_op = cube_with_wrong_second_derivative

    def f(x):
        return np.sum(cube_op(x) * np.array([1.0, 2.0]))
    x = np.array([0.5, 1.5])
    assert check_grads(f, x).ok, "first order is right: only order=2 can see the planted error"
    report = check_grads(f, x, order=2, raise_on_failure=False)
    assert report.first_order.ok and not report.ok
    assert all(e > 1 for e in report.finite_differences.values())
    with pytest.raises(AssertionError, match=r"failed: Hessian vs central differences of "
                                             r"revad\.grad: forward-over-reverse"):
        check_grads(f, x, order=2)


def test_check_grads_order2_with_small_chunks():
    rng = np.random.default_rng(0)
    check_grads(composed, rng.normal(size=4), rng.normal(size=3), order=2, chunk=2)


# --------------------------------------------------------------- compare's second-order study
def test_hessian_subcommand_writes_csv_plot_and_conclusions(tmp_path):
    from compare.__main__ import main
    from compare.studies.hessian import COMPOSITIONS as TIMED, read_csv
    assert main(["hessian", "--n", "4", "12", "--repeat", "1", "--no-peers", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    rows = read_csv(str(tmp_path / "hessian.csv"))
    assert {r["method"] for r in rows} == set(TIMED) | {"hvp", "grad"}
    assert {r["n"] for r in rows} == {4, 12}
    assert all(r["seconds"] > 0 for r in rows)
    assert all(r["rel_error"] < 1e-10 for r in rows if r["method"] in TIMED)
    assert all(r["peak_bytes"] > 0 for r in rows)
    assert (tmp_path / "hessian.png").read_bytes()[:4] == b"\x89PNG"
    text = (tmp_path / "hessian.md").read_text()
    assert "Fastest composition" in text and "hvp vs the full Hessian" in text
    assert "jax: skipped" not in text and "skipped (--no-peers)" in text


def test_study_stops_a_method_whose_extrapolated_time_is_over_the_limit():
    from compare.studies.hessian import study
    rows = study((4, 8, 16), repeat=1, max_seconds=1e-9)
    timed = [r for r in rows if r["seconds"] != ""]
    assert {r["n"] for r in timed} == {4}      # every method is stopped after its first size
    stopped = [r for r in rows if r["predicted_seconds"] != ""]
    assert {r["n"] for r in stopped} == {8} and all(r["predicted_seconds"] > 0 for r in stopped)


def test_paragraph_flags_a_wrong_hessian():
    from compare.studies.hessian import paragraph
    row = dict(problem="p", n=10, first_call_seconds=0.1, peak_bytes=1.0, repeat=1,
               predicted_seconds=None)
    rows = [dict(row, method=m, seconds=s, rel_error=e) for m, s, e in (
        ("forward-over-reverse", 1.0, 0.0), ("reverse-over-reverse", 2.0, 0.0),
        ("forward-over-forward", 3.0, 0.0), ("reverse-over-forward", 4.0, 0.2))]
    text = paragraph(rows)
    assert "n = 10: forward-over-reverse (2x ahead of reverse-over-reverse)" in text
    assert "reverse-over-forward at n = 10 differs from forward-over-reverse by 0.2" in text
