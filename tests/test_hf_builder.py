"""load_dataset on the loading script itself, in a fresh interpreter and HF_HOME."""

from __future__ import annotations

import json

from conftest import SCRIPT, run_python

LOAD = """
import json
from datasets import load_dataset
ds = load_dataset({script!r}, {config!r}, trust_remote_code=True, {kwargs})
print("RESULT" + json.dumps({{s: [dict(id=r["id"], category=r["category"], python=r["python"], seed=r["seed"],
        stablehlo=r["stablehlo"]) for r in d] for s, d in ds.items()}}))
print("CACHE" + json.dumps({{s: d.cache_files[0]["filename"] for s, d in ds.items()}}))
"""


def load(env, config="balanced", **kwargs):
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    proc = run_python(LOAD.format(script=str(SCRIPT), config=config, kwargs=args), env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    result = json.loads(next(line.removeprefix("RESULT") for line in lines if line.startswith("RESULT")))
    cache = json.loads(next(line.removeprefix("CACHE") for line in lines if line.startswith("CACHE")))
    return result, cache


def test_script_loads_all_splits_with_overrides(hf_env):
    rows, cache = load(hf_env, seed=7, train_size=6, validation_size=2, test_size=2)
    assert {s: len(r) for s, r in rows.items()} == {"train": 6, "validation": 2, "test": 2}
    assert all(r["stablehlo"].startswith("module @jit_") for split in rows.values() for r in split)
    ids = [r["id"] for split in rows.values() for r in split]
    assert len(ids) == len(set(ids))
    # the same kwargs again come from the same cache; another seed is another cached config
    again, cache_again = load(hf_env, seed=7, train_size=6, validation_size=2, test_size=2)
    assert again == rows and cache_again == cache
    other, other_cache = load(hf_env, seed=8, train_size=6, validation_size=2, test_size=2)
    assert other_cache["train"] != cache["train"]
    assert {r["python"] for r in other["train"]}.isdisjoint({r["python"] for r in rows["train"]})


def test_category_config_yields_only_its_category(hf_env):
    rows, _ = load(hf_env, "reduction", train_size=6, validation_size=2, test_size=2)
    assert {r["category"] for split in rows.values() for r in split} == {"reduction"}


def test_unknown_config_lists_known_ones(hf_env):
    proc = run_python(f"from datasets import load_dataset; load_dataset({str(SCRIPT)!r}, 'nope', trust_remote_code=True)", hf_env)
    assert proc.returncode != 0
    assert "nope" in proc.stderr and "balanced" in proc.stderr and "reduction" in proc.stderr


def test_streaming_yields_rows(hf_env):
    code = (
        "from datasets import load_dataset\n"
        f"ds = load_dataset({str(SCRIPT)!r}, 'balanced', streaming=True, trust_remote_code=True)\n"
        "row = next(iter(ds['train']))\n"
        "print('CATEGORY', row['category'], row['stablehlo'][:11])\n"
    )
    proc = run_python(code, hf_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "module @jit" in proc.stdout


NUM_PROC = """
import json, sys
from builder.hf_builder import make_builder
rows = {{}}
for n in (1, 2):
    b = make_builder("balanced", cache_dir=sys.argv[1] + f"/np{{n}}", seed=11, train_size=12, validation_size=4,
                     test_size=4, shard_size=3, max_statements=10)
    b.download_and_prepare(num_proc=n if n > 1 else None)
    ds = b.as_dataset()
    rows[n] = {{s: d.to_list() for s, d in ds.items()}}
print("SAME", rows[1] == rows[2], sum(len(v) for v in rows[2].values()))
"""


def test_num_proc_two_gives_the_same_rows_as_one(hf_env, tmp_path):
    import subprocess
    import sys

    code = "if __name__ == '__main__':\n" + "\n".join("    " + line for line in NUM_PROC.format().splitlines())
    script = tmp_path / "np.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], env=hf_env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SAME True 20" in proc.stdout


def test_without_the_package_the_error_says_how_to_install_this_project(hf_env, tmp_path):
    """datasets names the missing import; it must not send users to `pip install builder`, another project."""
    code = (
        "import sys\n"
        "sys.modules['builder'] = None  # as if this project were not installed\n"
        "from datasets import load_dataset\n"
        "try:\n"
        f"    load_dataset({str(SCRIPT)!r}, 'matrix', trust_remote_code=True)\n"
        "except ImportError as err:\n"
        "    print('ERR', err)\n"
    )
    proc = run_python(code, hf_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Please install it using 'pip install -e . (run in the jax-stablehlo-pairs checkout that holds this script)'" in proc.stdout
    assert "pip install builder" not in proc.stdout
