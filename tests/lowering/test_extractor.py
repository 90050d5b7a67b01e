"""The extractor keeps what JAX retains to the program at hand, so a long build stays flat in memory."""

from __future__ import annotations

import gc

import jax
from jax._src.interpreters import partial_eval

from builder.lowering.extractor import extract
from builder.synth.specs import TensorSpec

# Each uses jnp helpers that are themselves jitted (mean, var, softmax), as generated programs do.
PROGRAM = """
import jax
import jax.numpy as jnp


def f(x):
    return jax.nn.softmax(x - jnp.mean(x, axis=-1, keepdims=True)) * jnp.var(x)
"""

# Differentiating through a shard_map over an abstract mesh: jax 0.10 leaks its traces via weakref.finalize.
SHARD_MAP_PROGRAM = """
import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import AbstractMesh, PartitionSpec as P

mesh = AbstractMesh((2,), ("data",))


def f(x):
    def stats(block):
        return block - lax.pmean(jnp.mean(block, axis=0), "data")
    return jax.shard_map(stats, mesh=mesh, in_specs=P("data"), out_specs=P("data"))(x)
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


def live_traces() -> int:
    gc.collect()
    return sum(isinstance(o, partial_eval.DynamicJaxprTrace) for o in gc.get_objects())


def test_traces_leaked_through_finalizers_are_dropped():
    counts = []
    for _ in range(3):
        ir = extract(SHARD_MAP_PROGRAM, "f", [TensorSpec((8, 4), "float32")], "(0,)")
        assert ir.stablehlo_grad is not None
        counts.append(live_traces())
    # Each extraction leaves two traces behind without the fix (2, 4, 6); the next one drops them.
    assert counts[2] <= counts[0]
