"""The shape of an op declaration, and the constructors the catalogue tables are written with.

An `OpDecl` says what an op accepts (`operands`), how it draws its partners and
attributes from the seeded RNG (`draw`), what it yields, and the Python it renders
to. The generator knows nothing about any single op: it hands each declaration a
`Draw` context and takes back a `Drawn` application or `None` (does not apply).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..domains import Domain
from ..program import Tag, Tree, Value
from ..specs import TensorSpec

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
    trips: tuple[int, ...] = ()  # trip counts of the loops its statements write, in source order (-1: data-dependent)

    def define(self, name: str) -> list[str]:
        """The region as a nested `def`."""
        head = f"def {name}({', '.join(p.name for p in self.params)}):"
        return [head, *("    " + line for line in self.lines), f"    return {self.result.name}"]


@dataclass(frozen=True)
class Drawn:
    """One application of an op: its operands, attributes and result specs."""

    inputs: tuple[Value, ...]
    attrs: Attrs
    outputs: tuple[TensorSpec, ...]
    names: tuple[str, ...] = ()  # exact output names (e.g. `new_params['w']`), when the op binds them itself


Renderer = Callable[[Sequence[str], Sequence[str], Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class OpDecl:
    """One catalogue entry."""

    name: str
    categories: tuple[str, ...]
    operands: tuple[Operand, ...]
    draw: Callable[[Draw], Drawn | None]
    render: Renderer
    out_names: tuple[str, ...] = ("h",)
    differentiable: bool = True
    weight: float = 1.0
    tags: frozenset[Tag] = field(default_factory=frozenset)
    yields: str = ""  # what its result is known to be: "positive" (exp, softplus) or "nonneg" (abs, relu)


def expression(template: str) -> Renderer:
    """Render `out = template` with operands as {0}, {1}, ... and attributes by name."""

    def render(ins: Sequence[str], outs: Sequence[str], attrs: Mapping[str, Any]) -> list[str]:
        return [f"{', '.join(outs)} = {template.format(*ins, **attrs)}"]

    return render


def op(
    name: str,
    categories: Sequence[str],
    operands: Sequence[Operand],
    template: str | Renderer,
    out: Callable[[Sequence[TensorSpec], Attrs], TensorSpec | tuple[TensorSpec, ...] | None],
    partners: Callable[[random.Random, TensorSpec], Sequence[TensorSpec] | None] | None = None,
    attrs: Callable[[random.Random, Sequence[TensorSpec]], Attrs | None] | None = None,
    out_names: Sequence[str] = ("h",),
    differentiable: bool = True,
    weight: float = 1.0,
    tags: Sequence[Tag] = (),
    yields: str = "",
) -> OpDecl:
    """The common shape of a declaration: pick an anchor operand, derive the partners'
    specs from it, draw attributes, compute the result spec."""
    operands = tuple(operands)

    def draw(ctx: Draw) -> Drawn | None:
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
        outputs = result if isinstance(result, tuple) else (result,)
        return Drawn(tuple(inputs), drawn_attrs, outputs)

    if isinstance(template, str):
        used = {int(f) for _, f, _, _ in string.Formatter().parse(template) if f and f.isdigit()}
        if partners is None and used and max(used) >= len(operands):
            raise ValueError(f"op {name!r}: template uses operand {max(used)} but declares {len(operands)} operands")
        render = expression(template)
    else:
        render = template
    return OpDecl(
        name=name,
        categories=tuple(categories),
        operands=operands,
        draw=draw,
        render=render,
        out_names=tuple(out_names),
        differentiable=differentiable,
        weight=weight,
        tags=frozenset(tags),
        yields=yields,
    )


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
