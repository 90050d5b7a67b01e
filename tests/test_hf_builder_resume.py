"""An interrupted `build --output-dir` (the datasets engine) resumes from its finished work units: a
rerun lowers only the rest, and the rows are those of an uninterrupted build."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
from conftest import ROOT

from builder.hf_builder import make_builder

# A unit of two `matrix` rows takes ~0.1 s: 30 units leave a few seconds between the first one showing and the last.
SIZES = {"train_size": 60, "validation_size": 2, "test_size": 2, "shard_size": 2, "max_statements": 8}
FLAGS = [x for k, v in SIZES.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def default_sigint() -> None:
    """Ctrl-C as on a terminal. A job a shell starts in the background (`cmd &`, as CI may run the
    suite) inherits SIGINT ignored, and then Python never turns it into a KeyboardInterrupt: the
    build would run to its end and the test would check nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def command(out: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "builder.cli", "build", "matrix", *FLAGS, "--output-dir", str(out), "--cache-dir", str(cache)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_an_interrupted_build_resumes_from_its_finished_units(sig, hf_env, tmp_path):
    out, cache, env = tmp_path / "out", tmp_path / "cache", {**hf_env, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(
        command(out, cache), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint
    )
    deadline = time.monotonic() + 300
    while not list(cache.rglob("*.units/*.parquet")) and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.05)
    assert driver.poll() is None, "the build ended before a unit was finished: make it bigger"
    driver.send_signal(sig)
    driver.communicate(timeout=120)
    kept = [p.name for p in cache.rglob("*.units/*.parquet")]
    assert kept and not out.exists()

    done = subprocess.run(command(out, cache), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed: {sum(k.startswith('train-') for k in kept)} of {SIZES['train_size'] // SIZES['shard_size']} work units of train" in done.stderr
    assert not list(cache.rglob("*.units"))  # dropped once the build is complete

    reference, _ = make_builder("matrix", str(tmp_path / "reference"), **SIZES).build()
    resumed = datasets.load_from_disk(str(out))
    for split, rows in reference.items():
        assert resumed[split].features == rows.features
        for a, b in zip(resumed[split], rows, strict=True):
            assert json.dumps(a) == json.dumps(b)
    failures = (out / "failures.jsonl").read_text()
    assert failures == (Path(make_builder("matrix", str(tmp_path / "reference"), **SIZES).cache_dir) / "failures.jsonl").read_text()
