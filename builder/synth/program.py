"""The typed SSA a generator builds, and its rendering to a self-contained Python module."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, Union

from .domains import Domain
from .specs import TensorSpec


class Tag(str, Enum):
    """What an op declaration says about itself beyond its operands, for the generator and the pipeline."""

    BLOCK = "block"  # a multi-line block that counts toward program size by the lines it renders
    NESTS = "nests"  # a region op of the program's own category that may be drawn inside a region
    PRESERVES = "preserves"  # elementwise, spec-preserving: may fill a region (a loop body, a branch)
    NEEDS_DEVICES = "needs_devices"  # lowered for an abstract mesh, so XLA cannot compile it here


class Op(Protocol):
    """What a statement needs of its op (the catalogue's `OpDecl` is one)."""

    name: str
    differentiable: bool
    tags: frozenset[Tag]

    def render(self, inputs: Sequence[str], outputs: Sequence[str], attrs: Mapping[str, Any]) -> list[str]: ...

# The imports a program may need, each with the name it binds: a program imports those it uses.
IMPORTS = (("jax", "import jax"), ("jnp", "import jax.numpy as jnp"), ("lax", "from jax import lax"))


@dataclass(frozen=True)
class Value:
    """An SSA value: the Python expression that names it (a variable or a parameter path) and its spec.
    An argument leaf may carry the domain its program is defined on (None: `default_domain`).
    `uid` tells apart the values a name is bound to in turn (`x = jnp.tanh(x)` rebinds `x`)."""

    name: str
    spec: TensorSpec
    domain: Domain | None = None
    uid: int = 0


# A pytree of values: a value, or a tuple / dict nesting of them.
Tree = Union[Value, tuple["Tree", ...], dict[str, "Tree"]]  # noqa: UP007 (a runtime alias on 3.10)


@dataclass(frozen=True)
class Param:
    """A positional parameter of the entry point: one array (or Python scalar), or a pytree of them."""

    name: str
    tree: Tree

    @property
    def kind(self) -> str:
        return "array" if isinstance(self.tree, Value) else "tuple" if isinstance(self.tree, tuple) else "dict"

    @property
    def leaves(self) -> tuple[Value, ...]:
        """Leaves in `jax.tree_util` order (dict keys sorted)."""
        return tuple(flatten_tree(self.tree))

    def skeleton(self, start: int) -> str:
        """The parameter as a Python literal with leaf indices (from `start`) in place of arrays."""
        return _skeleton(self.tree, iter(range(start, start + len(self.leaves))))


@dataclass(frozen=True)
class Node:
    """One statement: an op applied to earlier values, binding one or more new values."""

    op: Op
    inputs: tuple[Value, ...]
    attrs: Mapping[str, Any]
    outputs: tuple[Value, ...]

    def render(self) -> list[str]:
        return self.op.render([v.name for v in self.inputs], [v.name for v in self.outputs], self.attrs)


@dataclass(frozen=True)
class Named:
    """A pytree an op bound to one variable (`new_params = jax.tree_util.tree_map(...)`), returned whole."""

    name: str
    tree: Tree


# What the entry point returns: a value, or a tuple / dict nesting of them.
Returns = Union[Value, Named, tuple["Returns", ...], dict[str, "Returns"]]  # noqa: UP007 (a runtime alias on 3.10)


@dataclass
class Program:
    """A drawn program: parameters, statements and the returned structure."""

    category: str
    entry_point: str
    params: list[Param]
    nodes: list[Node]
    returns: Returns
    helpers: list[str] = field(default_factory=list)  # module-level helper definitions, rendered before the entry point

    @property
    def leaves(self) -> list[Value]:
        """Argument leaves in `jax.tree_util` order."""
        return [leaf for p in self.params for leaf in p.leaves]

    @property
    def differentiable(self) -> bool:
        return all(n.op.differentiable for n in self.nodes)

    @property
    def compilable(self) -> bool:
        """False when a statement needs devices this host lacks (a shard_map over an abstract mesh)."""
        return not any(Tag.NEEDS_DEVICES in n.op.tags for n in self.nodes)

    def args_tree(self) -> str:
        """The positional arguments as a Python literal with leaf indices in place of arrays."""
        index = 0
        parts: list[str] = []
        for p in self.params:
            parts.append(p.skeleton(index))
            index += len(p.leaves)
        return tuple_literal(parts)

    def render(self) -> str:
        """The program as a module: imports, helpers, then the entry point."""
        lines = []
        for helper in self.helpers:
            lines.append("\n" + helper.rstrip() + "\n")
        signature = ", ".join(p.name for p in self.params)
        lines.append(f"\ndef {self.entry_point}({signature}):")
        for node in self.nodes:
            lines.extend("    " + line for line in node.render())
        lines.append("    return " + _render_returns(self.returns, top=True))
        body = "\n".join(lines) + "\n"
        return imports_for(body) + body


def imports_for(body: str) -> str:
    """The import lines of the names `body` uses, in the usual order."""
    used = [line for name, line in IMPORTS if re.search(rf"(?<![\w.]){name}\.", body)]
    return "\n".join(used) + "\n\n"


def flatten_tree(tree: Tree) -> list[Value]:
    """The values of a pytree in `jax.tree_util` order (dict keys sorted)."""
    if isinstance(tree, Value):
        return [tree]
    if isinstance(tree, Named):
        return flatten_tree(tree.tree)
    if isinstance(tree, tuple):
        return [v for x in tree for v in flatten_tree(x)]
    return [v for k in sorted(tree) for v in flatten_tree(tree[k])]


def _skeleton(tree: Tree, indices: Iterator[int]) -> str:
    if isinstance(tree, Value):
        return str(next(indices))
    if isinstance(tree, tuple):
        return tuple_literal([_skeleton(x, indices) for x in tree])
    return "{" + ", ".join(f"{k!r}: {_skeleton(tree[k], indices)}" for k in sorted(tree)) + "}"


def tuple_literal(items: Iterable[object]) -> str:
    """A tuple literal as a person writes it: `()`, `(1,)`, `(0, 2)`."""
    texts = [str(item) for item in items]
    return "(" + ", ".join(texts) + ("," if len(texts) == 1 else "") + ")"


def _render_returns(r: Returns, top: bool = False) -> str:
    if isinstance(r, (Value, Named)):
        return r.name
    if isinstance(r, tuple):
        inner = ", ".join(_render_returns(x) for x in r)
        if len(r) == 1:
            inner += ","
        return inner if top else f"({inner})"
    return "{" + ", ".join(f"{k!r}: {_render_returns(v)}" for k, v in r.items()) + "}"


def flatten_returns(r: Returns) -> list[Value]:
    """Returned values in `jax.tree_util` order (dict keys sorted)."""
    return flatten_tree(r)
