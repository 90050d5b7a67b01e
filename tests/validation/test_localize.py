"""Localizing a disagreement between the reference interpreter and XLA: allowed differences (a
transcendental's last bits, subnormals XLA flushes, a multiply-add XLA fuses, a NaN its convolution
never multiplies by padding, a max-pool gradient's pick among tied keys) are found, spliced out and
explain it; a wrong op does not, and a convolution XLA computes wrongly is named as XLA's."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from probe_runs import agree, interpreter_runs, xla
from stablehlo_modules import NEGATIVE_PADDING, negative_padding_args

from builder.validation.localize import (
    FUSED,
    FUSED_OPERAND,
    PADDED,
    PADDING_MISCOMPILED,
    STEPS_ROUNDED,
    TIED,
    Contraction,
    Node,
    contraction,
    excuse,
    identical,
    localize,
    prepare,
)
from builder.validation.runners import mlir_context


def lower(fn, *args) -> str:
    return jax.jit(fn, keep_unused=True).lower(*args).as_text()


@pytest.fixture(scope="module")
def interpreter():
    with interpreter_runs() as run:
        yield run


def test_a_transcendental_an_ulp_apart_seen_through_its_bits_is_explained(interpreter):
    # numerics seed 4614257505504304152: the bytes of a softplus, plus an integer
    rng = np.random.default_rng(0)
    x, z = rng.uniform(-2, 2, (64, 7)).astype(np.float32), rng.integers(0, 9, (64, 7, 4)).astype(np.uint8)
    text = lower(lambda x, z: ~(jax.lax.bitcast_convert_type(jnp.log1p(jnp.exp(-jnp.abs(x))), jnp.uint8) + z), x, z)
    assert not identical(xla(text, [x, z])[0], interpreter(text, [x, z])[0])  # the two differ in low bytes
    found = localize(mlir_context(), text, [x, z], xla, interpreter, agree)
    assert found.explained, found.why
    assert set(found.excused) <= {"stablehlo.exponential", "stablehlo.log_plus_one"} and found.spliced >= 1
    assert all(kind.startswith("at most") for kinds in found.excused.values() for kind in kinds)


def test_subnormals_xla_flushes_are_explained(interpreter):
    x = np.zeros(4, np.float32)  # nextafter(0, inf) is the smallest subnormal: XLA's CPU runtime reads it as 0
    text = lower(lambda x: jnp.frexp(jnp.nextafter(x, jnp.inf))[1], x)
    assert not identical(xla(text, [x])[0], interpreter(text, [x])[0])
    found = localize(mlir_context(), text, [x], xla, interpreter, agree)
    assert found.explained, found.why
    assert any("subnormals" in kind for kinds in found.excused.values() for kind in kinds)


def test_a_wrong_op_is_not_explained():
    x, y = np.linspace(-1, 1, 8, dtype=np.float32), np.linspace(0.5, 2, 8, dtype=np.float32)
    text = lower(lambda x, y: jnp.sum(jnp.tanh(x) * y), x, y)

    def broken(text, inputs):  # an executor that adds where the IR multiplies
        return xla(text.replace("stablehlo.multiply", "stablehlo.add"), inputs)

    assert not agree(xla(text, [x, y]), broken(text, [x, y]))
    found = localize(mlir_context(), text, [x, y], xla, broken, agree)
    assert not found.explained
    assert found.why.startswith("stablehlo.multiply differs on operands both computed alike")


def strict(reference, got) -> bool:
    return all(identical(a, b) for a, b in zip(reference, got, strict=True))


@pytest.mark.parametrize("kind", ["matmul", "sum"])
def test_sums_in_another_order_are_explained_within_their_bound(interpreter, kind):
    rng = np.random.default_rng(0)
    if kind == "matmul":
        args = [rng.standard_normal((32, 512)).astype(np.float32), rng.standard_normal((512, 32)).astype(np.float32)]
        text, op = lower(lambda m, w: m @ w, *args), "stablehlo.dot_general"
    else:
        args = [rng.standard_normal(100_000).astype(np.float32)]
        text, op = lower(jnp.sum, *args), "stablehlo.reduce"
    assert not strict(xla(text, args), interpreter(text, args))  # the two sum in different orders
    found = localize(mlir_context(), text, args, xla, interpreter, strict)  # only bit-for-bit agreement counts
    assert found.explained, found.why
    assert found.excused == {op: {"order of summation (within n·eps·Σ|terms|)"}}


def test_a_sum_that_is_not_one_is_not_explained():
    v = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    text = lower(jnp.sum, v)

    def broken(text, inputs):  # an executor whose reduction takes the maximum
        return xla(text.replace("stablehlo.add", "stablehlo.maximum"), inputs)

    found = localize(mlir_context(), text, [v], xla, broken, strict)
    assert not found.explained and found.why.startswith("stablehlo.reduce differs on operands both computed alike")


def test_a_multiply_add_xla_fuses_is_explained(interpreter):
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((24, 26, 2)).astype(np.float32) for _ in range(2)]
    text = lower(lambda x, y: x * x + y * y, *args)  # from convolution seed 5899303346570970571's gradient
    x, y = args
    assert identical(interpreter(text, args)[0], x * x + y * y)  # the interpreter rounds twice, as IEEE does
    assert not identical(xla(text, args)[0], x * x + y * y)  # XLA's CPU backend fused one product into an FMA
    found = localize(mlir_context(), text, args, xla, interpreter, strict)
    assert found.explained, found.why
    assert found.excused == {"stablehlo.add": {FUSED}}


def test_an_add_that_neither_rounding_gives_is_not_excused():
    rng = np.random.default_rng(1)
    x, y = (rng.standard_normal(4096).astype(np.float32) for _ in range(2))
    strict = x * x + y * y
    fused = (x.astype(np.float64) * x + y * y).astype(np.float32)
    assert not identical(strict, fused)
    node, contracted = Node("stablehlo.add", (("value", 0), ("value", 1)), (2,)), Contraction(strict, (fused,))
    assert excuse(node, fused, strict, [x * x, y * y], contracted=contracted) == ({FUSED}, None)
    off = np.where(fused != strict, np.nextafter(fused, np.float32(np.inf)), fused)  # one ulp from the FMA's value
    _, why = excuse(node, off, strict, [x * x, y * y], contracted=contracted)
    assert why is not None and why.startswith("stablehlo.add differs on operands both computed alike")


def test_a_step_of_an_operand_xla_fuses_is_explained(interpreter):
    # arithmetic seed 7813399213538574129: `jnp.sign(delta - jnp.max(delta, ...))` with `delta` a product
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((16, 24)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)]
    text = lower(lambda a, b: jnp.sign(a * b - jnp.max(a * b, axis=-1, keepdims=True)), *args)
    assert (interpreter(text, args)[0] == 0).sum() == 16  # one zero a row: at its maximum
    assert (xla(text, args)[0] == 0).sum() < 16  # XLA recomputes a * b - max inside sign's fusion as an FMA
    found = localize(mlir_context(), text, args, xla, interpreter, strict)
    assert found.explained, found.why
    assert found.excused == {"stablehlo.sign": {FUSED_OPERAND}}


@pytest.mark.parametrize("step", ["sign", "floor"])
def test_a_step_neither_rounding_of_its_operand_gives_is_not_excused(step):
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal(4096).astype(np.float32) for _ in range(2))
    c = a * b  # the product rounded: a * b - c is 0 as stored, the product's rounding error as fused
    args, values = {0: a, 1: b, 2: c}, {2: a * b, 3: a * b - c}
    producers = {2: Node("stablehlo.multiply", (("arg", 0), ("arg", 1)), (2,)), 3: Node("stablehlo.subtract", (("value", 2), ("arg", 2)), (3,))}
    node = Node(f"stablehlo.{step}", (("value", 3),), (4,))
    contracted = contraction(node, producers, lambda ref: args[ref[1]] if ref[0] == "arg" else values[ref[1]])
    assert contracted is not None and contracted.kind == FUSED_OPERAND
    stored, fused = contracted.strict, contracted.fused[0]
    assert (stored == 0).all() and not identical(stored, fused)
    assert excuse(node, fused, stored, [values[3]], contracted=contracted) == ({FUSED_OPERAND}, None)
    wrong = np.where(fused != stored, -fused if step == "sign" else fused + 2, fused).astype(np.float32)  # neither value
    _, why = excuse(node, wrong, stored, [values[3]], contracted=contracted)
    assert why is not None and why.startswith(f"stablehlo.{step} differs on operands both computed alike")


# The weight-gradient convolution of convolution seed 5899303346570970571: its kernel window (26) is wider
# than the input (24), so the first tap of every output falls on the low padding.
PADDED_CONVOLUTION = """module @m {
  func.func public @main(%lhs: tensor<24x24x6xf32>, %rhs: tensor<24x26x2xf32>) -> tensor<2x3x2xf32> {
    %0 = stablehlo.convolution(%lhs, %rhs) dim_numbers = [f, 0, b]x[i, 0, o]->[0, b, f], window = {stride = [1], pad = [[2, 1]], lhs_dilate = [1], rhs_dilate = [1], reverse = [false]} {batch_group_count = 2 : i64, feature_group_count = 1 : i64} : (tensor<24x24x6xf32>, tensor<24x26x2xf32>) -> tensor<2x3x2xf32>
    return %0 : tensor<2x3x2xf32>
  }
}"""


def conv_args(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((24, 24, 6)).astype(np.float32), rng.standard_normal((24, 26, 2)).astype(np.float32)]


def test_a_nan_times_padding_xla_skips_is_explained(interpreter):
    args = conv_args(0)
    args[1][:, 0, :] = np.nan  # the kernel's first tap: multiplies only padding
    assert np.isnan(interpreter(PADDED_CONVOLUTION, args)[0]).all()  # the spec's 0 * NaN
    assert np.isfinite(xla(PADDED_CONVOLUTION, args)[0]).all()  # XLA never multiplies padding
    found = localize(mlir_context(), PADDED_CONVOLUTION, args, xla, interpreter, agree)
    assert found.explained, found.why
    assert PADDED in found.excused["stablehlo.convolution"]


def test_a_nan_no_padding_explains_is_not_excused(interpreter):
    args = conv_args(0)  # no NaN anywhere

    def broken(text, inputs):  # an executor that reads a NaN the inputs do not hold
        kernel = np.array(inputs[1])
        kernel[:, 0, :] = np.nan
        return interpreter(text, [inputs[0], kernel, *inputs[2:]])

    found = localize(mlir_context(), PADDED_CONVOLUTION, args, xla, broken, agree)
    assert not found.explained
    assert found.why.startswith("stablehlo.convolution differs on operands both computed alike")


def chaotic(x):
    """control_flow seed 6328647855244459703: each step's 1-ulp `expm1` difference is multiplied by
    e^(v + i) in the next, so after a few steps the two executors' results differ in every digit."""
    return jax.lax.fori_loop(0, 8, lambda i, v: jnp.cos(jnp.expm1(v + i)), x)


def test_loops_are_unrolled_and_branches_selected_so_the_probe_sees_their_ops():
    x = np.linspace(-1, 1, 8, dtype=np.float32)

    def f(x):
        y = jax.lax.fori_loop(0, 3, lambda i, v: jnp.sin(v) * 2, x)
        z = jax.lax.while_loop(lambda v: jnp.max(v) < 10, lambda v: v * 2 + 1, x)  # its condition reads the data
        return jax.lax.switch(jnp.sum(x > 0) % 2, [jnp.tanh, jnp.exp], y) + z

    text = prepare(mlir_context(), lower(f, x))
    main = text.split("func.func private")[0]  # @main comes first; the private functions it called are left, unused
    assert main.count("stablehlo.sine") == 3 and "stablehlo.case" not in main and "func.call" not in main
    assert "stablehlo.tanh" in main and "stablehlo.exponential" in main and "stablehlo.select" in main
    assert main.count("stablehlo.while") == 1  # the data-dependent loop stays one op
    assert agree(xla(lower(f, x), [x]), xla(text, [x]))  # the same program


def test_a_composite_and_a_long_scan_of_a_small_body_are_opened_for_the_probe():
    """control_flow seed 6600875992563589246: a `tanh` an ulp apart inside `lax.composite`, and one
    inside a 448-step scan, were each seen only as the op around it, which nothing excuses."""
    x = np.linspace(-1, 1, 8, dtype=np.float32)

    def f(x):
        y = jax.lax.composite(lambda v: jnp.tanh(v) * 2, name="project.kernel")(x)
        _, z = jax.lax.scan(lambda c, v: (c, jnp.sin(v) + c), jnp.float32(0.5), jnp.tile(x, (200, 1)))
        return y, z

    text = prepare(mlir_context(), lower(f, x))
    main = text.split("func.func private")[0]
    assert "stablehlo.composite" not in main and "stablehlo.tanh" in main
    assert main.count("stablehlo.sine") == 200 and "stablehlo.while" not in main  # 200 steps, more than UNROLL_TRIPS
    assert agree(xla(lower(f, x), [x]), xla(text, [x]))


def test_last_place_differences_a_loop_amplifies_are_explained_inside_it(interpreter):
    x = np.random.default_rng(0).uniform(-2, 2, (32, 60)).astype(np.float32)
    text = lower(chaotic, x)
    assert not agree(xla(text, [x]), interpreter(text, [x]))  # far apart, not by a few ulps
    found = localize(mlir_context(), text, [x], xla, interpreter, agree)
    assert found.explained, found.why
    assert set(found.excused) <= {"stablehlo.exponential_minus_one", "stablehlo.cosine"}


@pytest.mark.parametrize("where", ["loop", "branch"])
def test_a_wrong_op_inside_a_loop_or_a_branch_is_named(where):
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    if where == "loop":
        text = lower(lambda x: jax.lax.fori_loop(0, 4, lambda i, v: jnp.tanh(v) * 1.5, x), x)
    else:
        text = lower(lambda x: jax.lax.cond(jnp.sum(x) > -5, lambda v: jnp.tanh(v) * 1.5, jnp.sin, x), x)

    def broken(text, inputs):  # an executor that adds where the IR multiplies
        return xla(text.replace("stablehlo.multiply", "stablehlo.add"), inputs)

    assert not agree(xla(text, [x]), broken(text, [x]))
    found = localize(mlir_context(), text, [x], xla, broken, agree)
    assert not found.explained
    assert found.why.startswith("stablehlo.multiply differs on operands both computed alike"), found.why


def test_complex_division_and_modulus_are_measured_against_the_modulus():
    # autodiff seed 5557865383656033286: XLA and the interpreter divide complex numbers, and take their
    # modulus, by different algorithms; a part of the quotient may then differ by far more than its own ulp
    rng = np.random.default_rng(3)
    a, b = ((rng.standard_normal((64, 8)) + 1j * rng.standard_normal((64, 8))).astype(np.complex64) for _ in range(2))
    quotient = (a.astype(np.complex128) / b).astype(np.complex64)
    off = quotient + np.complex64(4e-7) * np.abs(quotient)  # a few eps of the modulus, in both parts
    node = Node("stablehlo.divide", (("arg", 0), ("arg", 1)), (0,))
    kinds, why = excuse(node, quotient, off, [a, b])
    assert why is None and kinds == {"a complex quotient within 8 eps of its modulus"}
    _, why = excuse(node, quotient, quotient + np.complex64(1e-5) * np.abs(quotient), [a, b])
    assert why is not None  # 80 eps of the modulus: not a rounding
    modulus = np.abs(quotient)
    node = Node("stablehlo.abs", (("value", 0),), (1,))
    assert excuse(node, modulus, np.nextafter(modulus, np.float32(np.inf)), [quotient]) == ({"at most 1 ulps"}, None)
    _, why = excuse(Node("stablehlo.abs", (("arg", 0),), (1,)), modulus, np.nextafter(modulus, np.float32(np.inf)), [modulus])
    assert why is not None  # |x| of a real number is exact


def test_a_convolution_xla_computes_wrongly_is_named_as_xla_s_not_excused(interpreter):
    args = negative_padding_args()
    cropped = np.concatenate([args[0][:, 1:], np.zeros_like(args[0][:, :1])], axis=1).astype(np.float64)  # the spec: crop 1, pad 1
    spec = np.stack([np.einsum("bkf,kof->bo", cropped[:, 2 * t : 2 * t + 2], args[1]) for t in range(16)], axis=1)
    np.testing.assert_allclose(interpreter(NEGATIVE_PADDING, args)[0], spec, rtol=1e-4, atol=1e-4)
    if np.allclose(xla(NEGATIVE_PADDING, args)[0][:4], spec[:4], rtol=1e-4, atol=1e-4):
        pytest.skip(f"this XLA ({jax.__version__}) pads the convolution right")
    found = localize(mlir_context(), NEGATIVE_PADDING, args, xla, interpreter, agree)
    assert found.explained, found.why
    assert PADDING_MISCOMPILED in found.excused["stablehlo.convolution"]


# a max-pool gradient's chooser (convolution seed 4690599025557790496): the payload of the largest key
CHOOSER = """module {
  func.func public @main(%arg0: tensor<1x4x3x1xf32>, %arg1: tensor<1x4x3x1xf32>) -> (tensor<1x4x2x1xf32>, tensor<1x4x2x1xf32>) {
    %cst = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %cst_0 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
    %0:2 = "stablehlo.reduce_window"(%arg0, %arg1, %cst, %cst_0) <{padding = dense<[[0, 0], [1, 0], [1, 0], [0, 0]]> : tensor<4x2xi64>, window_dimensions = array<i64: 1, 2, 2, 1>, window_strides = array<i64: 1, 1, 2, 1>}> ({
    ^bb0(%arg4: tensor<f32>, %arg5: tensor<f32>, %arg6: tensor<f32>, %arg7: tensor<f32>):
      %1 = stablehlo.compare GE, %arg4, %arg6, FLOAT : (tensor<f32>, tensor<f32>) -> tensor<i1>
      %2 = stablehlo.select %1, %arg4, %arg6 : tensor<i1>, tensor<f32>
      %3 = stablehlo.select %1, %arg5, %arg7 : tensor<i1>, tensor<f32>
      stablehlo.return %2, %3 : tensor<f32>, tensor<f32>
    }) : (tensor<1x4x3x1xf32>, tensor<1x4x3x1xf32>, tensor<f32>, tensor<f32>) -> (tensor<1x4x2x1xf32>, tensor<1x4x2x1xf32>)
    return %0#0, %0#1 : tensor<1x4x2x1xf32>, tensor<1x4x2x1xf32>
  }
}"""
TIED_KEYS = np.array([[0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [-0.5, 0.0, -0.5], [-0.5, 0.0, 0.0]], np.float32).reshape(1, 4, 3, 1)
PAYLOADS = np.arange(12, dtype=np.float32).reshape(1, 4, 3, 1)


def test_a_pick_among_tied_keys_is_explained(interpreter):
    args = [TIED_KEYS, PAYLOADS]
    ours, theirs = xla(CHOOSER, args), interpreter(CHOOSER, args)
    if identical(ours[1], theirs[1]):
        pytest.skip("XLA and this interpreter reduce the windows in the same order: no tie is decided differently")
    assert identical(ours[0], theirs[0])  # the keys agree; the payloads are 2 and 4, both of key 0.0
    found = localize(mlir_context(), CHOOSER, args, xla, interpreter, agree)
    assert found.explained, found.why
    assert found.excused == {"stablehlo.reduce_window": {TIED}}


def test_a_pick_of_a_key_that_is_not_the_largest_is_not_excused(interpreter):
    def broken(text, inputs):  # an executor whose payload comes from the entry that lost the compare (the last select)
        return interpreter(re.sub(r"select (%\w+), (%\w+), (%\w+)(\s*:[^\n]*\n\s*stablehlo\.return)", r"select \1, \3, \2\4", text), inputs)

    rng = np.random.default_rng(1)
    args = [rng.standard_normal((1, 4, 3, 1)).astype(np.float32), PAYLOADS]  # no ties
    found = localize(mlir_context(), CHOOSER, args, xla, broken, agree)
    assert not found.explained
    assert found.why.startswith("stablehlo.reduce_window differs on operands both computed alike")


def test_a_cumulative_logsumexp_a_few_ulps_apart_is_explained(interpreter):
    """numerics seed 283635627883280308: `jax.lax.cumlogsumexp` is a reduce_window whose body calls exp and
    log1p; each executor rounds those its own way at every step (XLA 0.937804, the interpreter 0.93780404)."""
    x = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    text = lower(lambda x: jax.lax.cumlogsumexp(x, axis=1), x)
    assert not identical(xla(text, [x])[0], interpreter(text, [x])[0])
    found = localize(mlir_context(), text, [x], xla, interpreter, strict)
    assert found.explained, found.why
    assert found.excused == {"stablehlo.reduce_window": {STEPS_ROUNDED}}


def test_a_cumulative_logsumexp_with_a_wrong_step_is_not_explained(interpreter):
    x = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    text = lower(lambda x: jax.lax.cumlogsumexp(x, axis=1), x)

    def broken(text, inputs):  # an executor whose step takes log where the IR takes log1p
        return interpreter(text.replace("stablehlo.log_plus_one", "stablehlo.log"), inputs)

    found = localize(mlir_context(), text, [x], xla, broken, strict)
    assert not found.explained
    assert found.why.startswith("stablehlo.reduce_window differs on operands both computed alike")
