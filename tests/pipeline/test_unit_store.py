"""Finished work units on disk: whole or absent, read back as datasets encodes them, failures kept with them."""

from __future__ import annotations

from builder.config import PairsConfig
from builder.features import FEATURES
from builder.pipeline.failures import Failure
from builder.pipeline.rows import generate_rows
from builder.pipeline.unit_store import load_unit, save_unit, unit_paths

CONFIG = PairsConfig(
    name="u", seed=2, train_size=2, validation_size=0, test_size=0,
    categories=(("arithmetic", 1.0),), min_statements=2, max_statements=3,
)  # fmt: skip


def test_a_saved_unit_comes_back_with_its_failures(tmp_path):
    rows = [row for _, row in generate_rows(CONFIG, "train", 0, 2)]
    failures = [Failure("train", 1, "arithmetic", 5, "TypeError: a generator bug")]
    assert load_unit(tmp_path, "train", 0) is None
    save_unit(tmp_path, "train", 0, rows, failures)
    kept_rows, kept_failures = load_unit(tmp_path, "train", 0)
    assert kept_rows == [FEATURES.encode_example(r) for r in rows]
    assert kept_failures == failures
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in unit_paths(tmp_path, "train", 0))


def test_failures_without_rows_are_not_a_finished_unit(tmp_path):
    _, failures_path = unit_paths(tmp_path, "train", 0)
    failures_path.write_text("[]")  # a run killed between the two writes
    assert load_unit(tmp_path, "train", 0) is None
