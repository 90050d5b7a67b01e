"""Constants built inside a program when an op needs a partner and no argument slot is left.

Real JAX code makes such arrays from iota-like forms, never from embedded literals.
"""

from __future__ import annotations

from typing import Any

from ..program import Node, Value
from ..specs import INT, TensorSpec
from .base import Draw, Drawn, OpDecl, Operand


def _render(ins: list[str], outs: list[str], attrs: dict[str, Any]) -> list[str]:
    spec: TensorSpec = attrs["spec"]
    size, shape = spec.size, spec.shape
    reshape = {0: ".reshape(())", 1: ""}.get(len(shape), f".reshape({', '.join(map(str, shape))})")
    if spec.dtype == "bool":
        expr = f"(jnp.arange({size}){reshape} % 2 == 0)"
    elif spec.dtype in INT:
        expr = f"(jnp.arange({size}) % {attrs['modulus']}).astype(jnp.{spec.dtype}){reshape}"
    elif spec.dtype == "complex64":
        expr = f"jnp.exp(1j * jnp.linspace(0.0, 3.0, {size}, dtype=jnp.float32)){reshape}.astype(jnp.complex64)"
    else:
        lo, hi = attrs["range"]
        expr = f"jnp.linspace({lo}, {hi}, {size}, dtype=jnp.{spec.dtype}){reshape}"
    return [f"{outs[0]} = {expr}"]


def _no_draw(ctx: Draw) -> Drawn | None:
    return None


CONSTANT = OpDecl(
    name="jnp.linspace",
    categories=("creation",),
    operands=(),
    draw=_no_draw,  # built on request by `constant_node`, never drawn by itself
    render=_render,
    out_names=("const",),
)

def _render_fold(ins: list[str], outs: list[str], attrs: dict[str, Any]) -> list[str]:
    terms = []
    for name, dtype in zip(ins, attrs["dtypes"], strict=False):
        if dtype == "float32":
            terms.append(f"jnp.mean({name})")
        elif dtype == "complex64":
            terms.append(f"jnp.mean(jnp.abs({name}))")
        else:
            terms.append(f"jnp.mean({name}.astype(jnp.float32))")
    return [f"{outs[0]} = " + " + ".join(terms)]


FOLD = OpDecl(
    name="fold_terms",
    categories=("creation",),
    operands=(),
    draw=_no_draw,  # built by the generator to gather results nobody consumed
    render=_render_fold,
    out_names=("aux",),
)

OPS = (CONSTANT, FOLD)


def fold_node(ctx: Draw, values: list[Value]) -> Node:
    """One float32 scalar that sums the means of `values`."""
    attrs = {"dtypes": tuple(v.spec.dtype for v in values)}
    return Node(FOLD, tuple(values), attrs, (Value(ctx.fresh("aux"), TensorSpec((), "float32")),))


def constant_node(ctx: Draw, spec: TensorSpec) -> Node:
    attrs = {
        "spec": spec,
        "range": ctx.rng.choice([("-1.0", "1.0"), ("0.0", "1.0"), ("-3.0", "3.0"), ("0.1", "2.0")]),
        "modulus": ctx.rng.choice([3, 5, 7]),
    }
    return Node(CONSTANT, (), attrs, (Value(ctx.fresh("const"), spec),))


__all__ = ["CONSTANT", "OPS", "Operand", "constant_node"]
