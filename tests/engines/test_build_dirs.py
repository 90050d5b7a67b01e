"""A Ray (Parquet) build is a build directory like any other: `validate`, `evaluate --reference` and
`publish --from-dir` read it through the one loader (`pipeline.build_dir`), and a build with a missing
shard or a shard whose bytes are not the ones build.json records is refused, named, before any work."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, run_python
from ray_helpers import local_ray, parquet_split  # noqa: F401 (local_ray: a fixture, used by name)

from builder.cli import main
from builder.config import ConfigError, resolve
from builder.engines import ray_engine
from builder.evaluation.reference import load_reference
from builder.pipeline.build_dir import PARQUET, file_digest, open_build

_spec = importlib.util.spec_from_file_location("hub_server", ROOT / "tests" / "publish" / "hub_server.py")
hub_server = importlib.util.module_from_spec(_spec)
sys.modules["hub_server"] = hub_server  # its dataclasses look their module up there
_spec.loader.exec_module(hub_server)

SIZES = dict(train_size=3, validation_size=0, test_size=2, shard_size=2, max_statements=8)
REPO = "org/pairs"
PUBLISH_AND_LOAD = """
import json, sys
from builder.cli import main
code = main(["publish", {repo!r}, "--from-dir", {path!r}])
if code == 0:
    from datasets import load_dataset
    ds = load_dataset({repo!r}, "balanced")
    print("ROWS" + json.dumps({{s: d["id"] for s, d in ds.items()}}))
sys.exit(code)
"""


@pytest.fixture(scope="module")
def built(local_ray, tmp_path_factory) -> Path:  # noqa: F811 (the fixture by name)
    out = tmp_path_factory.mktemp("ray") / "out"
    ray_engine.build(resolve("balanced", SIZES), out, ray_engine.RayOptions(progress=False))
    return out


def copy_of(built: Path, dest: Path) -> Path:
    shutil.copytree(built, dest)
    return dest


def hub_env(endpoint: str, home: Path) -> dict[str, str]:
    """Online, but only to the test Hub on localhost; a fresh HF_HOME; no Xet (the test Hub has none)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    localhost_only = str(ROOT / "tests" / "publish" / "localhost_only")
    return env | {
        "HF_ENDPOINT": endpoint, "HF_HOME": str(home), "HF_HUB_DISABLE_XET": "1", "NO_PROXY": "127.0.0.1,localhost", "HF_TOKEN": "hf_test_write",
        "PYTHONPATH": os.pathsep.join(filter(None, [localhost_only, env.get("PYTHONPATH")])), "HUB_TEST_EXTERNAL_LOG": str(home.parent / "external.log"),
    }  # fmt: skip


def test_the_manifest_records_every_shards_sha256(built):
    manifest = json.loads((built / "build.json").read_text())
    files = sorted((built / "balanced").glob("*.parquet"))
    assert [f.name for f in files] == ["test-00000-of-00001.parquet", "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    assert manifest["data_files"] == {f"balanced/{f.name}": file_digest(f) for f in files}
    build = open_build(built)
    assert build.layout == PARQUET and build.config_name == "balanced" and list(build.files) == ["train", "test"]


def test_validate_reads_the_parquet_build(built, capsys):
    assert main(["validate", str(built), "--no-interpreter"]) == 0
    printed = capsys.readouterr().out
    assert "validated 5 rows" in printed and "result: passed" in printed


def test_evaluate_scores_against_the_parquet_build(built, tmp_path, capsys):
    rows = parquet_split(built / "balanced", "test").to_list()
    assert [r["id"] for r in load_reference(str(built), "test")] == [r["id"] for r in rows]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "prediction": r["stablehlo"]}) + "\n" for r in rows))
    report = tmp_path / "r.json"
    argv = ["evaluate", "--task", "python-to-stablehlo", "--predictions", str(predictions), "--reference", str(built), "--report", str(report)]
    assert main(argv) == 0
    scored = json.loads(report.read_text())
    assert scored["n"] == 2 and scored["metrics"]["exact_match"] == scored["metrics"]["execution_accuracy"] == 1.0
    with pytest.raises(ConfigError, match="has no split 'validation'; it has train, test"):
        load_reference(str(built), "validation")


def test_publish_from_dir_pushes_the_files_as_they_are(built, tmp_path):
    with hub_server.HubServer() as hub:
        proc = run_python(PUBLISH_AND_LOAD.format(repo=REPO, path=str(built)), hub_env(hub.endpoint, tmp_path / "home"), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        files = hub.files(REPO)
        card = hub.card(REPO)
        commits = hub.history(REPO)
    for local in (built / "balanced").glob("*.parquet"):  # byte for byte: no conversion
        assert files[f"balanced/{local.name}"] == local.read_bytes()
    loaded = json.loads(next(x.removeprefix("ROWS") for x in proc.stdout.splitlines() if x.startswith("ROWS")))
    assert loaded == {s: parquet_split(built / "balanced", s)["id"] for s in ("train", "test")}
    assert "config_name: balanced" in card and "path: balanced/train-*" in card and "## " in card  # the card commit followed
    assert len(commits) >= 2  # data, then card
    assert not (tmp_path / "external.log").exists()


def damaged(built: Path, tmp_path: Path, how: str) -> tuple[Path, str]:
    """A copy of the build with one shard missing, or one shard's bytes changed (same rows, other compression)."""
    bad = copy_of(built, tmp_path / how)
    shard = bad / "balanced" / "train-00001-of-00002.parquet"
    if how == "missing":
        shard.unlink()
        return bad, "balanced/train-00001-of-00002.parquet is missing"
    pq.write_table(pq.read_table(shard), shard, compression="gzip")
    return bad, "balanced/train-00001-of-00002.parquet changed since `build` wrote it"


@pytest.mark.parametrize("how", ["missing", "edited"])
def test_a_damaged_build_is_refused_by_every_command_before_any_work(built, tmp_path, how, capsys):
    bad, expected = damaged(built, tmp_path, how)
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"id": "test-0000000", "prediction": {"flops": 1, "bytes_accessed": 1, "transcendentals": 0}}) + "\n")
    assert main(["validate", str(bad), "--no-interpreter"]) == 2
    assert main(["evaluate", "--task", "cost", "--predictions", str(predictions), "--reference", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count(expected) == 2 and "--overwrite" in err, err
    assert "Traceback" not in err
    with hub_server.HubServer() as hub:
        proc = run_python(PUBLISH_AND_LOAD.format(repo=REPO, path=str(bad)), hub_env(hub.endpoint, tmp_path / "home"), cwd=tmp_path)
        assert hub.state.repos == {}  # nothing pushed
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]


PUBLISH_TWICE = """
import sys
from builder.cli import main
sys.exit(max(main(["publish", {repo!r}, "--from-dir", f"balanced={{path}}"]) for path in {paths!r}))
"""


@pytest.mark.usefixtures("local_ray")
def test_publishing_again_replaces_the_configs_shards(built, tmp_path):
    """A build in other shards published over this one: the repo keeps only the new build's files."""
    finer = tmp_path / "finer"
    ray_engine.build(resolve("balanced", {**SIZES, "shard_size": 1}), finer, ray_engine.RayOptions(progress=False))
    with hub_server.HubServer() as hub:
        proc = run_python(PUBLISH_TWICE.format(repo=REPO, paths=[str(finer), str(built)]), hub_env(hub.endpoint, tmp_path / "home"), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        shards = {p: b for p, b in hub.files(REPO).items() if p.startswith("balanced/")}
    assert shards == {f"balanced/{p.name}": p.read_bytes() for p in (built / "balanced").glob("*.parquet")}
