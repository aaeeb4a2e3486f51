"""compare.jacobian and its planner: the mode a clear case needs, the Jacobian it returns checked
against the other mode and finite differences, the plan in words, the plan kept per signature,
options that restrict it, bad options, and the cost model's arithmetic."""
import numpy as np
import pytest
import scipy.sparse as sp

import dualad
import revad
from compare import jacobian, recommend
from compare.common.timing import finite_differences
from compare.tools.planner import Choice, Probes, choose, on_workers

# 1500 outputs of 3 inputs: reverse mode costs tens of times forward's (at 300 outputs about 4x,
# which a loaded machine's noise could flip in the planner's timed probes)
B = np.random.default_rng(2).standard_normal((1500, 3))


def many_in(x):
    return np.sum(np.sin(x) * x)


def many_out(x):
    return np.tanh(B @ x)


def test_reverse_for_many_inputs_forward_for_many_outputs():
    x = np.linspace(0, 1, 400)
    J, plan = jacobian(many_in, compiled=False, explain=True)(x)
    assert plan.mode.startswith("reverse")
    np.testing.assert_allclose(J, dualad.jacfwd(many_in)(x), rtol=1e-12)
    x = np.array([0.1, -0.2, 0.3])
    J, plan = jacobian(many_out, compiled=False, explain=True)(x)
    assert plan.mode.startswith("forward")
    np.testing.assert_allclose(J, finite_differences(many_out, x), rtol=1e-6, atol=1e-8)


def test_the_plan_in_words_gives_its_measured_numbers():
    plan = jacobian.plan(many_in, np.ones(50), compiled=False, calls=7)
    text = str(plan)
    assert "f: R^50 -> R^1" in text and "measured eager    record" in text
    assert f"plan: {plan.mode} mode, eager tier" in text and "for 7 calls" in text
    assert plan.probes.probe_seconds > 0
    # the plan is the cheapest prediction it lists
    assert plan.choice.seconds == min(plan.probes.predicted["eager"].values())


def test_the_plan_is_kept_per_signature():
    jac = jacobian(many_out, compiled=False, sparsity=None)
    jac(np.ones(3))
    first = jac.plans.copy()
    jac(np.zeros(3))
    assert jac.plans == first and len(first) == 1
    jac(np.ones(3, dtype=np.float32))
    assert len(jac.plans) == 2
    # a new jacobian(f) of the same function and options reuses the plan: no probes again
    _, plan = jacobian(many_out, compiled=False, sparsity=None, explain=True)(np.ones(3))
    assert plan is first[next(iter(first))]


def test_fixed_options_restrict_the_plan():
    x = np.linspace(0, 1, 40)
    J, plan = jacobian(many_in, mode="forward", compiled=False, sparsity=None, chunk=8,
                       explain=True)(x)
    assert plan.mode == "forward" and plan.runner_up is None
    np.testing.assert_allclose(J, revad.jacrev(many_in)(x), rtol=1e-12)


def test_a_sparse_jacobian_is_planned_coloured():
    def banded(x):
        return x[1:] * x[:-1] - np.roll(x, 1)[1:]
    x = np.linspace(0.1, 1, 200)
    # for one call, detecting the pattern costs more than it could save: not probed
    assert jacobian.plan(banded, x, compiled=False, calls=1).probes.counts == {}
    J, plan = jacobian(banded, compiled=False, calls=10**4, explain=True)(x)
    assert plan.probes.counts["forward"] <= 3
    dense = J.toarray() if hasattr(J, "toarray") else J
    np.testing.assert_allclose(dense, revad.jacrev(banded)(x), rtol=1e-12)


def test_a_mode_whose_fullest_row_or_column_rules_it_out_is_not_coloured(monkeypatch):
    """Every output reads x[0]: its column is full, so colouring rows needs m colours, more than
    twice the 2 colours of columns; the rows are not coloured (on BA that saved 0.5 s)."""
    from adops.sparsity import colouring
    rows = []
    real = colouring.colour_rows
    monkeypatch.setattr(colouring, "colour_rows", lambda *a, **k: rows.append(1) or real(*a, **k))
    f = lambda x: x * x[0] + np.sin(x)  # noqa: E731
    x = np.linspace(0.1, 1, 400)
    J, plan = jacobian(f, compiled=False, calls=10**4, explain=True)(x)
    assert plan.probes.counts == {"forward": 2} and plan.probes.colour_bounds == {"reverse": 400}
    assert rows == [] and "at least 400" in str(plan)
    dense = J.toarray() if hasattr(J, "toarray") else J
    np.testing.assert_allclose(dense, dualad.jacfwd(f)(x), rtol=1e-12)
    # the transpose: the fullest row rules out colouring columns
    g = lambda x: np.concatenate([np.sum(x, keepdims=True), x[1:] ** 2])  # noqa: E731
    plan = jacobian.plan(g, x, compiled=False, calls=10**4)
    assert "forward" not in plan.probes.counts and plan.probes.colour_bounds == {"forward": 400}


def test_the_first_call_hands_out_the_jacobian_its_coloured_probe_computed(monkeypatch):
    from adops.sparsity import colouring
    pushes = []
    real = colouring.sparse_jacobian
    monkeypatch.setattr(colouring, "sparse_jacobian",
                        lambda *a, **k: pushes.append(1) or real(*a, **k))

    def banded(x):
        return x[1:] * x[:-1] - np.roll(x, 1)[1:]
    x = np.linspace(0.1, 1, 2000)
    jac = jacobian(banded, compiled=False, calls=10**4)
    J1, plan = jac(x), next(iter(jac.plans.values()))
    probed = [m for m, _ in plan.probes.predicted["eager"] if m.endswith("coloured")]
    assert plan.mode in probed and len(pushes) == len(probed)  # one push per probe, no more
    J2 = jac(x)
    assert sp.issparse(J1) and len(pushes) == len(probed) + 1 and J1 is not J2
    np.testing.assert_allclose(J1.toarray(), J2.toarray(), rtol=0, atol=0)
    np.testing.assert_allclose(J1.toarray(), revad.jacrev(banded)(x), rtol=1e-12)
    assert all(not p.probes.results for p in jac.plans.values())  # nothing kept


def test_the_compiled_tier_when_forced():
    J, plan = jacobian(many_out, compiled=True, sparsity=None, explain=True)(np.ones(3))
    assert plan.choice.tier == "compiled" and plan.choice.compile_seconds > 0
    np.testing.assert_allclose(J, revad.jacrev(many_out)(np.ones(3)), rtol=1e-12)


@pytest.mark.parametrize("option, match", [
    (dict(mode="sideways"), "mode='sideways' is not known; use one of 'auto', 'forward'"),
    (dict(compiled="yes"), "compiled='yes' is not known"),
    (dict(sparsity="dense"), "sparsity='dense' is not known; use 'auto', None"),
    (dict(calls=0), "calls=0 must be a positive"),
])
def test_unknown_options_are_named(option, match):
    with pytest.raises(ValueError, match=match):
        jacobian(many_in, **option)(np.ones(3))


def test_several_argnums_are_refused_with_the_way_out():
    with pytest.raises(ValueError, match="call it once per argument"):
        jacobian(lambda a, b: a * b, argnums=(0, 1))(np.ones(2), np.ones(2))


def test_recommend_and_jacobian_share_the_planner():
    x = np.linspace(0, 1, 3000)  # forward mode: 12 passes of 256; reverse: one sweep
    assert recommend(many_in, x, repeat=1, compiled=False, sparsity=None).mode == \
        jacobian.plan(many_in, x, compiled=False, sparsity=None).mode == "reverse"


def test_choose_weighs_compile_against_calls():
    p = Probes(10, 10, {"eager": {("forward", 10): 0.010}, "compiled": {("forward", 10): 0.001}},
               {"forward": 1.0})
    # compiling pays after 1.0 / (0.010 - 0.001) = 111.1 calls
    assert choose(p, 111).tier == "eager" and choose(p, 112).tier == "compiled"


def test_on_workers_divides_the_passes_and_keeps_the_recording():
    p = Probes(1, 100, {"eager": {("reverse", 10): 0.5}},
               passes={("eager", "record", 1): 0.1})
    c = Choice("eager", "reverse", 10, 0.5, 0.0, 1)
    # 10 sweeps of 0.04 s: on 4 workers ceil(10 / 4) = 3 each, plus the recording, plus shipping
    assert on_workers(p, c, 4, ship=0.01) == pytest.approx(0.1 + 3 * 0.04 + 10 * 0.01)


def test_a_tree_or_a_bad_executor_is_refused_before_probing():
    with pytest.raises(TypeError, match="one array argument.*ravel_pytree"):
        jacobian(lambda p: p["a"] * 2)({"a": np.ones(2)})
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        jacobian(many_in, executor=3)


def test_a_dense_jacobian_that_does_not_fit_in_memory_is_never_planned(monkeypatch):
    from compare.tools import planner
    p = Probes(1000, 1000, {"eager": {("forward", 8): 0.01, ("forward-coloured", 3): 0.02}})
    assert p.dense_bytes == 8 * 10 ** 6
    assert choose(p, 5, available=10 ** 9).mode == "forward"
    assert choose(p, 5, available=10 ** 7).mode == "forward-coloured"  # 8 MB > half of 10 MB
    with pytest.raises(MemoryError, match=r"dense Jacobian \(1000, 1000\) takes .* sparsity='auto'"):
        choose(p, 5, modes=("forward", "reverse"), available=10 ** 7)
    # end to end: with little memory a banded function's Jacobian comes coloured (sparse),
    # and a dense-only request names the way out instead of running out of memory
    monkeypatch.setattr(planner, "memory_available", lambda: 2 * 8 * 300 * 300 - 1)
    banded = lambda x: x[1:] * x[:-1]  # noqa: E731
    x = np.linspace(0.5, 1.5, 301)
    J, plan = jacobian(banded, compiled=False, explain=True)(x)
    assert plan.mode.endswith("coloured") and hasattr(J, "tocsr")
    np.testing.assert_allclose(J.toarray(), dualad.jacfwd(banded)(x), rtol=1e-15)
    with pytest.raises(MemoryError, match="sparsity='auto'"):
        jacobian(banded, compiled=False, sparsity=None)(x)


class FakeClock:
    """The planner's clock, advanced by the fake modes of a test (no timing of this machine)."""

    now = 0.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from compare.tools import planner
    fake = FakeClock()
    monkeypatch.setattr(planner, "time", fake)
    return fake


def test_a_close_runner_up_is_timed_again_so_one_slowed_probe_cannot_steer_the_plan(clock):
    """Fake modes on a fake clock: forward passes cost 5 ms, but the first timed one was slowed
    to 15 ms (a pause of a loaded machine); reverse mode costs 12 ms. The runner-up (forward,
    predicted within 1.5x) is timed again, so the plan is forward, as it should be."""
    from compare.tools import planner
    timed = []

    def jvp(f, primals, tangents, batched, compiled):
        k = tangents[0].shape[0]
        if k > 1:
            timed.append(k)
        clock.now += 0.015 if len(timed) == 1 and k > 1 else 0.005

    def vjp(f, x, compiled):
        clock.now += 0.004

        def pullback(seeds, batched):
            clock.now += 0.008
        return np.zeros(8), pullback

    drivers = planner.Drivers(jvp, vjp, {})
    probes = planner.measure_lean(drivers, lambda x: x, np.ones(8), calls=10, sparsity=None,
                                  compiled=False)
    assert len(timed) == 2  # the slowed probe, and the one more of the close runner-up
    assert choose(probes, 10).mode == "forward"
    assert probes.predicted["eager"][("forward", 8)] == pytest.approx(0.005)


def test_a_large_side_is_probed_narrow_first_and_wide_only_within_the_budget(clock):
    """n = 5000 inputs, a known banded pattern (3 colours); on a fake clock a forward pass costs
    1 ms per direction and the coloured Jacobian 10 ms. The narrowest width (8) is probed first;
    once the coloured Jacobian is timed, a wider pass (32 ms at least) exceeds the budget of 20
    Jacobians, so no wide pass is run (at width 256 it alone would cost 25 coloured ones)."""
    from compare.tools import planner
    widths = []

    def jvp(f, primals, tangents, batched, compiled):
        widths.append(tangents[0].shape[0])
        clock.now += 1e-3 * tangents[0].shape[0]

    def coloured(f, sparsity):
        def jac(x):
            clock.now += 0.010
        return jac
    drivers = planner.Drivers(jvp, None, {"forward": coloured})
    n = 5000
    banded = sp.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(n, n), format="csr")
    probes = planner.measure_lean(drivers, lambda x: x, np.ones(n), calls=20, sparsity=banded,
                                  compiled=False, modes=("forward",))
    assert widths == [1, 8]  # the warm pass, then the narrowest width only
    assert choose(probes, 20, modes=("forward", "forward-coloured")).mode == "forward-coloured"
