"""Writing a build to an output directory: all or nothing, and never over another build unasked.

A build is saved into a hidden sibling directory and renamed into place only once it is
complete, so an interrupted build leaves the output directory as it was. Replacing an
earlier build (`overwrite`) moves the old one aside first and deletes it only after the
new one is in place. A `build.json` manifest says what a directory holds.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..config import ConfigError

MANIFEST = "build.json"
DATASET_DICT = "dataset_dict.json"  # what `DatasetDict.save_to_disk` writes at the top


def _siblings(out: Path, kind: str) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.{kind}-*"))


def read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _what_is_there(out: Path) -> str:
    manifest = read_manifest(out)
    if manifest is None:
        return "a build"
    rows = ", ".join(f"{split} {n:,}" for split, n in manifest.get("rows", {}).items())
    return f"a build of {manifest.get('config')!r} (seed {manifest.get('values', {}).get('seed')}; rows {rows})"


def check_target(out: Path, overwrite: bool) -> None:
    """Raise a `ConfigError` unless `out` may receive a build: missing, empty, or (with `overwrite`)
    holding an earlier build. Files that are not a build are never replaced."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} is a file; pick a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / DATASET_DICT).is_file() and not (out / MANIFEST).is_file():
        names = sorted(p.name for p in out.iterdir())
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ConfigError(
            f"--output-dir {out} holds files that are not a build ({shown}); refusing to replace them, "
            "even with --overwrite: pick a new or empty directory"
        )
    if not overwrite:
        raise ConfigError(
            f"--output-dir {out} already holds {_what_is_there(out)}; pass --overwrite to replace it "
            "(the old build is removed only once the new one is complete), or pick another --output-dir"
        )


def check_separate(out: Path, cache_dir: Path) -> None:
    """The datasets cache must not be (inside) the output directory: it would look like foreign
    files there, and replacing the output would take the cache with it."""
    out, cache_dir = out.resolve(), cache_dir.resolve()
    if out == cache_dir or out in cache_dir.parents:
        raise ConfigError(
            f"the datasets cache {cache_dir} is inside --output-dir {out}; pick separate directories "
            "(--cache-dir sets the cache)"
        )


@contextmanager
def staged(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty directory to write the build into; on normal exit it replaces `out`.

    On any error or interrupt `out` is untouched and the staging directory is removed.
    """
    out = out.resolve()
    with lock(out):
        recover(out)
        check_target(out, overwrite)  # again: another process may have written there meanwhile
        tmp = out.parent / f".{out.name}.incomplete-{os.getpid()}"
        tmp.mkdir()
        try:
            yield tmp
            swap_into_place(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def lock(out: Path) -> FileLock:
    """The lock every build into `out` holds while it writes there (one build at a time per directory)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(out.parent / f".{out.name}.lock"))


def recover(out: Path) -> None:
    """Undo what a killed run left (we hold the lock, so no live run owns these)."""
    for stale in _siblings(out, "incomplete"):
        shutil.rmtree(stale, ignore_errors=True)
    for old in _siblings(out, "old"):
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:  # killed between moving the old build aside and moving the new one in
            os.rename(old, out)


def swap_into_place(new: Path, out: Path) -> None:
    """Move the finished build `new` to `out`; an earlier build there is moved aside first, deleted last."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        os.rename(new, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.rename(out, old)
    os.rename(new, out)
    shutil.rmtree(old, ignore_errors=True)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
