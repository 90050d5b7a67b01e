"""Localizing a disagreement between the reference interpreter and XLA: allowed differences (a
transcendental's last bits, subnormals XLA flushes) are found, spliced out and explain it; a wrong op does not."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from builder.compare import INDEPENDENT, compare_outputs
from builder.interpreter import Interpreter
from builder.localize import identical, localize
from builder.runners import LITERAL, mlir_context, run_xla


def lower(fn, *args) -> str:
    return jax.jit(fn, keep_unused=True).lower(*args).as_text()


def xla(text, inputs):
    return run_xla(text, inputs, LITERAL)


def agree(reference, got) -> bool:
    return not compare_outputs(got, reference, INDEPENDENT, [], independent=True)


@pytest.fixture(scope="module")
def interpreter():
    with Interpreter(timeout=60) as it:
        yield lambda text, inputs: it.run(text, list(inputs)).outputs


def test_a_transcendental_an_ulp_apart_seen_through_its_bits_is_explained(interpreter):
    # numerics seed 4614257505504304152: the bytes of a softplus, plus an integer
    rng = np.random.default_rng(0)
    x, z = rng.uniform(-2, 2, (64, 7)).astype(np.float32), rng.integers(0, 9, (64, 7, 4)).astype(np.uint8)
    text = lower(lambda x, z: ~(jax.lax.bitcast_convert_type(jnp.log1p(jnp.exp(-jnp.abs(x))), jnp.uint8) + z), x, z)
    assert not identical(xla(text, [x, z])[0], interpreter(text, [x, z])[0])  # the two differ in low bytes
    found = localize(mlir_context(), text, [x, z], xla, interpreter, agree)
    assert found.explained, found.why
    assert set(found.excused) <= {"stablehlo.exponential", "stablehlo.log_plus_one"} and found.spliced >= 1
    assert all(kind.startswith("at most") for kinds in found.excused.values() for kind in kinds)


def test_subnormals_xla_flushes_are_explained(interpreter):
    x = np.zeros(4, np.float32)  # nextafter(0, inf) is the smallest subnormal: XLA's CPU runtime reads it as 0
    text = lower(lambda x: jnp.frexp(jnp.nextafter(x, jnp.inf))[1], x)
    assert not identical(xla(text, [x])[0], interpreter(text, [x])[0])
    found = localize(mlir_context(), text, [x], xla, interpreter, agree)
    assert found.explained, found.why
    assert any("subnormals" in kind for kinds in found.excused.values() for kind in kinds)


def test_a_wrong_op_is_not_explained():
    x, y = np.linspace(-1, 1, 8, dtype=np.float32), np.linspace(0.5, 2, 8, dtype=np.float32)
    text = lower(lambda x, y: jnp.sum(jnp.tanh(x) * y), x, y)

    def broken(text, inputs):  # an executor that adds where the IR multiplies
        return xla(text.replace("stablehlo.multiply", "stablehlo.add"), inputs)

    assert not agree(xla(text, [x, y]), broken(text, [x, y]))
    found = localize(mlir_context(), text, [x, y], xla, broken, agree)
    assert not found.explained
    assert found.why.startswith("stablehlo.multiply differs on operands both computed alike")


def strict(reference, got) -> bool:
    return all(identical(a, b) for a, b in zip(reference, got, strict=True))


@pytest.mark.parametrize("kind", ["matmul", "sum"])
def test_sums_in_another_order_are_explained_within_their_bound(interpreter, kind):
    rng = np.random.default_rng(0)
    if kind == "matmul":
        args = [rng.standard_normal((32, 512)).astype(np.float32), rng.standard_normal((512, 32)).astype(np.float32)]
        text, op = lower(lambda m, w: m @ w, *args), "stablehlo.dot_general"
    else:
        args = [rng.standard_normal(100_000).astype(np.float32)]
        text, op = lower(jnp.sum, *args), "stablehlo.reduce"
    assert not strict(xla(text, args), interpreter(text, args))  # the two sum in different orders
    found = localize(mlir_context(), text, args, xla, interpreter, strict)  # only bit-for-bit agreement counts
    assert found.explained, found.why
    assert found.excused == {op: {"order of summation (within n·eps·Σ|terms|)"}}


def test_a_sum_that_is_not_one_is_not_explained():
    v = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    text = lower(jnp.sum, v)

    def broken(text, inputs):  # an executor whose reduction takes the maximum
        return xla(text.replace("stablehlo.add", "stablehlo.maximum"), inputs)

    found = localize(mlir_context(), text, [v], xla, broken, strict)
    assert not found.explained and found.why.startswith("stablehlo.reduce differs on operands both computed alike")
