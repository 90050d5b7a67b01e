"""Op coverage across categories (issue 3's floors), on fixed seeds so the figures are exact."""

from __future__ import annotations

from collections import defaultdict

import pytest

from builder.lowering.extractor import counted_ops, extract
from builder.synth.generator import generate
from builder.synth.ops import BASE_CATEGORIES, CATEGORIES, COMPOSITE
from builder.synth.program import Program

FLOOR = 80  # distinct stablehlo.* / chlo.* ops the balanced mix must reach
BASIC = {*BASE_CATEGORIES, COMPOSITE}


def lower(program: Program) -> list[str]:
    ir = extract(program.render(), program.entry_point, [v.spec for v in program.leaves], program.args_tree(), False)
    return counted_ops(ir.ops)


def ops_by_category(per_category: int, first_seed: int = 10_000) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for category in CATEGORIES:
        for seed in range(first_seed, first_seed + per_category):
            seen[category].update(lower(generate(category, seed)))
    return seen


@pytest.fixture(scope="module")
def sample() -> dict[str, set[str]]:
    return ops_by_category(per_category=10)


def test_balanced_mix_reaches_the_op_floor(sample):
    distinct = set().union(*sample.values())
    assert len(distinct) >= FLOOR, sorted(distinct)


def test_every_new_category_adds_ops_the_basic_seven_lack(sample):
    basic = set().union(*(sample[c] for c in BASIC))
    for category in set(CATEGORIES) - BASIC:
        assert sample[category] - basic, f"{category} lowers to nothing the basic categories do not"


@pytest.mark.slow
def test_ten_thousand_programs_lower_and_keep_the_floor():
    """Issue 3: 100% of 10,000 drawn programs across all categories trace and lower, no retry, no skip."""
    per_category = -(-10_000 // len(CATEGORIES))
    seen = ops_by_category(per_category, first_seed=0)
    distinct = set().union(*seen.values())
    print(f"\n{per_category * len(CATEGORIES):,} programs lowered; {len(distinct)} distinct stablehlo/chlo ops")
    for category in CATEGORIES:  # run with -s to see what each category alone brings
        others = set().union(*(seen[c] for c in CATEGORIES if c != category))
        print(f"{category}: {len(seen[category])} ops; only here: {', '.join(sorted(seen[category] - others)) or '-'}")
    assert len(distinct) >= FLOOR
