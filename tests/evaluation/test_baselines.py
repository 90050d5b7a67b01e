"""The baselines are what they say: a derangement, the nearest train row's answer, a size fit."""

from __future__ import annotations

import pytest

from builder.config import PairsConfig
from builder.evaluation.baselines import gold, make, retrieval, shuffled, size_fit
from builder.evaluation.tasks import COST_FIGURES, TASKS, get_task
from builder.pipeline.rows import generate_rows

CONFIG = PairsConfig(
    name="b", seed=8, train_size=5, validation_size=0, test_size=0,
    categories=(("arithmetic", 1.0), ("matrix", 1.0), ("reduction", 1.0)), min_statements=2, max_statements=8,
)  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [row for _, row in generate_rows(CONFIG, "train", 0, CONFIG.train_size)]


@pytest.mark.parametrize("name", list(TASKS))
def test_shuffled_never_gives_a_row_its_own_answer(rows, name):
    task = get_task(name)
    mine, other = gold(task, rows), shuffled(task, rows, seed=3)
    assert mine.keys() == other.keys()
    assert all(other[i] is not mine[i] for i in mine)


@pytest.mark.parametrize("name", list(TASKS))
def test_retrieval_from_the_rows_themselves_is_the_reference(rows, name):
    task = get_task(name)
    assert retrieval(task, rows, rows) == gold(task, rows)


def test_the_size_fit_predicts_every_figure_from_ir_length(rows):
    fit = size_fit(rows, rows)
    assert fit.keys() == {r["id"] for r in rows}
    assert all(set(p) == set(COST_FIGURES) and all(v >= 0 for v in p.values()) for p in fit.values())
    longest, shortest = max(rows, key=lambda r: len(r["stablehlo"])), min(rows, key=lambda r: len(r["stablehlo"]))
    slope_up = fit[longest["id"]]["bytes_accessed"] >= fit[shortest["id"]]["bytes_accessed"]
    assert slope_up  # bytes grow with IR size on these rows
    with pytest.raises(ValueError, match="cost figures only"):
        make("size-fit", get_task("python-to-stablehlo"), rows, rows)


def test_the_size_fit_takes_a_negative_xla_figure_as_zero(rows):
    # XLA's cost analysis gives -4 flops for a module of collectives alone (a `parallel` row):
    # log1p of it would be NaN, and NaN is not JSON.
    train = [dict(rows[0], flops=-4.0), *rows[1:]]
    fit = size_fit(rows, train)
    assert all(p["flops"] == p["flops"] and p["flops"] >= 0 for p in fit.values())


def test_the_command_says_where_to_look_when_the_reference_has_no_train_split(tmp_path, capsys):
    from datasets import Dataset, DatasetDict

    from builder.evaluation.baselines import main

    DatasetDict({"test": Dataset.from_list([{"id": "test-0"}])}).save_to_disk(str(tmp_path / "bench"))
    code = main(["--task", "cost", "--reference", str(tmp_path / "bench"), "--kind", "size-fit", "--output", str(tmp_path / "p.jsonl")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no split 'train'" in err and "--train-reference" in err
    assert not (tmp_path / "p.jsonl").exists()
