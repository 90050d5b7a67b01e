"""The typed SSA a generator builds, and its rendering to a self-contained Python module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from .specs import TensorSpec

if TYPE_CHECKING:
    from .ops.base import OpDecl

HEADER = "import jax\nimport jax.numpy as jnp\nfrom jax import lax\n"


@dataclass(frozen=True)
class Value:
    """An SSA value: the Python expression that names it (a variable or a parameter path) and its spec."""

    name: str
    spec: TensorSpec


@dataclass(frozen=True)
class Param:
    """A positional parameter of the entry point: one array, or a tuple or dict of arrays (a pytree)."""

    name: str
    kind: str  # "array" | "tuple" | "dict"
    leaves: tuple[Value, ...]
    keys: tuple[str, ...] = ()  # dict keys, in the order of `leaves` (sorted, as jax.tree_util orders them)


@dataclass(frozen=True)
class Node:
    """One statement: an op applied to earlier values, binding one or more new values."""

    op: OpDecl
    inputs: tuple[Value, ...]
    attrs: Mapping[str, Any]
    outputs: tuple[Value, ...]

    def render(self) -> list[str]:
        return self.op.render([v.name for v in self.inputs], [v.name for v in self.outputs], self.attrs)


# What the entry point returns: a value, or a tuple / dict nesting of them.
Returns = Union[Value, tuple["Returns", ...], dict[str, "Returns"]]  # noqa: UP007 (a runtime alias on 3.10)


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

    def leaf_names(self) -> list[str]:
        return [leaf.name for leaf in self.leaves]

    def args_tree(self) -> str:
        """The positional arguments as a Python literal with leaf indices in place of arrays."""
        index = 0
        parts: list[str] = []
        for p in self.params:
            n = len(p.leaves)
            if p.kind == "array":
                parts.append(str(index))
            elif p.kind == "tuple":
                parts.append(_tuple_literal([str(index + i) for i in range(n)]))
            else:
                parts.append("{" + ", ".join(f"{k!r}: {index + i}" for i, k in enumerate(p.keys)) + "}")
            index += n
        return _tuple_literal(parts)

    def render(self) -> str:
        """The program as a module: imports, helpers, then the entry point."""
        lines = [HEADER]
        for helper in self.helpers:
            lines.append("\n" + helper.rstrip() + "\n")
        signature = ", ".join(p.name for p in self.params)
        lines.append(f"\ndef {self.entry_point}({signature}):")
        for node in self.nodes:
            lines.extend("    " + line for line in node.render())
        lines.append("    return " + _render_returns(self.returns, top=True))
        return "\n".join(lines) + "\n"


def _tuple_literal(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _render_returns(r: Returns, top: bool = False) -> str:
    if isinstance(r, Value):
        return r.name
    if isinstance(r, tuple):
        inner = ", ".join(_render_returns(x) for x in r)
        if len(r) == 1:
            inner += ","
        return inner if top else f"({inner})"
    return "{" + ", ".join(f"{k!r}: {_render_returns(v)}" for k, v in r.items()) + "}"


def flatten_returns(r: Returns) -> list[Value]:
    """Returned values in `jax.tree_util` order (dict keys sorted)."""
    if isinstance(r, Value):
        return [r]
    if isinstance(r, tuple):
        return [v for x in r for v in flatten_returns(x)]
    return [v for k in sorted(r) for v in flatten_returns(r[k])]
