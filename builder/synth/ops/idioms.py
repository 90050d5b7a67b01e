"""The idioms real model code is made of, offered to every category as glue: masks with
`jnp.where`, projections with `einsum`, centring and normalizing with `keepdims` reductions,
softmax, reshapes and concatenation. Real code calls these far more often than `jnp.cbrt` or
`jnp.tan`, so a program's filler statements come from here as often as from the arithmetic
and elementwise tables (see `GLUE` in `ops/__init__.py`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..program import Value
from ..specs import FLOAT, MAX_ELEMENTS, TensorSpec
from .base import Attrs, Draw, Operand, Statement, assign, op, same

CAT = ("idiom",)
FLOATS = Operand(FLOAT, 1)
F32 = Operand(("float32",), 1)
WIDTHS = (4, 8, 16, 32, 64)


def _projection(rng: random.Random, spec: TensorSpec) -> list[TensorSpec] | None:
    width = rng.choice(WIDTHS)
    out = spec.size // spec.shape[-1] * width
    return [spec.with_shape((spec.shape[-1], width))] if out <= MAX_ELEMENTS and spec.shape[-1] * width <= MAX_ELEMENTS else None


def _projected(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return specs[0].with_shape((*specs[0].shape[:-1], specs[1].shape[1]))


def _flat(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec | None:
    x = specs[0]
    return x.with_shape((x.shape[0], x.size // x.shape[0])) if x.rank >= 3 else None


def _doubled(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec | None:
    x = specs[0]
    out = x.with_shape((*x.shape[:-1], 2 * x.shape[-1]))
    return out if out.size <= MAX_ELEMENTS else None


def _where_mask(ctx: Draw, x: Value) -> Statement:
    """`jnp.where(mask, x, fill)`: masked positions set to zero or to the dtype's lowest value."""
    mask = ctx.need(x.spec.with_dtype("bool"), avoid=[x])
    fill = ctx.rng.choice(["0.0", "0.0", "-1e9", "jnp.finfo($0.dtype).min"]) if x.spec.dtype == "float32" else "0.0"
    return assign(f"jnp.where($1, $0, {fill})", (x, mask), (x.spec,))


OPS = (
    op("idiom.where_mask", CAT, FLOATS, _where_mask, out_names=("masked",), weight=2.0),
    op("idiom.einsum_proj", CAT, (F32,), "jnp.einsum('...d,de->...e', $0, $1)", _projected, partners=_projection,
       out_names=("proj",), weight=1.5),
    op("idiom.center", CAT, (F32,), "$0 - jnp.mean($0, axis=-1, keepdims=True)", same, out_names=("centered",), weight=1.2),
    op("idiom.normalize_sum", CAT, (Operand(("float32",), 1, domain="positive"),), "$0 / jnp.sum($0, axis=-1, keepdims=True)",
       same, out_names=("weights",), weight=0.8, yields="positive"),
    op("idiom.softmax", CAT, (F32,), "jax.nn.softmax($0, axis=-1)", same, out_names=("probs",), weight=1.5, yields="nonneg"),
    op("idiom.max_keepdims", CAT, (F32,), "$0 - jnp.max($0, axis=-1, keepdims=True)", same, out_names=("shifted",), weight=0.8),
    op("idiom.flatten", CAT, (Operand(FLOAT, 3),), "$0.reshape($0.shape[0], -1)", _flat, out_names=("flat",), weight=0.8),
    op("idiom.concat", CAT, (FLOATS, FLOATS), "jnp.concatenate([$0, $1], axis=-1)", _doubled, out_names=("concat",), weight=0.8),
)
