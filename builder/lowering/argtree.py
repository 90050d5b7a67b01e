"""A row's `args_tree` literal -> the entry point's positional arguments, without JAX.

The literal is ints (leaf indices), tuples, lists and dicts; a tuple whose first item is a string is a
namedtuple (an optax optimizer state): the string is the class's public import path
(`'optax.ScaleByAdamState'`) and the other items its fields in order. Consumers rebuild the call
the same way (README, Columns); only namedtuple classes of the libraries below are resolved.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache
from typing import Any

LIBRARIES = ("optax", "flax")  # the packages whose namedtuple classes an args_tree may name


@cache
def pytree_class(path: str) -> type:
    """The namedtuple class an args_tree names, e.g. 'optax.ScaleByAdamState'; refused unless it is a
    namedtuple of one of `LIBRARIES` (an args_tree is data, and data must not name arbitrary callables)."""
    module_name, _, name = path.rpartition(".")
    if module_name.split(".")[0] not in LIBRARIES:
        raise ValueError(f"args_tree names {path!r}: only namedtuple classes of {', '.join(LIBRARIES)} may appear there")
    cls = getattr(importlib.import_module(module_name), name, None)
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise ValueError(f"args_tree names {path!r}, which is not a namedtuple class of {module_name}")
    return cls


def fill(skeleton: Any, leaves: Sequence[Any]) -> Any:
    """Rebuild positional arguments from an `args_tree` literal (leaf indices in place of arrays)."""
    if isinstance(skeleton, bool) or not isinstance(skeleton, (int, tuple, list, dict)):
        raise ValueError(f"args_tree holds a {type(skeleton).__name__}; expected int, tuple, list or dict")
    if isinstance(skeleton, int):
        return leaves[skeleton]
    if isinstance(skeleton, tuple):
        if skeleton and isinstance(skeleton[0], str):
            return pytree_class(skeleton[0])(*(fill(s, leaves) for s in skeleton[1:]))
        return tuple(fill(s, leaves) for s in skeleton)
    if isinstance(skeleton, list):  # `params = [(w, b), ...]`, as JAX's tutorials write an MLP
        return [fill(s, leaves) for s in skeleton]
    return {k: fill(v, leaves) for k, v in skeleton.items()}
