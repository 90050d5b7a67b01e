"""The output directory is replaced all at once or not at all, and recovers from a run killed mid-swap."""

from __future__ import annotations

import json

import pytest

from builder.config import ConfigError
from builder.pipeline.dedup import REPORT_NAME as DEDUP_REPORT
from builder.pipeline.output import DATASET_DICT, MANIFEST, check_target, data_digest, staged, write_manifest
from builder.pipeline.output import DEDUP_REPORT as NAMED_DEDUP_REPORT


def fake_build(directory, seed: int):
    """What `build` writes, in miniature: the manifest with every key, the DatasetDict's files, our reports."""
    (directory / "train").mkdir(parents=True, exist_ok=True)
    (directory / DATASET_DICT).write_text('{"splits": ["train"]}')
    for name in ("data-00000-of-00001.arrow", "dataset_info.json", "state.json"):
        (directory / "train" / name).write_text(str(seed))
    (directory / "failures.jsonl").write_text("")
    (directory / "duplicates.json").write_text("{}")
    write_manifest(directory, {"config": "matrix", "values": {"seed": seed}, "rows": {"train": 1}, "code_fingerprint": "f",
                               "jax_version": "j", "failures": 0, "data_digest": data_digest(directory)})


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


def test_the_dedup_report_is_named_as_dedup_names_it():
    assert NAMED_DEDUP_REPORT == DEDUP_REPORT


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: (d / MANIFEST).write_text("{}"), "build.json lacks config, values, code_fingerprint, jax_version, rows, failures, data_digest"),
        (lambda d: (d / MANIFEST).write_text("[1, 2]"), "build.json is not a JSON object"),
        (lambda d: (d / MANIFEST).unlink(), "build.json is missing"),
        (lambda d: (d / DATASET_DICT).unlink(), "dataset_dict.json is missing or unreadable"),
        (lambda d: (d / "README.md").write_text("mine"), "README.md"),
        (lambda d: (d / "train" / "notes.txt").write_text("mine"), "train/notes.txt"),
        (lambda d: (d / "src").mkdir(), "src/"),
        (lambda d: (d / "validation").mkdir(), "validation/"),  # a folder of a split the DatasetDict does not list
    ],
    ids=["empty-manifest", "list-manifest", "no-manifest", "no-dataset-dict", "extra-file", "extra-file-in-split", "extra-dir", "unlisted-split"],
)
def test_overwrite_replaces_only_a_build_this_project_wrote_and_nothing_else(tmp_path, change, named):
    out = tmp_path / "out"
    fake_build(out, seed=1)
    check_target(out, overwrite=True)  # ours: may be replaced
    change(out)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    for overwrite in (False, True):
        with pytest.raises(ConfigError) as err:
            check_target(out, overwrite=overwrite)
        assert "not a build written by `build`" in str(err.value) and named in str(err.value), str(err.value)
        assert "refusing to replace them, even with --overwrite" in str(err.value)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before


def test_a_project_folder_with_an_empty_build_json_is_refused_and_named(tmp_path):
    """The issue's case: `src/main.js`, `README.md` and a `build.json` holding `{}`."""
    out = tmp_path / "project"
    (out / "src").mkdir(parents=True)
    (out / "src" / "main.js").write_text("console.log(1)")
    (out / "README.md").write_text("# project")
    (out / MANIFEST).write_text("{}")
    for overwrite in (False, True):
        with pytest.raises(ConfigError) as err, staged(out, overwrite=overwrite):
            pass
        message = str(err.value)
        assert "build.json lacks config" in message and "README.md" in message and "src/" in message, message
        assert "None" not in message
    assert (out / "src" / "main.js").read_text() == "console.log(1)"


def test_the_data_digest_changes_with_any_byte_of_the_data(tmp_path):
    fake_build(tmp_path / "a", seed=1)
    before = data_digest(tmp_path / "a")
    assert data_digest(tmp_path / "a") == before
    (tmp_path / "a" / "train" / "data-00000-of-00001.arrow").write_text("2")
    assert data_digest(tmp_path / "a") != before
