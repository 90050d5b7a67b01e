"""Styled programs record the trip count of every loop their lowered module runs, in order.

Cost analysis counts a `stablehlo.while` body once, so a row's `loop_trip_counts` must name each
loop of its `stablehlo`. Rows take the list from the IR (`lowering.loops`); a styled generator also
knows its loops, and here what it recorded is proved equal to what the reader finds, so the two
independent accounts check each other (JAX's threefry PRNG rounds left out on both sides).
"""

from __future__ import annotations

import pytest

from builder.lowering.extractor import lower
from builder.lowering.loops import loop_trip_counts
from builder.synth.styles import CATEGORIES, generate

SEEDS = 30
# nnx models loop over layers in Python (unrolled at trace time): their modules hold no loop, and a
# few programs check that as well as thirty (each is the slowest of the styles to lower)
SEEDS_WITHOUT_LOOPS = {"flax_nnx": 8}


@pytest.mark.parametrize("category", CATEGORIES)
def test_recorded_trip_counts_are_the_loops_of_the_lowered_module(category):
    looped = 0
    for seed in range(SEEDS_WITHOUT_LOOPS.get(category, SEEDS)):
        program = generate(category, seed)
        lowering = lower(program.render(), program.entry_point, [v.spec for v in program.leaves], program.args_tree(), differentiable=False)
        text = lowering.forward.as_text()
        assert loop_trip_counts(text) == program.loop_trip_counts, (category, seed, program.entry_point)
        looped += bool(program.loop_trip_counts)
    if category not in SEEDS_WITHOUT_LOOPS:
        assert looped >= 3, f"{category}: only {looped} of {SEEDS} seeds draw a loop; the test checks too little"
