"""What is checked before anything is pushed: the card promises a command that regenerates the rows,
so a build made with other settings, another generator or another JAX, or edited since, must not go out.

1. the split sizes are the config's;
2. every row's stored hashes (`canonical_hash`, `structure_hash`) are the hashes of its `stablehlo`;
3. the first row of each split is regenerated through the global plan (the seeds are the config's),
   and a seeded sample of rows from their own seed and category (which must be the planned one);
4. for a `build --output-dir` directory, its files still have the sha256 build.json records
   (`pipeline.build_dir.digest_problems`: the Arrow files' `data_digest`, each Parquet shard's `data_files`).
Every problem is collected, so one refusal names every row found wrong.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import datasets

from ..config import SPLITS, ConfigError, PairsConfig
from ..lowering.irhash import canonical_hash, structure_hash
from ..pipeline.rows import generate_rows, make_row
from ..pipeline.seeds import category_plan

SAMPLE = 8  # rows regenerated besides the first of each split: lowering costs ~0.1-1 s a row
SHOWN = 10  # rows named in a refusal


def verify(ds: Mapping[str, datasets.Dataset], config: PairsConfig, source: str, sample: int = SAMPLE) -> None:
    """Raise one `ConfigError` naming every problem found in `ds` (see the module docstring, 1-3)."""
    sizes = {s: config.split_size(s) for s in SPLITS if config.split_size(s)}
    found = {s: len(d) for s, d in ds.items()}
    if found != sizes:
        raise ConfigError(
            f"{source} has rows {found} but config {config.name!r} with these settings has {sizes}: "
            "pass the same --seed / --*-size options the build was made with"
        )
    problems = wrong_hashes(ds)
    for split, d in ds.items():
        _, expected = next(generate_rows(config, split, 0, 1))
        if d[0] != expected:
            problems.append(f"{split}[0] is not what config {config.name!r} generates first (columns {', '.join(_differing(d[0], expected))})")
    for split, index in sampled(ds, config.seed, sample):
        problems += regenerated(ds[split][index], config, split, index)
    if problems:
        shown = "; ".join(problems[:SHOWN]) + (f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else "")
        raise ConfigError(
            f"{source}: refusing to publish rows that are not what they claim: {shown}. Rebuild it with `build` "
            "(with the options it was made with); nothing was pushed"
        )


def wrong_hashes(ds: Mapping[str, datasets.Dataset]) -> list[str]:
    """Every row whose hash columns are not the hashes of its `stablehlo`."""
    out = []
    for split, d in ds.items():
        columns = d.select_columns(["id", "stablehlo", "canonical_hash", "structure_hash"]).to_dict()
        for i, (row_id, text, canon, structure) in enumerate(zip(*columns.values(), strict=True)):
            if (canon, structure) != (canonical_hash(text), structure_hash(text)):
                out.append(f"{split}[{i}] ({row_id}): canonical_hash / structure_hash are not the hashes of its stablehlo")
    return out


def sampled(ds: Mapping[str, datasets.Dataset], seed: int, sample: int) -> list[tuple[str, int]]:
    """A seeded sample of (split, index) beyond each split's first row."""
    rest = [(s, i) for s, d in ds.items() for i in range(1, len(d))]
    return sorted(random.Random(seed).sample(rest, min(sample, len(rest))))


def regenerated(row: dict[str, Any], config: PairsConfig, split: str, index: int) -> list[str]:
    """Problems of one row against the row our code makes from its seed and category."""
    planned = category_plan(config, split)[index]
    if row["category"] != planned:
        return [f"{split}[{index}] ({row['id']}): category {row['category']!r}, but the config plans {planned!r} there"]
    try:
        expected = make_row(config, split, index, row["category"], int(row["seed"]))
    except Exception as err:
        return [f"{split}[{index}] ({row['id']}): its seed does not regenerate ({type(err).__name__}: {str(err)[:120]})"]
    if row != expected:
        return [f"{split}[{index}] ({row['id']}) differs from its regeneration from seed {row['seed']} (columns {', '.join(_differing(row, expected))})"]
    return []


def _differing(row: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(row) | set(expected) if row.get(k) != expected.get(k))
