"""Dtype-aware comparison: what counts as agreement between two executors."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from builder.validation.compare import (
    DIRECTIONS,
    INDEPENDENT,
    SAME_COMPILER,
    compare_array,
    lowest_precision,
    perturbed,
    sensitivity,
    widened,
)


def test_float_tolerance_scales_with_the_dtype():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    assert compare_array(a * (1 + 1e-7), a, SAME_COMPILER) is None
    assert "beyond rtol" in compare_array(a * (1 + 1e-3), a, SAME_COMPILER)
    b = a.astype(ml_dtypes.bfloat16)
    assert compare_array((a * 1.004).astype(ml_dtypes.bfloat16), b, SAME_COMPILER) is None


def test_integers_shapes_and_dtypes_must_match_exactly():
    i = np.arange(4, dtype=np.int32)
    assert "1 of 4 elements differ" in compare_array(i + (i == 3), i, SAME_COMPILER)
    assert compare_array(i.astype(np.int8), i, SAME_COMPILER).startswith("dtype")
    assert compare_array(i[:3], i, SAME_COMPILER).startswith("shape")


def test_nan_and_inf_must_sit_in_the_same_places():
    want = np.array([1.0, np.nan, np.inf], np.float32)
    assert compare_array(want.copy(), want, SAME_COMPILER) is None
    assert "NaN in different places" in compare_array(np.array([1.0, 0.0, np.inf], np.float32), want, SAME_COMPILER)
    swapped = np.array([1.0, np.inf, np.nan], np.float32)
    assert compare_array(swapped, want, INDEPENDENT) is not None
    assert compare_array(swapped, want, INDEPENDENT, low_precision="float16") is None  # f16 overflow: any non-finite
    beyond = np.array([-155706.4, 2.0], np.float32)  # XLA kept f32 where the IR's f16 overflows
    assert compare_array(np.array([-np.inf, 2.0], np.float32), beyond, INDEPENDENT, low_precision="float16") is None
    assert compare_array(np.array([np.inf, 2.0], np.float32), beyond, INDEPENDENT, low_precision="float16") is not None


def test_after_an_overflow_only_elements_finite_on_both_sides_count():
    want = np.array([np.inf, 2.0, 3.0], np.float32)
    got = np.array([np.nan, np.nan, 3.0], np.float32)
    assert compare_array(got, want, INDEPENDENT) is not None  # the same compiler must still agree exactly
    assert compare_array(got, want, INDEPENDENT, independent=True) is None
    assert compare_array(np.array([np.nan, np.nan, 9.0], np.float32), want, INDEPENDENT, independent=True) is not None


def test_low_precision_intermediates_widen_the_tolerance():
    assert lowest_precision("tensor<4xbf16>") == "bfloat16" and lowest_precision("tensor<f16>") == "float16"
    assert lowest_precision("tensor<4xf32>") == "float32"
    assert widened(INDEPENDENT, "bfloat16")["float32"] == INDEPENDENT["bfloat16"]


def test_an_ill_conditioned_output_gets_its_own_sensitivity_as_slack():
    x = np.array([1.5707, 0.3], np.float32)  # tan near its pole, and far from it
    want = np.tan(x)
    moved = np.tan(perturbed([x], 0)[0])
    got = want * np.array([1 + 3e-3, 1], np.float32)
    assert compare_array(got, want, INDEPENDENT) is not None
    assert compare_array(got, want, INDEPENDENT, slack=sensitivity([want], [moved])[0]) is None
    calm = np.array([0.3, 0.4], np.float32)  # far from the pole: a few ulps of input noise move nothing
    slack = sensitivity([np.tan(calm)], [np.tan(perturbed([calm], 0)[0])])[0]
    assert compare_array(np.tan(calm) * 1.01, np.tan(calm), INDEPENDENT, slack=slack) is not None


def test_a_chaotic_output_is_judged_by_the_largest_of_several_moves():
    x = np.array([36.266930], np.float32)  # numerics seed 8565065042867341218: sin(expm1(x) - x), expm1 ~ 5.6e15
    f = lambda v: np.sin(np.expm1(v.astype(np.float64)) - v).astype(np.float32)  # noqa: E731
    want, other = f(x), np.float32([0.99532104])  # another executor's expm1, an ulp away, gave this
    moves = [f(perturbed([x], 0, direction=way)[0]) for way in DIRECTIONS]
    assert all(m[0] != want[0] for m in moves)  # every move changes the result: a 2^-20 move is 2e11 in expm1
    assert {np.sign(m) for m in perturbed([np.ones(4, np.float32)], 0, direction=-1.0)[0] - 1} == {-1.0}
    slack = sensitivity([want], *[[m] for m in moves])[0]
    np.testing.assert_allclose(slack, 4 * np.max([np.abs(m - want) for m in moves], axis=0), rtol=1e-6)  # the largest move
    assert compare_array(other, want, INDEPENDENT) is not None
    assert compare_array(other, want, INDEPENDENT, slack=slack) is None
