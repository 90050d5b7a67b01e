"""A build in progress: `.<out>.partial` beside the output directory, kept across interrupts.

The engine writes the whole build there (its Parquet files, failure parts, the global plan,
the dedup result) and moves it to the output directory only once it is complete, so the
output directory never holds a partial build. Everything in it is either finished or a hidden
temporary file, so re-running the same command keeps what is there and does the rest; a
partial build of another config or other code (its `build.json` says whose it is) is discarded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, PairsConfig
from ..pipeline.build_dir import PARQUET_LAYOUT
from ..pipeline.failures import PARTS_DIR
from ..pipeline.output import MANIFEST, read_manifest
from ..pipeline.plan import Plan, build_plan
from .parquet_layout import Unit, remove_partial_files

logger = logging.getLogger(__name__)
PLAN = "plan.json"  # the global plan, drawn once per build (a resumed build reads it back)
DEDUP_ROWS = "dedup-rows.parquet"  # the rows the pass after the map put in, kept until the build is complete
LAYOUT = PARQUET_LAYOUT


def identity(config: PairsConfig, fingerprint: str) -> dict[str, Any]:
    """What decides a build's bytes: a directory with the same identity holds the same build."""
    ident = {"config": config.name, "values": config.values(), "code_fingerprint": fingerprint, "layout": LAYOUT}
    return json.loads(json.dumps(ident))


def holds(directory: Path, ident: dict[str, Any], complete: bool) -> bool:
    """Whether `directory` holds a build (complete or not, as asked) with this identity."""
    manifest = read_manifest(directory)
    return manifest is not None and manifest.get("complete") is complete and all(manifest.get(k) == v for k, v in ident.items())


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a hidden temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Staging:
    """Where a build is written until it is complete; `data_dir` holds its Parquet files."""

    root: Path
    config_name: str

    @property
    def data_dir(self) -> Path:
        return self.root / self.config_name

    @property
    def parts_dir(self) -> Path:
        return self.root / PARTS_DIR

    def path(self, unit: Unit) -> Path:
        return self.data_dir / unit.file_name

    def finished(self, units: list[Unit]) -> list[Unit]:
        return [u for u in units if self.path(u).is_file()]


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def open_staging(out: Path, ident: dict[str, Any], overwrite: bool = False) -> tuple[Staging, bool]:
    """The staging directory of a build into `out` (the caller holds the output lock), and whether
    it resumes an earlier run of the same build. A partial build of another config, other values or
    other code is discarded only with `overwrite`: it may be hours of work."""
    root = staging_dir(out)
    if root.is_dir() and not holds(root, ident, complete=False):
        if not overwrite:
            other = read_manifest(root) or {}
            raise ConfigError(
                f"{root} holds an interrupted build of {other.get('config')!r} with other values or code "
                f"(seed {other.get('values', {}).get('seed')}, code {other.get('code_fingerprint')}); run the command "
                "that started it to resume it, or pass --overwrite to discard it"
            )
        logger.warning("discarding %s: a partial build of another config, other values or other code", root)
        shutil.rmtree(root)
    resumed = root.is_dir()
    staging = Staging(root, ident["config"])
    staging.data_dir.mkdir(parents=True, exist_ok=True)
    if not resumed:
        write_json(root / MANIFEST, {**ident, "complete": False})
    remove_partial_files(staging.data_dir)
    remove_partial_files(root)
    return staging, resumed


def has_plan(staging: Staging) -> bool:
    return (staging.root / PLAN).is_file()


def load_plan(staging: Staging, config: PairsConfig, draw: Callable[[PairsConfig], Plan] = build_plan) -> tuple[Plan, bool]:
    """The build's global plan: read back from an earlier run, or drawn now (by `draw`) and kept; and whether it was drawn."""
    path = staging.root / PLAN
    if path.is_file():
        return Plan.from_json(path.read_text()), False
    plan = draw(config)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(plan.to_json())
    os.replace(tmp, path)
    return plan, True
