"""Reductions over axes: sums, means, extrema, statistics, logical folds."""

from __future__ import annotations

from ..specs import BOOL, FLOAT, REAL
from .base import Operand, axis_attrs, op, reduce_out

CAT = ("reduction",)
SUMMABLE = (*FLOAT, "int32")


def reduction(name: str, template: str, dtypes: tuple[str, ...], out_dtype: str | None = None, weight: float = 1.0, differentiable: bool = True) -> object:
    return op(
        name, CAT, (Operand(dtypes, 1),), template, reduce_out(out_dtype), attrs=axis_attrs,
        out_names=("r",) if out_dtype is None else ("idx",), weight=weight, differentiable=differentiable,
    )


def _single_axis(rng, specs):  # argmax/argmin take one axis
    attrs = axis_attrs(rng, specs)
    if attrs is None or len(attrs["axes"]) != 1:
        return None
    return attrs


OPS = (
    # Sums of narrow integers widen (NumPy semantics), so they take floats and int32 only.
    reduction("jnp.sum", "jnp.sum($0, $kw)", SUMMABLE, weight=3.0),
    reduction("jnp.mean", "jnp.mean($0, $kw)", FLOAT, weight=2.0),
    reduction("jnp.max", "jnp.max($0, $kw)", REAL, weight=1.5),
    reduction("jnp.min", "jnp.min($0, $kw)", REAL),
    reduction("jnp.prod", "jnp.prod($0, $kw)", FLOAT, weight=0.4),
    reduction("jnp.var", "jnp.var($0, $kw)", ("float32",), weight=0.7),
    reduction("jnp.std", "jnp.std($0, $kw)", ("float32",), weight=0.5),
    reduction("jax.nn.logsumexp", "jax.nn.logsumexp($0, $kw)", ("float32", "float16"), weight=0.7),
    reduction("jnp.any", "jnp.any($0, $kw)", BOOL, weight=0.5),
    reduction("jnp.all", "jnp.all($0, $kw)", BOOL, weight=0.5),
    reduction("x.sum", "$0.sum($kw)", SUMMABLE),
    reduction("jnp.linalg.norm_axis", "jnp.sqrt(jnp.sum($0 ** 2, $kw))", ("float32",), weight=0.5),
    op("jnp.argmax", CAT, (Operand(REAL, 1),), "jnp.argmax($0, $kw)", reduce_out("int32"), attrs=_single_axis, out_names=("idx",), differentiable=False),
    op("jnp.argmin", CAT, (Operand(REAL, 1),), "jnp.argmin($0, $kw)", reduce_out("int32"), attrs=_single_axis, out_names=("idx",), differentiable=False, weight=0.5),
    op("jnp.count_nonzero", CAT, (Operand(REAL + BOOL, 1),), "jnp.count_nonzero($0, $kw)", reduce_out("int32"), attrs=_single_axis, out_names=("count",), differentiable=False, weight=0.3),
)
