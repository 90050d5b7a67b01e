"""StableHLO modules more than one validation test runs: the reproducers of what the campaign found.

Imported by file name (pytest puts this folder on the path, as it does for `tests/engines/ray_helpers.py`).
"""

import numpy as np

# convolution seed 2171026884518766101's gradient: XLA:CPU (openxla/xla#48713) reads past the input on negative
# low padding, where zeros belong: the next batch row's first element, or, past the buffer, memory it never wrote
NEGATIVE_PADDING = """module {
  func.func public @main(%arg0: tensor<5x32x8xf32>, %arg1: tensor<2x6x8xf32>) -> tensor<5x16x6xf32> {
    %0 = stablehlo.convolution(%arg0, %arg1) dim_numbers = [b, 0, f]x[0, o, i]->[b, 0, f], window = {stride = [2], pad = [[-1, 1]], lhs_dilate = [1], rhs_dilate = [1], reverse = [false]} {batch_group_count = 1 : i64, feature_group_count = 1 : i64} : (tensor<5x32x8xf32>, tensor<2x6x8xf32>) -> tensor<5x16x6xf32>
    return %0 : tensor<5x16x6xf32>
  }
}"""


def negative_padding_args() -> list[np.ndarray]:
    """Seeded inputs of `NEGATIVE_PADDING`: its input and its kernel."""
    rng = np.random.default_rng(0)
    return [rng.standard_normal((5, 32, 8)).astype(np.float32), rng.standard_normal((2, 6, 8)).astype(np.float32)]
