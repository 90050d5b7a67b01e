"""`validate --resume-file`: results kept row by row, so a stopped run checks only what it lacks, with the
same findings as one uninterrupted run; a file of other checks or options is refused and kept, a changed row checked again."""

from __future__ import annotations

import json

import datasets
import pytest

from builder.cli import main
from builder.config import ConfigError, PairsConfig
from builder.pipeline.rows import generate_rows
from builder.validation import journal as journal_module
from builder.validation import validate
from builder.validation.journal import Journal, checked_files
from builder.validation.validate import FAIL, Options, run

CONFIG = PairsConfig(
    name="j", seed=5, train_size=3, validation_size=0, test_size=1,
    categories=(("arithmetic", 1.0), ("reduction", 1.0)), min_statements=3, max_statements=5,
)  # fmt: skip


@pytest.fixture(scope="module")
def splits() -> dict[str, datasets.Dataset]:
    train = [row for _, row in generate_rows(CONFIG, "train", 0, 3)]
    copy = {**train[1], "id": "test-0000000"}  # repeats a train row: the identity check runs again over reused results
    return {"train": datasets.Dataset.from_list(train), "test": datasets.Dataset.from_list([copy])}


def findings(summary) -> list:
    return [(r.id, r.input_seed, r.findings) for r in summary.reports]


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The ids of the rows a Validator actually checks."""
    checked: list[str] = []
    real = validate.Validator.validate

    def spy(self, row):
        checked.append(row["id"])
        return real(self, row)

    monkeypatch.setattr(validate.Validator, "validate", spy)
    return checked


def journaled(splits, path, options: Options | None = None):
    options = options or Options()
    journal = Journal.open(path, options)
    try:
        return run(splits, CONFIG, options, progress=False, journal=journal), journal
    finally:
        journal.close()


def test_a_stopped_run_checks_only_what_it_lacks_and_ends_as_one_run_would(splits, tmp_path, counted):
    straight = findings(run(splits, CONFIG, Options(), progress=False))
    assert any(f.check == "identity" and f.status == FAIL for f in straight[-1][2])
    path = tmp_path / "v.journal"
    journaled(splits, path)
    assert counted == ["train-0000000", "train-0000001", "train-0000002", "test-0000000"] * 2
    # stop after two rows: keep the header and two results, and a line torn by a kill
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])
    counted.clear()
    summary, journal = journaled(splits, path)
    assert counted == ["train-0000002", "test-0000000"] and len(journal.done) == 2
    assert findings(summary) == straight
    counted.clear()
    summary, journal = journaled(splits, path)  # complete: nothing is checked again
    assert counted == [] and len(journal.done) == 4 and findings(summary) == straight
    assert [json.loads(line)["position"] for line in path.read_text().splitlines()[1:]] == [0, 1, 2, 0]


def test_a_file_of_other_options_or_checks_is_refused_and_left_as_it_is(splits, tmp_path, counted, monkeypatch):
    path = tmp_path / "v.journal"
    journaled(splits, path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=r"holds 4 results of other options .*remove it to check every row afresh"):
        Journal.open(path, Options(input_seed=3))  # other inputs: other results
    monkeypatch.setattr(journal_module, "checks_code", lambda: "0" * 16)  # the checks changed
    with pytest.raises(ConfigError, match=r"holds 4 results of other checks \([0-9a-f]{16}; these are 0{16}\)"):
        Journal.open(path, Options())
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_journal_is_never_overwritten(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"id": "test-0", "prediction": "x"}\n')
    with pytest.raises(ConfigError, match="is not a validate journal"):
        Journal.open(path, Options())
    assert path.read_text() == '{"id": "test-0", "prediction": "x"}\n'


def test_a_changed_row_is_checked_again(splits, tmp_path, counted):
    path = tmp_path / "v.journal"
    journaled(splits, path)
    counted.clear()
    changed = {**splits, "train": datasets.Dataset.from_list([*list(splits["train"])[:2], {**splits["train"][2], "seed": 999}])}
    journaled(changed, path)
    assert counted == ["train-0000002"]  # the row whose contents changed, and only it


def test_the_checks_hash_covers_every_check_and_not_the_journal():
    names = {p.name for p in checked_files()}
    assert {"validate.py", "compare.py", "oracle.py", "runners.py", "sandbox.py"} <= names
    assert "journal.py" not in names  # a change to how results are kept must not void hours of them


def test_the_command_resumes_and_refuses_a_directory(splits, tmp_path, capsys):
    out = tmp_path / "build"
    datasets.DatasetDict(splits).save_to_disk(str(out))
    assert main(["validate", str(out), "--config", "arithmetic", "--resume-file", str(tmp_path), "--allow-unverified"]) == 2
    assert "--resume-file" in capsys.readouterr().err and not list(tmp_path.glob("*.journal"))
    command = ["validate", str(out), "--config", "arithmetic", "--no-interpreter", "--resume-file", str(tmp_path / "v.journal"), "--allow-unverified"]
    first = main(command)
    assert "0 rows already checked" in capsys.readouterr().out
    assert main(command) == first and "4 rows already checked" in capsys.readouterr().out
