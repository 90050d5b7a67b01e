"""Elementwise math and activations: the transcendental and piecewise functions of ML code."""

from __future__ import annotations

from ..specs import FLOAT
from .base import Operand, op, same

CAT = ("elementwise",)
FLOATS = Operand(FLOAT)


def unary(name: str, template: str, weight: float = 1.0, differentiable: bool = True) -> object:
    return op(name, CAT, (FLOATS,), template, same, weight=weight, differentiable=differentiable, tags=("preserves",))


OPS = (
    unary("jnp.exp", "jnp.exp({0})"),
    unary("jnp.log", "jnp.log(jnp.abs({0}) + 1e-6)"),
    unary("jnp.log1p", "jnp.log1p(jnp.abs({0}))"),
    unary("jnp.expm1", "jnp.expm1({0})", weight=0.5),
    unary("jnp.sin", "jnp.sin({0})"),
    unary("jnp.cos", "jnp.cos({0})"),
    unary("jnp.tan", "jnp.tan({0})", weight=0.3),
    unary("jnp.tanh", "jnp.tanh({0})", weight=2.0),
    unary("jnp.sqrt", "jnp.sqrt(jnp.abs({0}))"),
    unary("lax.rsqrt", "lax.rsqrt(jnp.abs({0}) + 1e-5)", weight=0.5),
    unary("jnp.cbrt", "jnp.cbrt({0})", weight=0.3),
    unary("jax.nn.sigmoid", "jax.nn.sigmoid({0})", weight=1.5),
    unary("jax.nn.relu", "jax.nn.relu({0})", weight=2.0),
    unary("jax.nn.gelu", "jax.nn.gelu({0})"),
    unary("jax.nn.gelu_exact", "jax.nn.gelu({0}, approximate=False)", weight=0.5),
    unary("jax.nn.silu", "jax.nn.silu({0})"),
    unary("jax.nn.softplus", "jax.nn.softplus({0})"),
    unary("jax.nn.elu", "jax.nn.elu({0})", weight=0.5),
    unary("jax.nn.leaky_relu", "jax.nn.leaky_relu({0}, negative_slope=0.01)", weight=0.5),
    unary("jax.nn.relu6", "jax.nn.relu6({0})", weight=0.3),
    unary("jax.nn.hard_tanh", "jax.nn.hard_tanh({0})", weight=0.3),
    unary("jnp.floor", "jnp.floor({0})", weight=0.4),
    unary("jnp.ceil", "jnp.ceil({0})", weight=0.3),
    unary("jnp.round", "jnp.round({0})", weight=0.3),
    unary("jnp.arctan", "jnp.arctan({0})", weight=0.4),
    unary("jnp.sinh", "jnp.sinh({0})", weight=0.3),
    unary("jnp.cosh", "jnp.cosh({0})", weight=0.3),
    unary("jnp.arcsinh", "jnp.arcsinh({0})", weight=0.3),
    unary("lax.erf", "lax.erf({0})", weight=0.5),
    unary("jnp.exp2", "jnp.exp2({0})", weight=0.3),
    unary("jnp.log2", "jnp.log2(jnp.abs({0}) + 1.0)", weight=0.3),
    op("jnp.arctan2", CAT, (FLOATS, FLOATS), "jnp.arctan2({0}, {1})", same, weight=0.4),
    op("jnp.hypot", CAT, (FLOATS, FLOATS), "jnp.hypot({0}, {1})", same, weight=0.3),
)
