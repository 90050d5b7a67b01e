"""Styled categories honour a config's `max_args`: their programs are drawn again until the entry
point takes at most that many positional arguments (a pytree counts as one)."""

from __future__ import annotations

import pytest

from builder.synth.generator import SizeLimits
from builder.synth.generator import generate as generate_any
from builder.synth.styles import CATEGORIES, MIN_ARGS, generate


@pytest.mark.parametrize("category", CATEGORIES)
def test_programs_take_at_most_max_args_arguments(category):
    for max_args in (MIN_ARGS, 3):
        counts = [len(generate(category, seed, max_args).args) for seed in range(60)]
        assert max(counts) <= max_args, (category, max_args, counts)
    # the limit is passed through the op-level entry point too, and shapes what is drawn
    default = [len(generate_any(category, seed).args) for seed in range(60)]
    limited = [len(generate_any(category, seed, SizeLimits(max_args=MIN_ARGS)).args) for seed in range(60)]
    assert max(default) > MIN_ARGS and max(limited) == MIN_ARGS, (default, limited)


def test_below_the_minimum_is_refused():
    with pytest.raises(ValueError, match="at least 2 positional arguments"):
        generate("flax_linen", 0, max_args=1)
