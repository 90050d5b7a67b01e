"""Programs in the style of real framework code (flax, optax, idiomatic JAX), one module per category
or model family. `generate` dispatches here for the categories in `STYLES`."""

from __future__ import annotations

from collections.abc import Callable

from . import flax_linen, flax_nnx, jax_idioms, optax_training
from .base import StyledProgram

# The fewest positional arguments a styled program takes (the parameters and one input: an apply
# wrapper, an eval step over a `batch` dict): a config's `max_args` below it is refused (config.py).
MIN_ARGS = 2

STYLES: dict[str, Callable[[int, int], StyledProgram]] = {
    flax_linen.CATEGORY: flax_linen.generate,
    optax_training.CATEGORY: optax_training.generate,
    jax_idioms.CATEGORY: jax_idioms.generate,
    flax_nnx.CATEGORY: flax_nnx.generate,
}
CATEGORIES: tuple[str, ...] = tuple(sorted(STYLES))


def generate(category: str, seed: int, max_args: int = 5) -> StyledProgram:
    """The program of a styled category for `seed` with at most `max_args` positional arguments (a
    pytree counts as one; drawn again until it fits): a function of the two alone."""
    if max_args < MIN_ARGS:
        raise ValueError(f"{category} programs take at least {MIN_ARGS} positional arguments; max_args is {max_args}")
    return STYLES[category](seed, max_args)
