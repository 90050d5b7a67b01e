"""Every styled category through the pipeline: generate() dispatches to it, its rows lower, record the
domains their arguments need and the versions of the libraries their program imports."""

from __future__ import annotations

import ast
from importlib import metadata

import pytest
from conftest import ROOT

from builder.config import load_all
from builder.pipeline.plan import program_structure_key, python_key
from builder.pipeline.rows import make_row
from builder.synth.generator import generate
from builder.synth.styles import CATEGORIES

LIBRARIES = {"flax_linen": ("flax",), "flax_nnx": ("flax",), "optax_training": ("flax", "optax"), "jax_idioms": ()}


@pytest.mark.parametrize("category", CATEGORIES)
def test_rows_lower_and_record_domains_and_versions(category):
    config = load_all()[category]
    for seed in range(3):
        row = make_row(config, "train", seed, category, seed)
        assert row["stablehlo"].startswith("module @jit_")
        imported = [lib for lib in ("flax", "optax") if f"{lib} {metadata.version(lib)}" in row["jax_version"]]
        assert all(lib in imported for lib in LIBRARIES[category] if f"import {lib}" in row["python"] or f"from {lib}" in row["python"])
        if "optax" not in row["python"]:
            assert "optax" not in row["jax_version"]
        for arg in row["args"]:
            name, domain = arg["name"], arg["domain"]
            indexes = ("label", "tokens", "input_ids", "token_ids", "senders", "receivers", "targets'")
            if any(k in name for k in indexes) and arg["dtype"].startswith("int"):
                assert domain.startswith(("index[", "int[")), (name, domain)
            if name.endswith("rng") or name in ("key", "z_rng"):
                assert domain == "prng_key"


@pytest.mark.parametrize("category", CATEGORIES)
def test_generate_dispatches_and_is_deterministic(category):
    a, b = generate(category, 5), generate(category, 5)
    assert a.render() == b.render() and a.args_tree() == b.args_tree()
    programs = [generate(category, s) for s in range(40)]
    assert len({python_key(p.render()) for p in programs}) == 40  # no two seeds draw the same program, names aside
    assert len({program_structure_key(p) for p in programs}) >= 30
    for p in programs:
        ast.parse(p.render())
        assert f"def {p.entry_point}(" in p.render()


def test_framework_categories_make_40_percent_of_balanced():
    weights = dict(load_all()["balanced"].categories)
    assert sum(weights[c] for c in CATEGORIES) / sum(weights.values()) >= 0.4


def test_the_documented_recipe_rebuilds_an_optax_training_row():
    """docs/columns.md's recipe (run as written) rebuilds the call, optax states included, and relowers the row's StableHLO."""
    readme = (ROOT / "docs" / "columns.md").read_text()
    start = readme.index("Rebuilding a call without this package:")
    recipe = readme[readme.index("```python\n", start) + 10 : readme.index("```", readme.index("```python\n", start) + 10)]
    config = load_all()["optax_training"]
    for marker in ("'optax.", "'flax.training.train_state.TrainState'"):  # optax states; flax's TrainState with its static fields
        seed = next(s for s in range(50) if marker in generate("optax_training", s).args_tree())
        row = make_row(config, "train", 0, "optax_training", seed)
        namespace = {"row": row}
        exec(recipe, namespace)
        assert namespace["text"] == row["stablehlo"], marker
