"""The executors' compile options: the cheaper settings everywhere but where they make a module run for minutes."""

from __future__ import annotations

import numpy as np

from builder.validation.runners import COMPILER_OPTIONS, LITERAL, options_for, run_xla

# the shape of a ViT's patch-embedding input gradient (flax_linen seed 270447123839203693: 16x16 patches),
# scaled down: the output gradient dilated by the patch size, padded, and convolved with the kernel
DILATED = """module {
  func.func public @main(%arg0: tensor<1x4x4x32xf32>, %arg1: tensor<16x16x8x32xf32>) -> tensor<1x64x64x8xf32> {
    %0 = stablehlo.convolution(%arg0, %arg1) dim_numbers = [b, 0, 1, f]x[0, 1, o, i]->[b, 0, 1, f], window = {stride = [1, 1], pad = [[15, 15], [15, 15]], lhs_dilate = [16, 16], rhs_dilate = [1, 1], reverse = [false, false]} {batch_group_count = 1 : i64, feature_group_count = 1 : i64} : (tensor<1x4x4x32xf32>, tensor<16x16x8x32xf32>) -> tensor<1x64x64x8xf32>
    return %0 : tensor<1x64x64x8xf32>
  }
}"""  # noqa: E501 (one op, as the printer prints it)
SMALL = DILATED.replace("16x16x8x32", "2x2x8x32").replace("64x64", "8x8").replace("[[15, 15], [15, 15]]", "[[1, 1], [1, 1]]")


def test_a_large_dilated_convolution_is_compiled_with_xlas_own_optimization_settings():
    options = options_for(DILATED)
    assert "xla_backend_optimization_level" not in options and "xla_llvm_disable_expensive_passes" not in options
    assert options["xla_allow_excess_precision"] is False  # what the comparison needs stays
    assert options_for(DILATED, LITERAL)["xla_disable_hlo_passes"] == "algsimp"
    undilated = DILATED.replace("lhs_dilate = [16, 16]", "lhs_dilate = [1, 1]")
    assert options_for(undilated) == COMPILER_OPTIONS and options_for(undilated, LITERAL) == LITERAL
    assert options_for(SMALL) == COMPILER_OPTIONS  # the op-level categories' size: compile time dominates


def test_a_large_dilated_convolution_run_with_those_settings_computes_the_spec():
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((1, 4, 4, 32)).astype(np.float32), rng.standard_normal((16, 16, 8, 32)).astype(np.float32)
    dilated = np.zeros((1, 49, 49, 32))
    dilated[:, ::16, ::16] = x  # lhs_dilate 16: fifteen zeros between neighbours
    padded = np.pad(dilated, ((0, 0), (15, 15), (15, 15), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (16, 16), axis=(1, 2))  # [b, 64, 64, i, 16, 16]
    spec = np.einsum("brcihw,hwoi->brco", windows, k)
    np.testing.assert_allclose(run_xla(DILATED, [x, k])[0], spec, rtol=1e-4, atol=1e-4)
