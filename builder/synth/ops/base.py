"""The shape of an op declaration: `op`, the one constructor the catalogue tables are written with.

An `OpDecl` says what an op accepts (`operands`), how it draws its partners and
attributes from the seeded RNG (`draw`) and what it yields. Drawing it gives a
`Statement`: the values it reads, its lines of Python with `$` placeholders (`Code`: `$0`
the first input, `$out0` the first result, `$kw` an attribute) and the specs of its
results. The generator knows nothing about any single op: it hands each declaration a
`Draw` context and takes back a `Drawn` application or `None` (does not apply).
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..domains import Domain
from ..program import Tag, Tree, Value
from ..specs import MAX_ELEMENTS, TensorSpec

Attrs = dict[str, Any]
SpecTree = Any  # a TensorSpec, or a tuple / dict nesting of them


@dataclass(frozen=True)
class Operand:
    """What one operand position accepts."""

    dtypes: tuple[str, ...]
    min_rank: int = 0
    max_rank: int = 4
    min_size: int = 1  # smallest extent of every dim (e.g. 2 for ops that need >1 element)
    domain: str = ""  # "positive" (log, a divisor) or "nonneg" (sqrt): values known to lie there, or new arguments that must

    def fits(self, spec: TensorSpec) -> bool:
        return (
            not spec.weak_type  # Python scalars are hyper-parameters: only ops that ask for one get one
            and spec.dtype in self.dtypes
            and self.min_rank <= spec.rank <= self.max_rank
            and all(d >= self.min_size for d in spec.shape)
        )


class Draw(Protocol):
    """What the generator offers an op while it is being drawn."""

    rng: random.Random
    helpers: list[str]  # module-level definitions so far (read-only for ops: add with `helper`)

    def pick(self, operand: Operand) -> Value | None:
        """An existing value (or a new argument) that fits `operand`, or None."""

    def need(self, spec: TensorSpec, avoid: Sequence[Value] = (), domain: str = "") -> Value:
        """A value of exactly `spec`: an existing one other than `avoid` (the op's other inputs:
        `x - x` or `jnp.minimum(x, x)` is not code people write), a new argument, or a constant;
        with `domain` ("positive", "nonneg"), one known to lie there (a new argument records it)."""

    def random_spec(self, operand: Operand) -> TensorSpec:
        """A fresh spec that fits `operand`."""

    def body(self, specs: Sequence[TensorSpec], hint: str = "v", differentiable: bool = False) -> Region:
        """A nested region: fresh parameters of `specs`, statements, and a result of `specs[0]`
        (only reverse-differentiable statements when `differentiable`)."""

    def fresh(self, hint: str) -> str:
        """A new variable name."""

    def fresh_family(self, hint: str, count: int) -> list[str]:
        """`count` new function names of one numbered family (`branch_0`, `branch_1`, ...)."""

    def is_argument(self, value: Value) -> bool:
        """Whether `value` is an argument's leaf (its range is the recorded domain), not a computed value."""

    # Arguments of a chosen shape, for ops that model real code (keys, labels, hyper-parameters,
    # weights, optimizer state). Each returns None when the signature has no room left.
    def argument(self, spec: TensorSpec, hint: str, domain: Domain | None = None) -> Value | None:
        """A new positional argument named after `hint`; a weakly typed `spec` is a Python scalar (`lr`).
        Its recorded domain is `domain`, else what its hint says (`argument_domain`: a rate, a step)."""

    def argument_tree(self, hint: str, specs: SpecTree) -> Tree | None:
        """A new positional pytree argument (`grads`, `opt_state`) whose leaves have `specs`."""

    def weights(self, module: str, specs: SpecTree) -> tuple[str, Tree] | None:
        """A module's weights in the `params` dict argument: the expression naming the
        module (`params['dense']`) and its leaves."""

    def values_of(self, spec: TensorSpec) -> list[Value]:
        """The values in scope whose spec is exactly `spec`, oldest first."""

    def helper(self, source: str) -> None:
        """A module-level definition (a `custom_vjp` function, a mesh) rendered before the entry point, once."""


@dataclass(frozen=True)
class Region:
    """The body of a nested function (branch, loop body): its parameters, statements and result."""

    params: tuple[Value, ...]
    lines: tuple[str, ...]
    result: Value
    differentiable: bool = True

    def define(self, name: str) -> list[str]:
        """The region as a nested `def`."""
        head = f"def {name}({', '.join(p.name for p in self.params)}):"
        return [head, *("    " + line for line in self.lines), f"    return {self.result.name}"]


@dataclass(frozen=True)
class Drawn:
    """One application of an op, as the generator binds it: its operands, attributes (its code
    among them) and result specs."""

    inputs: tuple[Value, ...]
    attrs: Attrs
    outputs: tuple[TensorSpec, ...]
    names: tuple[str, ...] = ()  # exact output names (e.g. `new_params['w']`), when the op binds them itself


class Code(string.Template):
    """The text of a statement. `$0`, `$1`, ... are the op's inputs in order, `$out0`, `$out1`, ...
    its results, `$name` an attribute drawn with it (`${name}` when a letter or digit follows);
    Python's own braces (dicts, sets, f-strings) need no escaping."""

    idpattern = r"\d+|[a-z_][a-z0-9_]*"


def fill(text: str, inputs: Sequence[str] = (), outputs: Sequence[str] = (), named: Mapping[str, Any] | None = None) -> str:
    """`text` with its placeholders replaced; a placeholder nothing fills is a KeyError."""
    values = {**(named or {}), **{str(i): n for i, n in enumerate(inputs)}, **{f"out{i}": n for i, n in enumerate(outputs)}}
    return Code(text).substitute(values)


def shift(lines: Sequence[str], by: int) -> tuple[str, ...]:
    """`lines` with their input placeholders renumbered from `by` (`$0` -> `$by`): the lines of a
    part (a key split) whose own inputs come after `by` others in the statement that embeds it."""

    def renumber(match: re.Match[str]) -> str:
        named, braced = match.group("named"), match.group("braced")
        if named and named.isdigit():  # `\d+` takes every digit: no digit can follow
            return f"${int(named) + by}"
        return f"${{{int(braced) + by}}}" if braced and braced.isdigit() else match.group(0)

    return tuple(Code.pattern.sub(renumber, line) for line in lines)


def placeholders(text: str) -> set[str]:
    """The names of the placeholders in `text`."""
    return {m.group("named") or m.group("braced") for m in Code.pattern.finditer(text) if m.group("named") or m.group("braced")}


@dataclass(frozen=True)
class Statement:
    """What drawing an op gives: the values it reads (`$0`, `$1`, ... in its lines), its lines, and
    the specs of its results (`$out0`, `$out1`, ...).

    Results are named when the generator binds them, after the op's `out_names`; a statement with
    `hints` (roles) or `names` (exact names, such as paths into a pytree it binds) is named as it
    is drawn."""

    inputs: tuple[Value, ...]
    lines: tuple[str, ...]
    outputs: tuple[TensorSpec, ...]
    hints: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    helpers: tuple[str, ...] = ()  # module-level definitions it needs (a `custom_vjp` function, a mesh)
    attrs: Mapping[str, Any] = field(default_factory=dict)  # more placeholders, by name (`$k0`: a subkey)


def assign(expr: str, inputs: Sequence[Value], outputs: Sequence[TensorSpec], setup: Sequence[str] = (),
           attrs: Mapping[str, Any] | None = None) -> Statement:
    """A statement that binds its results to `expr`, after the `setup` lines."""
    targets = ", ".join(f"$out{i}" for i in range(len(outputs)))
    return Statement(tuple(inputs), (*setup, f"{targets} = {expr}"), tuple(outputs), attrs=dict(attrs or {}))


def partner(ctx: Draw, x: Value, spec: TensorSpec | None = None) -> Value | None:
    """A value of `spec` (default: `x`'s) for a binary op other than `x`, or None when only `x` is
    to be had: `a & a` or `lax.complex(t, t)` is not code anyone writes."""
    spec = spec or x.spec
    for _ in range(3):
        y = ctx.need(spec)
        if y.name != x.name:
            return y
    return None


@dataclass(frozen=True)
class OpDecl:
    """One catalogue entry, made by `op`: what it accepts, how it is drawn, what it says about itself."""

    name: str
    categories: tuple[str, ...]
    operands: tuple[Operand, ...]
    draw: Callable[[Draw], Drawn | None]
    out_names: tuple[str, ...] = ("h",)
    differentiable: bool = True
    weight: float = 1.0
    tags: frozenset[Tag] = field(default_factory=frozenset)
    yields: str = ""  # what its result is known to be: "positive" (exp, softplus) or "nonneg" (abs, relu)

    def render(self, ins: Sequence[str], outs: Sequence[str], attrs: Mapping[str, Any]) -> list[str]:
        return [fill(line, ins, outs, attrs) for line in attrs["lines"]]


OutSpec = Callable[[Sequence[TensorSpec], Attrs], "TensorSpec | tuple[TensorSpec, ...] | None"]
Partners = Callable[[random.Random, TensorSpec], "Sequence[TensorSpec] | None"]
AttrDraw = Callable[[random.Random, Sequence[TensorSpec]], "Attrs | None"]
BLOCK = (Tag.BLOCK,)  # the tag of a multi-line block: it counts toward a program's size by its lines


def op(
    name: str,
    categories: Sequence[str],
    operands: Operand | Sequence[Operand],
    draw: str | Callable[..., Statement | None],
    out: OutSpec | None = None,
    partners: Partners | None = None,
    attrs: AttrDraw | None = None,
    out_names: Sequence[str] = ("h",),
    differentiable: bool = True,
    weight: float = 1.0,
    tags: Sequence[Tag] = (),
    yields: str = "",
) -> OpDecl:
    """Declare an op; the one way the catalogue does. `draw` is either

    - an expression over the operands (`"jnp.where($0, $1, $2)"`) and drawn attributes (`$kw`):
      the anchor is picked to fit `operands[0]`, `partners` derives the other operands' specs from
      it (default: the anchor's), `attrs` draws the attributes and `out` computes the result spec;
    - a function of the context and the anchor, a value that fits `operands[0]`, picked first,
      that returns a `Statement` (or None: the op does not apply here);
    - with no `operands`, a function of the context alone that picks its own inputs.
    """
    operands = (operands,) if isinstance(operands, Operand) else tuple(operands)
    if isinstance(draw, str):
        make = _expression(name, operands, draw, out, partners, attrs)
    elif out is not None or partners is not None or attrs is not None:
        raise ValueError(f"op {name!r}: `out`, `partners` and `attrs` belong to an expression; its draw function returns them")
    elif operands:
        make = _anchored(operands[0], draw)
    else:
        make = draw

    def drawn(ctx: Draw) -> Drawn | None:
        statement = make(ctx)
        return None if statement is None else _finish(ctx, statement)

    return OpDecl(name, tuple(categories), operands, drawn, tuple(out_names), differentiable, weight, frozenset(tags), yields)


def _anchored(anchor: Operand, draw: Callable[[Draw, Value], Statement | None]) -> Callable[[Draw], Statement | None]:
    def make(ctx: Draw) -> Statement | None:
        x = ctx.pick(anchor)
        return None if x is None else draw(ctx, x)

    return make


def _expression(name: str, operands: tuple[Operand, ...], template: str, out: OutSpec | None, partners: Partners | None,
                attrs: AttrDraw | None) -> Callable[[Draw], Statement | None]:
    """The draw of an expression op: the anchor, the partners' specs derived from it, the attributes, the result spec."""
    if out is None:
        raise ValueError(f"op {name!r}: an expression needs `out`, the spec of its result")
    used = {int(p) for p in placeholders(template) if p.isdigit()}
    if partners is None and used and max(used) >= len(operands):
        raise ValueError(f"op {name!r}: its expression reads operand {max(used)} but it declares {len(operands)} operands")

    def make(ctx: Draw) -> Statement | None:
        anchor = ctx.pick(operands[0])
        if anchor is None:
            return None
        others: Sequence[TensorSpec] = ()
        if partners is not None:
            derived = partners(ctx.rng, anchor.spec)
            if derived is None:
                return None
            others = derived
        elif len(operands) > 1:
            others = [anchor.spec] * (len(operands) - 1)
        inputs = [anchor]
        for i, spec in enumerate(others, 1):
            inputs.append(ctx.need(spec, avoid=inputs, domain=operands[i].domain if i < len(operands) else ""))
        specs = [v.spec for v in inputs]
        drawn_attrs = attrs(ctx.rng, specs) if attrs is not None else {}
        if drawn_attrs is None:
            return None
        result = out(specs, drawn_attrs)
        if result is None:
            return None
        return assign(template, inputs, result if isinstance(result, tuple) else (result,), attrs=drawn_attrs)

    return make


def _finish(ctx: Draw, statement: Statement) -> Drawn | None:
    """Check the result sizes, name the results a block names as it is drawn, register helpers."""
    if any(s.size > MAX_ELEMENTS or 0 in s.shape for s in statement.outputs):
        return None
    names = statement.names or tuple(ctx.fresh(h) for h in statement.hints)
    for helper in statement.helpers:
        ctx.helper(helper)
    return Drawn(statement.inputs, {**statement.attrs, "lines": statement.lines}, statement.outputs, names)


# Output-spec helpers shared by many tables.
def same(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return specs[0]


def as_dtype(dtype: str) -> Callable[[Sequence[TensorSpec], Attrs], TensorSpec]:
    return lambda specs, attrs: specs[0].with_dtype(dtype)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return tuple(max(dims) for dims in zip(*padded, strict=False))


def broadcast(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
    return TensorSpec(broadcast_shapes(*(s.shape for s in specs)), specs[0].dtype)


def broadcast_as(dtype: str) -> Callable[[Sequence[TensorSpec], Attrs], TensorSpec]:
    return lambda specs, attrs: TensorSpec(broadcast_shapes(*(s.shape for s in specs)), dtype)


def broadcast_partner(rng: random.Random, spec: TensorSpec) -> list[TensorSpec]:
    """A partner that broadcasts against `spec`: the same shape, a trailing suffix, or some dims set to 1."""
    roll = rng.random()
    if roll < 0.5 or spec.rank == 0:
        return [spec]
    if roll < 0.75:
        keep = rng.randint(0, spec.rank - 1)
        return [spec.with_shape(spec.shape[keep:])]
    return [spec.with_shape(tuple(1 if rng.random() < 0.5 else d for d in spec.shape))]


def reduced_shape(shape: tuple[int, ...], axes: Sequence[int], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def axis_attrs(rng: random.Random, specs: Sequence[TensorSpec]) -> Attrs | None:
    """Draw a reduction: one axis, several axes or all, with or without keepdims."""
    rank = specs[0].rank
    if rank == 0:
        return None
    roll = rng.random()
    if roll < 0.55:
        axis = rng.randrange(rank)
        axes: tuple[int, ...] = (axis,)
        text = str(rng.choice([axis, axis - rank]))
    elif roll < 0.8 and rank > 1:
        axes = tuple(sorted(rng.sample(range(rank), rng.randint(2, rank))))
        text = "(" + ", ".join(map(str, axes)) + ")"
    else:
        axes = tuple(range(rank))
        text = "None"
    keepdims = rng.random() < 0.3
    kw = f"axis={text}" + (", keepdims=True" if keepdims else "")
    return {"axes": axes, "keepdims": keepdims, "kw": kw}


def reduce_out(dtype: str | None = None) -> Callable[[Sequence[TensorSpec], Attrs], TensorSpec]:
    def out(specs: Sequence[TensorSpec], attrs: Attrs) -> TensorSpec:
        shape = reduced_shape(specs[0].shape, attrs["axes"], attrs["keepdims"])
        return TensorSpec(shape, dtype or specs[0].dtype)

    return out


def constant_literal(rng: random.Random, dtype: str) -> str:
    """A small Python literal of a kind a person writes, right for `dtype`."""
    if dtype == "bool":
        return rng.choice(["True", "False"])
    if dtype in ("int32", "int8"):
        return str(rng.choice([1, 2, 3, 4, -1, 5, 7]))
    if dtype == "uint8":
        return str(rng.choice([1, 2, 3, 4, 5, 7]))
    return rng.choice(["0.5", "2.0", "1e-3", "0.1", "3.0", "1.5", "0.25", "0.9", "10.0"])
