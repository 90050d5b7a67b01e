"""The Hub layout: names known up front, files that appear only whole, row replacement that repeats itself exactly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from builder.config import PairsConfig
from builder.engines.parquet_layout import Unit, read_rows, remove_partial_files, replace_rows, unit_of, units, write_rows
from builder.features import FEATURES
from builder.pipeline.rows import generate_rows

CONFIG = PairsConfig(
    name="tiny", seed=3, train_size=5, validation_size=0, test_size=2,
    categories=(("arithmetic", 1.0),), min_statements=2, max_statements=3, shard_size=2,
)  # fmt: skip


def test_every_file_name_is_known_before_any_row():
    assert [u.file_name for u in units(CONFIG)] == [
        "train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet",
        "test-00000-of-00001.parquet",
    ]  # fmt: skip
    assert [(u.start, u.stop) for u in units(CONFIG)] == [(0, 2), (2, 4), (4, 5), (0, 2)]
    assert unit_of(CONFIG, "train", 4) == (Unit("train", 2, 3, 4, 5), 0)
    assert unit_of(CONFIG, "train", 3) == (Unit("train", 1, 3, 2, 4), 1)
    assert len(units(replace(CONFIG, train_size=100_000, shard_size=1))) == 100_002  # names grow past five digits


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [row for _, row in generate_rows(CONFIG, "train", 0, 3)]


def test_rows_come_back_as_the_datasets_encoding_of_them(rows, tmp_path):
    path = tmp_path / "train-00000-of-00001.parquet"
    size = write_rows(path, rows)
    assert size == path.stat().st_size > 0
    assert read_rows(path) == [FEATURES.encode_example(r) for r in rows]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the temporary file was renamed, not left


def test_replacing_rows_twice_writes_the_same_bytes(rows, tmp_path):
    path = tmp_path / "train-00000-of-00001.parquet"
    write_rows(path, rows[:2])
    replace_rows(path, {1: rows[2]})
    once = path.read_bytes()
    replace_rows(path, {1: rows[2]})
    assert path.read_bytes() == once
    assert [r["id"] for r in read_rows(path)] == [rows[0]["id"], rows[2]["id"]]


def test_files_a_killed_writer_left_are_removed(tmp_path):
    (tmp_path / ".train-00000-of-00001.parquet.tmp-123").write_bytes(b"half")
    (tmp_path / "train-00000-of-00001.parquet").write_bytes(b"whole")
    assert remove_partial_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["train-00000-of-00001.parquet"]
