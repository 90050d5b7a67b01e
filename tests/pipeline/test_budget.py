"""Length budgets: every row fits, the same seed and budget give the same rows, every category is
still drawn (smaller), redraws are counted, and a budget no program can meet fails before lowering."""

from __future__ import annotations

import pytest

from builder.config import ConfigError, resolve
from builder.hf_builder import make_builder
from builder.pipeline import plan as plan_module
from builder.pipeline import rows as pipeline_rows
from builder.pipeline.budget import statement_caps
from builder.pipeline.failures import BUDGET, Failure
from builder.pipeline.plan import build_plan
from builder.pipeline.rows import generate_rows
from builder.pipeline.seeds import limits_of
from builder.pipeline.stats import collect
from builder.synth.generator import generate
from builder.synth.ops import CATEGORIES

TIGHT = {"max_ir_chars": 10_000, "max_python_chars": 2_000}  # configs/balanced-4k.yaml


def budgeted(category: str, rows: int, **extra: object):
    return resolve(category, {"train_size": rows, "validation_size": 0, "test_size": 0, "max_statements": 40, **TIGHT, **extra})


@pytest.mark.parametrize("category", sorted(CATEGORIES))  # the styled categories are written whole: filtered, not shaped
def test_every_row_of_every_category_fits_the_budget(category):
    config = budgeted(category, 4)
    redraws: list[Failure] = []
    rows = [row for _, row in generate_rows(config, "train", 0, 4, redraws)]
    assert len(rows) == 4 and {r["category"] for r in rows} == {category}
    for row in rows:
        assert len(row["python"]) <= TIGHT["max_python_chars"], row["id"]
        assert len(row["stablehlo"]) <= TIGHT["max_ir_chars"], row["id"]
        assert len(row["stablehlo_grad"] or "") <= TIGHT["max_ir_chars"], row["id"]
    assert all(f.kind == BUDGET and "over budget" in f.error for f in redraws if f.kind == BUDGET)


def test_the_budget_shapes_programs_it_does_not_only_filter():
    """A budget caps each category's statements at what it affords: programs get smaller."""
    free = resolve("control_flow", {"train_size": 40})
    tight = resolve("control_flow", {"train_size": 40, **TIGHT})
    caps = dict(statement_caps(tight))
    assert 1 <= caps["control_flow"] < free.max_statements
    assert limits_of(tight).for_category("control_flow").max_statements == caps["control_flow"]
    tight_sizes = sorted(len(generate("control_flow", seed, limits_of(tight)).nodes) for seed in range(40))
    free_sizes = sorted(len(generate("control_flow", seed, limits_of(free)).nodes) for seed in range(40))
    assert tight_sizes[-1] < free_sizes[len(free_sizes) // 2]


def test_the_same_seed_and_budget_give_the_same_rows():
    config = budgeted("numerics", 3, seed=5)
    first = [row for _, row in generate_rows(config, "train", 0, 3)]
    again = [row for _, row in generate_rows(config, "train", 0, 3)]
    assert first == again


def test_redraws_over_the_budget_are_counted_and_reported(tmp_path):
    """A budget most draws miss: the replaced draws are recorded with why, as kind 'budget'."""
    builder = make_builder("random", str(tmp_path), train_size=3, validation_size=0, test_size=0, max_ir_chars=10_000)
    ds, failures = builder.build()
    assert len(ds["train"]) == 3
    assert all(len(r["stablehlo"]) <= 10_000 and len(r["stablehlo_grad"] or "") <= 10_000 for r in ds["train"])
    redraws = [f for f in failures if f.kind == BUDGET]
    assert redraws and all(f.error.startswith("over budget: stablehlo") for f in redraws)
    stats = collect(ds, budget_redraws=len(redraws))
    assert f"draws over the length budget (replaced): {len(redraws)}" in stats.format()


def test_a_budget_under_the_floor_is_refused_by_the_config_check():
    with pytest.raises(ConfigError, match=r"max_ir_chars is 500, under 1,000.*set 0 for no budget"):
        resolve("matrix", {"max_ir_chars": 500})
    with pytest.raises(ConfigError, match=r"max_python_chars is 50, under 200"):
        resolve("matrix", {"max_python_chars": 50})


def test_a_budget_too_tight_for_a_category_fails_before_any_lowering(tmp_path, monkeypatch):
    def no_lowering(*args, **kwargs):
        raise AssertionError("a row was lowered before the budget was found impossible")

    monkeypatch.setattr(pipeline_rows, "make_row", no_lowering)
    with pytest.raises(ConfigError, match=r"too tight for category 'random'.*leave 'random' out of categories"):
        make_builder("random", str(tmp_path), max_ir_chars=1_000)
    # Python is known before lowering: when no draw fits, the global plan names the category and stops there.
    monkeypatch.setattr(plan_module, "python_over_budget", lambda config, source: f"over budget: python has {len(source)} characters")
    config = resolve("control_flow", {"train_size": 2, "validation_size": 0, "test_size": 0, "max_python_chars": 400})
    with pytest.raises(ConfigError, match=r"64 of 64 programs of category 'control_flow' were over max_python_chars=400"):
        build_plan(config)


def test_lengths_per_column_and_category_are_in_the_summary(tmp_path):
    builder = make_builder("matrix", str(tmp_path), train_size=4, validation_size=0, test_size=0)
    ds, _ = builder.build()
    stats = collect(ds)
    assert set(stats.lengths) == {"python", "stablehlo", "stablehlo_grad"}
    python = stats.lengths["python"]
    lengths = sorted(len(p) for p in ds["train"]["python"])
    assert python["matrix"] == python["all"]
    assert (python["all"].rows, python["all"].median, python["all"].max) == (4, lengths[2], lengths[-1])
    assert "python: characters per row (tokens at ~3 characters a token)" in stats.format()
    again = type(stats).from_dict(stats.to_dict())
    assert again.lengths == stats.lengths
