"""Build statistics: log-binned histograms, the example row, the JSON round trip the card relies on."""

from __future__ import annotations

import datasets

from builder.pipeline.stats import BuildStats, Histogram, collect, ir_line_count, representative


def test_histogram_bins_are_exact_at_powers_of_the_base():
    hist = Histogram.of([0, 0.5, 1, 9, 10, 99, 100, 999, 1000, 1000], 10)
    assert hist.below_one == 2
    assert hist.bins == {0: 2, 1: 2, 2: 2, 3: 2}  # 1000 is 10**3, not 10**2.999...
    assert (hist.minimum, hist.median, hist.maximum) == (0, 99, 1000)
    assert [label for label, _ in hist.rows()] == ["< 1", "1–9", "10–99", "100–999", "1k–9,999"]


def test_histogram_rows_keep_empty_bins_between_filled_ones():
    hist = Histogram.of([3, 40], 2)  # bins 2–3 and 32–63, with three empty bins between
    assert hist.rows() == [("2–3", 1), ("4–7", 0), ("8–15", 0), ("16–31", 0), ("32–63", 1)]
    bars = hist.bars(width=10)
    assert bars[0].endswith("│██████████ 1") and bars[1].endswith("│           0")
    assert Histogram.of([], 2).bars() == ["  (no rows)"]


def test_ir_line_count():
    assert [ir_line_count(t) for t in ("", "a", "a\n", "a\nb", "a\nb\n")] == [0, 1, 1, 2, 2]


def test_collect_picks_the_shortest_differentiable_row_and_round_trips():
    train = datasets.Dataset.from_dict(
        {
            "id": ["train-0", "train-1", "train-2"],
            "category": ["matrix", "matrix", "reduction"],
            "stablehlo": ["a\nb\nc\n", "a\n", "a\nb\n"],
            "stablehlo_grad": ["g", None, "g"],
            "flops": [0.0, 5.0, 50.0],
            "ops": [["stablehlo.add"], ["stablehlo.add", "chlo.erf"], ["func.call"]],
            "jax_version": ["jax x"] * 3,
            "seed": [10, 11, 12],
            "python": ["def f(x): ...", "def g(x): ...", "def h(x):\n    h2 = x\n    return x"],
            "args": [[{"name": "x", "shape": [2], "dtype": "float32", "weak_type": False, "domain": "real"}]] * 3,
        }
    )
    stats = collect(datasets.DatasetDict({"train": train}), failures=2)
    assert stats.example["id"] == "train-2"  # train-1 is shorter but has no gradient
    assert stats.category_examples["matrix"] == {
        "id": "train-0", "seed": 10, "python": "def f(x): ...", "ops": ["stablehlo.add"], "lines": 3, "gradient": True
    }
    assert set(stats.category_examples) == {"matrix", "reduction"}
    assert stats.rows == {"train": 3} and stats.categories["train"] == {"matrix": 2, "reduction": 1}
    assert stats.distinct_ops == 2  # stablehlo.* and chlo.* only
    assert stats.ir_lines.bins == {0: 1, 1: 2} and stats.flops.below_one == 1
    assert stats.realism["rows"] == 3 and stats.realism["tells"]["numbered"] == stats.realism["tells"]["dead"] == 1
    assert (stats.realism["numbered_names"], stats.realism["assigned_names"]) == (1, 1) and stats.realism["tells"]["sink"] == 0
    again = BuildStats.from_dict(stats.to_dict())
    assert again.to_dict() == stats.to_dict() and again.failures == 2


def test_a_category_is_shown_by_a_differentiable_program_near_its_lower_quartile():
    rows = [(False, n, f"train-{n}", "train", n) for n in (2, 5, 9, 40, 80, 300, 700, 900)]
    assert representative(rows)[1] == 9  # lower quartile of eight rows: the third shortest
    rows[2] = (True, 9, "train-9", "train", 9)  # ... unless it has no gradient IR: the nearest that does
    assert representative(rows)[1] == 5
    assert representative([(True, 3, "train-0", "train", 0)])[2] == "train-0"  # none differentiable: still one row
