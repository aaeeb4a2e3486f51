"""Bad input gets a clear error naming the problem and the way out, in both modes."""
import numpy as np

import adops
import pytest

import dualad
import revad

MODES = {"forward mode": lambda f, x: dualad.jacfwd(f)(x),
         "reverse mode": lambda f, x: revad.jacrev(f)(x)}


@pytest.mark.parametrize("mode", MODES)
def test_unsupported_function_names_itself_and_mode(mode):
    with pytest.raises(TypeError) as e:
        MODES[mode](lambda x: np.linalg.eig(x.reshape(2, 2)), np.ones(4))
    msg = str(e.value)
    assert "numpy.linalg.eig" in msg and mode in msg and "supported_functions" in msg
    assert "eigh" in msg, "the message names what to use instead"


@pytest.mark.parametrize("mode", MODES)
def test_unsupported_ufunc_method(mode):
    with pytest.raises(TypeError, match=f"numpy.add.at.*{mode}"):
        MODES[mode](lambda x: np.add.at(x, [0], 1.0), np.ones(3))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("escape", [np.asarray, float, lambda x: x.item(), lambda x: x.tolist()])
def test_dropping_the_derivative_raises(mode, escape):
    with pytest.raises(TypeError, match="drop"):
        MODES[mode](lambda x: escape(x[0]), np.ones(3))


@pytest.mark.parametrize("mode", MODES)
def test_writing_into_plain_array_raises(mode):
    def f(x):
        out = np.zeros(3)
        out[0] = x[0]
        return out
    # numpy turns our TypeError from float() into its own ValueError; either way it is not silent
    with pytest.raises((TypeError, ValueError)):
        MODES[mode](f, np.ones(3))


@pytest.mark.parametrize("mode", MODES)
def test_inplace_ufunc_out_raises(mode):
    def f(x):
        np.sin(x, out=x)
        return x
    with pytest.raises(TypeError, match="in-place"):
        MODES[mode](f, np.ones(3))


@pytest.mark.parametrize("mode", MODES)
def test_mismatched_matmul_names_both_shapes(mode):
    with pytest.raises(ValueError, match=r"\(3,\).*\(4, 2\)"):
        MODES[mode](lambda x: x @ np.ones((4, 2)), np.ones(3))


def test_jvp_tangent_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        dualad.jvp(np.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match=r"batched"):
        dualad.jvp(np.sin, (np.ones(3),), (np.ones(3),), batched=True)


def test_vjp_cotangent_shape_mismatch_names_both_shapes():
    _, vjp_fn = revad.vjp(np.sin, np.ones(3))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        vjp_fn(np.ones(4))


def test_grad_of_non_scalar_names_the_shape():
    with pytest.raises(TypeError, match=r"scalar.*\(3,\)"):
        revad.grad(np.sin)(np.ones(3))


def test_derivative_needs_scalar():
    with pytest.raises(ValueError, match="scalar"):
        dualad.derivative(np.sin)(np.ones(3))


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        revad.grad(lambda x: x, argnums=2)(1.0)
    with pytest.raises(ValueError, match="argnums"):
        dualad.jacfwd(lambda x: x, argnums=1)(1.0)


def test_bad_chunk():
    with pytest.raises(ValueError, match="chunk"):
        dualad.jacfwd(np.sin, chunk=0)(np.ones(2))
    with pytest.raises(ValueError, match="chunk"):
        revad.jacrev(np.sin, chunk=-1)(np.ones(2))


def test_non_array_output():
    with pytest.raises(TypeError, match="returned str"):
        dualad.jacfwd(lambda x: "no")(np.ones(2))
    with pytest.raises(TypeError, match="returned a dict"):
        revad.grad(lambda x: {"a": x})(np.ones(2))


def test_complex_and_object_inputs_refused():
    with pytest.raises(TypeError, match="complex"):
        revad.grad(lambda x: np.sum(x))(np.ones(2, complex))
    with pytest.raises(TypeError, match="dtype"):
        dualad.jacfwd(lambda x: x)(np.array(["a"]))


@pytest.mark.parametrize("leak_in", ["dualad", "revad"])
@pytest.mark.parametrize("use_in", ["dualad", "revad", "plain"])
def test_a_leaked_traced_value_is_an_error(leak_in, use_in):
    """A traced value kept from a finished transform never brings its old derivative along."""
    keep = {}

    def f(x):
        keep["x"] = x * 2.0
        return np.sum(x)
    {"dualad": lambda: dualad.jacfwd(f)(np.ones(2)),
     "revad": lambda: revad.grad(f)(np.ones(2))}[leak_in]()
    use = {"dualad": lambda g: dualad.jacfwd(g)(np.ones(2)),
           "revad": lambda g: revad.jacrev(g)(np.ones(2)),
           "plain": lambda g: g(np.ones(2))}[use_in]
    with pytest.raises(adops.LeakedTracer, match="leaked"):
        use(lambda y: y + keep["x"])


@pytest.mark.parametrize("mode", MODES)
def test_traced_index_is_refused(mode):
    with pytest.raises(TypeError, match="index"):
        MODES[mode](lambda x: x[x], np.ones(2))


@pytest.mark.parametrize("mode", MODES)
def test_mismatched_elementwise_shapes_name_both(mode):
    with pytest.raises(ValueError, match=r"add: inputs of shapes \(3,\) and \(4,\)"):
        MODES[mode](lambda x: x + np.ones(4), np.ones(3))
