"""The Hub's Parquet layout of a build: `<config>/<split>-NNNNN-of-NNNNN.parquet`, one file a work unit.

Every name is known before any row exists (a split's file count follows from its size and
`shard_size`), so each worker writes its own file and nothing has to be renamed or counted
afterwards. A file is written under a hidden temporary name and renamed into place, so a file
that exists is finished; readers (`load_dataset`, the Hub) skip hidden files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import SPLITS, PairsConfig
from ..features import FEATURES
from ..pipeline.seeds import shards
from ..pipeline.unit_store import read_rows, write_rows, write_table

__all__ = ["Unit", "read_columns", "read_rows", "remove_partial_files", "replace_rows", "unit_of", "units", "write_rows"]


@dataclass(frozen=True)
class Unit:
    """One work unit, `split[start:stop]`, and the file it becomes: number `number` of `count`."""

    split: str
    number: int
    count: int
    start: int
    stop: int

    @property
    def file_name(self) -> str:
        return f"{self.split}-{self.number:05d}-of-{self.count:05d}.parquet"


def units(config: PairsConfig) -> list[Unit]:
    """Every work unit of a build, in row order (train, validation, test)."""
    out = []
    for split in SPLITS:
        ranges = shards(config, split)
        out += [Unit(split, k, len(ranges), start, stop) for k, (start, stop) in enumerate(ranges)]
    return out


def unit_of(config: PairsConfig, split: str, index: int) -> tuple[Unit, int]:
    """The unit holding `split[index]`, and the row's offset in its file."""
    ranges = shards(config, split)
    number = index // config.shard_size
    start, stop = ranges[number]
    return Unit(split, number, len(ranges), start, stop), index - start


def read_columns(paths: Sequence[Path], columns: Sequence[str]) -> dict[str, list[Any]]:
    """`columns` of the files `paths`, concatenated in order."""
    tables = [pq.read_table(p, columns=list(columns)) for p in paths]
    return {c: [v for t in tables for v in t.column(c).to_pylist()] for c in columns}


def replace_rows(path: Path, rows: Mapping[int, Mapping[str, Any]]) -> int:
    """Put `rows` (by offset in the file) into the file, the rest as it was; the file's new size.
    Writing the same rows twice gives the same bytes, so an interrupted pass can simply run again."""
    records = read_rows(path)
    for offset, row in rows.items():
        records[offset] = FEATURES.encode_example(dict(row))
    return write_table(pa.Table.from_pylist(records, schema=FEATURES.arrow_schema), path)


def remove_partial_files(directory: Path) -> int:
    """Delete the temporary files writers killed part way left behind; how many there were."""
    stale = list(directory.glob(".*.tmp-*")) if directory.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
