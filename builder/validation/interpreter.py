"""The StableHLO reference interpreter (`stablehlo.eval_module`, shipped in jaxlib) as a second
executor that shares no code with XLA's compiler.

It runs in a child process: on an op it does not implement it aborts the whole process
(`LLVM ERROR: Unsupported op`), and on a big loop it can run for minutes. A crash or a
timeout costs one row a "skipped" with the reason, never the validation run. CHLO ops are
first rewritten to StableHLO by the StableHLO project's own `chlo-legalize-to-stablehlo`
pass, and the entry point is wrapped so that bf16 and complex results cross the boundary
as plain bits (the Python bindings convert neither).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ..lowering.irhash import custom_call_targets
from ..lowering.mlir import make_context
from .worker import Worker, serve

ENTRY = "main"
WRAPPED = "__validated_main"
_COLLECTIVES = re.compile(r"stablehlo\.(all_reduce|all_gather|all_to_all|collective_permute|collective_broadcast|reduce_scatter)\b")
# Ops the interpreter shipped in jaxlib 0.10 aborts the whole process on (an LLVM ERROR), whatever the
# operands: skipped before they are run, as a crash costs a fresh child (~0.6 s; most `numerics` rows
# hold an fft). tests/test_interpreter.py runs each raw to check the abort is still there.
ABORTS = {
    "stablehlo.fft": "LLVM ERROR: Semantics mismatch between provided type and complex value",
    "stablehlo.rng_bit_generator": "LLVM ERROR: Operation stablehlo.rng_bit_generator is unsupported at the moment",
}
_ABORTING = re.compile(r"\b(" + "|".join(re.escape(op) for op in ABORTS) + r")\b")


class Unsupported(Exception):
    """The interpreter cannot run this module; the message says why."""


@dataclass(frozen=True)
class Outcome:
    """What the interpreter made of one module: outputs, or why it did not run."""

    outputs: list[np.ndarray] | None
    skipped: str | None = None
    error: str | None = None


# --- in the child process ------------------------------------------------------------


def symbols(module: Any) -> dict[str, Any]:
    """The module's top-level ops that carry a symbol name (functions, `sdy.mesh`), by that name."""
    from jaxlib.mlir import ir

    return {ir.StringAttr(op.attributes["sym_name"]).value: op for op in module.body.operations if "sym_name" in op.attributes}


def entry_function(module: Any, name: str = ENTRY) -> Any:
    """The module's entry function (`@main`); ValueError when it has none."""
    found = symbols(module).get(name)
    if found is None:
        raise ValueError(f"the module has no @{name} function")
    return found


def _wrap(module: Any) -> tuple[str, list[str]]:
    """The module with its entry point renamed and a new `main` that returns bf16 / f16 results
    as integer bits and complex results as (real, imag); and how to undo that per result."""
    from jaxlib.mlir import ir

    main = entry_function(module)
    ftype = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)
    ins = [str(t) for t in ftype.inputs]
    outs = [str(t) for t in ftype.results]
    text = str(module).replace(f"func.func public @{ENTRY}(", f"func.func private @{WRAPPED}(", 1)
    args = ", ".join(f"%a{i}: {t}" for i, t in enumerate(ins))
    call = ", ".join(f"%a{i}" for i in range(len(ins)))
    n = len(outs)
    result = "%r" if n == 1 else f"%r:{n}"
    lines = [f"  {result} = func.call @{WRAPPED}({call}) : ({', '.join(ins)}) -> ({', '.join(outs)})"]
    values, types, kinds = [], [], []
    for i, t in enumerate(outs):
        ref = "%r" if n == 1 else f"%r#{i}"
        if t.endswith(("xbf16>", "<bf16>", "xf16>", "<f16>")):
            bits = re.sub(r"b?f16>$", "i16>", t)
            lines.append(f"  %o{i} = stablehlo.bitcast_convert {ref} : ({t}) -> {bits}")
            values.append(f"%o{i}")
            types.append(bits)
            kinds.append("bf16" if "bf16" in t else "f16")
        elif "complex<f32>" in t:
            real = t.replace("complex<f32>", "f32")
            lines.append(f"  %re{i} = stablehlo.real {ref} : ({t}) -> {real}")
            lines.append(f"  %im{i} = stablehlo.imag {ref} : ({t}) -> {real}")
            values += [f"%re{i}", f"%im{i}"]
            types += [real, real]
            kinds.append("complex64")
        else:
            values.append(ref)
            types.append(t)
            kinds.append("")
    lines.append(f"  return {', '.join(values)} : {', '.join(types)}")
    wrapper = f"func.func public @{ENTRY}({args}) -> ({', '.join(types)}) {{\n" + "\n".join(lines) + "\n}\n"
    at = text.rstrip().rfind("}")
    return text[:at] + wrapper + text[at:], kinds


def ops_named(module: Any, name: str) -> list[Any]:
    """Every op called `name` in the module (collected first: callers rewrite their operands)."""
    from jaxlib.mlir import ir

    found: list[Any] = []

    def visit(op: Any) -> Any:
        if op.name == name:
            found.append(op)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return found


def _copy_scatter_operands(module: Any) -> None:
    """Give every `stablehlo.scatter` a fresh copy of its operands.

    The interpreter shipped in jaxlib 0.10 writes a scatter's updates into the storage of its
    operand, so a later use of the operand sees the scattered values (XLA, JAX and the spec do
    not): `x.at[i].max(v)` then has the gradient of a tie. A same-type reshape is a copy."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    for op in ops_named(module, "stablehlo.scatter"):
        for i in range((len(op.operands) - 1) // 2):  # operands: inputs..., indices, updates...
            value = op.operands[i]
            with ir.InsertionPoint(op):
                op.operands[i] = stablehlo.ReshapeOp(value.type, value).result


def _widen_convolution_operands(module: Any) -> None:
    """Convert the operands of every `stablehlo.convolution` whose result type is wider (an int8
    convolution into int32: `preferred_element_type`) to the result's element type.

    The interpreter shipped in jaxlib 0.10 multiplies and accumulates in the operands' type and
    converts at the end, so an int8 convolution wraps around at 127 and a bf16 one rounds every
    partial sum; XLA and JAX accumulate in the result type. Products of the narrower type are
    exact in the wider one, so converting first computes what XLA does."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    for op in ops_named(module, "stablehlo.convolution"):
        element = ir.RankedTensorType(op.results[0].type).element_type
        for i in range(2):
            value = op.operands[i]
            operand_type = ir.RankedTensorType(value.type)
            if operand_type.element_type != element:
                with ir.InsertionPoint(op):
                    op.operands[i] = stablehlo.ConvertOp(ir.RankedTensorType.get(operand_type.shape, element), value).result


def _batch_before_feature_in_convolution_results(module: Any) -> None:
    """Rewrite every `stablehlo.convolution` whose result puts the feature dimension before the batch
    dimension (JAX's weight gradient: `[f, b, 0]`) to produce `[b, f, spatial...]`, then transpose.

    The interpreter shipped in jaxlib 0.10 aborts the whole process on such a result layout (`LLVM
    ERROR: Incompatible index and shape found while flattening index`): 690 of the 2,000 modules of
    the campaign's `convolution` build went unchecked. A transpose only moves elements, so the
    rewritten module computes the same values."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    for op in ops_named(module, "stablehlo.convolution"):
        dims = stablehlo.ConvDimensionNumbers(op.attributes["dimension_numbers"])
        if dims.output_feature_dimension > dims.output_batch_dimension:
            continue
        order = [dims.output_batch_dimension, dims.output_feature_dimension, *dims.output_spatial_dimensions]
        result = ir.RankedTensorType(op.results[0].type)
        with ir.InsertionPoint(op):
            canonical = op.clone(ip=ir.InsertionPoint(op))
            canonical.attributes["dimension_numbers"] = stablehlo.ConvDimensionNumbers.get(
                dims.input_batch_dimension, dims.input_feature_dimension, list(dims.input_spatial_dimensions),
                dims.kernel_input_feature_dimension, dims.kernel_output_feature_dimension, list(dims.kernel_spatial_dimensions),
                0, 1, list(range(2, len(order))),
            )
            canonical.results[0].set_type(ir.RankedTensorType.get([result.shape[d] for d in order], result.element_type))
            back = stablehlo.TransposeOp(canonical.results[0], ir.DenseI64ArrayAttr.get([order.index(d) for d in range(len(order))])).result
        op.results[0].replace_all_uses_with(back)
        op.erase()


def _accumulate_narrow_floats_in_f32(module: Any) -> None:
    """Compute every f16 / bf16 `stablehlo.convolution` and `stablehlo.dot_general` in f32 and round
    the result once, as XLA does.

    The spec leaves the accumulation precision to the implementation; the interpreter shipped in
    jaxlib 0.10 rounds every partial sum to the 8 (bf16) or 11 (f16) bits of the result, XLA sums in
    f32 (convolution seed 4772544156829727900: 4.15625 against 4.125, a bf16 ulp, which a later
    relu-like routing turned into 0 against 0.93). Products of f16 / bf16 values are exact in f32."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    f32 = ir.F32Type.get()
    for name in ("stablehlo.convolution", "stablehlo.dot_general"):
        for op in ops_named(module, name):
            result = ir.RankedTensorType(op.results[0].type)
            if str(result.element_type) not in ("bf16", "f16"):
                continue
            with ir.InsertionPoint(op):
                operands = [stablehlo.ConvertOp(ir.RankedTensorType.get(ir.RankedTensorType(v.type).shape, f32), v).result for v in list(op.operands)[:2]]
                wide = op.clone(ip=ir.InsertionPoint(op))
                for i, value in enumerate(operands):
                    wide.operands[i] = value
                wide.results[0].set_type(ir.RankedTensorType.get(result.shape, f32))
                narrow = stablehlo.ConvertOp(result, wide.results[0]).result
            op.results[0].replace_all_uses_with(narrow)
            op.erase()


def _total_order_compares(module: Any) -> None:
    """Rewrite every float `stablehlo.compare ... TOTALORDER` as a SIGNED compare of total-order keys.

    The interpreter shipped in jaxlib 0.10 compares TOTALORDER like IEEE (-0.0 equals +0.0, NaN is
    unordered), where the spec orders -NaN < -Inf < ... < -0.0 < +0.0 < ... < +Inf < +NaN: a sort
    (`top_k`, `jnp.sort` lower to one) then mixes signed zeros. The key is XLA's own: the float's
    bits as a signed integer, with the magnitude bits flipped when the sign is set."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    for op in ops_named(module, "stablehlo.compare"):
        if "compare_type" not in op.attributes or "TOTALORDER" not in str(op.attributes["compare_type"]):
            continue
        operand_type = ir.RankedTensorType(op.operands[0].type)
        element = operand_type.element_type
        width = {"f64": 64, "f32": 32, "f16": 16, "bf16": 16}.get(str(element))
        if width is None:
            continue
        shape = list(operand_type.shape)
        int_type = ir.RankedTensorType.get(shape, ir.IntegerType.get_signless(width))

        def splat(value: int, int_type: Any = int_type, width: int = width) -> Any:
            scalar = ir.IntegerAttr.get(ir.IntegerType.get_signless(width), value)
            return stablehlo.ConstantOp(ir.DenseElementsAttr.get_splat(int_type, scalar)).result

        with ir.InsertionPoint(op):
            for i in range(2):
                bits = stablehlo.BitcastConvertOp(int_type, op.operands[i]).result
                sign = stablehlo.ShiftRightArithmeticOp(bits, splat(width - 1)).result
                flip = stablehlo.AndOp(sign, splat((1 << (width - 1)) - 1)).result
                op.operands[i] = stablehlo.XorOp(bits, flip).result
        op.attributes["compare_type"] = ir.Attribute.parse("#stablehlo<comparison_type SIGNED>")


def _define_integer_division(module: Any) -> None:
    """Give every integer `stablehlo.divide` / `remainder` XLA's results where the spec leaves them to
    the implementation: x / 0 = -1 (all bits set), x % 0 = x, and for signed types MIN / -1 = MIN,
    MIN % -1 = 0. The interpreter shipped in jaxlib 0.10 divides with the host's instruction, which
    kills the process with SIGFPE there (a tenth of `arithmetic` programs reach a zero divisor on
    the inputs drawn); every other element is divided as before, by the interpreter's own code."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    for name in ("stablehlo.divide", "stablehlo.remainder"):
        for op in ops_named(module, name):
            result = ir.RankedTensorType(op.results[0].type)
            if result.element_type.typeid != ir.IntegerType.static_typeid:
                continue
            element = ir.IntegerType(result.element_type)
            width, signed = element.width, not element.is_unsigned
            if width == 1:
                continue  # i1 has no divide that traps the way a machine divide does

            def splat(value: int, result: Any = result, element: Any = element) -> Any:
                return stablehlo.ConstantOp(ir.DenseElementsAttr.get_splat(result, ir.IntegerAttr.get(element, value))).result

            def compare(a: Any, b: Any) -> Any:
                return stablehlo.CompareOp(a, b, ir.Attribute.parse("#stablehlo<comparison_direction EQ>")).result

            x, y = op.operands[0], op.operands[1]
            with ir.InsertionPoint(op):
                by_zero = compare(y, splat(0))
                undefined, overflow = by_zero, None
                if signed:
                    lowest = -(1 << (width - 1))
                    overflow = stablehlo.AndOp(compare(x, splat(lowest)), compare(y, splat(-1))).result
                    undefined = stablehlo.OrOp(by_zero, overflow).result
                divisor = stablehlo.SelectOp(undefined, splat(1), y).result
                safe = op.clone(ip=ir.InsertionPoint(op))
                safe.operands[1] = divisor
                value = safe.results[0]
                if overflow is not None:
                    value = stablehlo.SelectOp(overflow, splat(lowest) if name == "stablehlo.divide" else splat(0), value).result
                at_zero = splat(-1 if signed else (1 << width) - 1) if name == "stablehlo.divide" else x
                value = stablehlo.SelectOp(by_zero, at_zero, value).result
            op.results[0].replace_all_uses_with(value)
            op.erase()


def _to_attr(array: np.ndarray, tensor_type: Any) -> Any:
    """An input array as the DenseElementsAttr the interpreter takes (bf16 and complex by their bits)."""
    from jaxlib.mlir import ir

    array = np.ascontiguousarray(array)
    if array.dtype.name == "bfloat16":
        array = array.view(np.uint16)
    elif array.dtype == np.complex64:
        array = array.view(np.uint64)
    return ir.DenseElementsAttr.get(array, type=tensor_type)


def evaluate(ctx: Any, text: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run `text` on `inputs` with the reference interpreter (in this process)."""
    import ml_dtypes
    from jaxlib.mlir import ir, passmanager
    from jaxlib.mlir.dialects import stablehlo

    targets = custom_call_targets(text)
    if targets:
        raise Unsupported(f"custom_call {', '.join(targets)}")
    if _COLLECTIVES.search(text):
        raise Unsupported("collective ops need several devices")
    if aborting := sorted(set(_ABORTING.findall(text))):
        raise Unsupported("; ".join(f"the interpreter aborts on {op} ({ABORTS[op]})" for op in aborting))
    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)
        passmanager.PassManager.parse("builtin.module(func.func(chlo-legalize-to-stablehlo))").run(module.operation)
        _copy_scatter_operands(module)
        _widen_convolution_operands(module)
        _accumulate_narrow_floats_in_f32(module)
        _batch_before_feature_in_convolution_results(module)
        _total_order_compares(module)
        _define_integer_division(module)
        wrapped, kinds = _wrap(module)
        module = ir.Module.parse(wrapped)
        main = entry_function(module)
        in_types = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value).inputs
        if len(in_types) != len(inputs):
            raise Unsupported(f"the module takes {len(in_types)} arguments, {len(inputs)} were given")
        results = stablehlo.eval_module(module, [_to_attr(x, t) for x, t in zip(inputs, in_types, strict=True)])
        arrays = [np.array(r) for r in results]
    out, it = [], iter(arrays)
    for kind in kinds:
        a = next(it)
        if kind == "bf16":
            out.append(a.view(ml_dtypes.bfloat16))
        elif kind == "f16":
            out.append(a.view(np.float16))
        elif kind == "complex64":
            out.append((a + 1j * next(it)).astype(np.complex64))
        else:
            out.append(a)
    return out


def _handle(request: tuple[str, list[np.ndarray]]) -> tuple[str, Any]:
    """The child's answer to one module: ("ok", outputs), ("skip", why) or ("error", what)."""
    text, inputs = request
    try:
        return "ok", evaluate(_context(), text, inputs)
    except Unsupported as err:
        return "skip", str(err)
    except Exception as err:
        return "error", f"{type(err).__name__}: {err}"[:500]


@cache
def _context() -> Any:
    return make_context()


class Interpreter:
    """The interpreter in a child process (`worker.Worker`): an abort or a hang costs one module a reason."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.worker = Worker(__name__, timeout)

    def run(self, text: str, inputs: list[np.ndarray]) -> Outcome:
        reply = self.worker.call((text, list(inputs)))
        if reply.failed:
            return Outcome(None, skipped=f"interpreter {reply.failed}")
        status, value = reply.value
        if status == "ok":
            return Outcome(value)
        if status == "skip":
            return Outcome(None, skipped=value)
        return Outcome(None, error=value)

    def close(self) -> None:
        self.worker.close()

    def __enter__(self) -> Interpreter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve(_handle)
