"""Multi-line blocks: ops that write several statements (a layer, a train step, a sampler with
its key split) and bind their own result names.

A block's draw function returns a `Piece`: the values it reads, its lines, and the specs and
name hints of what it binds. Lines name the results `$0`, `$1`, ... (and whatever other
placeholders the caller fills, such as `$k0` for a PRNG subkey); temporaries come from
`ctx.fresh`, so nothing collides with the rest of the program.

A block built around one value of a declared kind is an `anchored` block: the constructor picks
that value (as `op` picks its anchor) and the draw function starts from it; a block that picks
its own inputs (several, or with a fallback) is a plain `block`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..program import Tag, Value
from ..specs import MAX_ELEMENTS, TensorSpec
from .base import Draw, Drawn, OpDecl, Operand

_PLACEHOLDER = re.compile(r"\$(\w+)")


@dataclass(frozen=True)
class Piece:
    """What a block draws: inputs, lines with `$i` placeholders, result specs and name hints.

    `names` overrides hints with exact names, for results that are paths into a pytree the
    block binds itself (`new_params['w']`)."""

    inputs: tuple[Value, ...]
    lines: tuple[str, ...]
    specs: tuple[TensorSpec, ...]
    hints: tuple[str, ...]
    names: tuple[str, ...] = ()
    helpers: tuple[str, ...] = field(default=())
    trips: tuple[int, ...] = ()  # trip counts of the loops its lines write, in source order (-1: data-dependent)


def fill(lines: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """Replace `$name` placeholders."""
    return tuple(_PLACEHOLDER.sub(lambda m: values[m.group(1)], line) for line in lines)


def render_lines(ins: Sequence[str], outs: Sequence[str], attrs: Mapping[str, Any]) -> list[str]:
    """A block's lines were written at draw time, result names included."""
    return list(attrs["lines"])


def finish(ctx: Draw, piece: Piece, prologue: Sequence[str] = (), extra: Mapping[str, str] | None = None) -> Drawn | None:
    """Name the results, fill the placeholders and hand the generator a `Drawn`."""
    if any(s.size > MAX_ELEMENTS for s in piece.specs):
        return None
    names = piece.names or tuple(ctx.fresh(h) for h in piece.hints)
    values = {str(i): n for i, n in enumerate(names)} | dict(extra or {})
    for helper in piece.helpers:
        ctx.helper(helper)
    return Drawn(piece.inputs, {"lines": (*prologue, *fill(piece.lines, values)), "trips": piece.trips}, piece.specs, names)


def block(
    name: str,
    categories: Sequence[str],
    draw_piece: Callable[[Draw], Piece | None],
    weight: float = 1.0,
    differentiable: bool = True,
    tags: Sequence[Tag] = (),
) -> OpDecl:
    """A catalogue entry for a block drawn by `draw_piece`."""

    def draw(ctx: Draw) -> Drawn | None:
        piece = draw_piece(ctx)
        return None if piece is None else finish(ctx, piece)

    return OpDecl(
        name=name,
        categories=tuple(categories),
        operands=(),
        draw=draw,
        render=render_lines,
        differentiable=differentiable,
        weight=weight,
        tags=frozenset({Tag.BLOCK, *tags}),
    )


def anchored(
    name: str,
    categories: Sequence[str],
    anchor: Operand,
    draw_piece: Callable[[Draw, Value], Piece | None],
    weight: float = 1.0,
    differentiable: bool = True,
    tags: Sequence[Tag] = (),
) -> OpDecl:
    """A block over one value that fits `anchor`, picked first as `op` picks its anchor operand:
    the declaration says what the block reads, `draw_piece` writes the code around it."""

    def pick_then_draw(ctx: Draw) -> Piece | None:
        x = ctx.pick(anchor)
        return None if x is None else draw_piece(ctx, x)

    return block(name, categories, pick_then_draw, weight, differentiable, tags)


