"""What saves work must not change a score: the reference's outputs kept on disk are the ones XLA
computes, are read back by a later run, and a damaged file is computed again; a prediction in the
reference's canonical form is not run a second time."""

from __future__ import annotations

import numpy as np
import pytest

from builder.config import PairsConfig
from builder.evaluation.baselines import gold
from builder.evaluation.predictions import Predictions
from builder.evaluation.reference_cache import ReferenceCache, key
from builder.evaluation.run import Options, evaluate
from builder.evaluation.scoring import Scorer, draw_inputs
from builder.evaluation.tasks import get_task
from builder.pipeline.rows import generate_rows
from builder.validation.runners import ask_for_host_devices, run_xla

CONFIG = PairsConfig(
    name="c", seed=9, train_size=3, validation_size=0, test_size=0,
    categories=(("arithmetic", 1.0), ("reduction", 1.0), ("matrix", 1.0)), min_statements=3, max_statements=5,
)  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [row for _, row in generate_rows(CONFIG, "train", 0, CONFIG.train_size)]


def test_the_kept_outputs_are_xlas_and_a_later_run_reads_them(rows, tmp_path):
    task = get_task("python-to-stablehlo")
    options = Options(progress=False, shortcut=False, reference_cache=tmp_path / "cache")
    first = evaluate(task, rows, Predictions(gold(task, rows)), options)
    files = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(files) == len(rows)
    ask_for_host_devices()
    cache = ReferenceCache(tmp_path / "cache")
    for row in rows:
        inputs = draw_inputs(row, 0)
        kept = cache.get(key(row["stablehlo"], inputs))
        want = run_xla(row["stablehlo"], inputs)
        assert kept is not None and [a.dtype for a in kept] == [a.dtype for a in want]
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(kept, want, strict=True))
    # a later run reads them: outputs planted for the first row make its own answer disagree
    digest = key(rows[0]["stablehlo"], draw_inputs(rows[0], 0))
    cache.put(digest, [np.full_like(a, 12345) for a in cache.get(digest)])
    second = evaluate(task, rows, Predictions(gold(task, rows)), options)
    assert first.metrics["execution_accuracy"] == 1.0
    assert second.metrics["execution_accuracy"] == pytest.approx((len(rows) - 1) / len(rows)), second.rows


def test_a_damaged_file_is_computed_again(rows, tmp_path):
    task = get_task("python-to-stablehlo")
    options = Options(progress=False, shortcut=False, reference_cache=tmp_path / "cache")
    evaluate(task, rows[:1], Predictions(gold(task, rows[:1])), options)
    (path,) = (tmp_path / "cache").rglob("*.npz")
    path.write_bytes(b"not an npz")
    report = evaluate(task, rows[:1], Predictions(gold(task, rows[:1])), options)
    assert report.metrics["execution_accuracy"] == 1.0, report.rows
    assert ReferenceCache(tmp_path / "cache").get(path.stem) is not None  # written again


def test_the_key_is_the_module_and_the_inputs(rows):
    inputs = draw_inputs(rows[0], 0)
    assert key(rows[0]["stablehlo"], inputs) == key(rows[0]["stablehlo"], [a.copy() for a in inputs])
    assert key(rows[0]["stablehlo"], inputs) != key(rows[0]["stablehlo"], draw_inputs(rows[0], 1))
    assert key(rows[0]["stablehlo"], inputs) != key(rows[0]["stablehlo"] + " ", inputs)


@pytest.mark.parametrize("name", ["python-to-stablehlo", "stablehlo-to-python"])
def test_an_exact_prediction_is_not_run_a_second_time(rows, name):
    task = get_task(name)
    answers = gold(task, rows[:1])
    with Scorer(task) as scorer:
        score = scorer.score(rows[0], answers[rows[0]["id"]], True)
        assert score.exact and score.agreed and score.executed, score
        assert scorer.xla._process is None  # the XLA child never started: the reference did not run
    with Scorer(task, shortcut=False) as scorer:
        assert scorer.score(rows[0], answers[rows[0]["id"]], True).agreed
        assert scorer.xla._process is not None
