"""Composite blocks that people write again and again: softmax, normalization, dense layers."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..program import Value
from ..specs import MAX_ELEMENTS, TensorSpec
from .base import Attrs, Draw, Operand, Statement, broadcast, op, same

CAT = ("composite",)
F32 = ("float32",)
WIDTHS = (4, 8, 16, 32, 64)


def _last_axis(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    return {"axis": rng.choice([-1, -1, specs[0].rank - 1])}


def _dense_partners(rng: random.Random, spec: TensorSpec) -> list[TensorSpec] | None:
    n = rng.choice(WIDTHS)
    w = spec.with_shape((spec.shape[-1], n))
    b = spec.with_shape((n,))
    return [w, b] if w.size <= MAX_ELEMENTS and spec.size // spec.shape[-1] * n <= MAX_ELEMENTS else None


def _dense_out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return specs[0].with_shape((*specs[0].shape[:-1], specs[1].shape[1]))


def _layer_norm(ctx: Draw, x: Value) -> Statement:
    """Layer norm written out, its statistics named after its result (`normed_mean`)."""
    eps = ctx.rng.choice(["1e-5", "1e-6", "1e-12"])
    lines = (
        "${out0}_mean = jnp.mean($0, axis=-1, keepdims=True)",
        "${out0}_var = jnp.var($0, axis=-1, keepdims=True)",
        f"$out0 = ($0 - ${{out0}}_mean) * lax.rsqrt(${{out0}}_var + {eps})",
    )
    return Statement((x,), lines, (x.spec,))


def _scale_shift_partners(rng: random.Random, spec: TensorSpec) -> list[TensorSpec]:
    return [spec.with_shape((spec.shape[-1],))] * 2


OPS = (
    op("jax.nn.softmax", CAT, (Operand(F32, 1),), "jax.nn.softmax($0, axis=$axis)", same, attrs=_last_axis, out_names=("probs",), weight=2.0, yields="nonneg"),
    op("jax.nn.log_softmax", CAT, (Operand(F32, 1),), "jax.nn.log_softmax($0, axis=$axis)", same, attrs=_last_axis, out_names=("logp",)),
    op("layer_norm", CAT, Operand(F32, 1), _layer_norm, out_names=("normed",), weight=1.5),
    op("scale_shift", CAT, (Operand(F32, 1),), "$0 * $1 + $2", broadcast, partners=_scale_shift_partners, out_names=("h",)),
    op("dense_tanh", CAT, (Operand(F32, 1, 3),), "jnp.tanh($0 @ $1 + $2)", _dense_out, partners=_dense_partners, out_names=("h",), weight=1.5),
    op("dense_relu", CAT, (Operand(F32, 1, 3),), "jax.nn.relu($0 @ $1 + $2)", _dense_out, partners=_dense_partners, out_names=("h",), weight=1.5),
    op("dense", CAT, (Operand(F32, 1, 3),), "jnp.dot($0, $1) + $2", _dense_out, partners=_dense_partners, out_names=("logits",)),
    op("l2_normalize", CAT, (Operand(F32, 1),), "$0 / (jnp.linalg.norm($0, axis=-1, keepdims=True) + 1e-6)", same, out_names=("unit",)),
    op("standardize", CAT, (Operand(F32, 1),), "jax.nn.standardize($0, axis=-1)", same, out_names=("z",), weight=0.5),
    op("mse", CAT, (Operand(F32, 1), Operand(F32, 1)), "jnp.mean(($0 - $1) ** 2)", lambda s, a: s[0].with_shape(()), out_names=("loss",)),
    op("logsumexp_center", CAT, (Operand(F32, 1),), "$0 - jax.nn.logsumexp($0, axis=-1, keepdims=True)", same, out_names=("logp",), weight=0.5),
)
