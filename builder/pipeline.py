"""(config, split, shard) -> rows: the one pure function every way of building shares.

A row's program depends only on `(category, seed, size limits)`; the category of
index i of a split comes from an exact-quota plan drawn from the config seed, so a
shard needs nothing but its own index range, whatever the number of processes.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .config import SPLITS, PairsConfig
from .extractor import extract, jax_version
from .generator import SizeLimits, generate

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Failure:
    """A program that failed to trace or lower: a generator bug, reported and replaced."""

    split: str
    index: int
    category: str
    seed: int
    error: str


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, the same on every machine and Python version."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def example_seed(config_seed: int, split: str, index: int, attempt: int = 0) -> int:
    return derive_seed(config_seed, split, index, attempt)


def limits_of(config: PairsConfig) -> SizeLimits:
    return SizeLimits(config.min_statements, config.max_statements, config.max_args)


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


def make_row(config: PairsConfig, split: str, index: int, category: str, seed: int) -> dict[str, Any]:
    """Draw, render and lower one program: one row of the data contract."""
    program = generate(category, seed, limits_of(config))
    source = program.render()
    leaves = [leaf.spec for leaf in program.leaves]
    args_tree = program.args_tree()
    ir = extract(source, program.entry_point, leaves, args_tree, program.differentiable, config.hlo_optimized)
    return {
        "id": f"{split}-{index:07d}",
        "category": category,
        "python": source,
        "entry_point": program.entry_point,
        "args": [{"name": leaf.name, "shape": list(leaf.spec.shape), "dtype": leaf.spec.dtype} for leaf in program.leaves],
        "args_tree": args_tree,
        "outputs": [{"shape": list(o.shape), "dtype": o.dtype} for o in ir.outputs],
        "jaxpr": ir.jaxpr,
        "stablehlo": ir.stablehlo,
        "stablehlo_grad": ir.stablehlo_grad,
        "hlo_optimized": ir.hlo_optimized,
        "flops": ir.flops,
        "transcendentals": ir.transcendentals,
        "bytes_accessed": ir.bytes_accessed,
        "ops": ir.ops,
        "seed": seed,
        "jax_version": jax_version(),
    }


def generate_rows(
    config: PairsConfig, split: str, start: int, stop: int, failures: list[Failure] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows `start..stop` of `split`, keyed by id. A program that fails to lower is
    recorded in `failures` and replaced by the next seed, so counts stay exact."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    plan = category_plan(config, split)
    for index in range(start, stop):
        category = plan[index]
        for attempt in range(MAX_ATTEMPTS):
            seed = example_seed(config.seed, split, index, attempt)
            try:
                row = make_row(config, split, index, category, seed)
            except Exception as err:  # a generator bug: report it, keep the build going
                failure = Failure(split, index, category, seed, f"{type(err).__name__}: {err}"[:2000])
                logger.warning("program failed to lower (category %s, seed %d): %s", category, seed, failure.error)
                if failures is not None:
                    failures.append(failure)
                continue
            yield row["id"], row
            break
        else:
            raise RuntimeError(f"{split}[{index}] ({category}): {MAX_ATTEMPTS} programs in a row failed to lower")
