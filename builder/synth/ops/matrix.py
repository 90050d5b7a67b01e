"""Matrix products and matrix-shaped plumbing: matmul, dot, einsum, transposes, outer products."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..specs import FLOAT, MAX_ELEMENTS, TensorSpec
from .base import Attrs, Operand, op

CAT = ("matrix",)
MATMUL_DTYPES = ("float32", "float32", "bfloat16", "float16", "int32")
INNER = (2, 3, 4, 8, 16, 32)


def _fits(*specs: TensorSpec) -> bool:
    return all(s.size <= MAX_ELEMENTS for s in specs)


def _matmul_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec] | None:
    """rhs for `lhs @ rhs`: a matrix, a vector, or a batch of matrices sharing the batch dims."""
    k = spec.shape[-1]
    n = rng.choice(INNER)
    if spec.rank == 1 or rng.random() < 0.15:
        rhs = (k,) if spec.rank > 1 else (k, n)
    elif spec.rank == 2:
        rhs = (k, n)
    else:
        rhs = (*spec.shape[:-2], k, n) if rng.random() < 0.7 else (k, n)
    out = TensorSpec(rhs, spec.dtype)
    return [out] if _fits(out) else None


def _matmul_out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec | None:
    a, b = specs[0].shape, specs[1].shape
    if len(a) == 1 and len(b) == 1:
        shape: tuple[int, ...] = ()
    elif len(a) == 1:
        shape = (*b[:-2], b[-1])
    elif len(b) == 1:
        shape = a[:-1]
    else:
        batch = a[:-2] if len(a) >= len(b) else b[:-2]
        shape = (*batch, a[-2], b[-1])
    return TensorSpec(shape, specs[0].dtype)


def _transposed_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec]:
    return [spec.with_shape((rng.choice(INNER), spec.shape[1]))]


def _einsum_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec] | None:
    # "bij,bjk->bik": a batched matmul written as an einsum
    out = spec.with_shape((spec.shape[0], spec.shape[2], rng.choice(INNER)))
    return [out] if _fits(out) else None


def _square(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs | None:
    return {} if specs[0].shape[-1] == specs[0].shape[-2] else None


def _swap_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    rank = specs[0].rank
    a, b = rng.sample(range(rank), 2)
    return {"a": a, "b": b}


def _swap_out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    shape = list(specs[0].shape)
    shape[attrs["a"]], shape[attrs["b"]] = shape[attrs["b"]], shape[attrs["a"]]
    return specs[0].with_shape(tuple(shape))


def _perm_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs:
    perm = list(range(specs[0].rank))
    rng.shuffle(perm)
    return {"perm": tuple(perm), "text": "(" + ", ".join(map(str, perm)) + ")"}


def _outer_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec] | None:
    other = TensorSpec((rng.choice(INNER),), spec.dtype)
    return [other] if spec.shape[0] * other.shape[0] <= MAX_ELEMENTS else None


OPS = (
    op("matmul", CAT, (Operand(MATMUL_DTYPES, 1, 4),), "$0 @ $1", _matmul_out, partners=_matmul_partner, out_names=("h",), weight=3.0),
    op("jnp.matmul", CAT, (Operand(MATMUL_DTYPES, 2, 3),), "jnp.matmul($0, $1)", _matmul_out, partners=_matmul_partner, out_names=("h",)),
    op("jnp.dot", CAT, (Operand(MATMUL_DTYPES, 1, 2),), "jnp.dot($0, $1)", _matmul_out, partners=_matmul_partner, out_names=("h",)),
    op("matmul_transposed", CAT, (Operand(FLOAT, 2, 2),), "$0 @ $1.T", lambda s, a: s[0].with_shape((s[0].shape[0], s[1].shape[0])), partners=_transposed_partner, out_names=("scores",)),
    op("einsum_bmm", CAT, (Operand(FLOAT, 3, 3),), "jnp.einsum('bij,bjk->bik', $0, $1)", lambda s, a: s[0].with_shape((s[0].shape[0], s[0].shape[1], s[1].shape[2])), partners=_einsum_partner, out_names=("h",)),
    op("einsum_trace", CAT, (Operand(FLOAT, 2, 2),), "jnp.einsum('ii->', $0)", lambda s, a: s[0].with_shape(()), attrs=_square, out_names=("tr",), weight=0.3),
    op("jnp.trace", CAT, (Operand(FLOAT, 2, 2),), "jnp.trace($0)", lambda s, a: s[0].with_shape(()), attrs=_square, out_names=("tr",), weight=0.3),
    op("jnp.diagonal", CAT, (Operand(FLOAT, 2, 2),), "jnp.diagonal($0)", lambda s, a: s[0].with_shape((min(s[0].shape),)), out_names=("diag",), weight=0.4),
    op("transpose", CAT, (Operand((*FLOAT, "int32"), 2, 2),), "$0.T", lambda s, a: s[0].with_shape(s[0].shape[::-1]), out_names=("t",)),
    op("jnp.transpose", CAT, (Operand(FLOAT, 3, 4),), "jnp.transpose($0, $text)", lambda s, a: s[0].with_shape(tuple(s[0].shape[i] for i in a["perm"])), attrs=_perm_attrs, out_names=("t",)),
    op("jnp.swapaxes", CAT, (Operand(FLOAT, 2, 4),), "jnp.swapaxes($0, $a, $b)", _swap_out, attrs=_swap_attrs, out_names=("t",), weight=0.5),
    op("jnp.outer", CAT, (Operand(FLOAT, 1, 1),), "jnp.outer($0, $1)", lambda s, a: s[0].with_shape((s[0].shape[0], s[1].shape[0])), partners=_outer_partner, out_names=("outer",), weight=0.5),
    op("jnp.vdot", CAT, (Operand(("float32",), 1, 1), Operand(("float32",), 1, 1)), "jnp.vdot($0, $1)", lambda s, a: s[0].with_shape(()), out_names=("dot",), weight=0.3),
    op("jnp.inner", CAT, (Operand(FLOAT, 1, 2),), "jnp.inner($0, $1)", lambda s, a: s[0].with_shape(s[0].shape[:-1] + s[1].shape[:-1]), partners=lambda r, s: [s.with_shape((r.choice(INNER), s.shape[-1]))] if s.rank == 2 else [s], out_names=("h",), weight=0.4),
)
