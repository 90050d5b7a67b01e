"""Conditionals: comparisons, masks, `jnp.where`, clipping, and `lax.cond` with drawn branches."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..program import Tag, Value
from ..specs import BOOL, FLOAT, REAL, TensorSpec
from .base import (
    Attrs,
    Draw,
    Operand,
    Statement,
    as_dtype,
    broadcast_as,
    broadcast_partner,
    constant_literal,
    op,
    same,
)

CAT = ("conditional",)
COMPARISONS = (">", "<", ">=", "<=", "==", "!=")


def _compare_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    cmp = rng.choice(COMPARISONS[:4] if specs[0].is_float else COMPARISONS)
    return {"cmp": cmp, "c": constant_literal(rng, specs[0].dtype) if rng.random() < 0.5 else "0"}


def _where_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec]:
    """`jnp.where(mask, a, b)`: two branches of one dtype that broadcast against the mask."""
    dtype = rng.choice(("float32", "float32", "int32", "float16"))
    return [spec.with_dtype(dtype), broadcast_partner(rng, spec.with_dtype(dtype))[0]]


def _where_out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return broadcast_as(specs[1].dtype)(specs, attrs)


def _clip_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    if specs[0].is_float:
        lo, hi = rng.choice([("-1.0", "1.0"), ("0.0", "6.0"), ("-3.0", "3.0"), ("0.0", "1.0")])
    else:
        lo, hi = rng.choice([("0", "5"), ("1", "3"), ("0", "100")])
    return {"lo": lo, "hi": hi}


def _predicate(rng: random.Random, name: str, spec: TensorSpec) -> str:
    if spec.rank == 0:
        return f"{name} > 0"
    return rng.choice([f"jnp.sum({name}) > 0", f"jnp.mean({name}) > 0.5", f"jnp.max({name}) < 1.0", f"{name}.sum() < 0"])


def _cond(ctx: Draw, x: Value) -> Statement:
    then = ctx.body([x.spec], hint="v")
    other = ctx.body([x.spec], hint="v")
    pred = _predicate(ctx.rng, "$0", x.spec)
    then_name, else_name = ctx.fresh("true_fn"), ctx.fresh("false_fn")
    lines = (*then.define(then_name), *other.define(else_name), f"$out0 = lax.cond({pred}, {then_name}, {else_name}, $0)")
    return Statement((x,), lines, (x.spec,))


OPS = (
    op("compare_scalar", CAT, (Operand(REAL),), "$0 $cmp $c", as_dtype("bool"), attrs=_compare_attrs, out_names=("mask",), weight=1.5),
    op("compare", CAT, (Operand(REAL), Operand(REAL)), "$0 $cmp $1", broadcast_as("bool"), partners=broadcast_partner, attrs=_compare_attrs, out_names=("mask",)),
    op("jnp.where", CAT, (Operand(BOOL), Operand(REAL), Operand(REAL)), "jnp.where($0, $1, $2)", _where_out, partners=_where_partner, out_names=("sel",), weight=2.0),
    op("jnp.where_zero", CAT, (Operand(FLOAT),), "jnp.where($0 > 0, $0, 0.0)", same, out_names=("sel",), tags=(Tag.PRESERVES,)),
    op("jnp.clip", CAT, (Operand(REAL),), "jnp.clip($0, $lo, $hi)", same, attrs=_clip_attrs, out_names=("clipped",), tags=(Tag.PRESERVES,)),
    op("jnp.logical_and", CAT, (Operand(BOOL), Operand(BOOL)), "jnp.logical_and($0, $1)", broadcast_as("bool"), partners=broadcast_partner, out_names=("mask",), weight=0.5),
    op("jnp.logical_or", CAT, (Operand(BOOL), Operand(BOOL)), "$0 | $1", broadcast_as("bool"), partners=broadcast_partner, out_names=("mask",), weight=0.5),
    op("jnp.logical_not", CAT, (Operand(BOOL),), "~$0", same, out_names=("mask",), weight=0.4),
    op("mask_multiply", CAT, (Operand(BOOL),), "$1 * $0.astype($1.dtype)", lambda s, a: s[1], partners=lambda r, s: [s.with_dtype("float32")], out_names=("masked",)),
    op("lax.select", CAT, (Operand(BOOL), Operand(FLOAT), Operand(FLOAT)), "lax.select($0, $1, $2)", lambda s, a: s[1], partners=lambda r, s: [s.with_dtype("float32")] * 2, out_names=("sel",), weight=0.5),
    op("jnp.sign_select", CAT, (Operand(FLOAT),), "jnp.where($0 >= 0, $0 * 2.0, $0 * 0.5)", same, out_names=("sel",), tags=(Tag.PRESERVES,), weight=0.5),
    op("lax.cond", CAT, Operand(FLOAT), _cond, out_names=("branch",)),
)
