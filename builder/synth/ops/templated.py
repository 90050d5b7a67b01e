"""Ops drawn by a function of the anchor value that returns the statement's text.

Many ops pick their attributes and partners together (a slice and the shape it leaves, a
contraction and the partner it needs): one `build(ctx, x)` function draws all of it and
returns a `Built`. This module declares no ops itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from ..program import Tag, Value
from ..specs import MAX_ELEMENTS, TensorSpec
from .base import Draw, Drawn, OpDecl, Operand


class Built(NamedTuple):
    """One drawn statement. `text` and `setup` name the inputs {0} (the anchor), {1}, ..."""

    text: str  # the right-hand side bound to the outputs
    extra: tuple[Value, ...]  # inputs besides the anchor
    outputs: tuple[TensorSpec, ...]
    setup: tuple[str, ...] = ()  # statements before it (a well-posed matrix, a cast)




def partner(ctx: Draw, x: Value, spec: TensorSpec | None = None) -> Value | None:
    """A value of `spec` (default: the anchor's) for a binary op other than the anchor, or None
    when only the anchor is to be had: `a & a` or `lax.complex(t, t)` is not code anyone writes."""
    spec = spec or x.spec
    for _ in range(3):
        y = ctx.need(spec)
        if y.name != x.name:
            return y
    return None


Build = Callable[[Draw, Value], "Built | tuple[Any, ...] | None"]


def render_built(ins: Sequence[str], outs: Sequence[str], attrs: Mapping[str, Any]) -> list[str]:
    built: Built = attrs["built"]
    setup = [line.format(*ins) for line in built.setup]
    return [*setup, f"{', '.join(outs)} = {built.text.format(*ins)}"]


def templated_op(name: str, categories: Sequence[str], operand: Operand, build: Build, out_names: Sequence[str] = ("h",),
                 differentiable: bool = True, weight: float = 1.0, tags: Sequence[Tag] = ()) -> OpDecl:
    """An op whose anchor fits `operand` and whose statement `build(ctx, anchor)` draws."""

    def draw(ctx: Draw) -> Drawn | None:
        x = ctx.pick(operand)
        if x is None:
            return None
        result = build(ctx, x)
        if result is None:
            return None
        built = Built(*result)
        if any(s.size > MAX_ELEMENTS or 0 in s.shape for s in built.outputs):
            return None
        return Drawn((x, *built.extra), {"built": built}, tuple(built.outputs))

    return OpDecl(name, tuple(categories), (operand,), draw, render_built, tuple(out_names), differentiable, weight, frozenset(tags))
