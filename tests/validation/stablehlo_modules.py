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


def tied_switch() -> tuple[str, list[np.ndarray]]:
    """control_flow seed 2984184272105099083 in small: a `lax.switch` branch picked four times by
    `argmax([min(w), mean(w), max(w)])` of a vector whose entries are equal, so an ulp of the mean, which
    XLA's fusion sums in its own order, decides it; a scan of `exp` makes the other branch a 28% difference.
    `reduce_precision` (a no-op on f32) keeps the f64 oracle out, and `sign(x) ** 2` keeps input noise out."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def f(x):
        v = lax.reduce_precision(0.5892624855041504 * jnp.square(jnp.sign(x)), 8, 23)

        def body(_, u):
            w = lax.erf(jax.nn.gelu(u) + 0.9)
            i = jnp.argmax(jnp.stack([jnp.min(w), jnp.mean(w), jnp.max(w)]))
            return lax.switch(i, [lambda w: w * 0.75, jnp.tanh, jnp.cos], w)

        h = lax.fori_loop(0, 4, body, v, unroll=2)
        return lax.scan(lambda carry, t: (jnp.exp(carry + t), jnp.exp(carry + t)), h[0], h, reverse=True)[1]

    x = np.ones(7, np.float32)
    return jax.jit(f).lower(x).as_text(), [x]
