"""The reference interpreter as a second executor: it agrees with XLA, survives what it cannot run,
and works around jaxlib 0.10's scatter writing into its operand, convolution accumulating in its operands' type,
a `[f, b, 0]` convolution result and integer division by zero killing the process."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from builder.validation.interpreter import ABORTS, Interpreter
from builder.validation.runners import run_xla
from builder.validation.worker import Worker


def lower(fn, *args) -> str:
    return jax.jit(fn, keep_unused=True).lower(*args).as_text()


@pytest.fixture(scope="module")
def interpreter():
    with Interpreter(timeout=20) as it:
        yield it


def test_every_boundary_dtype_round_trips(interpreter):
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    b = x.astype(ml_dtypes.bfloat16)
    c = (x[0] + 1j * x[1]).astype(np.complex64)
    m = x > 0
    u = np.arange(5, dtype=np.uint8)

    def f(x, b, c, m, u):
        return jax.scipy.special.erf(x), b * b, c * c, ~m, u + 1, x.astype(jnp.float16)

    text = lower(f, x, b, c, m, u)
    got = interpreter.run(text, [x, b, c, m, u]).outputs
    want = run_xla(text, [x, b, c, m, u])
    assert [g.dtype for g in got] == [w.dtype for w in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.astype(np.complex128), w.astype(np.complex128), rtol=1e-2, atol=1e-6)


def test_scatter_does_not_leak_into_its_operand(interpreter):
    x = np.array([0.3, 1.7, -0.5], np.float32)
    text = lower(jax.grad(lambda x: jnp.sum(x.at[-1].max(1.0))), x)
    np.testing.assert_array_equal(interpreter.run(text, [x]).outputs[0], [1.0, 1.0, 0.0])  # x[2] < 1: no gradient


@pytest.mark.parametrize("dtype, result", [(np.int8, jnp.int32), (np.uint8, jnp.uint32), (ml_dtypes.bfloat16, jnp.float32)])
def test_a_convolution_accumulates_in_its_result_type(interpreter, dtype, result):
    lhs = np.full((1, 300, 1), 8, dtype)  # 300 products of 8 * 3: wraps around in 8 bits, rounds in bf16
    rhs = np.full((300, 1, 1), 3, dtype)
    def conv(a, b):
        return jax.lax.conv_general_dilated(a, b, (1,), "VALID", dimension_numbers=("NWC", "WIO", "NWC"), preferred_element_type=result)

    text = lower(conv, lhs, rhs)
    assert "stablehlo.convolution" in text
    np.testing.assert_array_equal(interpreter.run(text, [lhs, rhs]).outputs[0].ravel(), [7200])


# StableHLO's own cholesky (JAX emits LAPACK's custom call instead): the interpreter has no kernel for it
CHOLESKY = """module {
  func.func public @main(%a: tensor<4x4xf32>) -> tensor<4x4xf32> {
    %0 = "stablehlo.cholesky"(%a) {lower = true} : (tensor<4x4xf32>) -> tensor<4x4xf32>
    return %0 : tensor<4x4xf32>
  }
}"""


def test_what_it_cannot_run_is_a_reason_not_a_crash(interpreter):
    spd = np.eye(4, dtype=np.float32) * 2
    assert "custom_call lapack_" in interpreter.run(lower(jnp.linalg.cholesky, spd), [spd]).skipped
    outcome = interpreter.run(CHOLESKY, [spd])  # jaxlib 0.10's interpreter aborts the process here
    assert outcome.outputs is None and "stablehlo.cholesky is unsupported" in outcome.skipped
    x = np.ones(3, np.float32)
    assert interpreter.run(lower(jnp.sin, x), [x]).outputs is not None  # a fresh child after the crash


INTEGER_DIVISION = """
import sys
import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo
from builder.validation.interpreter import make_context
with make_context(), ir.Location.unknown():
    module = ir.Module.parse(sys.stdin.read())
    arg = ir.DenseElementsAttr.get(np.array([7, 0], np.int32))
    stablehlo.eval_module(module, [arg, arg])
print("ran")
"""


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint32, np.uint8])
def test_integer_division_by_zero_and_overflow_give_xla_s_values(interpreter, dtype):
    import subprocess
    import sys

    signed = np.issubdtype(dtype, np.signedinteger)
    low = np.iinfo(dtype).min
    x = np.array([7, 9, low, low, 5, 13], dtype)
    y = np.array([0, 0, -1 if signed else 3, 0, 2, 4], dtype)  # by zero, MIN / -1 (signed), and plain
    text = lower(lambda x, y: (jax.lax.div(x, y), jax.lax.rem(x, y)), x, y)
    got = interpreter.run(text, [x, y])
    assert got.outputs is not None, got.skipped
    for ours, xla in zip(got.outputs, run_xla(text, [x, y]), strict=True):
        np.testing.assert_array_equal(ours, xla)
    np.testing.assert_array_equal(got.outputs[0][:2], [np.array(-1).astype(dtype)] * 2)  # x / 0: all bits set
    np.testing.assert_array_equal(got.outputs[1][:2], x[:2])  # x % 0 = x
    if dtype is np.int32:  # the raw interpreter still dies on a zero divisor: the rewrite is what makes it run
        command = [sys.executable, "-c", INTEGER_DIVISION]
        raw = subprocess.run(command, input=lower(jax.lax.div, x[:2], y[:2]), capture_output=True, text=True, timeout=120, check=False)
        assert raw.returncode == -8 and "ran" not in raw.stdout, (raw.returncode, raw.stderr[-300:])  # SIGFPE


def test_a_worker_bounds_a_program_that_runs_too_long():
    n = np.int32(2**31 - 1)
    text = lower(lambda n: jax.lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.0001), (0, 1.0))[1], n)
    x = np.ones(3, np.float32)
    with Worker("builder.validation.runners", timeout=120) as worker:
        assert worker.call(("xla", lower(jnp.sin, x), [x])).value[0] == "ok"  # the child is up: the limit is the loop's
        assert worker.call(("xla", text, [n]), timeout=3).failed == "over the 3 s time limit"
        assert worker.call(("xla", lower(jnp.sin, x), [x])).value[0] == "ok"  # a fresh child takes over


ABORTING_PROGRAMS = {
    "stablehlo.fft": lambda: jnp.fft.fft(jnp.arange(8, dtype=jnp.complex64)),
    "stablehlo.rng_bit_generator": lambda: jax.lax.rng_bit_generator(jnp.zeros(4, jnp.uint32), (4,))[1],
}
RAW = """
import sys
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo
from builder.validation.interpreter import make_context
with make_context(), ir.Location.unknown():
    stablehlo.eval_module(ir.Module.parse(sys.stdin.read()), [])
print("ran")
"""


@pytest.mark.parametrize("op", sorted(ABORTS))
def test_an_op_the_interpreter_aborts_on_is_skipped_without_a_crash(interpreter, op):
    import subprocess
    import sys

    text = lower(ABORTING_PROGRAMS[op])
    assert op in text
    raw = subprocess.run([sys.executable, "-c", RAW], input=text, capture_output=True, text=True, timeout=120, check=False)
    assert raw.returncode != 0 and ABORTS[op] in raw.stderr, (raw.returncode, raw.stderr[-300:])  # the abort is real
    x = np.ones(3, np.float32)
    assert interpreter.run(lower(jnp.sin, x), [x]).outputs is not None  # the child is up
    pid = interpreter.worker._process.pid
    outcome = interpreter.run(text, [])
    assert outcome.outputs is None and f"the interpreter aborts on {op} (" in outcome.skipped
    assert interpreter.worker._process.pid == pid  # told apart before running: no crash, no fresh child


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
def test_totalorder_compares_order_signed_zeros_and_nans(interpreter, dtype):
    a = np.array([0.0, -0.0, np.nan, 1.0, -np.inf, -np.nan], dtype)
    b = np.array([-0.0, 0.0, 1.0, np.nan, -0.0, np.nan], dtype)
    text = lower(lambda a, b: (jax.lax.lt(a, b), jnp.sort(a)), a, b)
    text = text.replace(", FLOAT :", ", TOTALORDER :", 1)  # lax.lt compares IEEE-style; the sort already uses TOTALORDER
    assert "TOTALORDER" in text
    got, want = interpreter.run(text, [a, b]).outputs, run_xla(text, [a, b])
    np.testing.assert_array_equal(want[0], [False, True, False, True, True, True])  # the spec's total order
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.view(np.uint8), w.view(np.uint8))  # bit for bit: -0.0 before +0.0 in the sort


def test_a_bf16_convolution_and_dot_sum_in_f32_and_round_once(interpreter):
    ones = np.ones(300, ml_dtypes.bfloat16)  # summed in bf16, 300 ones stall at 256
    conv = lambda a, b: jax.lax.conv_general_dilated(a, b, (1,), "VALID", dimension_numbers=("NWC", "WIO", "NWC"))  # noqa: E731
    for fn, args in ((jnp.dot, [ones, ones]), (conv, [ones.reshape(1, 300, 1), ones.reshape(300, 1, 1)])):
        text = lower(fn, *args)
        assert "bf16>" in text.split("return")[-1]
        np.testing.assert_array_equal(interpreter.run(text, args).outputs[0].astype(np.float32).ravel(), [300.0])


def test_a_convolution_with_feature_before_batch_in_its_result_runs(interpreter):
    """JAX's weight gradient of a convolution returns `[f, b, 0]`; jaxlib 0.10's interpreter aborts on any
    result whose feature dimension comes before its batch one (690 of 2,000 modules of a 1,000-row
    `convolution` build). Computed as `[b, f, 0]` and transposed, it runs and agrees with XLA."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 2, 9)).astype(np.float32), rng.standard_normal((4, 2, 3)).astype(np.float32)
    dims = jax.lax.ConvDimensionNumbers(lhs_spec=(0, 1, 2), rhs_spec=(0, 1, 2), out_spec=(1, 0, 2))  # result [f, b, 0]
    text = lower(lambda x, w: jax.lax.conv_general_dilated(x, w, (2,), [(1, 1)], dimension_numbers=dims), x, w)
    assert "->[f, b, 0]" in text
    raw = subprocess.run([sys.executable, "-c", RAW_CONVOLUTION], input=text, capture_output=True, text=True, timeout=120, check=False)
    assert raw.returncode != 0 and "Incompatible index and shape" in raw.stderr, (raw.returncode, raw.stderr[-300:])  # the abort is real
    got, want = interpreter.run(text, [x, w]).outputs, run_xla(text, [x, w])
    assert got[0].shape == want[0].shape == (4, 3, 5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)


RAW_CONVOLUTION = """
import sys
import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo
from builder.validation.interpreter import make_context
with make_context(), ir.Location.unknown():
    inputs = [ir.DenseElementsAttr.get(np.zeros(shape, np.float32)) for shape in ((3, 2, 9), (4, 2, 3))]
    stablehlo.eval_module(ir.Module.parse(sys.stdin.read()), inputs)
print("ran")
"""
