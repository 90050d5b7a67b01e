"""The Ray engine: the datasets builder's rows byte for byte, in the Hub layout, workers replaced on schedule."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import datasets
import pytest
from ray_helpers import assert_same_rows, local_ray, parquet_split  # noqa: F401 (local_ray: a fixture, used by name)

from builder.cli import main
from builder.config import PairsConfig, resolve
from builder.engines import ray_engine
from builder.engines.parquet_layout import read_rows, units, write_rows
from builder.engines.staging import identity, open_staging
from builder.hf_builder import make_builder
from builder.pipeline import plan as plan_module
from builder.pipeline.dedup import DedupReport
from builder.pipeline.plan import DUPLICATE_PYTHON, build_plan
from builder.pipeline.rows import generate_rows

CASES = {
    "balanced": dict(train_size=6, validation_size=2, test_size=2, shard_size=2),
    "control_flow": dict(train_size=4, validation_size=2, test_size=2, shard_size=3, split_mode="structural", seed=11),
    "nn": dict(train_size=4, validation_size=1, test_size=1, shard_size=2, max_statements=12),
    "indexing": dict(train_size=0, validation_size=0, test_size=8, shard_size=3, stratify_ir_tiers=True),  # one row moved to tier 3
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("local_ray")
def test_rows_are_the_datasets_builders_byte_for_byte(name, tmp_path):
    config = resolve(name, CASES[name])
    result = ray_engine.build(config, tmp_path / "out", ray_engine.RayOptions(progress=False))
    reference, _ = make_builder(name, str(tmp_path / "cache"), **CASES[name]).build()
    data = tmp_path / "out" / name
    assert_same_rows(data, reference)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(["build.json", "duplicates.json", "failures.jsonl", name])
    cache = Path(make_builder(name, str(tmp_path / "cache"), **CASES[name]).cache_dir)
    for report in ("failures.jsonl", "duplicates.json"):  # the same reports as the datasets builder's
        assert (tmp_path / "out" / report).read_text() == (cache / report).read_text()
    manifest = json.loads((tmp_path / "out" / "build.json").read_text())
    assert manifest["complete"] and manifest["rows"] == {s: len(d) for s, d in reference.items()}
    assert manifest["values"] == config.values() and len(result.ran) == len(units(config))
    assert not any(p.name.startswith(".") for p in (tmp_path).iterdir() if p.name != ".out.lock")  # no staging left


@pytest.mark.usefixtures("local_ray")
def test_the_plan_drawn_in_tasks_is_the_drivers_plan():
    # 250 train rows: three blocks of tasks; programs of one or two statements repeat, so the walk
    # redraws some indices itself; structural mode keeps test structures out of train.
    config = PairsConfig(
        name="tiny", seed=3, train_size=250, validation_size=30, test_size=30, split_mode="structural",
        categories=(("elementwise", 1.0),), min_statements=1, max_statements=2,
    )  # fmt: skip
    drawn = ray_engine.draw_plan(pytest.importorskip("ray"), config)
    plan_module._planner.cache_clear()
    serial = build_plan(config)
    assert drawn.to_json() == serial.to_json()
    assert sum(d.total() for d in serial.dropped.values()) > 0


@pytest.mark.usefixtures("local_ray")
def test_load_dataset_reads_the_directory_as_it_is(tmp_path):
    config = resolve("balanced", CASES["balanced"])
    ray_engine.build(config, tmp_path / "out", ray_engine.RayOptions(progress=False))
    by_dir = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "c1"))
    by_data_dir = datasets.load_dataset("parquet", data_dir=str(tmp_path / "out" / "balanced"), cache_dir=str(tmp_path / "c2"))
    for split in ("train", "validation", "test"):
        expected = parquet_split(tmp_path / "out" / "balanced", split)
        assert by_dir[split]["id"] == by_data_dir[split]["id"] == expected["id"]
        assert by_dir[split].features == expected.features


@pytest.mark.usefixtures("local_ray")
def test_a_worker_is_replaced_after_max_calls_units(tmp_path):
    config = resolve("balanced", {**CASES["balanced"], "validation_size": 0, "test_size": 0})
    result = ray_engine.build(config, tmp_path / "out", ray_engine.RayOptions(max_calls=1, progress=False))
    assert len({r.pid for r in result.ran}) == len(result.ran) == 3  # one process a unit
    assert all(r.peak_rss_mib > 50 for r in result.ran)


@pytest.mark.usefixtures("local_ray")
def test_a_finished_build_is_not_built_again(tmp_path):
    config = resolve("balanced", {**CASES["balanced"], "train_size": 2})
    ray_engine.build(config, tmp_path / "out", ray_engine.RayOptions(progress=False))
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")}
    again = ray_engine.build(config, tmp_path / "out", ray_engine.RayOptions(progress=False))
    assert again.already_complete and again.ran == []
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")} == before
    with pytest.raises(ray_engine.ConfigError, match="--overwrite"):  # another seed into the same directory
        ray_engine.build(replace(config, seed=1), tmp_path / "out", ray_engine.RayOptions(progress=False))


@pytest.mark.usefixtures("local_ray")  # the rows' python keys are computed in tasks
def test_the_dedup_stage_replaces_an_injected_repeat_and_can_run_again(tmp_path, monkeypatch):
    in_tasks, real = [], ray_engine.keys_in_tasks
    monkeypatch.setattr(ray_engine, "keys_in_tasks", lambda ray, files: in_tasks.append(files) or real(ray, files))
    drawn_ahead, real_attempts = [], ray_engine.attempts_in_tasks
    monkeypatch.setattr(ray_engine, "attempts_in_tasks", lambda ray, c, wanted: drawn_ahead.append(wanted) or real_attempts(ray, c, wanted))
    config = resolve("arithmetic", dict(train_size=2, validation_size=0, test_size=2, shard_size=1, max_statements=4))
    staging, _ = open_staging(tmp_path / "out", {"config": "arithmetic", "x": 1})
    plan = build_plan(config)
    rows = {u: [r for _, r in generate_rows(config, u.split, u.start, u.stop)] for u in units(config)}
    test_1 = next(u for u in rows if u.split == "test" and u.start == 1)
    rows[test_1] = [{**rows[units(config)[0]][0], "id": "test-0000001"}]  # a train row copied into test
    for unit, unit_rows in rows.items():
        write_rows(staging.path(unit), unit_rows)
    report = ray_engine.dedup_stage(config, plan, staging)
    assert [(r["split"], r["id"], r["reason"]) for r in report.replaced] == [("test", "test-0000001", DUPLICATE_PYTHON)]
    assert len(in_tasks) == 1 and sum(len(paths) for paths in in_tasks[0].values()) == len(rows)  # a task per file
    (new,) = read_rows(staging.path(test_1))
    assert new["seed"] == report.replaced[0]["new_seed"] and new["python"] != rows[units(config)[0]][0]["python"]
    ((wanted,),) = drawn_ahead  # the replacement was drawn and lowered in a task: its first seed is the one taken
    assert (wanted.split, wanted.index, wanted.seeds[0]) == ("test", 1, new["seed"])
    once = {u: staging.path(u).read_bytes() for u in rows}
    again = ray_engine.dedup_stage(config, plan, staging)  # a run stopped after the pass: it is applied again, the same
    assert {u: staging.path(u).read_bytes() for u in rows} == once
    assert again.replaced == report.replaced == DedupReport.read(staging.root).replaced
    assert len(in_tasks) == len(drawn_ahead) == 1  # the pass's result was kept: nothing is computed again


def test_without_ray_the_engine_says_how_to_install_it(tmp_path):
    fake = tmp_path / "no_ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{fake.parent}:{root}", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "builder.cli", "build", "balanced", "--engine", "ray", "--output-dir", str(tmp_path / "out")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    assert "pip install -e '.[ray]'" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--address", "127.0.0.1:6379"], "--address is the Ray cluster to build on: pass --engine ray"),
        (["--engine", "ray", "--seed", "-1"], "seed must be between"),
        (["--engine", "ray", "--categories", "matrx"], "did you mean 'matrix'"),
    ],
)
def test_bad_input_to_a_ray_build_is_one_clear_line_before_any_work(args, fragment, tmp_path, capsys):
    assert main(["build", "matrix", *args, "--output-dir", str(tmp_path / "out")]) == 2
    assert fragment in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # ~500 rows lowered twice: minutes
@pytest.mark.parametrize(
    ("name", "sizes"),
    [("balanced", dict(train_size=160, validation_size=20, test_size=20, shard_size=25)),
     ("autodiff", dict(train_size=40, validation_size=5, test_size=5, shard_size=10, split_mode="structural", seed=3))],
)  # fmt: skip
@pytest.mark.usefixtures("local_ray")
def test_a_few_hundred_rows_are_the_datasets_builders(name, sizes, tmp_path):
    ray_engine.build(resolve(name, sizes), tmp_path / "out", ray_engine.RayOptions(progress=False))
    reference, _ = make_builder(name, str(tmp_path / "cache"), **sizes).build()
    assert_same_rows(tmp_path / "out" / name, reference)


def test_an_interrupted_build_of_other_values_is_discarded_only_when_asked(tmp_path):
    config = resolve("balanced", CASES["balanced"])
    ident = identity(config, "code-a")
    staging, resumed = open_staging(tmp_path / "out", ident)
    (staging.data_dir / "train-00000-of-00003.parquet").write_bytes(b"a finished unit")
    assert not resumed
    assert open_staging(tmp_path / "out", ident) == (staging, True)  # the same build: resumed, kept
    assert (staging.data_dir / "train-00000-of-00003.parquet").is_file()
    with pytest.raises(ray_engine.ConfigError, match="--overwrite to discard it"):
        open_staging(tmp_path / "out", identity(config, "code-b"))
    assert (staging.data_dir / "train-00000-of-00003.parquet").is_file()
    assert open_staging(tmp_path / "out", identity(config, "code-b"), overwrite=True) == (staging, False)
    assert list(staging.data_dir.iterdir()) == []
