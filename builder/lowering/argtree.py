"""A row's `args_tree` literal -> the entry point's positional arguments, without JAX.

The literal is ints (leaf indices), tuples, lists and dicts; a tuple whose first item is a string is a
namedtuple (an optax optimizer state): the string is the class's public import path
(`'optax.ScaleByAdamState'`) and the other items its fields in order. A flax struct dataclass (flax's
`TrainState`) is a pair of its path and a dict of its fields by name, where a string names a global of
the program's own module for a static field: `('flax.training.train_state.TrainState', {'apply_fn':
'model.apply', 'params': {...}, 'step': 0, 'tx': 'tx', 'opt_state': (...)})`. Consumers rebuild the
call the same way (README, Columns); only classes of the libraries below are resolved.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

LIBRARIES = ("optax", "flax")  # the packages whose namedtuple classes an args_tree may name


def is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def is_struct(cls: type) -> bool:
    """A `flax.struct.dataclass` (flax's `TrainState`): fields by name, static ones outside the pytree."""
    return dataclasses.is_dataclass(cls) and bool(getattr(cls, "_flax_dataclass", False))


@cache
def pytree_class(path: str) -> type:
    """The class an args_tree names, e.g. 'optax.ScaleByAdamState'; refused unless it is a namedtuple or a
    flax struct dataclass of one of `LIBRARIES` (an args_tree is data, and data must not name arbitrary callables)."""
    module_name, _, name = path.rpartition(".")
    if module_name.split(".")[0] not in LIBRARIES:
        raise ValueError(f"args_tree names {path!r}: only namedtuple and struct classes of {', '.join(LIBRARIES)} may appear there")
    cls = getattr(importlib.import_module(module_name), name, None)
    if not (isinstance(cls, type) and (is_namedtuple(cls) or is_struct(cls))):
        raise ValueError(f"args_tree names {path!r}, which is not a namedtuple or flax struct class of {module_name}")
    return cls


def program_global(name: str, namespace: Mapping[str, Any] | None) -> Any:
    """A static field's value: `name` ('tx', 'model.apply') looked up in the program's module, public names only."""
    parts = name.split(".")
    if namespace is None:
        raise ValueError(f"args_tree names the program's global {name!r}: rebuild the call with the program's namespace")
    if not all(p.isidentifier() and not p.startswith("_") for p in parts) or parts[0] not in namespace:
        raise ValueError(f"args_tree names {name!r}, which is not a public global of the program")
    value = namespace[parts[0]]
    for part in parts[1:]:
        value = getattr(value, part)
    return value


def fill(skeleton: Any, leaves: Sequence[Any], namespace: Mapping[str, Any] | None = None) -> Any:
    """Rebuild positional arguments from an `args_tree` literal (leaf indices in place of arrays);
    `namespace`: the program's module, for the static fields of a struct (`'tx'`, `'model.apply'`)."""
    if isinstance(skeleton, bool) or not isinstance(skeleton, (int, tuple, list, dict)):
        raise ValueError(f"args_tree holds a {type(skeleton).__name__}; expected int, tuple, list or dict")
    if isinstance(skeleton, int):
        return leaves[skeleton]
    if isinstance(skeleton, tuple):
        if skeleton and isinstance(skeleton[0], str):
            cls = pytree_class(skeleton[0])
            if is_namedtuple(cls):
                return cls(*(fill(s, leaves, namespace) for s in skeleton[1:]))
            if len(skeleton) != 2 or not isinstance(skeleton[1], dict):
                raise ValueError(f"args_tree writes the struct {skeleton[0]!r} as {skeleton!r}; expected (path, {{field: value}})")
            fields = skeleton[1].items()
            return cls(**{k: program_global(v, namespace) if isinstance(v, str) else fill(v, leaves, namespace) for k, v in fields})
        return tuple(fill(s, leaves, namespace) for s in skeleton)
    if isinstance(skeleton, list):  # `params = [(w, b), ...]`, as JAX's tutorials write an MLP
        return [fill(s, leaves, namespace) for s in skeleton]
    return {k: fill(v, leaves, namespace) for k, v in skeleton.items()}
