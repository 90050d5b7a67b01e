"""Every op-level row records its `stablehlo`'s loops: `loop_trip_counts` is read from the module the row holds.

The list is `lowering.loops.loop_trip_counts` of the forward module (one entry per `stablehlo.while`,
walk order); here it is checked against the row's own text and against what the source fixes: a
`lax.fori_loop` between literal bounds and a `lax.scan(..., length=N)`, neither unrolled, each run
a loop of exactly that many trips.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from builder.config import PairsConfig
from builder.lowering.loops import loop_trip_counts
from builder.pipeline.rows import make_row
from builder.synth.ops import CATEGORIES

SEEDS = 24
CONFIG = PairsConfig(name="loops", seed=0, train_size=1, validation_size=0, test_size=0, gradient=False)
FORI = re.compile(r"lax\.fori_loop\((\d+), (\d+), \w+, \w+\)$", re.MULTILINE)  # no `unroll=`
SCAN = re.compile(r"lax\.scan\(\w+, \w+, None, length=(\d+)\)$", re.MULTILINE)
LOOPING = {"control_flow": 12, "linalg": 6}  # categories that must draw loops, and in how many seeds at least


def source_counts(python: str) -> Counter[int]:
    """Trip counts the source fixes by itself (literal bounds, no `unroll`)."""
    return Counter([int(hi) - int(lo) for lo, hi in FORI.findall(python)] + [int(n) for n in SCAN.findall(python)])


@pytest.mark.parametrize("category", CATEGORIES)
def test_rows_record_the_loops_of_their_stablehlo(category):
    looped = checked = 0
    for seed in range(SEEDS):
        row = make_row(CONFIG, "train", seed, category, seed)
        recorded = row["loop_trip_counts"]
        assert recorded == loop_trip_counts(row["stablehlo"]), (category, seed)
        fixed = source_counts(row["python"])
        assert not fixed - Counter(recorded), (category, seed, fixed, recorded)
        looped += bool(recorded)
        checked += sum(fixed.values())
    if category in LOOPING:
        assert looped >= LOOPING[category], f"{category}: only {looped} of {SEEDS} rows loop; the test checks too little"
    if category == "control_flow":
        assert checked >= 20, checked
