"""What a program written in the style of real framework code is made of: its argument pytrees
(optax states included), a coarse layer list for structure keys, and a size budget.

A styled program is written as source text by its family (a flax module, an optax train step):
real code is classes, decorators and keyword arguments, which the op-level SSA does not model.
What the pipeline needs of it (`render`, `leaves`, `args_tree`, `entry_point`, `differentiable`,
`compilable`, `nodes`) is computed here without JAX: every parameter shape is analytic.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Union

from ..domains import Domain
from ..program import Value, tuple_literal
from ..specs import TensorSpec

# An argument leaf's element count, and all of a row's leaves together: `validate` executes every
# row (runners.MAX_INPUT_ELEMENTS per argument), so shapes are drawn realistic dim by dim and the
# whole draw is rejected when it does not fit.
MAX_LEAF_ELEMENTS = 1 << 20
MAX_TOTAL_ELEMENTS = 1 << 21
# An activation (batch x sequence x width, attention scores) a program may build, and the multiply-adds of
# its forward pass (matmuls, attention, convolutions; estimated by each family): bound execution time, as
# `validate` runs the forward program and its gradient (of a train step: a second-order one) at XLA -O0.
MAX_ACTIVATION_ELEMENTS = 1 << 22
MAX_WORK = 1 << 30


@dataclass(frozen=True)
class Struct:
    """A namedtuple in an argument pytree (an optax optimizer state): its class, as the public path a
    consumer imports it by (`optax.ScaleByAdamState`), and its fields in order. With `statics`, a flax
    struct dataclass (flax's `TrainState`): `fields` are its pytree fields in order, and each static
    field names the program's global that fills it (`('tx', 'tx')`, `('apply_fn', 'model.apply')`)."""

    cls: str
    fields: tuple[tuple[str, SpecTree], ...]
    statics: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Leaf:
    """A leaf that carries its own input domain (a label in a batch dict: `index[num_classes]`)."""

    spec: TensorSpec
    domain: Domain


# A pytree of specs: a spec (or a leaf with a domain), a dict (keys sorted when flattened), a tuple, or a namedtuple.
SpecTree = Union[TensorSpec, Leaf, dict[str, "SpecTree"], tuple["SpecTree", ...], list["SpecTree"], Struct]  # noqa: UP007


@dataclass(frozen=True)
class LayerOp:
    """The name a layer goes by in structure keys (`plan.program_structure_key`)."""

    name: str
    differentiable: bool = True
    tags: frozenset = frozenset()


@dataclass(frozen=True)
class Layer:
    """One layer or step of a styled program, with its input and output specs: a structure node."""

    op: LayerOp
    inputs: tuple[Value, ...]
    outputs: tuple[Value, ...]


def layer(name: str, ins: Sequence[TensorSpec], outs: Sequence[TensorSpec]) -> Layer:
    return Layer(LayerOp(name), tuple(Value("_", s) for s in ins), tuple(Value("_", s) for s in outs))


@dataclass(frozen=True)
class Arg:
    """A positional argument of the entry point: a pytree of specs, with a domain for leaves that need one."""

    name: str
    tree: SpecTree
    domain: Domain | None = None  # the domain of every leaf of this argument (None: the dtype's default)


@dataclass
class StyledProgram:
    """A program in the style of real framework code: what the pipeline uses of a `Program`."""

    category: str
    entry_point: str
    source: str
    args: list[Arg]
    nodes: list[Layer]
    libraries: tuple[str, ...] = ()  # the libraries beside jax its source imports (flax, optax)
    differentiable: bool = True
    compilable: bool = True
    helpers: list[str] = field(default_factory=list)
    # The trip count of each lax loop the program runs (nn.scan over layers, nn.RNN or lax.scan over time,
    # lax.scan over stacked weights), in the order the lowered module holds them: a loop under
    # `value_and_grad` runs twice, forward and transposed (see `differentiated`); the threefry PRNG's
    # rounds not listed. Rows read the column from the IR (`lowering.loops`); this independent account
    # is what tests/synth/styles/test_loop_trip_counts.py proves that reader against.
    loop_trip_counts: list[int] = field(default_factory=list)

    def render(self) -> str:
        return self.source

    @property
    def leaves(self) -> list[Value]:
        """Argument leaves in `jax.tree_util` order, named by their path (`opt_state[0].mu['Dense_0']['kernel']`)."""
        return [leaf for a in self.args for leaf in _values(a.name, a.tree, a.domain)]

    def args_tree(self) -> str:
        counter = iter(range(len(self.leaves)))
        return tuple_literal(skeleton(a.tree, counter) for a in self.args)


def arg_values(arg: Arg) -> list[Value]:
    """An argument's leaves in `jax.tree_util` order, named by their path."""
    return list(_values(arg.name, arg.tree, arg.domain))


def _values(path: str, tree: SpecTree, domain: Domain | None) -> Iterator[Value]:
    if isinstance(tree, TensorSpec):
        yield Value(path, tree, domain)
    elif isinstance(tree, Leaf):
        yield Value(path, tree.spec, tree.domain)
    elif isinstance(tree, Struct):
        for name, sub in tree.fields:
            yield from _values(f"{path}.{name}", sub, domain)
    elif isinstance(tree, (tuple, list)):
        for i, sub in enumerate(tree):
            yield from _values(f"{path}[{i}]", sub, domain)
    else:
        for key in sorted(tree):
            yield from _values(f"{path}[{key!r}]", tree[key], domain)


def skeleton(tree: SpecTree, counter: Iterator[int]) -> str:
    """The `args_tree` literal of a pytree: leaf indices in place of arrays; a namedtuple as a tuple whose
    first item is its class's import path (`('optax.ScaleByAdamState', 0, {...}, {...})`)."""
    if isinstance(tree, (TensorSpec, Leaf)):
        return str(next(counter))
    if isinstance(tree, Struct) and tree.statics:  # by name: ('flax.training.train_state.TrainState', {'step': 0, ..., 'tx': 'tx'})
        named = [f"{name!r}: {skeleton(sub, counter)}" for name, sub in tree.fields] + [f"{name!r}: {value!r}" for name, value in tree.statics]
        return f"({tree.cls!r}, {{{', '.join(named)}}})"
    if isinstance(tree, Struct):
        return tuple_literal([repr(tree.cls), *(skeleton(sub, counter) for _, sub in tree.fields)])
    if isinstance(tree, tuple):
        return tuple_literal(skeleton(sub, counter) for sub in tree)
    if isinstance(tree, list):
        return "[" + ", ".join(skeleton(sub, counter) for sub in tree) + "]"
    return "{" + ", ".join(f"{k!r}: {skeleton(tree[k], counter)}" for k in sorted(tree)) + "}"


def spec_leaves(tree: SpecTree) -> list[TensorSpec]:
    if isinstance(tree, TensorSpec):
        return [tree]
    if isinstance(tree, Leaf):
        return [tree.spec]
    if isinstance(tree, Struct):
        return [s for _, sub in tree.fields for s in spec_leaves(sub)]
    if isinstance(tree, (tuple, list)):
        return [s for sub in tree for s in spec_leaves(sub)]
    return [s for k in sorted(tree) for s in spec_leaves(tree[k])]


def map_specs(fn: Callable[[TensorSpec], SpecTree], tree: SpecTree) -> SpecTree:
    """`jax.tree.map` over a spec tree (a leaf may become a subtree)."""
    if isinstance(tree, TensorSpec):
        return fn(tree)
    if isinstance(tree, Leaf):
        return fn(tree.spec)
    if isinstance(tree, Struct):
        return Struct(tree.cls, tuple((n, map_specs(fn, s)) for n, s in tree.fields), tree.statics)
    if isinstance(tree, tuple):
        return tuple(map_specs(fn, s) for s in tree)
    return {k: map_specs(fn, v) for k, v in tree.items()}


def differentiated(forward: Sequence[int]) -> list[int]:
    """The loops a gradient of code with `forward` loops runs, as the lowered module holds them: the
    forward loops in order, then their transposes (same trip counts) in reverse order."""
    return [*forward, *reversed(forward)]


def fits(args: Sequence[Arg], activations: Sequence[int] = (), work: int = 0) -> bool:
    """Whether a draw stays executable: every leaf, all leaves together, the largest activations and the
    forward pass's multiply-adds under budget."""
    sizes = [s.size for a in args for s in spec_leaves(a.tree)]
    return (
        all(n <= MAX_LEAF_ELEMENTS for n in sizes)
        and sum(sizes) <= MAX_TOTAL_ELEMENTS
        and all(n <= MAX_ACTIVATION_ELEMENTS for n in activations)
        and work <= MAX_WORK
    )


class Draw:
    """The seeded choices of one program: `rng` plus the helpers every family uses."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: Sequence):
        return self.rng.choice(list(options))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def weighted(self, table: dict):
        keys = list(table)
        return self.rng.choices(keys, [table[k] for k in keys])[0]


def size(shape: Sequence[int]) -> int:
    return prod(shape)


def f32(*shape: int) -> TensorSpec:
    return TensorSpec(tuple(shape), "float32")


def spec(dtype: str, *shape: int) -> TensorSpec:
    return TensorSpec(tuple(shape), dtype)


def jnp_dtype(dtype: str) -> str:
    """The `jnp.<dtype>` expression real code writes for a dtype name."""
    return f"jnp.{dtype}"


def indent(text: str, spaces: int = 4) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else line for line in text.splitlines())


def _used_imports(line: str, body: str) -> str | None:
    """`line` cut to the names `body` reads (`from typing import Any, Sequence` keeps the ones used),
    or None when it binds nothing the body reads."""

    def read(name: str) -> bool:
        return re.search(rf"(?<![\w.]){name}\b", body) is not None

    if line.startswith("from "):
        head, names = line.split(" import ", 1)
        kept = [n for n in (part.strip() for part in names.split(",")) if read(n.split(" as ")[-1])]
        return f"{head} import {', '.join(kept)}" if kept else None
    target = line.removeprefix("import ")
    return line if read(target.split(" as ")[-1] if " as " in target else target.split(".")[0]) else None


def module(imports: Sequence[str], *blocks: str) -> str:
    """A module as real code lays it out: the imports its code uses, in the usual order, then blocks two
    blank lines apart. Families share import sets, so an import the drawn variant never reads is dropped here."""
    body = "\n\n\n".join(b.strip("\n") for b in blocks if b.strip()) + "\n"
    used = {kept for line in set(imports) if (kept := _used_imports(line, body)) is not None}
    order = ("import functools", "from typing", "from collections", "import math", "import jax", "import jax.numpy", "from jax", "import flax", "from flax", "import optax", "import numpy")
    ranked = sorted(used, key=lambda line: (next((i for i, p in enumerate(order) if line.startswith(p)), len(order)), line))
    return "\n".join(ranked) + "\n\n\n" + body
