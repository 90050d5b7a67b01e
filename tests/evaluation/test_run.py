"""`evaluate` discriminates: the reference scores 100% on every task, predictions shuffled between
rows score near 0, and every missing or malformed prediction is counted, never dropped."""

from __future__ import annotations

import json

import datasets
import pytest

from builder.cli import main
from builder.config import ConfigError, PairsConfig
from builder.evaluation.baselines import gold, shuffled
from builder.evaluation.predictions import Predictions, read_predictions
from builder.evaluation.run import Options, evaluate
from builder.evaluation.tasks import TASKS, get_task
from builder.pipeline.rows import generate_rows

CONFIG = PairsConfig(
    name="e", seed=5, train_size=4, validation_size=0, test_size=0,
    categories=(("arithmetic", 1.0), ("elementwise", 1.0), ("reduction", 1.0), ("matrix", 1.0)), min_statements=3, max_statements=6,
)  # fmt: skip
QUIET = Options(progress=False)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [row for _, row in generate_rows(CONFIG, "train", 0, CONFIG.train_size)]


@pytest.mark.parametrize("name", list(TASKS))
def test_the_reference_scores_full_marks(rows, name):
    task = get_task(name)
    report = evaluate(task, rows, Predictions(gold(task, rows)), Options(progress=False, shortcut=False))  # every IR run by XLA
    assert report.n == sum(task.applies(r) for r in rows) > 0
    assert report.counts["scored"] == report.n, report.rows
    if task.kind == "cost":
        assert report.metrics["mdape"] == {"flops": 0.0, "bytes_accessed": 0.0, "transcendentals": 0.0}
        assert all(t == pytest.approx(1.0) for t in report.metrics["kendall_tau"].values() if t == t)  # NaN: a constant figure
    else:
        assert report.metrics["exact_match"] == report.metrics["execution_accuracy"] == 1.0, report.rows
    for group in (*report.per_category.values(), *report.per_tier.values()):
        assert group.keys() == report.metrics.keys()


def test_an_exact_match_counts_as_agreeing_without_running(rows):
    task = get_task("python-to-stablehlo")
    renamed = {i: text.replace("%0", "%renamed") for i, text in gold(task, rows).items()}
    report = evaluate(task, rows, Predictions(renamed), QUIET)
    assert report.metrics["exact_match"] == report.metrics["execution_accuracy"] == 1.0, report.rows


@pytest.mark.parametrize("name", ["python-to-stablehlo", "forward-to-gradient", "cost"])
def test_predictions_shuffled_between_rows_score_near_zero(rows, name):
    task = get_task(name)
    report = evaluate(task, rows, Predictions(shuffled(task, rows, seed=0)), QUIET)
    if task.kind == "cost":
        assert min(report.metrics["mdape"][k] for k in ("flops", "bytes_accessed")) > 20.0
    else:
        assert report.metrics["exact_match"] == 0.0
        assert report.metrics["execution_accuracy"] <= 0.25, report.rows
        assert report.metrics["valid"] == 1.0  # every shuffled module still parses: the scorer tells valid from right


def test_a_shuffled_decompilation_scores_zero(rows):
    task = get_task("stablehlo-to-python")
    report = evaluate(task, rows[:2], Predictions(shuffled(task, rows[:2], seed=0)), QUIET)
    assert report.metrics["exact_match"] == 0.0 and report.metrics["execution_accuracy"] == 0.0, report.rows


def test_missing_malformed_and_unreadable_predictions_are_counted(rows, tmp_path):
    task = get_task("python-to-stablehlo")
    lines = [json.dumps({"id": rows[0]["id"], "prediction": rows[0]["stablehlo"]}), json.dumps({"id": rows[1]["id"], "prediction": 42}), "{not json"]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    predictions = read_predictions(path)
    report = evaluate(task, rows, predictions, QUIET)
    assert report.n == len(rows) and report.predictions == 3
    assert report.counts == {"scored": 1, "missing": len(rows) - 2, "malformed": 1, "timed_out": 0, "crashed": 0, "unreadable_lines": 1}
    assert report.metrics["exact_match"] == pytest.approx(1 / len(rows))
    assert report.malformed_lines == ["line 3: not JSON (Expecting property name enclosed in double quotes)"]


def test_an_ir_that_does_not_parse_is_scored_wrong_with_its_reason(rows):
    task = get_task("python-to-stablehlo")
    broken = rows[0]["stablehlo"].replace("stablehlo.", "stablehlo.no_such_", 1)
    report = evaluate(task, rows[:1], Predictions({rows[0]["id"]: broken}), QUIET)
    assert report.metrics["valid"] == 0.0 and report.counts["scored"] == 1
    assert "does not parse" in report.rows[0]["reason"]


def test_bad_input_is_refused_before_any_work(rows, tmp_path):
    with pytest.raises(ConfigError, match="not rows of"):
        evaluate(get_task("cost"), rows, Predictions({"test-9999999": {}}), QUIET)
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"id": "a", "prediction": 1}\n{"id": "a", "prediction": 2}\n')
    with pytest.raises(ConfigError, match="more than once"):
        read_predictions(twice)
    with pytest.raises(ConfigError, match="did you mean 'cost'"):
        get_task("cots")
    with pytest.raises(ConfigError, match="no such file"):
        read_predictions(tmp_path / "absent.jsonl")


def test_the_cli_scores_a_build_directory_and_writes_the_report(rows, tmp_path, capsys):
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "build"))
    task = get_task("python-to-stablehlo")
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n" for i, p in gold(task, rows).items()))
    args = ["evaluate", "--task", task.name, "--predictions", str(path), "--reference", str(tmp_path / "build"), "--report", str(tmp_path / "r.json")]
    assert main([*args, "--sample", "2", "--num-proc", "2"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert {"task", "n", "metrics", "per_category", "per_tier", "counts"} <= report.keys()
    assert report["task"] == task.name and report["n"] == 2 and report["metrics"]["execution_accuracy"] == 1.0
    assert "overall" in capsys.readouterr().out
    assert main(["evaluate", "--task", task.name, "--predictions", str(path), "--reference", str(tmp_path / "build"), "--split", "train"]) == 2
