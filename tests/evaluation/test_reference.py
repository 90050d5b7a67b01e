"""The reference can be a published dataset: pushed to a Hub-API server on 127.0.0.1
(tests/publish/hub_server.py) and scored against by repo id and config, as a submitter would."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_python

from builder.config import ConfigError, PairsConfig
from builder.evaluation.reference import load_reference
from builder.pipeline.rows import generate_rows

_spec = importlib.util.spec_from_file_location("hub_server", ROOT / "tests" / "publish" / "hub_server.py")
hub_server = importlib.util.module_from_spec(_spec)
sys.modules["hub_server"] = hub_server  # its dataclasses look their module up there
_spec.loader.exec_module(hub_server)

CONFIG = PairsConfig(name="r", seed=4, train_size=3, validation_size=0, test_size=0, categories=(("reduction", 1.0),), min_statements=2, max_statements=4)
PUSH = """
import json, datasets
rows = json.load(open({rows!r}))
datasets.DatasetDict({{"test": datasets.Dataset.from_list(rows)}}).push_to_hub("org/pairs", config_name="bench")
"""
EVALUATE = """
import sys
from builder.cli import main
sys.exit(main(["evaluate", "--task", "cost", "--predictions", {predictions!r}, "--reference", "org/pairs",
               "--reference-config", "bench", "--report", {report!r}]))
"""


def env(endpoint: str, home: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN")}
    return out | {"HF_ENDPOINT": endpoint, "HF_HOME": str(home), "HF_HUB_DISABLE_XET": "1", "NO_PROXY": "127.0.0.1,localhost", "HF_TOKEN": "hf_test_write"}


def test_a_published_dataset_is_a_reference_by_repo_id(tmp_path):
    rows = [row for _, row in generate_rows(CONFIG, "train", 0, CONFIG.train_size)]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    predictions = tmp_path / "p.jsonl"
    answers = [{"id": r["id"], "prediction": {k: r[k] for k in ("flops", "bytes_accessed", "transcendentals")}} for r in rows]
    predictions.write_text("".join(json.dumps(a) + "\n" for a in answers))
    with hub_server.HubServer() as hub:
        pushed = run_python(PUSH.format(rows=str(tmp_path / "rows.json")), env(hub.endpoint, tmp_path / "home"))
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        scored = run_python(EVALUATE.format(predictions=str(predictions), report=str(tmp_path / "r.json")), env(hub.endpoint, tmp_path / "home2"))
        assert scored.returncode == 0, scored.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n"] == len(rows) and report["metrics"]["mdape"] == {"flops": 0.0, "bytes_accessed": 0.0, "transcendentals": 0.0}


def test_a_reference_that_is_neither_a_directory_nor_a_repo_id_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a directory, nor a Hub repo id"):
        load_reference(str(tmp_path / "missing.parquet"), "test")
