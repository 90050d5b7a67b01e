"""The failure report: drawn programs that failed to trace or lower, kept next to the build.

A failing program is a generator bug. The pipeline replaces it by the next seed so row
counts stay exact; this module makes sure it is not forgotten. Rows are produced in
worker processes, so each work unit writes its own part file and the parent merges
the parts into one sorted `failures.jsonl` once every split is done: the report is
the same whatever `num_proc` was.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

REPORT_NAME = "failures.jsonl"
PARTS_DIR = "failures.parts"


LOWERING = "lowering"  # a program that failed to trace or lower: a generator bug
BUDGET = "budget"  # a program over the config's length budget: redrawn by design, counted


@dataclass(frozen=True)
class Failure:
    """A drawn program that was replaced by the next seed, and why: a generator bug (`kind`
    "lowering": drive these to zero) or a program over the length budget ("budget")."""

    split: str
    index: int
    category: str
    seed: int
    error: str
    kind: str = LOWERING


def of_kind(failures: Iterable[Failure], kind: str) -> list[Failure]:
    return [f for f in failures if f.kind == kind]


def _dump(failures: Iterable[Failure]) -> str:
    return "".join(json.dumps(asdict(f), sort_keys=True) + "\n" for f in failures)


def write_part(directory: Path, split: str, start: int, failures: list[Failure]) -> None:
    """Record the failures of the work unit of `split` that starts at `start` (nothing when there are none)."""
    if not failures:
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{split}-{start:010d}.jsonl"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(_dump(failures))
    os.replace(tmp, path)  # a killed worker leaves no half-written part behind


def merge_parts(directory: Path) -> list[Failure]:
    """Merge `directory/failures.parts/*` into `directory/failures.jsonl` (written even when empty:
    an empty report says the build was checked and nothing failed) and return the failures."""
    parts = directory / PARTS_DIR
    failures = [f for part in sorted(parts.glob("*.jsonl")) for f in _load(part)] if parts.is_dir() else []
    failures.sort(key=lambda f: (f.split, f.index))  # stable: attempts stay in the order they were drawn
    (directory / REPORT_NAME).write_text(_dump(failures))
    shutil.rmtree(parts, ignore_errors=True)
    return failures


def read_report(directory: Path) -> list[Failure] | None:
    """The failures recorded for the build in `directory`; None when it holds no report."""
    path = directory / REPORT_NAME
    return _load(path) if path.is_file() else None


def _load(path: Path) -> list[Failure]:
    return [Failure(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def describe(failure: Failure) -> str:
    """One line a person can act on: where, what was drawn, and the error."""
    return f"{failure.split}[{failure.index}] category {failure.category} seed {failure.seed} ({failure.kind}): {failure.error}"
