"""Named configs: shipped YAML files, package data, and new configs without code changes."""

from __future__ import annotations

import math
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import ROOT, SCRIPT, package_copy, run_python

from builder.config import ConfigError, check, configs_dir, known_categories, load_all, load_named, load_yaml


def test_every_shipped_config_loads_and_balanced_covers_every_category():
    configs = load_all()
    assert "balanced" in configs
    balanced = {c for c, w in configs["balanced"].categories if w > 0}
    assert {c for c, w in configs["bench"].categories if w > 0} == balanced and configs["bench"].held_out_from == ("balanced",)
    singles = {name for name in configs if name in known_categories()}
    assert singles == balanced
    for name in singles:
        assert [c for c, _ in configs[name].categories] == [name]


def test_every_module_config_and_the_card_ship_in_the_wheel(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("jax_stablehlo_pairs-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("builder/configs/") and n.endswith(".yaml")}
    shipped |= {n.rsplit("/", 1)[1] for n in names if n.startswith("builder/configs/") and n.endswith(".yml")}
    assert shipped == {p.name for p in configs_dir().iterdir() if p.suffix in (".yaml", ".yml")}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "builder").rglob("*.py")}
    assert modules and modules <= set(names), sorted(modules - set(names))
    assert "builder/publish/dataset_card.md" in names


def test_a_new_yaml_file_is_a_new_named_config(hf_env, tmp_path):
    root, env = package_copy(tmp_path / "pkg", hf_env)  # never write into the shared checkout's configs/
    (root / "builder" / "configs" / "zz_test_seed5.yaml").write_text(
        "description: a config added by a test\nseed: 5\ntrain_size: 3\nvalidation_size: 1\ntest_size: 1\n"
        "categories:\n  matrix: 1.0\n"
    )
    proc = run_python(
        "from datasets import load_dataset\n"
        f"ds = load_dataset({str(root / SCRIPT.name)!r}, 'zz_test_seed5', trust_remote_code=True)\n"
        "print('ROWS', len(ds['train']), set(ds['train']['category']), ds['train'][0]['seed'])\n",
        env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ROWS 3 {'matrix'}" in proc.stdout


# --- bad input: every message names the problem and the fix ------------------------------

KNOWN = known_categories()
GOOD = {"description": "d", "seed": 1, "train_size": 4, "validation_size": 1, "test_size": 1, "categories": {"matrix": 1.0}}


def fails(values: dict, *fragments: str) -> str:
    with pytest.raises(ConfigError) as err:
        check({**GOOD, **values}, KNOWN, source="cfg")
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)
    return str(err.value)


def test_unknown_category_lists_the_known_ones_and_the_closest():
    msg = fails({"categories": {"matrx": 1.0}}, "unknown category 'matrx'", "did you mean 'matrix'?")
    assert all(c in msg for c in KNOWN)


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ({"matrix": -1.0}, "the weight of category 'matrix' is negative (-1.0)"),
        ({"matrix": 0.0, "reduction": 0}, "all category weights are 0"),
        ({"matrix": "heavy"}, "the weight of category 'matrix' must be a finite number, got 'heavy'"),
        ({"matrix": math.nan}, "must be a finite number, got nan"),
        ({"matrix": True}, "must be a finite number, got True"),
        ("matrix", "categories must map category names to weights"),
        ({}, "categories must map category names to weights"),
    ],
)
def test_bad_weights_are_named(weights, fragment):
    fails({"categories": weights}, fragment)


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"train_size": -5}, "train_size must be between 0 and 10,000,000 (rows to generate for that split), got -5"),
        ({"test_size": 2.5}, "test_size must be a whole number, got 2.5"),
        ({"validation_size": "ten"}, "validation_size must be a whole number, got 'ten'"),
        ({"train_size": 10**9}, "train_size must be between 0 and 10,000,000"),
        ({"train_size": 0, "validation_size": 0, "test_size": 0}, "all 0: ask for at least one row"),
        ({"seed": "abc"}, "seed must be a whole number, got 'abc'"),
        ({"seed": -1}, "seed must be between 0 and 9,223,372,036,854,775,807"),
        ({"seed": 2**63}, "seed must be between 0 and 9,223,372,036,854,775,807"),
        ({"seed": True}, "seed must be a whole number, got True"),
        ({"min_statements": 9, "max_statements": 3}, "min_statements (9) is larger than max_statements (3)"),
        ({"max_args": 0}, "max_args must be between 1 and 5"),
        ({"hlo_optimized": "yes"}, "hlo_optimized must be true or false, got 'yes'"),
        ({"gradient": 0}, "gradient must be true or false, got 0"),
        ({"sed": 3}, "cfg: unknown key 'sed' (did you mean 'seed'?)"),
        ({"sed": 3, "train_sise": 1}, "unknown keys 'sed' (did you mean 'seed'?); 'train_sise' (did you mean 'train_size'?)"),
    ],
)
def test_bad_values_are_named(values, fragment):
    fails(values, fragment)


@pytest.mark.parametrize(
    ("values", "fragments"),
    [
        ({"max_args": 1}, ("max_args is 1, but flax_linen, jax_idioms programs take at least 2", "raise max_args to 2, or give flax_linen, jax_idioms")),
        ({"max_statements": 20}, ("max_statements is 20, but flax_linen, jax_idioms cannot honour statement limits", "Leave max_statements at 40")),
        ({"min_statements": 5}, ("min_statements is 5, but flax_linen, jax_idioms cannot honour", "Leave min_statements at 3")),
    ],
)
def test_a_limit_a_styled_category_cannot_honour_is_refused(values, fragments):
    fails({"categories": {"arithmetic": 0.0, "flax_linen": 1.0, "jax_idioms": 2.0}, **values}, *fragments)


def test_styled_limits_bind_only_categories_that_are_drawn():
    """Op-level configs keep every limit; beside an op-level category a statement limit shapes that one;
    a styled category at weight 0 draws nothing to honour them; a styled config honours max_args down to 2."""
    assert check({**GOOD, "max_statements": 10, "max_args": 1}, KNOWN).max_statements == 10
    assert check({**GOOD, "categories": {"arithmetic": 1.0, "flax_linen": 1.0}, "max_statements": 8}, KNOWN).max_statements == 8
    fails({**GOOD, "categories": {"arithmetic": 1.0, "flax_linen": 1.0}, "max_args": 1}, "max_args is 1, but flax_linen programs")
    assert check({**GOOD, "categories": {"arithmetic": 1.0, "flax_nnx": 0.0}, "min_statements": 7}, KNOWN).min_statements == 7
    assert check({**GOOD, "categories": {"optax_training": 1.0}, "max_args": 2}, KNOWN).max_args == 2


def test_whole_numbers_in_any_spelling_are_accepted():
    config = check({**GOOD, "seed": np.int64(7), "train_size": 4.0, "test_size": "2"}, KNOWN)
    assert (config.seed, config.train_size, config.test_size) == (7, 4, 2)
    assert isinstance(config.seed, int)


def write(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


GOOD_YAML = "description: d\nseed: 1\ntrain_size: 4\nvalidation_size: 1\ntest_size: 1\ncategories:\n  matrix: 1.0\n"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("description: d\nseed: [1\ntrain_size: 4\n", ("bad.yaml: line 3", "is not valid YAML")),
        ("description: d\n  seed: 1\n", ("bad.yaml: line 2", "is not valid YAML")),
        (GOOD_YAML + "seed: 2\n", ("bad.yaml: line 8", "duplicate key 'seed'")),
        ("- just\n- a list\n", ("bad.yaml: expected a mapping of config keys, got list",)),
        ("description: d\nseed: 1\ncategories:\n  matrix: 1\n", ("bad.yaml: missing required keys train_size, validation_size, test_size",)),
        (GOOD_YAML + "max_statement: 9\n", ("bad.yaml", "unknown key 'max_statement' (did you mean 'max_statements'?)")),
        (GOOD_YAML.replace("seed: 1", "seed: -3"), ("bad.yaml: seed must be between 0",)),
        (GOOD_YAML + "name: other\n", ("bad.yaml: 'name' comes from the file name",)),
    ],
)
def test_a_broken_yaml_file_is_named_with_its_line(tmp_path, text, fragments):
    path = write(tmp_path, "bad", text)
    with pytest.raises(ConfigError) as err:
        load_yaml(path, KNOWN)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)
    assert str(path) in str(err.value)


def test_a_file_name_that_cannot_be_a_config_name_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot be a config name"):
        load_yaml(write(tmp_path, "my config", GOOD_YAML), KNOWN)


def test_one_broken_file_does_not_hide_the_others(tmp_path):
    write(tmp_path, "good", GOOD_YAML)
    write(tmp_path, "bad", "seed: [\n")
    named, broken = load_named(tmp_path)
    assert list(named) == ["good"] and named["good"].categories == (("matrix", 1.0),)
    assert list(broken) == ["bad"] and "bad.yaml: line" in str(broken["bad"])
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_all(tmp_path)


def unreadable_entries(directory) -> dict[str, str]:
    """What users and editors leave in configs/: each entry and a fragment of the message naming it."""
    (directory / "latin1.yaml").write_bytes(GOOD_YAML.replace("d\n", "caf\xe9\n", 1).encode("latin-1"))
    (directory / "folder.yaml").mkdir()
    (directory / ".#matrix.yaml").symlink_to(directory / "root@host.1234:1700000000")  # what emacs leaves while editing
    (directory / "prose.yaml").write_text("just some words\n")
    (directory / "twin.yaml").write_text(GOOD_YAML)
    (directory / "twin.yml").write_text(GOOD_YAML)
    return {
        "latin1": "latin1.yaml: not UTF-8 text",
        "folder": "folder.yaml: a directory, not a config file",
        ".#matrix": ".#matrix.yaml: a link to",
        "prose": "prose.yaml: expected a mapping of config keys",
        "twin": "both define config 'twin'",
    }


def test_every_unreadable_entry_is_skipped_and_named_and_the_rest_load(tmp_path):
    write(tmp_path, "good", GOOD_YAML)
    (tmp_path / "short.yml").write_text(GOOD_YAML)  # .yml is a config like .yaml
    expected = unreadable_entries(tmp_path)
    named, broken = load_named(tmp_path)
    assert sorted(named) == ["good", "short"]
    assert sorted(broken) == sorted(expected)
    for name, fragment in expected.items():
        assert fragment in str(broken[name]) and str(tmp_path) in str(broken[name]), str(broken[name])


def test_unreadable_entries_in_the_shipped_folder_leave_every_other_config_usable(hf_env, tmp_path):
    root, env = package_copy(tmp_path / "pkg", hf_env)
    configs = root / "configs"
    expected = unreadable_entries(configs)
    (configs / "extra.yml").write_text(GOOD_YAML)
    proc = run_python(
        "from builder.hf_builder import BROKEN, NAMED, make_builder\n"
        "from builder.config import resolve\n"
        "print('BROKEN', sorted(BROKEN)); print('MATRIX', resolve('matrix').name, 'extra' in NAMED)\n"
        "print('BUILDER', make_builder('extra', cache_dir='unused').pairs_config.train_size)\n",
        env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"BROKEN {sorted(expected)}" in proc.stdout
    assert "MATRIX matrix True" in proc.stdout and "BUILDER 4" in proc.stdout
    for fragment in expected.values():  # each named once, as a warning, not a traceback
        assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
