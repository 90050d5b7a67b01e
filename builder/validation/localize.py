"""Where two executors part ways in a module, and whether the difference is one the spec allows.

When the reference interpreter and XLA disagree on a module and the cheaper second looks
(`validate`: sensitivity, the f64 oracle, XLA without algsimp) do not explain it, validation
localizes the difference. @main, with its private functions inlined and CHLO expanded, is made to
return every value it computes; both executors run that probe on the same inputs. A *root* is an
op whose operands the two computed bit for bit alike and whose result they did not. A root is
*excused* when every element where it differs is

- the result of a transcendental op (exp, log, tanh, sin, pow, rsqrt, ...) within `ULPS` units in
  the last place: the spec leaves their accuracy to the implementation, and XLA approximates them
  with its own polynomials while the interpreter calls the C library;
- a subnormal operand or result of an elementwise op: XLA's CPU runtime flushes subnormals to
  zero (as if by FTZ / DAZ), the interpreter keeps them;
- a zero of the other sign, or a NaN with other payload bits;
- a sum's result (convolution, dot_general, a reduce or reduce_window that adds) within
  n·eps·Σ|terms| (the most any summation order can move it, the products' rounding included):
  the spec fixes no order, and XLA and the interpreter sum in different ones;
- an add or subtract of a multiply's result where XLA's value is the fused multiply-add (the
  product unrounded, one rounding in all) and the interpreter's the two roundings IEEE gives:
  XLA's CPU backend lets LLVM contract every multiply-add into an FMA
  (`AllowFPOpFusion = Fast`: "this increases precision"), so its add sees a product the probe,
  which returns the rounded product, cannot show;
- the modulus of a complex number (`abs`, a hypot) within `ULPS` ulps, and a part of a complex quotient
  within `ULPS` eps of the quotient's modulus: the spec fixes no
  algorithm for complex division, and XLA's scaled formula and C++'s `std::complex` round differently;
- a convolution's NaN or ±Inf in the interpreter where XLA has a number, when the same
  convolution with its padding and input dilation written out (a `stablehlo.pad` of zeros, as
  the spec defines it) gives that NaN / Inf in XLA too: XLA's convolution skips the taps that
  fall on padding, so a NaN or Inf of the kernel never meets the zero it is multiplied by
  (0 · NaN = NaN in the spec and the interpreter);
- a `reduce_window` whose body calls a transcendental (`jax.lax.cumlogsumexp`: max(a, b) +
  log1p(exp(-|a - b|))) within n·`ULPS` ulps of the largest finite entry of the window (or of
  the result), n the window's size: every step rounds its transcendentals the implementation's
  way, and the spec fixes no order of the steps;
- a payload of a chooser `reduce_window` (JAX's max-pool gradient: `compare` one key of the two
  entries, `select` every operand by that one predicate) where the keys agree and both executors'
  payloads belong to window entries whose key equals the result's: tied keys make the pick depend
  on the order of reduction, which the spec leaves to the implementation.

A convolution whose value XLA computes differently once its padding is written out, where the
interpreter agrees with the written-out one, is no allowance: XLA disagrees with itself
(`PADDING_MISCOMPILED`), and `validate` reports the row among XLA's miscompiles.

Excused roots are then *spliced*: each becomes an extra argument of @main given XLA's values, on
both executors, so no wrong op downstream can hide behind an allowed difference, and the probe runs
again. When the module's outputs then agree, the disagreement is explained by the excused roots
alone. An unexcused root, or a difference that outlives `ROUNDS` rounds, is not explained.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np

from ..lowering.loops import trip_count
from .interpreter import entry_function, ops_named, symbols

ULPS = 8
ROUNDS = 32
UNROLL_TRIPS = 64  # a counted loop of more iterations stays one op to the probe,
UNROLL_LOOP_OPS = 4_096  # unless its iterations together are this few ops (a long scan of a small body)
UNROLL_OPS = 40_000  # and none is unrolled past this many ops at @main's top level
TRANSCENDENTAL = frozenset(
    f"stablehlo.{name}"
    for name in (
        "exponential", "exponential_minus_one", "log", "log_plus_one", "logistic", "tanh", "tan",
        "sine", "cosine", "atan2", "power", "cbrt", "rsqrt",
    )
)  # fmt: skip
ELEMENTWISE = TRANSCENDENTAL | frozenset(
    f"stablehlo.{name}"
    for name in (
        "abs", "add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "negate", "sign",
        "sqrt", "ceil", "floor", "round_nearest_afz", "round_nearest_even", "compare", "select", "clamp",
        "convert", "is_finite", "reduce_precision", "real", "imag", "complex",
    )
)  # fmt: skip

# Complex ops whose algorithm the spec leaves open: XLA divides with its own scaled formula, the
# interpreter with C++'s `std::complex`; the parts of the two quotients can differ by a few eps of the
# quotient's modulus (a part much smaller than the modulus, relatively by far more).
COMPLEX_ALGORITHMS = {"stablehlo.divide": "quotient"}

Run = Callable[[str, list[np.ndarray]], "list[np.ndarray] | None"]


@dataclass(frozen=True)
class Node:
    """One op of @main in the probe: its name, where its operands come from, which probe results it made."""

    name: str
    operands: tuple[tuple[str, int], ...]  # ("arg", i), ("value", k) (k indexes the probe's extra results) or ("opaque", -1)
    results: tuple[int, ...]


@dataclass
class Localization:
    """The verdict: explained (by `excused`, per root op) or not (`why`)."""

    explained: bool
    why: str = ""
    excused: dict[str, set[str]] = field(default_factory=dict)  # op name -> the kinds of difference seen
    spliced: int = 0
    # When the very first probe agrees: XLA's values of the module's outputs in the probe, where every
    # intermediate is returned too (so nothing is fused away). Differing from XLA's run of the module
    # itself, they show XLA disagreeing with itself: a fusion-dependent miscompile, not an IR problem.
    unfused: list[np.ndarray] | None = None

    def summary(self) -> str:
        parts = [f"{op} ({', '.join(sorted(kinds))})" for op, kinds in sorted(self.excused.items())]
        return f"the executors part only at {'; '.join(parts)}: with XLA's values spliced in there ({self.spliced} ops), they agree"


def _flatten(module: Any) -> None:
    """Inline every `func.call` and `stablehlo.composite` at the top level of @main and unroll its
    counted loops, again until none is left: probing sees inside JAX's private functions (`@relu`,
    `@_where`, ...), inside a composite (by the spec, a call of its `decomposition`; an ulp of a
    `tanh` inside `lax.composite` is then seen as the `tanh`'s, control_flow seed
    6600875992563589246) and inside `fori_loop` / `scan` bodies, where a loop would hide every
    iteration behind one op."""
    from jaxlib.mlir import ir

    funcs = symbols(module)
    block = funcs["main"].regions[0].blocks[0]
    callees = {"func.call": "callee", "stablehlo.composite": "decomposition"}
    for _ in range(256):
        ops = list(block.operations)
        calls = [op for op in ops if op.operation.name in callees]  # a CompositeOp's `.name` is its own attribute
        for call in calls:
            callee = funcs[ir.FlatSymbolRefAttr(call.attributes[callees[call.operation.name]]).value].regions[0].blocks[0]
            _replace(call, _copy_body(callee, list(call.operands), ir.InsertionPoint(call)))
        if calls:
            continue
        size = len(ops)
        flattened = False
        for op in ops:
            trips = trip_count(op) if op.name == "stablehlo.while" else None
            unrolled = trips * _size(op.regions[1]) if trips is not None else 0  # the body, once an iteration
            if trips is not None and (trips <= UNROLL_TRIPS or unrolled <= UNROLL_LOOP_OPS):
                grown = unrolled
            elif op.name in ("stablehlo.case", "stablehlo.if"):
                grown = sum(_size(region) for region in op.regions)  # every branch, once (trips is None)
            else:
                continue
            if size + grown > UNROLL_OPS:
                continue
            size += grown
            flattened = True
            if trips is None:
                _replace(op, _select_branch(op))
                continue
            carried = list(op.operands)
            for _ in range(trips):
                carried = _copy_body(op.regions[1].blocks[0], carried, ir.InsertionPoint(op))
            _replace(op, carried)
        if not flattened:
            return


def _select_branch(op: Any) -> list[Any]:
    """A `case` (or `if`) written as every branch computed, then the taken one's values selected:
    the same results, as JAX's branches have no effects, with each branch's ops visible to the
    probe. An op of a branch not taken that the executors compute differently is reported like
    any other, so this can only make localization stricter, never excuse a difference."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    ip = ir.InsertionPoint(op)
    branches = [_copy_body(region.blocks[0], [], ip) for region in op.regions]
    chosen = branches[-1]  # `case` runs the last branch for an index out of range
    for k in reversed(range(len(branches) - 1)):
        if op.name == "stablehlo.if":  # (pred) then-region, else-region
            taken = op.operands[0]
        else:
            index = op.operands[0]
            value = ir.IntegerAttr.get(ir.RankedTensorType(index.type).element_type, k)
            constant = stablehlo.ConstantOp(ir.DenseElementsAttr.get_splat(index.type, value), ip=ip)
            taken = stablehlo.CompareOp(index, constant.result, stablehlo.ComparisonDirectionAttr.get("EQ"), ip=ip).result
        chosen = [stablehlo.SelectOp(taken, a, b, ip=ip).result for a, b in zip(branches[k], chosen, strict=True)]
    return chosen


def _copy_body(block: Any, arguments: list[Any], ip: Any) -> list[Any]:
    """Copy `block`'s ops (a callee's or a loop body's) before `ip` with its arguments bound to
    `arguments`; the values its terminator returns, as copied."""
    mapping = dict(zip(block.arguments, arguments, strict=True))
    for op in block.operations:
        if op.name in ("func.return", "stablehlo.return"):
            return [mapping.get(v, v) for v in op.operands]
        clone = op.clone(ip=ip)
        _rebind(op, clone, mapping)
        mapping.update(zip(op.results, clone.results, strict=True))
    raise ValueError("a block without a terminator")


def _rebind(original: Any, clone: Any, mapping: dict[Any, Any]) -> None:
    """Point the clone's operands, and those of the ops in its regions (a `case` branch or a loop
    body may use values defined around it), at the copies `mapping` names."""
    for i, value in enumerate(original.operands):
        if value in mapping:
            clone.operands[i] = mapping[value]
    for region, copied in zip(original.regions, clone.regions, strict=True):
        for block, copied_block in zip(region.blocks, copied.blocks, strict=True):
            for op, copied_op in zip(block.operations, copied_block.operations, strict=True):
                _rebind(op, copied_op, mapping)


def _replace(op: Any, values: list[Any]) -> None:
    for old, new in zip(op.results, values, strict=True):
        old.replace_all_uses_with(new)
    op.erase()


def _size(region: Any) -> int:
    return sum(1 for block in region.blocks for _ in block.operations)


def prepare(ctx: Any, text: str) -> str:
    """The module with CHLO expanded to StableHLO, @main's calls inlined and its counted loops unrolled: what both executors probe."""
    from jaxlib.mlir import ir, passmanager

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)
        passmanager.PassManager.parse("builtin.module(func.func(chlo-legalize-to-stablehlo))").run(module.operation)
        _flatten(module)
        module.operation.verify()
        return str(module)


def probe(ctx: Any, text: str) -> tuple[str, int, list[Node]]:
    """`text` with @main also returning every tensor its top-level ops compute; the number of
    original results, and the ops in order with the probe results they made."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import func

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)
        main = entry_function(module)
        block = main.regions[0].blocks[0]
        ret = next(op for op in block.operations if op.name == "func.return")
        values: list[Any] = []
        numbered: dict[Any, int] = {}  # value -> its index in `values` (a loop unrolled makes thousands)
        nodes: list[Node] = []
        for op in block.operations:
            if op.name == "func.return":
                continue
            operands = []
            for v in op.operands:
                if isinstance(v, ir.BlockArgument):
                    operands.append(("arg", v.arg_number))
                else:
                    k = numbered.get(v)
                    operands.append(("value", k) if k is not None else ("opaque", -1))  # a token: no data to differ
            made = [r for r in op.results if isinstance(r.type, ir.RankedTensorType)]
            nodes.append(Node(op.name, tuple(operands), tuple(range(len(values), len(values) + len(made)))))
            numbered.update((r, len(values) + i) for i, r in enumerate(made))
            values += made
        outputs = list(ret.operands)
        with ir.InsertionPoint(ret):
            func.ReturnOp(outputs + values)
        ret.erase()
        ftype = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)
        main.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(list(ftype.inputs), [v.type for v in outputs + values]))
        if "res_attrs" in main.attributes:
            del main.attributes["res_attrs"]
        return str(module), len(outputs), nodes


def top_level_ops(module: Any) -> list[Any]:
    """The ops of a parsed module's @main body, its return left out (what an op index counts)."""
    return [o for o in entry_function(module).regions[0].blocks[0].operations if o.name != "func.return"]


def single_op(ctx: Any, text: str, index: int) -> str:
    """A module whose @main applies only the `index`-th top-level op of `text`'s @main to its arguments."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import func

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)
        op = top_level_ops(module)[index]
        single = ir.Module.create()
        with ir.InsertionPoint(single.body):
            main = func.FuncOp("main", ir.FunctionType.get([v.type for v in op.operands], [op.results[0].type]))
            main.attributes["sym_visibility"] = ir.StringAttr.get("public")
            block = main.add_entry_block()
            with ir.InsertionPoint(block):
                clone = op.clone()
                for i, argument in enumerate(block.arguments):
                    clone.operands[i] = argument
                func.ReturnOp([clone.results[0]])
        return str(single)


def splice(ctx: Any, text: str, results: Sequence[int]) -> str:
    """`text` with the top-level results numbered `results` (probe order) replaced by new trailing arguments of @main."""
    from jaxlib.mlir import ir

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)
        main = entry_function(module)
        block = main.regions[0].blocks[0]
        values = [r for op in block.operations if op.name != "func.return" for r in op.results if isinstance(r.type, ir.RankedTensorType)]
        added = []
        for k in results:
            arg = block.add_argument(values[k].type, ir.Location.unknown())
            values[k].replace_all_uses_with(arg)
            added.append(values[k].type)
        ftype = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)
        main.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(list(ftype.inputs) + added, list(ftype.results)))
        if "arg_attrs" in main.attributes:
            attrs = list(ir.ArrayAttr(main.attributes["arg_attrs"]))
            main.attributes["arg_attrs"] = ir.ArrayAttr.get(attrs + [ir.DictAttr.get({})] * len(added))
        return str(module)


# a convolution whose window padding crops its input (a negative low or high pad): XLA:CPU reads past the
# input there (openxla/xla#48713). In the printed form its window reads `pad = [[-1, 1]]`.
NEGATIVE_CONV_PADDING = re.compile(r"stablehlo\.convolution\(.*\bpad = \[[^}]*-\d")


def explicit_padding(ctx: Any, text: str) -> str | None:
    """`text` with the padding and input dilation of every convolution done by a `stablehlo.pad` of
    zeros first, as the spec defines a convolution (None: no convolution pads or dilates its input)."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)
        rewritten = 0
        for conv in ops_named(module, "stablehlo.convolution"):
            lhs = conv.operands[0]
            lhs_type = ir.RankedTensorType(lhs.type)
            spatial = stablehlo.ConvDimensionNumbers(conv.attributes["dimension_numbers"]).input_spatial_dimensions
            if "padding" in conv.attributes:
                pads = np.asarray(ir.DenseIntElementsAttr(conv.attributes["padding"]), np.int64).reshape(-1, 2)
            else:
                pads = np.zeros((len(spatial), 2), np.int64)
            dilation = list(ir.DenseI64ArrayAttr(conv.attributes["lhs_dilation"])) if "lhs_dilation" in conv.attributes else [1] * len(spatial)
            if not pads.any() and all(d == 1 for d in dilation):
                continue
            low, high, interior = [0] * lhs_type.rank, [0] * lhs_type.rank, [0] * lhs_type.rank
            for i, d in enumerate(spatial):
                low[d], high[d], interior[d] = int(pads[i][0]), int(pads[i][1]), dilation[i] - 1
            shape = [n + low[d] + high[d] + max(n - 1, 0) * interior[d] for d, n in enumerate(lhs_type.shape)]
            element = lhs_type.element_type
            if element.typeid == ir.ComplexType.static_typeid:  # no zero attribute to splat: left as it is
                continue
            with ir.InsertionPoint(conv):
                zero = stablehlo.ConstantOp(ir.DenseElementsAttr.get_splat(ir.RankedTensorType.get([], element), _zero(element)))
                padded = stablehlo.PadOp(lhs, zero.result, low, high, interior, results=[ir.RankedTensorType.get(shape, element)])
            conv.operands[0] = padded.result
            for name in ("padding", "lhs_dilation"):
                if name in conv.attributes:
                    del conv.attributes[name]
            rewritten += 1
        if not rewritten:
            return None
        module.operation.verify()
        return str(module)


def _zero(element: Any) -> Any:
    """The zero attribute of a float or integer element type."""
    from jaxlib.mlir import ir

    return ir.IntegerAttr.get(element, 0) if element.typeid == ir.IntegerType.static_typeid else ir.FloatAttr.get(element, 0.0)


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    if a.dtype.kind == "c":
        a = a.view(a.real.dtype)
    if a.dtype.kind == "f" or a.dtype.name == "bfloat16":
        return a.view(f"u{a.dtype.itemsize}")
    return a


def identical(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(_bits(a), _bits(b))


def _ordered(a: np.ndarray) -> np.ndarray:
    """Float bits as integers that count ulps: consecutive floats differ by 1, -0 and +0 are both 0."""
    bits = _bits(a).astype(np.int64)
    width = 8 * np.asarray(a).dtype.itemsize
    sign = np.int64(1) << (width - 1)
    return np.where(bits & sign, -(bits & (sign - 1)), bits)


def _subnormal(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if not (a.dtype.kind == "f" or a.dtype.name == "bfloat16"):
        return np.zeros(a.shape, bool)
    tiny = float(ml_dtypes.finfo(a.dtype).smallest_normal)
    wide = np.abs(a.astype(np.float64))
    return (wide > 0) & (wide < tiny)


SUMS = frozenset({"stablehlo.convolution", "stablehlo.dot_general"})
PADDED = "a NaN / Inf times padding (XLA's convolution skips the taps on padding, the spec multiplies its zeros)"
STEPS_ROUNDED = "a reduce_window whose body calls a transcendental (within n·8 ulps of its largest entry)"
TIED = "a chooser reduce_window's pick among tied keys (the order of reduction is the implementation's)"
# Not an allowance: XLA disagrees with itself. Its convolution with window padding gives one value, the
# same convolution after an explicit `stablehlo.pad` another, and the interpreter agrees with the latter
# (XLA:CPU reads outside the input on negative low padding: openxla/xla#48713). `validate` reports the
# row among the XLA miscompiles, never as agreeing.
PADDING_MISCOMPILED = "XLA miscompiles the window padding (its own value with the padding written out agrees with the interpreter)"
CONTRACTIBLE = frozenset({"stablehlo.add", "stablehlo.subtract"})
FUSED = "a multiply fused into it (XLA's CPU backend contracts a multiply-add into an FMA: one rounding)"
FUSED_OPERAND = (
    "a multiply fused into its operand's add / subtract where XLA recomputes that operand inside the op's"
    " fusion (an FMA there, two roundings where the operand is stored)"
)


def _round_afz(x: np.ndarray) -> np.ndarray:
    whole = np.trunc(x)  # x - trunc(x) is exact
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole).astype(x.dtype)


# Ops that jump: a last-bit change of the operand can move their result by a whole step. XLA may
# recompute an operand inside the op's fusion with a multiply contracted into an FMA, while the
# stored operand (what the probe returns) was rounded twice: `sign(a * b - max(a * b))` is 0 at the
# maximum as stored and +-1 as fused. numpy's versions, with the spec's signed zeros and NaNs.
STEPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "stablehlo.sign": lambda x: np.where((x == 0) | np.isnan(x), x, np.sign(x)).astype(x.dtype),
    "stablehlo.floor": np.floor,
    "stablehlo.ceil": np.ceil,
    "stablehlo.round_nearest_even": np.rint,
    "stablehlo.round_nearest_afz": _round_afz,
}


@dataclass(frozen=True)
class Contraction:
    """An add / subtract evaluated both ways IEEE allows XLA: `strict`, its operands as they are
    (what the interpreter computes); `fused`, one per operand a multiply made, with that product
    left unrounded (an FMA). For a step op (`STEPS`) of such an add / subtract, the step of each."""

    strict: np.ndarray
    fused: tuple[np.ndarray, ...]
    kind: str = FUSED


def contraction(node: Node, producers: dict[int, Node], value: Callable[[tuple[str, int]], np.ndarray]) -> Contraction | None:
    """How `node` evaluates with and without FMA contraction (None: not an add / subtract of floats
    of at most 32 bits, whose products f64 holds exactly, nor a step op of one)."""
    if node.name in STEPS and len(node.operands) == 1 and node.operands[0][0] == "value":
        made_by = producers.get(node.operands[0][1])
        inner = contraction(made_by, producers, value) if made_by is not None and made_by.name in CONTRACTIBLE else None
        if inner is None:
            return None
        step = STEPS[node.name]
        with np.errstate(all="ignore"):
            return Contraction(np.asarray(step(inner.strict)), tuple(np.asarray(step(f)) for f in inner.fused), FUSED_OPERAND)
    if node.name not in CONTRACTIBLE or len(node.operands) != 2:
        return None
    lhs, rhs = (value(ref) for ref in node.operands)
    if not (lhs.dtype.kind == "f" or lhs.dtype.name == "bfloat16") or lhs.dtype.itemsize > 4:
        return None
    sign = 1.0 if node.name == "stablehlo.add" else -1.0
    with np.errstate(all="ignore"):
        strict = np.asarray(lhs + rhs if sign > 0 else lhs - rhs)
        wide = [lhs.astype(np.float64), rhs.astype(np.float64)]
        fused = []
        for side, ref in enumerate(node.operands):
            made_by = producers.get(ref[1]) if ref[0] == "value" else None
            if made_by is None or made_by.name != "stablehlo.multiply":
                continue
            a, b = (value(r).astype(np.float64) for r in made_by.operands)
            exact = [wide[0], wide[1]]
            exact[side] = a * b  # exact in f64: two 24-bit significands make at most 48 bits
            fused.append(np.asarray(exact[0] + sign * exact[1]).astype(lhs.dtype))
    return Contraction(strict, tuple(fused)) if fused else None


def excuse(
    node: Node,
    xla: np.ndarray,
    interp: np.ndarray,
    operands: list[np.ndarray],
    bound: tuple[str, np.ndarray] | None = None,
    contracted: Contraction | None = None,
    padded: np.ndarray | None = None,
    tied: np.ndarray | None = None,
) -> tuple[set[str], str | None]:
    """Why each element where a root's result differs may differ (the kinds), or what cannot be excused.

    `bound`: a kind of difference the op may show and, per element, the most it can move the
    result (`_bound`: the order of a sum). `contracted`: the op's value with and without an FMA.
    `padded`: XLA's value of a convolution with its padding written out (`explicit_padding`).
    `tied`: per element, both executors picked a payload among tied keys (`tied_picks`)."""
    xla, interp = np.asarray(xla), np.asarray(interp)
    modulus = None
    if xla.dtype.kind == "c":  # real and imaginary parts, each its own float
        if node.name in COMPLEX_ALGORITHMS and xla.shape:
            modulus = np.repeat(np.abs(xla).astype(np.float64), 2, axis=-1)  # as the parts lie in the view
        xla, interp = xla.view(xla.real.dtype), interp.view(interp.real.dtype)
        operands = [o.view(o.real.dtype) if o.dtype.kind == "c" else np.repeat(o, 2, axis=-1) if o.shape else o for o in operands]
    differs = _bits(xla) != _bits(interp)
    kinds: set[str] = set()
    floats = xla.dtype.kind == "f" or xla.dtype.name == "bfloat16"
    if floats:
        with np.errstate(invalid="ignore"):
            x64, i64 = xla.astype(np.float64), interp.astype(np.float64)
            nan = np.isnan(x64) & np.isnan(i64)
            zero = (x64 == 0) & (i64 == 0)
        if (differs & nan).any():
            kinds.add("NaN payload")
        if (differs & zero).any():
            kinds.add("sign of zero")
        left = differs & ~nan & ~zero
    else:
        left = differs
    if node.name in ELEMENTWISE and left.any():
        flushed = _subnormal(xla) | _subnormal(interp)
        for o in operands:
            if o.shape == xla.shape:
                flushed |= _subnormal(o)
            elif o.size == 1:
                flushed |= bool(_subnormal(o).any())
        if (left & flushed).any():
            kinds.add("subnormals, which XLA flushes to zero")
        left &= ~flushed
    if padded is not None and floats and left.any():
        with np.errstate(invalid="ignore"):
            spec = np.asarray(padded).astype(np.float64)
            i64, x64 = interp.astype(np.float64), xla.astype(np.float64)
            meets = ~np.isfinite(i64) & np.isfinite(x64) & ((np.isnan(i64) & np.isnan(spec)) | (i64 == spec))
        if (left & meets).any():
            kinds.add(PADDED)
        left &= ~meets
    if tied is not None and left.any():
        if (left & tied).any():
            kinds.add(TIED)
        left &= ~tied
    if contracted is not None and left.any():
        as_ieee = _bits(interp) == _bits(contracted.strict)
        as_fma = np.zeros(left.shape, bool)
        for fused in contracted.fused:
            as_fma |= _bits(xla) == _bits(fused)
        if (left & as_ieee & as_fma).any():
            kinds.add(contracted.kind)
        left &= ~(as_ieee & as_fma)
    if bound is not None and floats and left.any():
        with np.errstate(invalid="ignore"):
            within = np.abs(xla.astype(np.float64) - interp.astype(np.float64)) <= bound[1]
        if (left & within).any():
            kinds.add(bound[0])
        left &= ~within
    if padded is not None and floats and left.any():
        with np.errstate(invalid="ignore"):
            spec = np.asarray(padded).astype(np.float64)
            slack = bound[1] if bound is not None else 0.0
            agrees = np.abs(spec - interp.astype(np.float64)) <= slack
            self_differs = ~(np.abs(spec - xla.astype(np.float64)) <= slack)
        if (left & agrees & self_differs).any():
            kinds.add(PADDING_MISCOMPILED)
        left &= ~(agrees & self_differs)
    if modulus is not None and left.any():
        with np.errstate(invalid="ignore"):
            within = np.abs(xla.astype(np.float64) - interp.astype(np.float64)) <= ULPS * np.finfo(xla.dtype).eps * modulus
        if (left & within).any():
            kinds.add(f"a complex {COMPLEX_ALGORITHMS[node.name]} within {ULPS} eps of its modulus")
        left &= ~within
    modulus_of_complex = node.name == "stablehlo.abs" and any(o.dtype.kind == "c" for o in operands)  # hypot: no algorithm fixed
    if (node.name in TRANSCENDENTAL or modulus_of_complex) and floats and left.any():
        ulps = np.abs(_ordered(xla) - _ordered(interp))
        if (ulps[left] <= ULPS).all():
            kinds.add(f"at most {int(ulps[left].max())} ulps")
            left &= False
    if left.any():
        left = np.asarray(left).reshape(xla.shape)
        at = tuple(int(i) for i in np.argwhere(left)[0]) if left.ndim else ()
        return kinds, f"{node.name} differs on operands both computed alike: at {list(at)} XLA {xla[at]!r}, interpreter {interp[at]!r}"
    return kinds, None


def _body_ops(ctx: Any, text: str, index: int) -> list[str]:
    """The op names of the body of the `index`-th top-level op of @main (a reduce / reduce_window;
    [] for an op without one region)."""
    from jaxlib.mlir import ir

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)  # kept alive: its ops die with it
        op = top_level_ops(module)[index]
        return [o.name for o in op.regions[0].blocks[0].operations] if len(op.regions) == 1 else []


def _bound(
    ctx: Any, text: str, nodes: list[Node], node: Node, values: list[np.ndarray], result: np.ndarray, operands: list[np.ndarray], xla: Run
) -> tuple[str, np.ndarray] | None:
    """The kind and per-element size of a difference the spec allows this root (None: no such allowance).

    - A sum (convolution, dot_general, a reduce / reduce_window that adds): no order is fixed, and
      XLA accumulates f16 / bf16 in f32; any order moves an element by at most n·eps·Σ|terms|
      (n >= the number of terms: the size of the summed operand), Σ|terms| being the same op on
      the operands' magnitudes (run by XLA)."""
    if result.dtype.kind != "f" and result.dtype.name != "bfloat16":
        return None
    index = nodes.index(node)
    reduces = node.name in ("stablehlo.reduce", "stablehlo.reduce_window")
    summed = node.name in SUMS or (reduces and _body_ops(ctx, text, index) == ["stablehlo.add", "stablehlo.return"])
    if summed:
        magnitude = xla(single_op(ctx, text, index), [np.abs(o) for o in operands])
        if magnitude is None:
            return None
        n = operands[1].size if node.name in SUMS else operands[0].size
        eps = float(ml_dtypes.finfo(result.dtype).eps)
        return "order of summation (within n·eps·Σ|terms|)", n * eps * np.abs(np.asarray(magnitude[0], np.float64))
    if node.name == "stablehlo.reduce_window" and len(node.results) == 1 and TRANSCENDENTAL.intersection(_body_ops(ctx, text, index)):
        # `jax.lax.cumlogsumexp`: a body of max(a, b) + log1p(exp(-|a - b|))
        # each step of the window rounds its transcendentals within ULPS ulps, and no order is fixed
        entries = np.asarray(window_entries(ctx, text, index, operands[0], operands[1]), np.float64)
        axes = tuple(range(result.ndim, entries.ndim))
        with np.errstate(invalid="ignore"):
            largest = np.where(np.isfinite(entries), np.abs(entries), 0.0).max(axis=axes, initial=0.0)
        n = int(np.prod(entries.shape[result.ndim :]))
        eps = float(ml_dtypes.finfo(result.dtype).eps)
        scale = np.maximum(largest, np.where(np.isfinite(result), np.abs(result.astype(np.float64)), 0.0))
        return STEPS_ROUNDED, n * ULPS * eps * scale
    return None


def chooser_key(ctx: Any, text: str, index: int) -> int | None:
    """Which operand the `index`-th top-level op of @main, a reduce_window, picks its entries by: its body
    compares that operand of the two entries once and selects every operand by that one predicate
    (JAX's `_reduce_window_chooser`, the max-pool gradient). None: the body is not such a chooser."""
    from jaxlib.mlir import ir

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)  # kept alive: its ops die with it
        op = top_level_ops(module)[index]
        n = len(op.results)
        block = op.regions[0].blocks[0]
        body = list(block.operations)
        if n < 2 or [o.name for o in body] != ["stablehlo.compare"] + ["stablehlo.select"] * n + ["stablehlo.return"]:
            return None
        args = list(block.arguments)

        def pair(a: Any, b: Any) -> int | None:  # i when (a, b) is (entry 1's i-th, entry 2's i-th), either way round
            for i in range(n):
                if {a, b} == {args[i], args[n + i]}:
                    return i
            return None

        compare, selects, ret = body[0], body[1:-1], body[-1]
        key = pair(compare.operands[0], compare.operands[1])
        chosen = [pair(s.operands[1], s.operands[2]) if s.operands[0] == compare.results[0] else None for s in selects]
        if key is None or list(ret.operands) != [s.results[0] for s in selects]:
            return None
        # every select of operand j takes it from the entry the predicate names: the same entry for all
        orders = {args.index(s.operands[1]) < n for s in selects}
        return key if chosen == list(range(n)) and len(orders) == 1 else None


def window_entries(ctx: Any, text: str, index: int, operand: np.ndarray, init: np.ndarray) -> np.ndarray:
    """The entries of every window of the `index`-th top-level op of @main, a reduce_window, over
    `operand` (its padding and base dilation holding `init`): shape `result + window`."""
    from jaxlib.mlir import ir

    with ctx, ir.Location.unknown():
        module = ir.Module.parse(text)  # kept alive: its ops die with it
        op = top_level_ops(module)[index]
        rank = operand.ndim

        def ints(name: str, default: int) -> list[int]:
            return list(ir.DenseI64ArrayAttr(op.attributes[name])) if name in op.attributes else [default] * rank

        window, strides = ints("window_dimensions", 1), ints("window_strides", 1)
        base, dilation = ints("base_dilations", 1), ints("window_dilations", 1)
        pads = np.zeros((rank, 2), np.int64)
        if "padding" in op.attributes:
            pads = np.asarray(ir.DenseIntElementsAttr(op.attributes["padding"]), np.int64).reshape(-1, 2)
    init = np.asarray(init, operand.dtype)
    dilated = np.full([(n - 1) * b + 1 if n else 0 for n, b in zip(operand.shape, base, strict=True)], init, operand.dtype)
    dilated[tuple(slice(None, None, b) for b in base)] = operand
    padded = np.pad(dilated, [(max(int(lo), 0), max(int(hi), 0)) for lo, hi in pads], constant_values=init)
    padded = padded[tuple(slice(max(-int(lo), 0), padded.shape[d] - max(-int(hi), 0)) for d, (lo, hi) in enumerate(pads))]
    spans = [(w - 1) * d + 1 for w, d in zip(window, dilation, strict=True)]
    views = np.lib.stride_tricks.sliding_window_view(padded, spans)
    return views[tuple(slice(None, None, s) for s in strides) + tuple(slice(None, None, d) for d in dilation)]


def tied_picks(
    ctx: Any, text: str, index: int, result: int, operands: list[np.ndarray], xla: list[np.ndarray], interp: list[np.ndarray]
) -> np.ndarray | None:
    """For the `result`-th result of a chooser reduce_window (`chooser_key`): per element, True where
    both executors' keys agree and each one's pick is the value of an entry whose key equals that
    key, i.e. a tie the order of reduction decides. None: not a chooser, or `result` is its key."""
    key = chooser_key(ctx, text, index)
    if key is None or key == result:
        return None
    n = len(xla)
    keys = window_entries(ctx, text, index, operands[key], operands[n + key])
    picks = window_entries(ctx, text, index, operands[result], operands[n + result])
    axes = tuple(range(xla[key].ndim, keys.ndim))
    with np.errstate(invalid="ignore"):  # equal as the compare sees them (-0.0 ties +0.0; NaN ties nothing)
        at_key = keys == np.expand_dims(np.asarray(xla[key]), axes)
    same_key = _bits(np.asarray(xla[key])) == _bits(np.asarray(interp[key]))

    def among_ties(pick: np.ndarray) -> np.ndarray:
        return (at_key & (_bits(picks) == np.expand_dims(_bits(np.asarray(pick)), axes))).any(axis=axes)

    return same_key & among_ties(xla[result]) & among_ties(interp[result])


def _padded(ctx: Any, text: str, index: int, operands: list[np.ndarray], xla: Run) -> np.ndarray | None:
    """XLA's value of the `index`-th op, a convolution, with its padding written out (None: it has
    none, or its operands are not real floats: only a NaN / Inf can tell padding skipped from multiplied)."""
    if not all(o.dtype.kind == "f" or o.dtype.name == "bfloat16" for o in operands):
        return None
    explicit = explicit_padding(ctx, single_op(ctx, text, index))
    result = xla(explicit, operands) if explicit is not None else None
    return None if result is None else np.asarray(result[0])


def localize(
    ctx: Any, text: str, inputs: Sequence[np.ndarray], xla: Run, interpreter: Run, agree: Callable[[list[np.ndarray], list[np.ndarray]], bool]
) -> Localization:
    """Find where the interpreter and XLA part ways on `text` and whether every such place is allowed (see the module doc)."""
    try:
        current = prepare(ctx, text)
    except Exception as err:  # a module the bindings cannot rewrite: no verdict
        return Localization(False, f"could not prepare the module: {type(err).__name__}: {err}"[:300])
    extra: list[np.ndarray] = []
    spliced: set[int] = set()  # probe results whose consumers now read XLA's value (a trailing argument of @main)
    judged: set[int] = set()  # spliced results whose op was compared on operands both executors shared
    verdict = Localization(False)
    for _ in range(ROUNDS):
        probe_text, n_out, nodes = probe(ctx, current)
        a, b = xla(probe_text, [*inputs, *extra]), interpreter(probe_text, [*inputs, *extra])
        if a is None or b is None or len(a) != len(b):
            verdict.why = "an executor did not run the probe"
            return verdict
        outputs_agree = agree(a[:n_out], b[:n_out])
        if outputs_agree and not spliced:
            verdict.why = "the probe agrees where the module did not"
            verdict.unfused = [np.asarray(v) for v in a[:n_out]]
            return verdict
        values_a, values_b = a[n_out:], b[n_out:]

        def operand(ref: tuple[str, int], side: list[np.ndarray], args: Sequence[np.ndarray]) -> np.ndarray:
            return np.asarray(args[ref[1]]) if ref[0] == "arg" else np.asarray(side[ref[1]])

        apart = {k for k, (x, y) in enumerate(zip(values_a, values_b, strict=True)) if not identical(x, y)}
        args = [*inputs, *extra]
        producers = {k: node for node in nodes for k in node.results}
        splice_at: list[int] = []
        for node in nodes:
            open_results = [k for k in node.results if k not in judged]
            if not any(k in spliced or k in apart for k in open_results):
                continue
            if any(ref[0] == "value" and ref[1] in apart for ref in node.operands):
                # its operands already differ: splice XLA's values of its results, so that it, and every op
                # reading them, computes on shared operands in the next round and is judged there
                splice_at += [k for k in open_results if k not in spliced and k in apart]
                continue
            operands = [operand(ref, values_a, args) for ref in node.operands if ref[0] != "opaque"]
            for k in open_results:
                if k in spliced:
                    judged.add(k)
                if k not in apart:
                    continue
                bound = _bound(ctx, current, nodes, node, values_a, np.asarray(values_a[k]), operands, xla)
                contracted = contraction(node, producers, lambda ref, side=values_a, args=args: operand(ref, side, args))
                padded = _padded(ctx, current, nodes.index(node), operands, xla) if node.name == "stablehlo.convolution" else None
                tied = None
                if node.name == "stablehlo.reduce_window" and len(node.results) > 1:
                    tied = tied_picks(
                        ctx, current, nodes.index(node), node.results.index(k), operands,
                        [values_a[r] for r in node.results], [values_b[r] for r in node.results],
                    )  # fmt: skip
                kinds, why = excuse(node, values_a[k], values_b[k], operands, bound, contracted, padded, tied)
                if why:
                    verdict.why = why
                    return verdict
                verdict.excused.setdefault(node.name, set()).update(kinds)
                verdict.spliced += 1
                judged.add(k)
                if k not in spliced:
                    splice_at.append(k)
        if not splice_at and spliced <= judged:  # every op whose value was replaced has been judged on shared operands
            verdict.explained = outputs_agree
            verdict.why = "" if outputs_agree else "no op differs on identical operands"
            return verdict
        for k in splice_at:
            extra.append(np.asarray(values_a[k]))
        current = splice(ctx, current, splice_at)
        spliced.update(splice_at)
    verdict.why = f"the outputs still differ after splicing {verdict.spliced} ops in {ROUNDS} rounds"
    return verdict
