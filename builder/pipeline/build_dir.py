"""Reading a build directory, whichever way it was written: one loader for `validate`, `evaluate` and `publish`.

Two layouts are builds: `build --output-dir` saves a DatasetDict (`dataset_dict.json`, one folder of
Arrow files per split; build.json records a `data_digest` of them), and `build --engine ray` writes the
Hub's layout (`<config>/<split>-NNNNN-of-NNNNN.parquet`; build.json records each file's sha256 in
`data_files`). The layout is told from what is in the directory. Before any rows are read, a Parquet
build must be whole (every shard its name promises, the counts and rows build.json records) and every
recorded digest must still match the bytes: a missing or edited shard is named, with the fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from ..config import SPLITS, ConfigError
from ..features import FEATURES
from .output import DATASET_DICT, MANIFEST, check_readable, data_digest, read_manifest

ARROW = "save_to_disk"  # DatasetDict.save_to_disk: dataset_dict.json and Arrow files
PARQUET = "parquet"  # the Hub's layout, as `build --engine ray` writes it
PARQUET_LAYOUT = "parquet-hub/1"  # what build.json's `layout` says for a Parquet build
SHARD = re.compile(r"(?P<split>\w+?)-(?P<number>\d{5})-of-(?P<count>\d{5})\.parquet")
SINGLE = "rows"  # the one split of a `Dataset.save_to_disk` directory (no DatasetDict)
REBUILD = "rebuild it with the same `build` command and --overwrite"


@dataclass(frozen=True)
class BuildDir:
    """A build directory, checked: its layout, build.json (None when it has none) and, for Parquet, each split's files in order."""

    path: Path
    layout: str
    manifest: dict[str, Any] | None
    config_name: str | None = None  # the folder of a Parquet build's files (its config)
    files: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        if self.layout == PARQUET:
            return list(self.files)
        if not (self.path / DATASET_DICT).is_file():
            return [SINGLE]
        return list(json.loads((self.path / DATASET_DICT).read_text())["splits"])


def file_digest(path: Path) -> str:
    """sha256 of one file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parquet_digests(directory: Path) -> dict[str, str]:
    """sha256 of every shard of a Parquet build, by path inside it (`<config>/<file>`): build.json's `data_files`."""
    return {f"{p.parent.name}/{p.name}": file_digest(p) for p in sorted(directory.glob("*/*.parquet")) if SHARD.fullmatch(p.name)}


def open_build(path: Path, what: str = "the directory") -> BuildDir:
    """The build in `path`, its layout told from its files; a `ConfigError` naming the problem and the
    fix when it is neither layout, or a Parquet build misses a shard or has one that does not read."""
    if not path.is_dir():
        raise ConfigError(f"{what} {path}: no such directory")
    manifest = read_manifest(path)
    if (path / DATASET_DICT).is_file() or (path / "state.json").is_file():  # a DatasetDict, or one Dataset
        check_readable(path)
        return BuildDir(path, ARROW, manifest)
    folders = sorted({p.parent.name for p in path.glob("*/*.parquet") if SHARD.fullmatch(p.name)})
    if manifest and manifest.get("layout") == PARQUET_LAYOUT:
        folders = [str(manifest.get("config"))]
    if not folders:
        raise ConfigError(
            f"{what} {path} holds no build: neither {DATASET_DICT} (written by `build --output-dir`) nor "
            "<config>/<split>-NNNNN-of-NNNNN.parquet files (written by `build --engine ray`); give a directory `build` wrote"
        )
    if len(folders) > 1:
        several = ", ".join(folders)
        raise ConfigError(f"{what} {path} holds Parquet shards of several configs ({several}) and no build.json saying which; give one config's build")
    files = _parquet_files(path, folders[0], manifest)
    return BuildDir(path, PARQUET, manifest, folders[0], files)


def _parquet_files(path: Path, config: str, manifest: dict[str, Any] | None) -> dict[str, list[Path]]:
    """Each split's shards in order, checked to be all there (by their names and build.json's counts) and readable."""
    data = path / config
    found: dict[str, dict[int, int]] = {}
    for p in sorted(data.glob("*.parquet")) if data.is_dir() else []:
        if m := SHARD.fullmatch(p.name):
            found.setdefault(m["split"], {})[int(m["number"])] = int(m["count"])
    counts = {s: max(c.values()) for s, c in found.items()}
    if manifest and isinstance(manifest.get("files"), dict):
        counts = {**counts, **{str(s): int(n) for s, n in manifest["files"].items()}}
    problems = []
    for split, count in counts.items():
        have = found.get(split, {})
        problems += [f"{config}/{split}-{k:05d}-of-{count:05d}.parquet is missing" for k in range(count) if have.get(k) != count]
        problems += [f"{config}/{split}-{k:05d}-of-{c:05d}.parquet does not belong (the split has {count} files)" for k, c in have.items() if c != count]
    if problems:
        raise ConfigError(f"{path} is not a whole build: {'; '.join(problems[:6])}{' ...' if len(problems) > 6 else ''}; {REBUILD}")
    order = sorted(counts, key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s))
    files = {s: [data / f"{s}-{k:05d}-of-{counts[s]:05d}.parquet" for k in range(counts[s])] for s in order}
    rows = {s: sum(_num_rows(p, path) for p in paths) for s, paths in files.items()}
    recorded = (manifest or {}).get("rows")
    if isinstance(recorded, dict) and {s: n for s, n in recorded.items() if n} != {s: n for s, n in rows.items() if n}:
        raise ConfigError(f"{path}: its files hold rows {rows} but {MANIFEST} records {recorded}; {REBUILD}")
    return files


def _num_rows(file: Path, path: Path) -> int:
    try:
        return pq.read_metadata(file).num_rows
    except (OSError, pa.ArrowException) as err:
        raise ConfigError(f"{file} is damaged or truncated ({str(err)[:160]}); {REBUILD} ({path})") from None


def digest_problems(build: BuildDir, required: bool = False) -> list[str]:
    """Where the data no longer has the bytes build.json recorded (empty: it has them). With `required`,
    a build.json that records no digest is a problem too (publishing promises the bytes `build` wrote)."""
    manifest = build.manifest
    if build.layout == ARROW:
        recorded = (manifest or {}).get("data_digest")
        if not recorded:
            return [_no_digest(build, "data_digest")] if required else []
        actual = data_digest(build.path)
        if actual == recorded:
            return []
        return [f"the Arrow files in {build.path} changed since `build` wrote them (sha256 {actual[:16]}..., {MANIFEST} records {recorded[:16]}...)"]
    recorded = (manifest or {}).get("data_files")
    if not isinstance(recorded, dict):
        return [_no_digest(build, "data_files")] if required else []
    actual = {f"{build.config_name}/{p.name}": file_digest(p) for paths in build.files.values() for p in paths}
    problems = [f"{name} is listed in {MANIFEST} but missing" for name in sorted(set(recorded) - set(actual))]
    problems += [f"{name} is not one of the files {MANIFEST} lists" for name in sorted(set(actual) - set(recorded))]
    problems += [
        f"{name} changed since `build` wrote it (sha256 {actual[name][:16]}..., {MANIFEST} records {str(recorded[name])[:16]}...)"
        for name in sorted(set(actual) & set(recorded))
        if actual[name] != recorded[name]
    ]
    return [f"{build.path}: {p}" for p in problems]


def _no_digest(build: BuildDir, key: str) -> str:
    if build.manifest is None:
        return f"{build.path} has no readable {MANIFEST}: only a directory written by `jax-stablehlo-pairs build` can be published from disk"
    return f"{build.path / MANIFEST} records no {key} (written by an older version): rebuild it with `build`"


def check_digests(build: BuildDir) -> None:
    """Raise a `ConfigError` before any work when a recorded digest no longer matches the data."""
    if problems := digest_problems(build):
        raise ConfigError("; ".join(problems) + f"; {REBUILD}")


def load_splits(build: BuildDir, splits: Sequence[str] | None = None, cache_dir: str | None = None) -> dict[str, datasets.Dataset]:
    """The rows of `splits` (default: all) as `datasets.Dataset`s: `load_from_disk` for Arrow, the
    `parquet` loader (memory-mapped through the datasets cache, with the data contract's features) for Parquet."""
    wanted = list(splits or build.splits)
    missing = [s for s in wanted if s not in build.splits]
    if missing:
        raise ConfigError(f"{build.path} has no split {missing[0]!r}; it has {', '.join(build.splits)} (pass --split)")
    if build.layout == ARROW:
        loaded = datasets.load_from_disk(str(build.path))
        return {SINGLE: loaded} if isinstance(loaded, datasets.Dataset) else {s: loaded[s] for s in wanted}
    data_files = {s: [str(p) for p in build.files[s]] for s in wanted}
    loaded = datasets.load_dataset("parquet", data_files=data_files, features=FEATURES, cache_dir=cache_dir)
    return {s: loaded[s] for s in wanted}
