"""Styled programs record the trip count of every loop their lowered module runs, in order.

Cost analysis counts a `stablehlo.while` body once, so a row's `loop_trip_counts` must name each
loop of its `stablehlo`: here the list is read back from the IR itself (a counted loop's bound) and
compared with what the generator recorded. JAX's own loops are left out on both sides: on CPU the
threefry PRNG runs its rounds as a 5-trip loop that carries the rotation vectors (`tensor<4xui32>`).
"""

from __future__ import annotations

import pytest

from builder.lowering.extractor import lower
from builder.synth.styles import CATEGORIES, generate
from builder.validation.interpreter import make_context
from builder.validation.localize import _trip_count

SEEDS = 30


def _is_prng_rounds(loop) -> bool:
    return any(str(v.type) == "tensor<4xui32>" for v in loop.operands)


def ir_loop_trip_counts(ctx, text: str) -> list[int]:
    """Trip counts of the module's counted loops in walk order (-1: a bound the IR does not fix), PRNG rounds left out."""
    from jaxlib.mlir import ir

    found: list[int] = []

    def visit(op):
        if op.name == "stablehlo.while" and not _is_prng_rounds(op):
            trips = _trip_count(op)
            found.append(-1 if trips is None else trips)
        return ir.WalkResult.ADVANCE

    with ctx:
        ir.Module.parse(text).operation.walk(visit)
    return found


@pytest.fixture(scope="module")
def ctx():
    return make_context()


@pytest.mark.parametrize("category", CATEGORIES)
def test_recorded_trip_counts_are_the_loops_of_the_lowered_module(ctx, category):
    looped = 0
    for seed in range(SEEDS):
        program = generate(category, seed)
        lowering = lower(program.render(), program.entry_point, [v.spec for v in program.leaves], program.args_tree(), differentiable=False)
        text = lowering.forward.as_text()
        assert ir_loop_trip_counts(ctx, text) == program.loop_trip_counts, (category, seed, program.entry_point)
        looped += bool(program.loop_trip_counts)
    if category != "flax_nnx":  # nnx models loop over layers in Python (unrolled at trace time)
        assert looped >= 3, f"{category}: only {looped} of {SEEDS} seeds draw a loop; the test checks too little"
