"""Bad input through `load_dataset` on the loading script: one clear error, raised before any work."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SCRIPT, package_copy, run_python

from builder.config import known_categories, load_all
from builder.hf_builder import make_builder

CASES = {
    "config": ("balance", {}),
    "seed": ("balanced", {"seed": "abc"}),
    "seed_range": ("balanced", {"seed": 2**64}),
    "size": ("balanced", {"train_size": -1}),
    "absurd": ("balanced", {"test_size": 10**12}),
    "category": ("balanced", {"categories": {"matrx": 1.0}}),
    "weights": ("balanced", {"categories": {"matrix": 0, "reduction": 0}}),
    "key": ("balanced", {"sed": 3}),
    "limits": ("balanced", {"min_statements": 9, "max_statements": 3}),
    "empty_name": ("", {}),
    "blank_name": (" ", {}),
    "num_proc": ("matrix", {"num_proc": 0, "train_size": 2, "validation_size": 0, "test_size": 0}),
    "num_proc_negative": ("matrix", {"num_proc": -2, "train_size": 2, "validation_size": 0, "test_size": 0}),
}

TRY_ALL = """
import json, sys
from datasets import load_dataset
out = {{}}
for key, (config, kwargs) in json.loads(sys.argv[1]).items():
    try:
        load_dataset({script!r}, config, trust_remote_code=True, **kwargs)
        out[key] = "no error"
    except Exception as err:
        out[key] = type(err).__name__ + ": " + str(err)
print("RESULT" + json.dumps(out))
"""


def test_bad_kwargs_give_the_same_clear_errors_through_load_dataset(hf_env, tmp_path):
    import subprocess
    import sys

    cases = {k: [c, {kk: v for kk, v in kw.items()}] for k, (c, kw) in CASES.items()}
    cases["seed_range"][1]["seed"] = 2**64  # json keeps big ints
    arrows_before = set(Path(hf_env["HF_HOME"]).rglob("*.arrow"))
    proc = subprocess.run(
        [sys.executable, "-c", TRY_ALL.format(script=str(SCRIPT)), json.dumps(cases)],
        env=hf_env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(next(line[6:] for line in proc.stdout.splitlines() if line.startswith("RESULT")))
    expected = {
        "config": "unknown config 'balance' (did you mean 'balanced'?). Known configs: " + ", ".join(sorted(load_all())),
        "seed": "seed must be a whole number, got 'abc'",
        "seed_range": "seed must be between 0 and 9,223,372,036,854,775,807",
        "size": "train_size must be between 0 and 10,000,000 (rows to generate for that split), got -1",
        "absurd": "test_size must be between 0 and 10,000,000",
        "category": "unknown category 'matrx' (did you mean 'matrix'?). Known categories: " + ", ".join(known_categories()),
        "weights": "all category weights are 0: give at least one category a positive weight",
        "key": "unknown key 'sed' (did you mean 'seed'?)",
        "limits": "min_statements (9) is larger than max_statements (3)",
        "empty_name": "config name '' is empty: name one of arithmetic, ",
        "blank_name": "config name ' ' is empty",
        "num_proc": "num_proc must be a whole number of at least 1 (or None: one process), got 0",
        "num_proc_negative": "num_proc must be a whole number of at least 1 (or None: one process), got -2",
    }
    for key, fragment in expected.items():
        assert got[key].startswith("ConfigError: ") and fragment in got[key], (key, got[key])
    # refused before any work: no dataset directory was even created
    cache = [p.name for p in (tmp_path.parent.glob("hf_home*/datasets/jax_stablehlo_pairs/*"))]
    assert not [name for name in cache if "matrx" in name or "abc" in name]
    assert set(Path(hf_env["HF_HOME"]).rglob("*.arrow")) == arrows_before  # no case made rows (num_proc=0 either)


def test_equal_configs_share_one_cache_and_different_ones_do_not(tmp_path):
    def cache_dir(config: str = "balanced", **kwargs) -> str:
        return make_builder(config, cache_dir=str(tmp_path), **kwargs).cache_dir

    plain = cache_dir()
    assert cache_dir(seed=0) == plain  # the YAML's own value is no override
    assert cache_dir(seed="7") == cache_dir(seed=7) != plain
    assert cache_dir("matrix", categories=["matrix", "reduction"]) == cache_dir(
        "matrix", categories={"reduction": 1, "matrix": 1.0}
    )
    assert cache_dir(max_statements=12) != plain and cache_dir(hlo_optimized=True) != plain


BROKEN = "description: d\nseed: 1\ntrain_size: 2\nvalidation_size: 1\ntest_size: 1\ncategories:\n  matrix: [1.0\n"

LOAD_BROKEN = """
from datasets import load_dataset, load_dataset_builder
from builder.config import configs_dir
from builder.cli import main
assert str(configs_dir()).startswith({root!r}), configs_dir()
builder = load_dataset_builder({script!r}, "matrix", trust_remote_code=True, train_size=2)
print("MATRIX OK", builder.config.train_size)
try:
    load_dataset({script!r}, "broken", trust_remote_code=True)
except Exception as err:
    print("LOAD", type(err).__name__, err)
print("CLI", main(["build", "broken", "--output-dir", {out!r}]))
"""


def test_a_broken_yaml_in_configs_names_file_and_line_and_spares_the_others(hf_env, tmp_path):
    root, env = package_copy(tmp_path / "pkg", hf_env)
    (root / "builder" / "configs" / "broken.yaml").write_text(BROKEN)
    script = root / SCRIPT.name
    code = LOAD_BROKEN.format(root=str(root), script=str(script), out=str(tmp_path / "out"))
    proc = run_python(code, env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    where = f"{root}/builder/configs/broken.yaml: line 8, column 1: is not valid YAML"
    assert "MATRIX OK 2" in proc.stdout
    assert f"LOAD ConfigError {where}" in proc.stdout
    assert "CLI 2" in proc.stdout and f"error: {where}" in proc.stderr
    assert f"config left out: {where}" in proc.stderr  # said once, when the builder is imported
