"""Arithmetic: the binary and unary operators of numeric code, on floats and integers."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..program import Tag, Value
from ..specs import FLOAT, INT, REAL, SIGNED_INT, TensorSpec, python_scalar
from .base import Attrs, Draw, OpDecl, Operand, Statement, assign, broadcast, broadcast_partner, constant_literal, op, same

CAT = ("arithmetic",)
PRESERVES = (Tag.PRESERVES,)
ANY_REAL = Operand(REAL)
FLOATS = Operand(FLOAT)
INTS = Operand(INT)


def _literal(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    return {"c": constant_literal(rng, specs[0].dtype)}


def _exponent(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    return {"p": rng.choice([2, 2, 3])}


def binary(name: str, template: str, operand: Operand, weight: float = 1.0, divisor: bool = False) -> OpDecl:
    """`$0 <op> $1` with a partner that broadcasts; a `divisor` partner is positive (a scale, a count)."""
    second = Operand(operand.dtypes, operand.min_rank, operand.max_rank, domain="positive") if divisor else operand
    return op(name, CAT, (operand, second), template, broadcast, partners=broadcast_partner, weight=weight)


def with_literal(name: str, template: str, operand: Operand, weight: float = 1.0) -> OpDecl:
    return op(name, CAT, (operand,), template, same, attrs=_literal, weight=weight, tags=PRESERVES)


HYPERS = ("alpha", "scale", "beta", "gamma", "temperature", "eps", "lam")


def _by_python_scalar(ctx: Draw, x: Value) -> Statement | None:
    """`x * alpha` with `alpha` a Python float argument: weakly typed, so `x` keeps its dtype."""
    arg = ctx.argument(python_scalar("float32"), ctx.rng.choice(HYPERS))
    if arg is None:
        return None
    return assign(ctx.rng.choice(("$0 * $1", "$0 / $1", "$1 * $0", "$0 + $1", "$0 - $1")), (x, arg), (x.spec,))


OPS = (
    op("python_scalar_argument", CAT, FLOATS, _by_python_scalar, weight=0.6),
    binary("add", "$0 + $1", ANY_REAL, weight=2.0),
    binary("subtract", "$0 - $1", ANY_REAL, weight=1.5),
    binary("multiply", "$0 * $1", ANY_REAL, weight=2.0),
    binary("divide", "$0 / $1", FLOATS, divisor=True),
    binary("jnp.add", "jnp.add($0, $1)", ANY_REAL, weight=0.5),
    binary("jnp.multiply", "jnp.multiply($0, $1)", ANY_REAL, weight=0.5),
    binary("floor_divide", "$0 // $1", INTS, weight=0.5, divisor=True),
    binary("remainder", "$0 % $1", INTS, weight=0.5, divisor=True),
    binary("jnp.maximum", "jnp.maximum($0, $1)", ANY_REAL),
    binary("jnp.minimum", "jnp.minimum($0, $1)", ANY_REAL),
    with_literal("add_scalar", "$0 + $c", ANY_REAL),
    with_literal("scale", "$0 * $c", ANY_REAL, weight=1.5),
    with_literal("rsub_scalar", "$c - $0", ANY_REAL, weight=0.5),
    with_literal("div_scalar", "$0 / $c", FLOATS, weight=0.5),
    op("negative", CAT, (Operand(FLOAT + SIGNED_INT),), "-$0", same, tags=PRESERVES),
    op("jnp.abs", CAT, (Operand(FLOAT + SIGNED_INT),), "jnp.abs($0)", same, tags=PRESERVES, yields="nonneg"),
    op("jnp.square", CAT, (ANY_REAL,), "jnp.square($0)", same, tags=PRESERVES, yields="nonneg"),
    op("power", CAT, (ANY_REAL,), "$0 ** $p", same, attrs=_exponent, tags=PRESERVES),
    op("jnp.reciprocal", CAT, (Operand(FLOAT, domain="positive"),), "jnp.reciprocal($0)", same, tags=PRESERVES, weight=0.5, yields="positive"),
    op("jnp.sign", CAT, (Operand(FLOAT + SIGNED_INT),), "jnp.sign($0)", same, tags=PRESERVES, weight=0.5),
    op("fma", CAT, (FLOATS, FLOATS, FLOATS), "$0 * $1 + $2", broadcast, weight=0.7),
)
