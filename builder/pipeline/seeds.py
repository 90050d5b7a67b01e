"""Seeds and work units: which seed, category and size limits every index of a split gets.

A row's program depends only on `(category, seed, size limits)`; the category of index i
of a split comes from an exact-quota plan drawn from the config seed, so a work unit needs
nothing but its own index range, whatever the number of processes or machines.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from functools import lru_cache

from ..config import PairsConfig
from ..synth.generator import SizeLimits
from .budget import statement_caps

MAX_ATTEMPTS = 20
# Under an IR length budget most misses are budget misses, not bugs: a one-statement `random` program
# prints ~18,000 characters of threefry, so at a 10,000 budget ~1 draw in 5 fits. More spares keep
# such a category drawable (at the cost of the draws, which the build reports).
MAX_BUDGET_ATTEMPTS = 64


def attempts(config: PairsConfig) -> int:
    """How many seeds an index may try before its build fails."""
    return MAX_BUDGET_ATTEMPTS if config.max_ir_chars else MAX_ATTEMPTS


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, the same on every machine and Python version."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def example_seed(config_seed: int, split: str, index: int, attempt: int = 0) -> int:
    return derive_seed(config_seed, split, index, attempt)


def limits_of(config: PairsConfig) -> SizeLimits:
    """The size limits programs of `config` are drawn with, a length budget's statement caps included."""
    return SizeLimits(config.min_statements, config.max_statements, config.max_args, statement_caps(config))


@lru_cache(maxsize=16)
def category_plan(config: PairsConfig, split: str) -> tuple[str, ...]:
    """The category of every index of `split`: exact quotas by weight (largest remainder), shuffled by seed."""
    n = config.split_size(split)
    weights = config.weights
    total = sum(weights.values())
    exact = {c: n * w / total for c, w in weights.items()}
    counts = {c: int(q) for c, q in exact.items()}
    short = n - sum(counts.values())
    for c in sorted(exact, key=lambda c: (counts[c] - exact[c], c))[:short]:
        counts[c] += 1
    plan = [c for c in sorted(counts) for _ in range(counts[c])]
    random.Random(derive_seed(config.seed, split, "categories")).shuffle(plan)
    return tuple(plan)


def shards(config: PairsConfig, split: str) -> list[tuple[int, int]]:
    """Index ranges of the work units of `split`."""
    n, step = config.split_size(split), config.shard_size
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def candidate_seeds(config: PairsConfig, split: str, index: int, planned: int) -> Iterator[int]:
    """The planned seed, then spares for when it fails to lower or is left out; the pass
    after the map (`dedup`) replaces a spare that repeats an earlier row."""
    yield planned
    for spare in range(attempts(config) - 1):
        yield derive_seed(config.seed, split, index, "spare", spare)
