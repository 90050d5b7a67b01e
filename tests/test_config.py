"""Named configs: shipped YAML files, package data, and new configs without code changes."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import ROOT, SCRIPT, run_python

from builder.config import configs_dir, load_all


def test_every_shipped_config_loads_and_balanced_covers_every_category():
    configs = load_all()
    assert "balanced" in configs
    balanced = {c for c, w in configs["balanced"].categories if w > 0}
    singles = {name for name in configs if name != "balanced"}
    assert singles <= balanced | {"balanced"}
    for name in singles:
        assert [c for c, _ in configs[name].categories] == [name]


def test_configs_ship_in_the_wheel(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("jax_stablehlo_pairs-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("builder/configs/") and n.endswith(".yaml")}
    assert shipped == {p.name for p in configs_dir().glob("*.yaml")}


def test_a_new_yaml_file_is_a_new_named_config(hf_env):
    path = configs_dir() / "zz_test_seed5.yaml"
    path.write_text(
        "description: a config added by a test\nseed: 5\ntrain_size: 3\nvalidation_size: 1\ntest_size: 1\n"
        "categories:\n  matrix: 1.0\n"
    )
    try:
        proc = run_python(
            "from datasets import load_dataset\n"
            f"ds = load_dataset({str(SCRIPT)!r}, 'zz_test_seed5', trust_remote_code=True)\n"
            "print('ROWS', len(ds['train']), set(ds['train']['category']), ds['train'][0]['seed'])\n",
            hf_env,
        )
    finally:
        path.unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ROWS 3 {'matrix'}" in proc.stdout
