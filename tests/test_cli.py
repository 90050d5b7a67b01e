"""The `jax-stablehlo-pairs` command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def cli(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("jax-stablehlo-pairs")
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_build_writes_a_dataset_dict_and_a_summary(hf_env, tmp_path):
    from datasets import load_from_disk

    out = tmp_path / "out"
    proc = cli("build", "matrix", "--seed", "7", "--train-size", "6", "--validation-size", "2", "--test-size", "2",
               "--output-dir", str(out), env=hf_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ds = load_from_disk(str(out))
    assert {s: len(d) for s, d in ds.items()} == {"train": 6, "validation": 2, "test": 2}
    assert set(ds["train"]["category"]) == {"matrix"}
    assert "distinct StableHLO/CHLO ops:" in proc.stdout
    assert "failed to lower (replaced): 0" in proc.stdout
    assert "stablehlo.dot_general" in proc.stdout
