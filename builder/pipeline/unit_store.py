"""Finished work units on disk, as Parquet: written whole or not at all, read back as they were.

Both ways of building keep finished units so an interrupted build resumes instead of starting
over: the Ray engine's units are its output files (`engines/parquet_layout.py`), the `datasets`
builder keeps them beside its cache until the build is complete (`hf_builder.py`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..features import FEATURES
from .failures import Failure


def write_table(table: pa.Table, path: Path) -> int:
    """Write `table` to `path` through a hidden temporary file renamed into place; the file's size.
    Readers (`load_dataset`, the Hub) skip hidden files, so none ever sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path.stat().st_size


def write_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows of the data contract (as `generate_rows` yields them) to a Parquet file; its size."""
    table = pa.Table.from_pylist([FEATURES.encode_example(dict(row)) for row in rows], schema=FEATURES.arrow_schema)
    return write_table(table, path)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a file `write_rows` wrote, encoded as `datasets` stores them."""
    return pq.read_table(path).to_pylist()


def unit_paths(directory: Path, split: str, start: int) -> tuple[Path, Path]:
    """Where the unit of `split` starting at `start` keeps its rows and its failures."""
    stem = f"{split}-{start:010d}"
    return directory / f"{stem}.parquet", directory / f"{stem}.failures.json"


def save_unit(directory: Path, split: str, start: int, rows: list[dict[str, Any]], failures: list[Failure]) -> None:
    """Keep a finished unit: its failures first, then its rows, so finished rows always have their failures."""
    rows_path, failures_path = unit_paths(directory, split, start)
    tmp = failures_path.with_name(f".{failures_path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps([asdict(f) for f in failures]))
    os.replace(tmp, failures_path)
    write_rows(rows_path, rows)


def load_unit(directory: Path, split: str, start: int) -> tuple[list[dict[str, Any]], list[Failure]] | None:
    """A unit an earlier run finished (its rows and failures), or None."""
    rows_path, failures_path = unit_paths(directory, split, start)
    if not rows_path.is_file():
        return None
    return read_rows(rows_path), [Failure(**f) for f in json.loads(failures_path.read_text())]
