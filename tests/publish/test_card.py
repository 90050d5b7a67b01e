"""The dataset card, offline: header merging, the default-config rule, rendering from the template."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import datasets
import pytest
from conftest import ROOT
from huggingface_hub import DatasetCard, DatasetCardData

from builder.config import PairsConfig, known_categories, load_all, resolve
from builder.pipeline.seeds import limits_of
from builder.pipeline.stats import collect
from builder.publish.card import ConfigRecord, can_set_default, merge_header, render, size_category, template_path
from builder.publish.hub import plan_shards
from builder.synth.generator import generate


def fake_build(rows: int = 4, category: str = "reduction") -> datasets.DatasetDict:
    """The columns `collect` reads, with made-up values: enough for the card, no JAX needed."""
    split = {
        "id": [f"train-{i:07d}" for i in range(rows)],
        "category": [category] * rows,
        # odd rows carry three of the generator's old tells: an unused import, a numbered name, a dead statement
        "python": [f"import jax\nimport jax.numpy as jnp\n\n\ndef fn(x):\n    h2 = x * 2\n    return jnp.tanh(x) + {i}\n" if i % 2
                   else f"def fn(x):\n    return x + {i}\n" for i in range(rows)],
        "args": [[{"name": "x", "shape": [2, 3], "dtype": "float32", "weak_type": False, "domain": "real"}]] * rows,
        "stablehlo": ["module {\n" + "  %0 = stablehlo.add\n" * (i + 1) + "}\n" for i in range(rows)],
        "stablehlo_grad": [None if i % 2 else "module {}\n" for i in range(rows)],
        "flops": [float(10**i) for i in range(rows)],
        "ops": [["stablehlo.add", "func.return"]] * rows,
        "jax_version": ["jax 0.0; jaxlib 0.0; platform cpu"] * rows,
        "seed": [100 + i for i in range(rows)],
    }
    return datasets.DatasetDict({"train": datasets.Dataset.from_dict(split)})


def record(name: str, **overrides) -> ConfigRecord:
    config = resolve(name, overrides)
    stats = collect(fake_build(category=name if name != "balanced" else "matrix"))
    return ConfigRecord.of(config, stats, "f" * 16, load_all()[name])


def pushed(*names: str, default: str | None = None) -> DatasetCardData:
    """A header as push_to_hub writes it."""
    configs = [{"config_name": n, "data_files": [{"split": "train", "path": f"{n}/train-*"}]} for n in names]
    for c in configs:
        if c["config_name"] == default:
            c["default"] = True
    return DatasetCardData(configs=configs, language=["en"], dataset_info=[{"config_name": n} for n in names])


@pytest.mark.parametrize(
    ("names", "default", "ok"),
    [
        ((), None, True),  # a new repo
        (("reduction",), None, False),  # 3.6: KeyError: 'default'
        (("reduction", "matrix"), None, False),  # 3.6: KeyError: None
        (("balanced", "reduction"), "balanced", True),
        (("default", "reduction"), None, False),  # a config named 'default': 3.6 raises ValueError
    ],
)
def test_can_set_default_matches_datasets_36(names, default, ok):
    assert can_set_default(pushed(*names, default=default).to_dict()) is ok


def test_merge_header_keeps_every_config_and_marks_balanced_default():
    data = merge_header(pushed("balanced", "reduction", default="reduction"), [record("reduction")]).to_dict()
    assert [c["config_name"] for c in data["configs"]] == ["balanced", "reduction"]
    assert [c["config_name"] for c in data["configs"] if c.get("default")] == ["balanced"]
    assert data["license"] == "apache-2.0" and data["pretty_name"] and data["size_categories"] == ["n<1K"]
    assert data["language"] == ["en"]  # what else was in the header stays
    assert [i["config_name"] for i in data["dataset_info"]] == ["balanced", "reduction"]
    # without balanced published, no config is forced to be the default
    alone = merge_header(pushed("reduction"), [record("reduction")]).to_dict()
    assert "default" not in alone["configs"][0]


def test_size_category_buckets():
    assert [size_category(n) for n in (0, 999, 1000, 12_000, 2_000_000)] == ["n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]


def test_render_fills_the_template_for_every_config():
    records = [record("reduction", seed=3, train_size=4), record("balanced", train_size=4)]
    card = render("org/pairs", pushed("balanced", "reduction"), records)
    text = str(card)
    assert DatasetCard(text).data.to_dict()["configs"][0]["default"] is True
    assert text.index("### Config `balanced`") < text.index("### Config `reduction`")
    assert 'load_dataset("org/pairs", "balanced")' in text
    assert "jax-stablehlo-pairs build reduction --seed 3 --train-size 4 --validation-size 200 --test-size 200" in text
    assert "| `reduction` | 4 |" in text  # rows per split and category
    assert "**1 distinct StableHLO/CHLO ops**" in text
    # histograms: IR lines 3, 4, 5, 6 in power-of-2 bins; FLOPs 1, 10, 100, 1000 in power-of-10 bins
    assert re.search(r"  2–3 │█+ +1\n  4–7 │█{40} 3\n", text)
    assert re.search(r"1–9 │█{40} 1\n +10–99 │█{40} 1\n", text)
    assert "Row `train-0000000` of config `balanced`" in text
    assert "{{" not in text and "{%" not in text
    # every category: what its own config says it exercises, and one real row of it
    described = " ".join(load_all()["reduction"].description.split())
    assert f"| `reduction` | {described} |" in text and "| `matrix` |" in text
    assert "<code>matrix</code>: row <code>train-0000000</code> of config <code>balanced</code>, seed 100, 3 lines" in text
    assert "<code>reduction</code>: row <code>train-0000000</code> of config <code>reduction</code>, seed 100" in text
    assert "ops (`stablehlo.` omitted): `add`, `func.return`" in text
    # the generator's tells, counted over the config's own rows
    assert "over this config's 4 rows): 2 of 2 assigned names are numbered placeholders (100.0%)." in text
    assert "| numbered names (h, h2, v3, branch7) | 2 | 50.0% |" in text and "| an unused import | 2 | 50.0% |" in text
    assert "| a dead statement (assigned, never read) | 2 | 50.0% |" in text and "| a PRNG key used twice | 0 | 0.0% |" in text
    assert "Most frequent calls: `jnp.tanh` 2" in text
    # a config pushed by other means (no statistics) is still listed
    other = str(render("org/pairs", pushed("balanced", "reduction", "extra"), records))
    assert "| `extra` | see `dataset_info` above | | (published without statistics) |" in other
    assert "| [`reduction`](#config-reduction) | 4 / 0 / 0 | 3 | 1 |\n| `extra` |" in other


def test_the_template_ships_inside_the_package():
    """builder/publish/dataset_card.md links to the root template, so a wheel install can publish too."""
    shipped = Path(str(resources.files("builder.publish"))) / "dataset_card.md"
    assert shipped.read_text() == (ROOT / "dataset_card.md").read_text()
    assert template_path().read_text() == shipped.read_text()


def test_record_round_trips_through_json_and_names_overridden_categories():
    rec = record("balanced", categories={"matrix": 1.0, "reduction": 2.5})
    assert rec.build_command.endswith("--max-args 5 --categories matrix=1,reduction=2.5 --output-dir balanced")
    assert "categories={'matrix': 1.0, 'reduction': 2.5}" in rec.load_call
    assert "--categories" not in record("balanced").build_command and "categories=" not in record("balanced").load_call
    hlo = record("matrix", hlo_optimized=True, seed=4)
    assert hlo.build_command.startswith("jax-stablehlo-pairs build matrix --seed 4 --train-size 2000")
    assert hlo.build_command.endswith("--max-args 5 --hlo-optimized --output-dir matrix") and "hlo_optimized=True" in hlo.load_call
    again = ConfigRecord.from_json(rec.to_json())
    assert again.to_json() == rec.to_json() and again.stats.flops == rec.stats.flops
    assert isinstance(resolve("balanced"), PairsConfig)


def test_plan_shards_keeps_a_push_in_one_commit():
    ds = datasets.DatasetDict({s: datasets.Dataset.from_dict({"x": ["a" * 1000] * 60}) for s in ("train", "test")})
    assert plan_shards(ds, max_files=49) == {"train": 1, "test": 1}
    plan = plan_shards(ds, max_files=10, max_shard_bytes=1000)  # 60 KB a split would want 60 shards each
    assert sum(plan.values()) <= 10 and all(1 <= n <= 60 for n in plan.values())


def _columns_table(path: Path) -> list[str]:
    text = path.read_text()
    table = text[text.index("\n| column |") + 1 :]
    return table[: table.index("\n\n")].splitlines()


def test_the_card_documents_the_same_columns_as_the_docs():
    card, docs = _columns_table(ROOT / "dataset_card.md"), _columns_table(ROOT / "docs" / "columns.md")
    assert len(card) > 10
    assert card == docs, "the Columns tables of docs/columns.md and dataset_card.md differ: a column change updates both"


def test_the_readme_names_every_column_and_domain_kind():
    """The README's short table groups the columns; none may go missing from it."""
    from builder.synth.domains import KINDS

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Columns") : readme.index("## Duplicates and splits")]
    documented = {cell for line in _columns_table(ROOT / "docs" / "columns.md")[2:] for cell in re.findall(r"`(\w+)`", line.split("|")[1])}
    assert documented and all(f"`{name}`" in section for name in documented), documented - set(re.findall(r"`(\w+)`", section))
    assert all(f"`{kind}" in section for kind in KINDS)


EXAMPLE = re.compile(r"<summary><code>(\w+)</code>: seed (\d+) .*?</summary>\n\n```python\n(.*?)\n```", re.S)


def test_the_documented_examples_regenerate_from_their_seeds():
    """Every category shows one real row in docs/configs.md; its seed must still draw exactly that program."""
    examples = EXAMPLE.findall((ROOT / "docs" / "configs.md").read_text())
    assert sorted(c for c, _, _ in examples) == sorted(known_categories())
    for category, seed, body in examples:
        program = generate(category, int(seed), limits_of(load_all()[category]))
        lines = [line for line in program.render().splitlines() if not line.startswith(("import ", "from "))]
        assert "\n".join(lines).strip("\n") == body, f"docs/configs.md's {category} example no longer regenerates from seed {seed}"


def test_the_card_build_command_parses_back_to_the_same_config():
    """The command the card prints is run by people: its flags must rebuild exactly these rows."""
    from builder.cli import _overrides, build_parser

    for rec in (record("matrix", gradient=False, portable_only=True, seed=9), record("balanced", hlo_optimized=True, split_mode="structural")):
        args = build_parser().parse_args(rec.build_command.split()[1:])
        assert resolve(args.config, _overrides(args)) == resolve(rec.name, {k: v for k, v in rec.config.items() if k != "description"})
    assert "--no-gradient" in record("matrix", gradient=False).build_command


@pytest.mark.parametrize("document", ["docs/columns.md", "dataset_card.md"])
def test_the_rebuild_recipe_gives_the_row_s_stablehlo(document):
    """The 'Rebuilding a call' snippet, run as written, on a row whose program never reads one argument."""
    import jax
    import jax.numpy as jnp

    text = (ROOT / document).read_text()
    snippet = re.search(r"Rebuilding a call.*?```python\n(.*?)```", text, re.DOTALL).group(1)
    python = "import jax.numpy as jnp\n\n\ndef fn(x, params):\n    return jnp.sin(x) * params['w']\n"
    ns: dict = {}
    exec(python, ns)
    x, w, unused = (jax.ShapeDtypeStruct(s, jnp.float32) for s in ((3,), (3,), (2,)))
    row = {
        "python": python,
        "entry_point": "fn",
        "args": [
            {"name": n, "shape": list(s.shape), "dtype": "float32", "weak_type": False}
            for n, s in (("x", x), ("params['b']", unused), ("params['w']", w))
        ],
        "args_tree": "(0, {'b': 1, 'w': 2})",
        "stablehlo": jax.jit(ns["fn"], keep_unused=True).lower(x, {"b": unused, "w": w}).as_text(),
    }
    scope = {"row": row}
    exec(snippet, scope)
    assert scope["text"] == row["stablehlo"]
