"""The extractor keeps JAX's trace cache to the program at hand, so a long build stays flat in memory."""

from __future__ import annotations

import jax
from jax._src.interpreters import partial_eval

from builder.extractor import extract
from builder.specs import TensorSpec

# Each uses jnp helpers that are themselves jitted (mean, var, softmax), as generated programs do.
PROGRAM = """
import jax
import jax.numpy as jnp


def f(x):
    return jax.nn.softmax(x - jnp.mean(x, axis=-1, keepdims=True)) * jnp.var(x)
"""


def trace_cache_size() -> int:
    return partial_eval.trace_to_jaxpr.cache_info().currsize


def test_traces_of_earlier_programs_are_released():
    sizes = []
    for shape in [(3, 5), (4, 7), (6, 2), (5, 3)]:
        ir = extract(PROGRAM, "f", [TensorSpec(shape, "float32")], "(0,)")
        assert ir.stablehlo_grad is not None
        sizes.append(trace_cache_size())
    # Without the release every new shape adds ~15 helper traces (19, 34, 49, 64); with it only the
    # last program's stay.
    assert sizes[0] > 5
    assert sizes[-1] <= sizes[0] + 2


def test_release_keeps_compiled_functions():
    double = jax.jit(lambda x: 2 * x)
    double(jax.numpy.ones(3))
    extract(PROGRAM, "f", [TensorSpec((2, 2), "float32")], "(0,)")
    assert double._cache_size() == 1  # the user's executable survives: no recompilation
