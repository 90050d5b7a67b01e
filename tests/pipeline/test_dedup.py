"""The pass after the map: a repeat injected anywhere is found and replaced, deterministically."""

from __future__ import annotations

from dataclasses import replace

import datasets
import pytest

from builder.config import PairsConfig
from builder.features import FEATURES
from builder.pipeline.dedup import AHEAD, SAME_IR, TRAIN_STRUCTURE, DedupReport, dedup_columns, dedup_prepared, find_repeats, split_files
from builder.pipeline.plan import DUPLICATE_PYTHON, python_key
from builder.pipeline.replacement import Attempt, draw_attempt
from builder.pipeline.rows import generate_rows

CONFIG = PairsConfig(
    name="d", seed=5, train_size=3, validation_size=1, test_size=2,
    categories=(("arithmetic", 1.0), ("elementwise", 1.0)), min_statements=2, max_statements=4,
)  # fmt: skip


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    return {s: [row for _, row in generate_rows(CONFIG, s, 0, CONFIG.split_size(s))] for s in ("train", "validation", "test")}


def columns(splits: dict[str, list[dict]]) -> dict[str, dict[str, list]]:
    keys = ("id", "python", "canonical_hash", "structure_hash")
    return {s: {k: [r[k] for r in rows] for k in keys} for s, rows in splits.items()}


def test_a_clean_build_has_no_repeats(splits):
    assert find_repeats(columns(splits), structural=False) == []


def test_a_row_copied_across_splits_is_found(splits):
    injected = {s: list(rows) for s, rows in splits.items()}
    injected["test"][1] = {**splits["train"][0], "id": "test-0000001"}
    (repeat,) = find_repeats(columns(injected), structural=False)
    assert (repeat.split, repeat.position, repeat.reason) == ("test", 1, DUPLICATE_PYTHON)


def test_same_ir_under_other_python_is_found(splits):
    injected = {s: list(rows) for s, rows in splits.items()}
    injected["validation"][0] = {**splits["validation"][0], "canonical_hash": splits["train"][2]["canonical_hash"]}
    (repeat,) = find_repeats(columns(injected), structural=False)
    assert (repeat.split, repeat.reason) == ("validation", SAME_IR)


def test_structural_mode_finds_a_held_out_row_with_a_train_structure(splits):
    injected = {s: list(rows) for s, rows in splits.items()}
    injected["test"][0] = {**splits["test"][0], "structure_hash": splits["train"][1]["structure_hash"]}
    assert find_repeats(columns(injected), structural=False) == []
    (repeat,) = find_repeats(columns(injected), structural=True)
    assert (repeat.split, repeat.reason) == ("test", TRAIN_STRUCTURE)


def test_python_keys_computed_elsewhere_are_used_and_only_when_a_row_is_replaced(splits):
    injected = {s: list(rows) for s, rows in splits.items()}
    injected["test"][1] = {**splits["train"][0], "id": "test-0000001"}
    cols, calls = columns(injected), []

    def keys() -> dict[str, list[str]]:  # what the Ray engine's tasks compute
        calls.append(1)
        return {s: [python_key(source) for source in c["python"]] for s, c in cols.items()}

    dedup_columns(CONFIG, columns(splits), {}, [], keys)
    assert calls == []  # nothing to replace: no key computed
    plain_report, plain = dedup_columns(CONFIG, cols, {}, [])
    report, rows = dedup_columns(CONFIG, cols, {}, [], keys)
    assert calls == [1] and report.replaced == plain_report.replaced and len(plain_report.replaced) == 1
    assert rows[("test", 1)]["python"] == plain[("test", 1)]["python"]

    taken = python_key(plain[("test", 1)]["python"])  # say a kept row holds the replacement's program, renamed

    def keys_holding_it() -> dict[str, list[str]]:
        given = keys()
        given["train"][2] = taken
        return given

    _, other = dedup_columns(CONFIG, cols, {}, [], keys_holding_it)
    assert python_key(other[("test", 1)]["python"]) != taken and other[("test", 1)]["seed"] != plain[("test", 1)]["seed"]


def test_replacements_drawn_ahead_give_the_rows_and_failures_drawn_here(splits):
    """The Ray engine draws and lowers each repeat's first seeds in tasks; the walk decides from them."""
    injected = {s: list(rows) for s, rows in splits.items()}
    injected["test"][1] = {**splits["train"][0], "id": "test-0000001"}
    injected["validation"][0] = {**splits["train"][1], "id": "validation-0000000"}
    cols, asked = columns(injected), []

    def ahead(wanted):
        asked.append(wanted)
        return [[draw_attempt(CONFIG, w.split, w.index, w.category, seed) for seed in w.seeds] for w in wanted]

    plain_failures, failures = [], []
    plain_report, plain = dedup_columns(CONFIG, cols, {}, plain_failures)
    report, rows = dedup_columns(CONFIG, cols, {}, failures, draw_ahead=ahead)
    assert rows == plain and report.replaced == plain_report.replaced and failures == plain_failures
    (wanted,) = asked
    assert [(w.split, w.index) for w in wanted] == [("validation", 0), ("test", 1)]  # the walk's order
    assert all(len(w.seeds) == AHEAD and w.seeds[0] == rows[(w.split, w.index)]["seed"] for w in wanted)
    dedup_columns(CONFIG, columns(splits), {}, [], draw_ahead=ahead)
    assert len(asked) == 1  # nothing to replace: nothing drawn ahead


def test_an_attempt_drawn_ahead_is_judged_as_if_drawn_here(splits):
    injected = {s: list(rows) for s, rows in splits.items()}
    injected["test"][1] = {**splits["train"][0], "id": "test-0000001"}
    cols = columns(injected)
    _, plain = dedup_columns(CONFIG, cols, {}, [])
    first = plain[("test", 1)]["seed"]

    def broken_first(wanted):  # the first seed's lowering failed where the tasks ran: a generator bug
        (w,) = wanted
        good = draw_attempt(CONFIG, w.split, w.index, w.category, w.seeds[1])
        return [[Attempt(w.seeds[0], key="a key no row holds", error="RuntimeError: boom"), good]]

    failures = []
    _, rows = dedup_columns(CONFIG, cols, {}, failures, draw_ahead=broken_first)
    assert [(f.index, f.seed, f.error) for f in failures] == [(1, first, "RuntimeError: boom")]
    assert rows[("test", 1)]["seed"] != first

    def repeated_first(wanted):  # the first seed repeats a kept row: skipped unlowered, so its error is no finding
        (w,) = wanted
        return [[Attempt(w.seeds[0], key=python_key(splits["train"][2]["python"]), error="RuntimeError: boom")]]

    failures = []
    _, rows = dedup_columns(CONFIG, cols, {}, failures, draw_ahead=repeated_first)
    assert failures == [] and rows[("test", 1)]["seed"] != first  # the next seeds are drawn here


def write_split(directory, name: str, split: str, rows: list[dict]) -> None:
    with datasets.arrow_writer.ArrowWriter(features=FEATURES, path=str(directory / f"{name}-{split}.arrow")) as w:
        for row in rows:
            w.write(FEATURES.encode_example(row))
        w.finalize()


def test_the_pass_replaces_an_injected_repeat_in_the_arrow_files(splits, tmp_path):
    injected = {s: list(rows) for s, rows in splits.items()}
    injected["test"][1] = {**splits["train"][0], "id": "test-0000001"}
    for split, rows in injected.items():
        write_split(tmp_path, "pairs", split, rows)
    report = dedup_prepared(tmp_path, "pairs", CONFIG, {"train": {"an earlier row renamed": 2}})
    assert [(r["split"], r["id"], r["reason"]) for r in report.replaced] == [("test", "test-0000001", DUPLICATE_PYTHON)]
    assert report.per_split() == {"train": {"an earlier row renamed": 2}, "test": {DUPLICATE_PYTHON: 1}}
    assert DedupReport.read(tmp_path).per_split() == report.per_split()

    (path,) = split_files(tmp_path, "pairs", "test")
    test = datasets.Dataset.from_file(str(path))
    assert test["id"] == ["test-0000000", "test-0000001"]
    assert test[0] == FEATURES.decode_example(FEATURES.encode_example(splits["test"][0]))  # untouched
    new = test[1]
    assert new["seed"] == report.replaced[0]["new_seed"]
    everything = [r for rows in splits.values() for r in rows]
    assert new["python"] not in {r["python"] for r in everything}
    assert new["canonical_hash"] not in {r["canonical_hash"] for r in everything}
    assert new["category"] == splits["test"][1]["category"]  # the index's planned category: quotas stay exact

    # Deterministic: the same repeat in a fresh directory gets the same replacement.
    again = tmp_path / "again"
    again.mkdir()
    for split, rows in injected.items():
        write_split(again, "pairs", split, rows)
    assert dedup_prepared(again, "pairs", CONFIG, {}).replaced == report.replaced
    assert find_repeats(columns({"train": splits["train"], "test": list(datasets.Dataset.from_file(str(path)))}), False) == []


def test_structural_config_is_checked():
    from builder.config import ConfigError, check, known_categories

    with pytest.raises(ConfigError, match="split_mode must be one of random, structural"):
        check({"categories": ["matrix"], "train_size": 1, "split_mode": "by-structure"}, known_categories())
    assert replace(CONFIG, split_mode="structural").split_mode == "structural"


def test_a_replacement_never_takes_a_held_out_structure(splits, monkeypatch):
    """A held-out-from config's train structures bind the replacements as they bind the plan."""
    from builder.pipeline import dedup, replacement
    from builder.pipeline.plan import program_structure_key
    from builder.pipeline.seeds import category_plan, limits_of
    from builder.synth.generator import generate

    injected = {s: list(rows) for s, rows in splits.items()}
    injected["test"][1] = {**splits["train"][0], "id": "test-0000001"}
    repeats = find_repeats(columns(injected), structural=False)
    free = dedup.replace_repeats(CONFIG, columns(injected), repeats)[("test", 1)]["seed"]
    category = category_plan(CONFIG, "test")[1]
    taken = program_structure_key(generate(category, free, limits_of(CONFIG)))
    monkeypatch.setattr(replacement, "excluded_structures", lambda config: frozenset({taken}))
    held_out = dedup.replace_repeats(CONFIG, columns(injected), repeats)[("test", 1)]
    assert held_out["seed"] != free
    assert program_structure_key(generate(category, held_out["seed"], limits_of(CONFIG))) != taken
