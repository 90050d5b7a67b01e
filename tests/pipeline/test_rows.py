"""Rows are a pure function of (config, split, index): exact counts, determinism, faithful IR."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from builder.config import PairsConfig, known_categories
from builder.lowering.extractor import extract
from builder.pipeline.failures import Failure
from builder.pipeline.rows import generate_rows
from builder.pipeline.seeds import category_plan, shards
from builder.synth.specs import spec_of

CONFIG = PairsConfig(
    name="t",
    seed=3,
    train_size=40,
    validation_size=10,
    test_size=10,
    categories=tuple((c, 1.0) for c in known_categories()),
    max_statements=12,
    shard_size=7,
)


def rows(config: PairsConfig, split: str, start: int, stop: int) -> list[dict]:
    failures: list[Failure] = []
    out = [row for _, row in generate_rows(config, split, start, stop, failures)]
    assert failures == []
    return out


def test_category_plan_has_exact_quotas():
    config = replace(CONFIG, train_size=1001, categories=(("matrix", 2.0), ("reduction", 1.0), ("composite", 0.0)))
    counts = Counter(category_plan(config, "train"))
    assert counts == {"matrix": 667, "reduction": 334}


def test_shards_cover_the_split_once():
    covered = [i for start, stop in shards(CONFIG, "train") for i in range(start, stop)]
    assert covered == list(range(CONFIG.train_size))


@pytest.fixture(scope="module")
def train_rows() -> list[dict]:
    return rows(CONFIG, "train", 0, 21)


def test_rows_do_not_depend_on_shard_boundaries(train_rows):
    pieces = rows(CONFIG, "train", 0, 9) + rows(CONFIG, "train", 9, 21)
    assert pieces == train_rows


def test_another_seed_gives_other_programs(train_rows):
    other = rows(replace(CONFIG, seed=4), "train", 0, 21)
    assert {r["python"] for r in other}.isdisjoint({r["python"] for r in train_rows})


def test_python_reproduces_stablehlo_byte_for_byte(train_rows):
    for row in train_rows:
        leaves = [spec_of(a) for a in row["args"]]
        ir = extract(row["python"], row["entry_point"], leaves, row["args_tree"], differentiable=row["stablehlo_grad"] is not None)
        assert ir.stablehlo == row["stablehlo"], row["id"]
        assert ir.stablehlo_grad == row["stablehlo_grad"], row["id"]
        assert ir.jaxpr == row["jaxpr"], row["id"]


def test_rows_carry_the_contract(train_rows):
    for row in train_rows:
        assert row["jax_version"].startswith("jax ")
        assert row["ops"] and all("." in op for op in row["ops"])
        assert len(row["outputs"]) >= 1
        assert row["flops"] >= 0 and row["bytes_accessed"] > 0
        assert row["category"] in known_categories()


def test_gradient_false_drops_only_the_gradient(train_rows):
    """`gradient: false` skips the gradient's trace and lowering; every other column is the same."""
    with_grad = [r for r in train_rows[:12] if r["stablehlo_grad"] is not None][:3]
    assert with_grad
    forward_only = {r["id"]: r for r in rows(replace(CONFIG, gradient=False), "train", 0, 12)}
    for row in with_grad:
        assert forward_only[row["id"]] == {**row, "stablehlo_grad": None}


def test_gc_runs_less_often_while_rows_are_lowered_and_is_restored_after():
    import gc

    from builder.pipeline.rows import fewer_gc_passes

    before = gc.get_threshold()
    try:
        with fewer_gc_passes():
            assert gc.get_threshold()[0] >= 10_000
        assert gc.get_threshold() == before
        gc.set_threshold(50_000, 30, 10)  # a caller's own higher thresholds are kept
        with fewer_gc_passes():
            assert gc.get_threshold() == (50_000, 30, 10)
    finally:
        gc.set_threshold(*before)
