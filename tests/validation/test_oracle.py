"""The f64 oracle: the rewrite keeps what a module computes (constants exactly, Inf init values),
refuses what it would change, and tells a difference that is rounding from a wrong op."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from builder.validation.compare import INDEPENDENT, compare_outputs
from builder.validation.interpreter import Interpreter
from builder.validation.oracle import NotRewritable, rounding_error, to_f64, unexplained, upcast
from builder.validation.runners import run_xla


@pytest.fixture(scope="module")
def interpreter():
    with Interpreter(timeout=20) as it:
        yield it


def lower(fn, *args) -> str:
    return jax.jit(fn, keep_unused=True).lower(*args).as_text()


def test_constants_become_the_same_values_in_f64():
    text = (
        "func.func public @main(%arg0: tensor<2xf32>) -> (tensor<2xf32>) {\n"
        '  %0 = stablehlo.constant dense<"0x0000803F0000C0BF"> : tensor<2xf32>\n'
        "  %1 = stablehlo.constant dense<0.899999976> : tensor<f32>\n"
        "  %2 = stablehlo.constant dense<0xFF800000> : tensor<2xf32>\n"
        "  %3 = stablehlo.constant dense<[1.000000e-01, 0x7F800000]> : tensor<2xf32>\n"
        "  %4 = stablehlo.broadcast_in_dim %1, dims = [] : (tensor<f32>) -> tensor<2xf32>\n"
        "  %5 = stablehlo.add %0, %4 : tensor<2xf32>\n"
        "  %6 = stablehlo.add %5, %3 : tensor<2xf32>\n"
        "  %7 = stablehlo.maximum %6, %2 : tensor<2xf32>\n"
        "  return %7 : tensor<2xf32>\n"
        "}\n"
    )
    wide = to_f64(text)
    assert "f32" not in wide and 'dense<"0x000000000000F03F000000000000F8BF">' in wide and "dense<0xFFF0000000000000>" in wide
    assert "0x7FF0000000000000]>" in wide  # a non-finite element of a list prints as bits too


def test_half_precision_constants_become_the_same_values_in_f64():
    a, b = np.zeros(2, ml_dtypes.bfloat16), np.zeros(2, np.float16)
    text = lower(lambda a, b: (a + jnp.array([0.1, -np.inf], jnp.bfloat16), b + jnp.array([0.1, np.inf], jnp.float16)), a, b)
    assert "0xFF80]> : tensor<2xbf16>" in text and "0x7C00]> : tensor<2xf16>" in text
    wide = to_f64(text)
    assert "bf16" not in wide and "f16" not in wide
    got_bf16, got_f16 = run_xla(wide, upcast([a, b]))
    np.testing.assert_array_equal(got_bf16, [float(ml_dtypes.bfloat16(0.1)), -np.inf])
    np.testing.assert_array_equal(got_f16, [float(np.float16(0.1)), np.inf])


def test_a_lowered_module_computes_the_same_function_in_f64():
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(4, 6)

    def f(x):
        return jnp.max(x, axis=0), jnp.tanh(x) @ x.T * 0.3, jnp.argmax(x, axis=1), jax.nn.softmax(x.astype(jnp.bfloat16))

    text = lower(f, x)
    f32 = run_xla(text, [x])
    f64 = run_xla(to_f64(text), upcast([x]))
    assert [a.dtype.name for a in f64] == ["float64", "float64", "int32", "float64"]
    for a, b in zip(f32, f64, strict=True):
        np.testing.assert_allclose(a.astype(np.float64), b, rtol=1e-2 if a.dtype.itemsize == 2 else 1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "fn, arg",
    [
        (lambda x: jax.lax.bitcast_convert_type(x, jnp.int32), np.ones(3, np.float32)),
        (lambda x: jax.lax.reduce_precision(x, 5, 10), np.ones(3, np.float32)),
        (lambda x: jax.lax.rng_uniform(0.0, 1.0, (3,)) + x, np.ones(3, np.float32)),
        (jnp.linalg.cholesky, np.eye(3, dtype=np.float32)),
        (lambda x: x * 1j, np.ones(3, np.float32)),
    ],
)
def test_modules_whose_f64_version_computes_something_else_are_refused(fn, arg):
    with pytest.raises(NotRewritable):
        to_f64(lower(fn, arg))


def cancelling(n: int = 4096) -> np.ndarray:
    """Large terms that cancel: the sum is ~0.01 of the terms, so the summation order decides its f32 value."""
    rng = np.random.default_rng(0)
    big = rng.uniform(-1, 1, n).astype(np.float32) * np.float32(1e4)
    return np.concatenate([big, -big[::-1], rng.uniform(-1, 1, 8).astype(np.float32)])


def test_two_executors_summing_in_another_order_differ_by_rounding(interpreter):
    x = cancelling()
    text = lower(lambda x: (jnp.sum(x * 1.1), x * 1.1), x)
    xla, interpreted = run_xla(text, [x]), interpreter.run(text, [x]).outputs
    assert compare_outputs(interpreted, xla, INDEPENDENT, independent=True)  # beyond any fixed tolerance
    wide = to_f64(text)
    xla64, interpreted64 = run_xla(wide, upcast([x])), interpreter.run(wide, upcast([x])).outputs
    assert unexplained(interpreted, xla, interpreted64, xla64) == []
    assert rounding_error(xla, xla64) > 0


def test_a_wrong_op_is_not_rounding():
    x = cancelling()
    right = lower(lambda x: (jnp.sum(x * 1.1), x * 1.1), x)
    wrong = right.replace("stablehlo.multiply", "stablehlo.add")
    assert wrong != right
    f32 = [run_xla(t, [x]) for t in (wrong, right)]
    f64 = [run_xla(to_f64(t), upcast([x])) for t in (wrong, right)]
    assert len(unexplained(*f32, *f64)) == 2  # the sum and the elementwise output
    one_wrong = [f32[1][0], f32[0][1]], [f64[1][0], f64[0][1]]  # only the well-conditioned output is wrong
    assert [p.split(":")[0] for p in unexplained(one_wrong[0], f32[1], one_wrong[1], f64[1])] == ["output 1"]
