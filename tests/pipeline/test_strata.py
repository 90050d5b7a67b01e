"""IR-length tiers and the spread of a benchmark's rows over them: quotas, and the second stage on real rows."""

from __future__ import annotations

from collections import Counter

import pytest

from builder.config import ConfigError, check, known_categories, resolve
from builder.pipeline.dedup import dedup_columns, key_columns
from builder.pipeline.rows import generate_rows
from builder.pipeline.strata import TIER_QUOTA, quotas
from builder.pipeline.tiers import TIER_NAMES, tier_of

T1, T2, T3, T4 = TIER_NAMES


def lines(n: int) -> str:
    return "\n".join(["op"] * n)


def test_tiers_are_bounded_by_lines_of_forward_stablehlo():
    assert [tier_of(lines(n)) for n in (1, 100, 101, 250, 251, 500, 501, 5000)] == [T1, T1, T2, T2, T3, T3, T4, T4]


def test_quotas_are_equal_over_the_tiers_a_category_reaches():
    assert quotas(Counter({T1: 28, T2: 12}), 40) == {T1: 20, T2: 20, T3: 0, T4: 0}
    assert quotas(Counter({T4: 13, T3: 5, T2: 2}), 20) == {T1: 0, T2: 7, T3: 7, T4: 6}
    # a tier under 5% of the rows gets no quota: a category that rarely reaches it is not forced there
    assert quotas(Counter({T1: 95, T2: 3, T3: 2}), 100) == {T1: 100, T2: 0, T3: 0, T4: 0}
    for natural in (Counter({T1: 1}), Counter({T2: 5, T4: 6}), Counter({T1: 3, T2: 3, T3: 3, T4: 4})):
        assert sum(quotas(natural, natural.total()).values()) == natural.total()


def test_the_key_is_checked():
    with pytest.raises(ConfigError, match="stratify_ir_tiers"):
        check({"categories": ["matrix"], "test_size": 1, "stratify_ir_tiers": "sometimes"}, known_categories())
    assert resolve("bench").stratify_ir_tiers and not resolve("balanced").stratify_ir_tiers
    assert key_columns(resolve("bench"))[-1] == "stablehlo" and "stablehlo" not in key_columns(resolve("balanced"))


@pytest.fixture(scope="module")
def drawn() -> tuple:
    """20 `indexing` test rows as the map draws them (8 / 9 / 3 over tiers 1-3 for this seed), and the second stage's output."""
    config = resolve("indexing", dict(train_size=0, validation_size=0, test_size=20, stratify_ir_tiers=True))
    rows = [row for _, row in generate_rows(config, "test", 0, 20)]
    cols = {"test": {k: [r[k] for r in rows] for k in key_columns(config)}}
    failures: list = []
    report, new = dedup_columns(config, cols, {}, failures)
    return config, rows, cols, report, new, failures


def test_the_second_stage_meets_each_tier_quota(drawn):
    _, rows, _, report, new, failures = drawn
    natural = Counter(tier_of(r["stablehlo"]) for r in rows)
    assert len(natural) > 1 and max(natural.values()) - min(natural.values()) > 1  # uneven as drawn: the stage has work
    final = [new.get(("test", i), r) for i, r in enumerate(rows)]
    assert Counter(tier_of(r["stablehlo"]) for r in final) == +Counter(quotas(natural, len(rows)))
    assert failures == []
    # a replaced row keeps its id and category, takes a new seed, and repeats no row's Python or IR
    assert new and all(new[("test", i)]["id"] == rows[i]["id"] and new[("test", i)]["seed"] != rows[i]["seed"] for _, i in new)
    assert all(new[k]["category"] == "indexing" for k in new)
    assert len({r["canonical_hash"] for r in final}) == len({r["python"] for r in final}) == len(final)
    assert [(r["id"], r["reason"]) for r in report.replaced] == [(new[k]["id"], TIER_QUOTA) for k in sorted(new)]


def test_the_second_stage_is_deterministic(drawn):
    config, _, cols, report, new, _ = drawn
    again, rows = dedup_columns(config, cols, {}, [])
    assert again.replaced == report.replaced and {k: r["python"] for k, r in rows.items()} == {k: r["python"] for k, r in new.items()}
