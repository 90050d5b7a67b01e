"""The op catalogue: every module in this package contributes a table `OPS` of declarations.

Adding an op is one declaration in a table; adding a family is one module here.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..program import Tag
from .base import OpDecl

INTERNAL = frozenset({"creation", "region", "idiom"})  # drawn as parts of other categories, never on their own
COMPOSITE = "composite"
# Categories that `composite` programs mix, together with composite's own blocks.
BASE_CATEGORIES = ("arithmetic", "elementwise", "broadcasting", "reduction", "matrix", "conditional")
GLUE_CATEGORIES = ("arithmetic", "elementwise", "idiom")  # filler statements: real code's idioms besides plain math


def _load() -> tuple[OpDecl, ...]:
    ops: list[OpDecl] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        ops.extend(getattr(module, "OPS", ()))
    names = [o.name for o in ops]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"op catalogue declares these names twice: {duplicates}")
    return tuple(ops)


CATALOGUE: tuple[OpDecl, ...] = _load()
CATEGORIES: tuple[str, ...] = tuple(sorted({c for o in CATALOGUE for c in o.categories} - INTERNAL))
GLUE: tuple[OpDecl, ...] = tuple(o for o in CATALOGUE if set(o.categories) & set(GLUE_CATEGORIES))
REGION: tuple[OpDecl, ...] = tuple(o for o in CATALOGUE if Tag.PRESERVES in o.tags)
_BY_CATEGORY: dict[str, tuple[OpDecl, ...]] = {
    c: tuple(o for o in CATALOGUE if c in o.categories) for c in CATEGORIES
}
_BY_CATEGORY[COMPOSITE] = tuple(
    o for o in CATALOGUE if COMPOSITE in o.categories or set(o.categories) & set(BASE_CATEGORIES)
)


def catalogue_for(category: str) -> tuple[OpDecl, ...]:
    """The ops a program of `category` is drawn from (empty for an unknown category)."""
    return _BY_CATEGORY.get(category, ())
