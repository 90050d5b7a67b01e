"""Constants built inside a program when an op needs a partner and no argument slot is left.

Real code builds few arrays in its body, and those it does build are structural: positions
(`jnp.arange`), length masks (`jnp.arange(n) < k`), causal masks (`jnp.tril`), ones and zeros.
Learned values (weights, scales, tables) arrive as parameters instead (the generator's `need`).
"""

from __future__ import annotations

from typing import Any

from ..program import Node, Value
from ..specs import INT, TensorSpec
from .base import Draw, Statement, op


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _expression(attrs: dict[str, Any]) -> str:
    """The constant's expression: a scalar, a length or causal mask, a ramp, or ones."""
    spec: TensorSpec = attrs["spec"]
    shape, dtype, form = spec.shape, f"jnp.{spec.dtype}", attrs["form"]
    last = shape[-1] if shape else 1
    if not shape:
        value = {"bool": "True", "complex64": "1.0"}.get(spec.dtype, "1" if spec.dtype in INT else "1.0")
        expr = f"jnp.array({value}, dtype={dtype})"
    elif spec.dtype == "bool":
        square = len(shape) == 2 and shape[0] == shape[1]
        row = f"jnp.arange({last}) < {attrs['cut'] % last + 1}"
        expr = f"jnp.tril(jnp.ones({_shape(shape)}, dtype=bool))" if square and form else (
            row if len(shape) == 1 else f"jnp.broadcast_to({row}, {_shape(shape)})")
    elif (spec.dtype in INT and not attrs["positive"]) or (spec.is_float and form):
        row = f"jnp.arange({last}, dtype={dtype})"
        expr = row if len(shape) == 1 else f"jnp.broadcast_to({row}, {_shape(shape)})"
    else:
        expr = f"jnp.ones({_shape(shape)}, dtype={dtype})"
    return expr


def _no_draw(ctx: Draw) -> Statement | None:
    return None


CONSTANT = op("constant", ("creation",), (), _no_draw, out_names=("const",))  # built on request by `constant_node`, never drawn by itself

OPS = (CONSTANT,)


def constant_node(ctx: Draw, spec: TensorSpec, positive: bool = False) -> Node:
    """A structural constant of `spec`; with `positive`, ones (a divisor, a log's operand)."""
    attrs = {"spec": spec, "form": ctx.rng.random() < 0.5 and not positive, "cut": ctx.rng.randrange(1 << 16), "positive": positive}
    hint = "mask" if spec.dtype == "bool" else "const"
    return Node(CONSTANT, (), {**attrs, "lines": (f"$out0 = {_expression(attrs)}",)}, (Value(ctx.fresh(hint), spec),))


__all__ = ["CONSTANT", "OPS", "constant_node"]
