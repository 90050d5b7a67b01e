"""Elementwise math and activations: the transcendental and piecewise functions of ML code."""

from __future__ import annotations

from ..program import Tag
from ..specs import FLOAT
from .base import OpDecl, Operand, op, same

CAT = ("elementwise",)
FLOATS = Operand(FLOAT)


POSITIVE, NONNEG = "positive", "nonneg"


def unary(name: str, template: str | None = None, weight: float = 1.0, differentiable: bool = True, needs: str = "",
          yields: str = "") -> OpDecl:
    """A spec-preserving function of one float value; the template defaults to calling `name` on it.
    `needs` is the domain its operand must lie in (log: positive), `yields` what its result is known to be."""
    template = template or f"{name}($0)"
    return op(name, CAT, (Operand(FLOAT, domain=needs),), template, same, weight=weight, differentiable=differentiable,
              tags=(Tag.PRESERVES,), yields=yields)


OPS = (
    unary("jnp.exp", yields=POSITIVE),
    unary("jnp.log", needs=POSITIVE),
    unary("jnp.log1p", needs=NONNEG, yields=NONNEG),
    unary("jnp.expm1", weight=0.5),
    unary("jnp.sin", weight=0.4),
    unary("jnp.cos", weight=0.4),
    unary("jnp.tan", weight=0.08),
    unary("jnp.tanh", weight=2.5),
    unary("jnp.sqrt", needs=NONNEG, yields=NONNEG),
    unary("lax.rsqrt", "lax.rsqrt($0 + 1e-6)", weight=0.5, needs=NONNEG, yields=POSITIVE),
    unary("jnp.cbrt", weight=0.08),
    unary("jax.nn.sigmoid", weight=1.5, yields=NONNEG),
    unary("jax.nn.relu", weight=3.0, yields=NONNEG),
    unary("jax.nn.gelu", weight=2.0),
    unary("jax.nn.gelu_exact", "jax.nn.gelu($0, approximate=False)", weight=0.5),
    unary("jax.nn.silu", weight=1.5),
    unary("jax.nn.softplus", yields=NONNEG),
    unary("jax.nn.elu", weight=0.5),
    unary("jax.nn.leaky_relu", "jax.nn.leaky_relu($0, negative_slope=0.01)", weight=0.5),
    unary("jax.nn.relu6", weight=0.3, yields=NONNEG),
    unary("jax.nn.hard_tanh", weight=0.3),
    unary("jnp.floor", weight=0.2),
    unary("jnp.ceil", weight=0.1),
    unary("jnp.round", weight=0.15),
    unary("jnp.arctan", weight=0.1),
    unary("jnp.sinh", weight=0.08),
    unary("jnp.cosh", weight=0.08, yields=POSITIVE),
    unary("jnp.arcsinh", weight=0.08),
    unary("lax.erf", weight=0.5),
    unary("jnp.exp2", weight=0.08, yields=POSITIVE),
    unary("jnp.log2", weight=0.1, needs=POSITIVE),
    op("jnp.arctan2", CAT, (FLOATS, FLOATS), "jnp.arctan2($0, $1)", same, weight=0.1),
    op("jnp.hypot", CAT, (FLOATS, FLOATS), "jnp.hypot($0, $1)", same, weight=0.08),
)
