"""The output directory is replaced all at once or not at all, and recovers from a run killed mid-swap."""

from __future__ import annotations

import json

import pytest

from builder.config import ConfigError
from builder.pipeline.output import DATASET_DICT, MANIFEST, check_target, staged, write_manifest


def fake_build(directory, seed: int):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DATASET_DICT).write_text('{"splits": ["train"]}')
    write_manifest(directory, {"config": "matrix", "values": {"seed": seed}, "rows": {"train": 1}})


def seed_of(directory) -> int:
    return json.loads((directory / MANIFEST).read_text())["values"]["seed"]


def hidden(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.") and not p.name.endswith(".lock"))


def test_a_failed_write_leaves_the_old_build_and_no_debris(tmp_path):
    out = tmp_path / "out"
    fake_build(out, seed=1)
    with pytest.raises(RuntimeError, match="disk full"), staged(out, overwrite=True) as tmp:
        (tmp / "partial.arrow").write_text("half")
        raise RuntimeError("disk full")
    assert seed_of(out) == 1 and not (out / "partial.arrow").exists()
    assert hidden(tmp_path) == []


def test_a_complete_write_replaces_the_old_build(tmp_path):
    out = tmp_path / "out"
    fake_build(out, seed=1)
    with staged(out, overwrite=True) as tmp:
        fake_build(tmp, seed=2)
    assert seed_of(out) == 2 and hidden(tmp_path) == []


def test_a_run_killed_between_the_two_renames_is_recovered(tmp_path):
    out = tmp_path / "out"
    fake_build(tmp_path / ".out.old-999", seed=1)  # the old build moved aside, the new one never moved in
    fake_build(tmp_path / ".out.incomplete-998", seed=2)  # a staging dir of a killed run
    with pytest.raises(ConfigError, match=r"already holds a build of 'matrix' \(seed 1"), staged(out, overwrite=False):
        pass
    assert seed_of(out) == 1 and hidden(tmp_path) == []


def test_only_builds_are_ever_replaced(tmp_path):
    check_target(tmp_path / "new", overwrite=False)
    (tmp_path / "empty").mkdir()
    check_target(tmp_path / "empty", overwrite=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(ConfigError, match="not a build"):
        check_target(tmp_path / "notes", overwrite=True)
