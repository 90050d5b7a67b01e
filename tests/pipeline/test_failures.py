"""A broken program never sinks a build: it is replaced, counted and reported with seed, category and error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from conftest import ROOT

from builder.config import PairsConfig
from builder.pipeline import rows as pipeline
from builder.pipeline.failures import REPORT_NAME, Failure, merge_parts, read_report, write_part
from builder.pipeline.rows import generate_rows

CONFIG = PairsConfig(
    name="t", seed=5, train_size=6, validation_size=0, test_size=0,
    categories=(("arithmetic", 1.0), ("matrix", 1.0)), max_statements=6, shard_size=3,
)


FAIL_FIRST = {1: 1, 4: 2}  # index -> how many of its draws fail: index 1 once, index 4 twice


def failing_make_row(real, fail_first: dict[int, int]):
    """make_row that raises for the first draws of some indices, like a generator bug would."""
    calls: dict[tuple[str, int], int] = {}

    def make_row(config, split, index, category, seed):
        n = calls[split, index] = calls.get((split, index), 0) + 1
        if n <= fail_first.get(index, 0):
            raise TypeError(f"injected lowering bug at {split}[{index}] draw {n}")
        return real(config, split, index, category, seed)

    return make_row


def test_failures_are_replaced_counted_and_do_not_shift_other_rows(monkeypatch):
    clean_failures: list[Failure] = []
    clean = [row for _, row in generate_rows(CONFIG, "train", 0, 6, clean_failures)]
    assert clean_failures == []

    monkeypatch.setattr(pipeline, "make_row", failing_make_row(pipeline.make_row, FAIL_FIRST))
    failures: list[Failure] = []
    rows = [row for _, row in generate_rows(CONFIG, "train", 0, 6, failures)]
    assert [r["id"] for r in rows] == [f"train-{i:07d}" for i in range(6)]  # counts stay exact
    assert [f.index for f in failures] == [1, 4, 4]
    assert all(f.error.startswith("TypeError: injected lowering bug") for f in failures)
    assert [f.category for f in failures] == [clean[1]["category"], clean[4]["category"], clean[4]["category"]]
    # what failed first is the seed a clean run uses; the replacement is another seed, of the same category
    assert [failures[0].seed, failures[1].seed] == [clean[1]["seed"], clean[4]["seed"]]
    assert len({f.seed for f in failures} | {rows[1]["seed"], rows[4]["seed"]}) == 5
    assert [r["category"] for r in rows] == [r["category"] for r in clean]
    assert all(rows[i] == clean[i] for i in (0, 2, 3, 5))  # no other row moved


def test_too_many_failures_in_a_row_stop_with_a_clear_error(monkeypatch):
    def always_fails(*args, **kwargs):
        raise TypeError("injected")

    monkeypatch.setattr(pipeline, "make_row", always_fails)
    with pytest.raises(RuntimeError, match=r"train\[0\] \((arithmetic|matrix)\): 20 programs in a row failed to lower"):
        list(generate_rows(replace(CONFIG, train_size=1), "train", 0, 1, []))


def test_report_parts_merge_in_order_whatever_the_workers(tmp_path):
    f = [Failure("train", i, "matrix", 100 + i, f"E{i}") for i in range(4)]
    parts = tmp_path / "failures.parts"
    write_part(parts, "train", 3, [f[3]])  # written first by another worker
    write_part(parts, "train", 0, [f[0], f[1]])
    write_part(parts, "validation", 0, [])  # nothing failed: no file
    assert sorted(p.name for p in parts.iterdir()) == ["train-0000000000.jsonl", "train-0000000003.jsonl"]
    assert merge_parts(tmp_path) == [f[0], f[1], f[3]]
    assert not parts.exists()
    assert read_report(tmp_path) == [f[0], f[1], f[3]]
    assert merge_parts(tmp_path) == [] and (tmp_path / REPORT_NAME).read_text() == ""  # empty report: checked, none
    assert read_report(tmp_path / "nowhere") is None


# The bug is injected by a sitecustomize module, so every interpreter of the build has it: the CLI and the
# child process a parallel build runs in (a fresh `python -m`, which imports nothing of the script).
INJECTION = """
from builder.pipeline import rows as pipeline

calls = {}
real = pipeline.make_row
def make_row(config, split, index, category, seed):  # each index is drawn in one worker: a local count will do
    n = calls[split, index] = calls.get((split, index), 0) + 1
    if (split, index) in {("train", 1): 1, ("train", 4): 2, ("test", 0): 1} and n <= {1: 1, 4: 2, 0: 1}[index]:
        raise TypeError("injected lowering bug")
    return real(config, split, index, category, seed)
pipeline.make_row = make_row
"""
INJECTED_BUILD = """
import sys
from builder.cli import main

sys.exit(main(["build", "matrix", "--seed", "5", "--train-size", "6", "--validation-size", "2", "--test-size", "2",
               "--shard-size", "2", "--max-statements", "6", "--num-proc", "2",
               "--cache-dir", {cache!r}, "--output-dir", {out!r}]))
"""


def test_a_build_with_failing_programs_reports_them_next_to_the_output(hf_env, tmp_path):
    from datasets import load_from_disk

    out, cache = tmp_path / "out", tmp_path / "cache"
    script = tmp_path / "inject.py"
    script.write_text(INJECTED_BUILD.format(cache=str(cache), out=str(out)))
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject" / "sitecustomize.py").write_text(INJECTION)
    env = {**hf_env, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / "inject"), str(ROOT), hf_env.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(script)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "programs that failed to lower (replaced): 4" in proc.stdout
    assert "failed: train[1] category matrix seed" in proc.stdout and "TypeError: injected lowering bug" in proc.stdout
    report = [json.loads(line) for line in (out / REPORT_NAME).read_text().splitlines()]
    assert [(r["split"], r["index"]) for r in report] == [("test", 0), ("train", 1), ("train", 4), ("train", 4)]
    assert {r["category"] for r in report} == {"matrix"}
    assert json.loads((out / "build.json").read_text())["failures"] == 4
    ds = load_from_disk(str(out))
    assert {s: len(d) for s, d in ds.items()} == {"train": 6, "validation": 2, "test": 2}
    # the datasets cache keeps the same report, so a cached re-run still reports it
    cached = next(cache.rglob(REPORT_NAME))
    assert cached.read_text() == (out / REPORT_NAME).read_text()
    assert "4 drawn programs failed to trace or lower" in proc.stderr
