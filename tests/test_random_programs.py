"""Random programs drawn with hypothesis from the op registry: jacrev equals jacfwd."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

import adops
import dualad
import revad


# ops differentiable in every input (gammainc, stdtr... refuse their shape parameter)
UNARY = sorted(n for n, op in adops.OPS.items()
               if isinstance(op, adops.ElementwiseOp) and op.nin == 1 and op.numpy
               and not getattr(op, "refuses", ()))
BINARY = sorted(n for n, op in adops.OPS.items()
                if isinstance(op, adops.ElementwiseOp) and op.nin == 2 and op.numpy
                and not getattr(op, "refuses", ()))
STRUCTURAL = ["sum0", "sum1", "T", "matmul", "slice", "index", "concat", "reshape", "max", "where",
              "cumsum", "prod", "mean"]


def squash(v):
    """Into (0.25, 0.75), where every elementwise op but arccosh is defined and smooth."""
    return 0.5 + 0.25 * np.tanh(v)


def apply_step(step, vals):
    """One step ``(kind, name, i, j)`` of a random program on the values so far."""
    kind, name, i, j = step
    a, b = vals[i % len(vals)], vals[j % len(vals)]
    if kind == "u":
        return adops.OPS[name].numpy[0](squash(a))
    if kind == "b":
        return adops.OPS[name].numpy[0](squash(a), squash(b))
    s = a.shape
    return {
        "sum0": lambda: np.sum(a, axis=0, keepdims=True) * np.ones(s),
        "sum1": lambda: np.sum(a, axis=1, keepdims=True) + a,
        "T": lambda: a.T,
        "matmul": lambda: a @ b / 3.0,
        "slice": lambda: np.concatenate([a[1:], a[:1]], axis=0),
        "index": lambda: a[[2, 0, 1]][:, [1, 1, 0]],
        "concat": lambda: np.concatenate([a, b], axis=1)[:, ::2][:, :3],
        "reshape": lambda: a.reshape(9)[::-1].reshape(3, 3),
        "max": lambda: np.max(a, axis=1, keepdims=True) * b,
        "where": lambda: np.where(a > b, a * 2, b - a),
        "cumsum": lambda: np.cumsum(a, axis=1) / 3.0,
        "prod": lambda: np.prod(squash(a), axis=0) * b,
        "mean": lambda: np.mean(a, axis=0) - b,
    }[name]()


steps = st.one_of(
    st.tuples(st.just("u"), st.sampled_from(UNARY), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("b"), st.sampled_from(BINARY), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("s"), st.sampled_from(STRUCTURAL), st.integers(0, 9), st.integers(0, 9)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.lists(steps, min_size=1, max_size=8), seed=st.integers(0, 2**16))
def test_random_program_jacrev_equals_jacfwd(program, seed):
    x0 = np.random.default_rng(seed).normal(size=(3, 3))

    def f(x):
        vals = [x, x * 0.5 + 0.1]
        for step in program:
            vals.append(apply_step(step, vals))
        return vals[-1]
    jf = dualad.jacfwd(f)(x0)
    jr = revad.jacrev(f)(x0)
    assert jf.shape == jr.shape and jf.shape[-2:] == (3, 3)
    with np.errstate(all="ignore"):
        value = np.asarray(f(x0))
    # where the value itself is nan (arccosh off its domain) the derivative means nothing, and
    # strong zero may meet it with an exactly cancelling tangent in one mode only
    finite = np.isfinite(value)
    np.testing.assert_allclose(jr[finite], jf[finite], rtol=1e-9, atol=1e-9, equal_nan=True)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.lists(steps, min_size=1, max_size=8), seed=st.integers(0, 2 ** 16))
def test_random_program_jacrev_equals_jacfwd_compiled(program, seed):
    """The same property in the compiled tier (fewer draws: each new program is compiled, and
    the suite has a time bound)."""
    from adops.compile import tier
    with tier(compiled=True):
        test_random_program_jacrev_equals_jacfwd.hypothesis.inner_test(program=program, seed=seed)
