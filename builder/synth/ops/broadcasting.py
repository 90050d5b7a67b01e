"""Broadcasting and shape plumbing: the implicit and explicit ways arrays meet."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..program import tuple_literal
from ..specs import ALL, FLOAT, MAX_ELEMENTS, REAL, TensorSpec
from .base import Attrs, Operand, broadcast, op

CAT = ("broadcasting",)


def _vector_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec] | None:
    """A row vector against the last axis, or a column against the second to last."""
    if spec.rank < 2:
        return None
    if rng.random() < 0.6:
        return [spec.with_shape((spec.shape[-1],))]
    return [spec.with_shape((*spec.shape[-2:-1], 1))]


def _outer_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec] | None:
    n = rng.choice([2, 3, 4, 8, 16])
    return [TensorSpec((n,), spec.dtype)] if spec.size * n <= MAX_ELEMENTS else None


def _outer(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return TensorSpec((specs[0].shape[0], specs[1].shape[0]), specs[0].dtype)


def _expand_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs | None:
    rank = specs[0].rank
    if rank >= 4:
        return None
    axis = rng.randint(0, rank)
    return {"axis": axis, "neg": rng.choice([axis, axis - rank - 1])}


def _expand_out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    shape = list(specs[0].shape)
    shape.insert(attrs["axis"], 1)
    return specs[0].with_shape(tuple(shape))


def _broadcast_to_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs | None:
    spec = specs[0]
    if spec.rank >= 4:
        return None
    lead = rng.choice([2, 3, 4, 8])
    shape = (lead, *tuple(rng.choice([2, 4, 8]) if d == 1 else d for d in spec.shape))
    if TensorSpec(shape, spec.dtype).size > MAX_ELEMENTS:
        return None
    return {"shape": shape, "text": tuple_literal(shape)}


def _squeeze_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs | None:
    ones = [i for i, d in enumerate(specs[0].shape) if d == 1]
    if not ones:
        return None
    return {"axis": rng.choice(ones)}


def _squeeze_out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return specs[0].with_shape(tuple(d for i, d in enumerate(specs[0].shape) if i != attrs["axis"]))


def _reshape_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs | None:
    spec = specs[0]
    if spec.rank == 0:
        return None
    size = spec.size
    divisors = [d for d in range(2, size) if size % d == 0]
    roll = rng.random()
    if roll < 0.3 or not divisors:
        shape: tuple[int, ...] = (size,)
        text = "-1"
    else:
        d = rng.choice(divisors)
        shape = (d, size // d)
        text = f"{d}, -1" if rng.random() < 0.5 else f"{d}, {size // d}"
    if shape == spec.shape:
        return None
    return {"shape": shape, "text": text}


def _tile_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs | None:
    spec = specs[0]
    if spec.rank == 0:
        return None
    reps = tuple(rng.choice([1, 2, 3]) for _ in spec.shape)
    if spec.size * max(1, eval("*".join(map(str, reps)))) > MAX_ELEMENTS:
        return None
    return {"reps": reps, "text": tuple_literal(reps)}


def _tile_out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return specs[0].with_shape(tuple(d * r for d, r in zip(specs[0].shape, attrs["reps"], strict=False)))


OPS = (
    op("add_row_vector", CAT, (Operand(REAL, 2),), "$0 + $1", broadcast, partners=_vector_partner, weight=2.0),
    op("mul_row_vector", CAT, (Operand(REAL, 2),), "$0 * $1", broadcast, partners=_vector_partner, weight=1.5),
    op("sub_row_vector", CAT, (Operand(FLOAT, 2),), "$0 - $1", broadcast, partners=_vector_partner),
    op("outer_add", CAT, (Operand(FLOAT, 1, 1),), "$0[:, None] + $1[None, :]", _outer, partners=_outer_partner),
    op("outer_mul", CAT, (Operand(FLOAT, 1, 1),), "$0[:, None] * $1[None, :]", _outer, partners=_outer_partner),
    op("jnp.expand_dims", CAT, (Operand(ALL, 0, 3),), "jnp.expand_dims($0, $neg)", _expand_out, attrs=_expand_attrs),
    op("jnp.broadcast_to", CAT, (Operand(ALL, 0, 3),), "jnp.broadcast_to($0, $text)", lambda s, a: s[0].with_shape(a["shape"]), attrs=_broadcast_to_attrs),
    op("jnp.squeeze", CAT, (Operand(ALL, 1),), "jnp.squeeze($0, axis=$axis)", _squeeze_out, attrs=_squeeze_attrs),
    op("reshape", CAT, (Operand(ALL, 1),), "$0.reshape($text)", lambda s, a: s[0].with_shape(a["shape"]), attrs=_reshape_attrs),
    op("jnp.tile", CAT, (Operand(ALL, 1, 3),), "jnp.tile($0, $text)", _tile_out, attrs=_tile_attrs, weight=0.5),
)
