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
