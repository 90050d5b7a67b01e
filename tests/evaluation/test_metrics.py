"""The figures of the cost task, against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from builder.evaluation.metrics import kendall_tau, mdape


def test_kendall_tau_counts_concordant_and_discordant_pairs():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)  # 2 concordant, 1 discordant of 3 pairs


def test_kendall_tau_b_discounts_ties():
    # x = [1, 1, 2], y = [1, 2, 3]: pairs (0,1) tied in x; (0,2), (1,2) concordant. tau-b = 2 / sqrt(2 * 3)
    assert kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(kendall_tau([5, 5, 5], [1, 2, 3]))  # a constant prediction ranks nothing
    assert math.isnan(kendall_tau([1], [1]))


def test_kendall_tau_is_the_same_in_blocks():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, 300), rng.integers(0, 20, 300)
    assert kendall_tau(x, y, block=7) == pytest.approx(kendall_tau(x, y, block=1024))


def test_mdape_is_the_median_percentage_error_with_zero_references_in_units():
    assert mdape([110, 50, 100], [100, 100, 100]) == pytest.approx(10.0)  # errors 10%, 50%, 0%
    assert mdape([3], [0]) == pytest.approx(300.0)  # a reference of 0: measured against 1
    assert math.isnan(mdape([], []))
