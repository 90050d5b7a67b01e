"""The loops a lowered module runs, read from its IR: a row's `loop_trip_counts`.

Cost analysis counts a `stablehlo.while` body once, so a row lists the trip count of every
`stablehlo.while` op of its `stablehlo` (the forward module) in MLIR walk order: the functions in
module order (@main first, then the private functions JAX outlines loop bodies, `jit`-ed helpers
and library code into, in the order it created them), each function's ops in post-order (a loop
nested inline in another's region before it). One entry per op in the text: a private function JAX
emits once and calls twice is listed once. A counted loop (what `fori_loop`, `scan` and `map` lower
to: a counter from a constant to a constant bound, step 1) gives its count, which is the number of
times the op's body runs (a `scan` with `unroll=2` runs its body half the steps); any other loop -1
(a `while_loop` the data ends, a `fori_loop` to a traced bound). JAX's own loops are left out: on
CPU the threefry PRNG runs its rounds as a 5-trip loop that carries the rotation vectors
(`tensor<4xui32>`).
"""

from __future__ import annotations

from typing import Any

from .mlir import mlir_context


def _defining(value: Any) -> Any:
    """The op that computes `value`, or None for a block argument."""
    from jaxlib.mlir import ir  # lazy: jaxlib's MLIR bindings are heavy

    owner = value.owner
    return None if isinstance(owner, ir.Block) else owner


def _integer(value: Any) -> int | None:
    """The value of a scalar integer `stablehlo.constant`, else None."""
    from jaxlib.mlir import ir  # lazy: jaxlib's MLIR bindings are heavy

    op = _defining(value)
    if op is None or op.name != "stablehlo.constant":
        return None
    try:
        attr = ir.DenseIntElementsAttr(op.attributes["value"])
    except ValueError:  # a float constant
        return None
    return int(ir.IntegerAttr(attr.get_splat_value()).value) if attr.is_splat and len(ir.ShapedType(attr.type).shape) == 0 else None


def trip_count(loop: Any) -> int | None:
    """How often a loop written as JAX writes `fori_loop` and `scan` runs: a carried counter that
    starts at a constant, the condition `counter < N` alone and the body adding 1 to it. None for
    any other loop (a `while_loop` whose condition reads the data)."""
    cond, body = loop.regions[0].blocks[0], loop.regions[1].blocks[0]
    ops = list(cond.operations)
    compare = _defining(ops[-1].operands[0]) if len(ops[-1].operands) == 1 else None
    if compare is None or compare.name != "stablehlo.compare" or "LT" not in str(compare.attributes["comparison_direction"]):
        return None
    counter = next((k for k, arg in enumerate(cond.arguments) if arg == compare.operands[0]), None)
    limit = _integer(compare.operands[1])
    if counter is None or limit is None:
        return None
    start = _integer(loop.operands[counter])
    step = _defining(list(body.operations)[-1].operands[counter])
    if start is None or step is None or step.name != "stablehlo.add":
        return None
    if sorted((v == body.arguments[counter], _integer(v) == 1) for v in step.operands) != [(False, True), (True, False)]:
        return None
    return max(0, limit - start)


def is_prng_rounds(loop: Any) -> bool:
    """Whether a `stablehlo.while` is threefry's round loop (its carry holds the rotation vectors)."""
    return any(str(v.type) == "tensor<4xui32>" for v in loop.operands)


def module_trip_counts(module: Any) -> list[int]:
    """Trip counts of a parsed module's `stablehlo.while` ops in walk order (-1: a bound the IR does not fix), PRNG rounds left out."""
    from jaxlib.mlir import ir  # lazy: jaxlib's MLIR bindings are heavy

    found: list[int] = []

    def visit(op: Any) -> Any:
        if op.name == "stablehlo.while" and not is_prng_rounds(op):
            trips = trip_count(op)
            found.append(-1 if trips is None else trips)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit, ir.WalkOrder.POST_ORDER)
    return found


def loop_trip_counts(text: str) -> list[int]:
    """`module_trip_counts` of a module's text (parsed in this thread's context)."""
    from jaxlib.mlir import ir  # lazy: jaxlib's MLIR bindings are heavy

    with mlir_context(), ir.Location.unknown():
        return module_trip_counts(ir.Module.parse(text))
