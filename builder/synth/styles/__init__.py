"""Programs in the style of real framework code (flax, optax, idiomatic JAX), one module per category
or model family. `generate` dispatches here for the categories in `STYLES`."""

from __future__ import annotations

from collections.abc import Callable

from . import flax_linen, flax_nnx, jax_idioms, optax_training
from .base import StyledProgram

STYLES: dict[str, Callable[[int], StyledProgram]] = {
    flax_linen.CATEGORY: flax_linen.generate,
    optax_training.CATEGORY: optax_training.generate,
    jax_idioms.CATEGORY: jax_idioms.generate,
    flax_nnx.CATEGORY: flax_nnx.generate,
}
CATEGORIES: tuple[str, ...] = tuple(sorted(STYLES))


def generate(category: str, seed: int) -> StyledProgram:
    """The program of a styled category for `seed` (a function of the seed alone)."""
    return STYLES[category](seed)
