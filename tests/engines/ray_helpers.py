"""Shared by the engine tests (imported, not a conftest: `conftest` is the top-level one): a small local Ray that leaves no
process behind, and row comparison."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import datasets
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def descendants() -> set[int]:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


def wait_gone(pids: set[int], timeout: float = 60.0) -> set[int]:
    """The processes of `pids` still alive after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}
        time.sleep(0.5)
    return alive


@pytest.fixture(scope="module")
def local_ray() -> Iterator[object]:
    """A local Ray on two CPUs for the module's tests; afterwards, every process it started is gone."""
    ray = pytest.importorskip("ray")
    before = descendants()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # not a Ray already running here
    try:
        yield ray
    finally:
        started = descendants() - before
        ray.shutdown()
        assert wait_gone(started) == set(), "Ray left processes behind"


def parquet_split(directory: Path, split: str) -> datasets.Dataset:
    """A split of a Hub-layout build, read as the Hub would (its files in name order)."""
    files = sorted(directory.glob(f"{split}-*-of-*.parquet"))
    return datasets.Dataset(pa.concat_tables([pq.read_table(f) for f in files]))


def assert_same_rows(directory: Path, reference: datasets.DatasetDict) -> None:
    """Every column of every row of every split equal to the reference build's (NaN included)."""
    for split, ref in reference.items():
        got = parquet_split(directory, split)
        assert got.features == ref.features
        assert got.num_rows == ref.num_rows > 0
        for mine, theirs in zip(got, ref, strict=True):
            for column in ref.column_names:
                assert json.dumps(mine[column]) == json.dumps(theirs[column]), (split, mine["id"], column)
