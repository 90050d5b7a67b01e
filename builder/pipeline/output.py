"""Writing a build to an output directory: all or nothing, and never over another build unasked.

A build is saved into a hidden sibling directory and renamed into place only once it is
complete, so an interrupted build leaves the output directory as it was. Replacing an
earlier build (`overwrite`: only a directory this project wrote, nothing else in it) moves the old one aside first and deletes it only after the
new one is in place. A `build.json` manifest says what a directory holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from filelock import FileLock

from ..config import ConfigError
from .failures import REPORT_NAME as FAILURES_REPORT

MANIFEST = "build.json"
DATASET_DICT = "dataset_dict.json"  # what `DatasetDict.save_to_disk` writes at the top
# The keys `build` writes into build.json: a manifest without one of them is not ours.
MANIFEST_KEYS = ("config", "values", "code_fingerprint", "jax_version", "rows", "failures", "data_digest")
DEDUP_REPORT = "duplicates.json"  # dedup.REPORT_NAME, named here: importing dedup would import row production
OUR_FILES = (MANIFEST, DATASET_DICT, FAILURES_REPORT, DEDUP_REPORT)
# Disk a row takes (measured: 30 rows of `balanced` at its default sizes, 90 KB of Arrow a row, the same again in
# the cache): writability and free space for this are checked before a build, in the output folder and the cache.
ROW_BYTES = 96 << 10
SPLIT_FILE = re.compile(r"data-\d{5}-of-\d{5}\.arrow|dataset_info\.json|state\.json")  # what save_to_disk writes per split


def _siblings(out: Path, kind: str) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.{kind}-*"))


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The build.json of `out` as a mapping, or None when there is none that reads as one."""
    path = out / MANIFEST
    try:
        data = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def not_ours(out: Path) -> list[str]:
    """What in `out` is not part of a build this project wrote (empty: a build, safe to replace).

    A build is exactly: a complete build.json, the DatasetDict's `dataset_dict.json`, one folder
    per split it lists holding only what `save_to_disk` writes there, and our reports."""
    problems = []
    manifest = read_manifest(out)
    if not (out / MANIFEST).exists() and not (out / DATASET_DICT).exists():  # nothing of a build: name what is there
        return sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir())
    if manifest is None:
        problems.append(f"{MANIFEST} {'is not a JSON object' if (out / MANIFEST).exists() else 'is missing'}")
    elif missing := [k for k in MANIFEST_KEYS if k not in manifest]:
        problems.append(f"{MANIFEST} lacks {', '.join(missing)}")
    try:
        splits = json.loads((out / DATASET_DICT).read_text())["splits"]
        splits = [s for s in splits if isinstance(s, str) and "/" not in s and s not in (".", "..")]
    except (OSError, ValueError, KeyError, TypeError):
        problems.append(f"{DATASET_DICT} is missing or unreadable")
        splits = []
    for entry in sorted(out.iterdir()):
        if entry.name in splits and entry.is_dir() and not entry.is_symlink():
            problems += [f"{entry.name}/{f.name}" for f in sorted(entry.iterdir()) if not (SPLIT_FILE.fullmatch(f.name) and f.is_file())]
        elif entry.name not in OUR_FILES or not entry.is_file() or entry.is_symlink():
            problems.append(entry.name + ("/" if entry.is_dir() else ""))
    return problems


def _what_is_there(manifest: dict[str, Any]) -> str:
    rows = ", ".join(f"{split} {n:,}" for split, n in dict(manifest["rows"]).items())
    return f"a build of {manifest['config']!r} (seed {dict(manifest['values']).get('seed')}; rows {rows})"


def check_target(out: Path, overwrite: bool) -> None:
    """Raise a `ConfigError` unless `out` may receive a build: missing, empty, or (with `overwrite`)
    holding an earlier build this project wrote and nothing else. Anything else is never replaced."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} is a file; pick a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    problems = not_ours(out)
    if problems:
        shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
        raise ConfigError(
            f"--output-dir {out} holds files that are not a build written by `build` ({shown}); refusing to replace them, "
            "even with --overwrite: pick a new or empty directory"
        )
    if not overwrite:
        raise ConfigError(
            f"--output-dir {out} already holds {_what_is_there(read_manifest(out) or {})}; pass --overwrite to replace it "
            "(the old build is removed only once the new one is complete), or pick another --output-dir"
        )


def data_digest(directory: Path) -> str:
    """sha256 of every split's Arrow files (split, file name and bytes, in name order): what build.json
    records and `publish --from-disk` checks. The bytes, not datasets' `_fingerprint`: that names the
    transforms that made a dataset and stays the same when a file is edited."""
    h = hashlib.sha256()
    for path in sorted(directory.glob("*/*.arrow")):
        h.update(f"{path.parent.name}/{path.name}\0".encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


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


def nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: Path, flag: str, need_bytes: int, where: Path | None = None) -> None:
    """Raise a `ConfigError` now, before any work, when `where` (default `path`; or the folder it would be
    made in) cannot take a file or has less than `need_bytes` free: otherwise a whole build runs before
    `OSError` says so."""
    where = nearest_existing(where or path)
    if not where.is_dir():
        raise ConfigError(f"{flag} {path}: {where} is a file, not a folder; pick another path")
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as err:
        raise ConfigError(f"{flag} {path}: cannot write in {where} ({err.strerror or err}); pick a folder you can write to") from None
    free = shutil.disk_usage(where).free
    if free < need_bytes:
        raise ConfigError(
            f"{flag} {path}: {free / 2**20:,.0f} MiB free on the file system of {where}, and this build needs about "
            f"{need_bytes / 2**20:,.0f} MiB there; free some space, pick another {flag}, or build fewer rows"
        )


def check_readable(directory: Path) -> None:
    """Read every file a saved DatasetDict is made of, so a damaged one is named (with the fix) before any
    work, not met later as a raw `OSError` or `UnicodeDecodeError` naming no file."""
    for path in sorted(directory.glob("*.json")) + sorted(directory.glob("*/*.json")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
            raise ConfigError(f"{path} is damaged ({type(err).__name__}: {str(err)[:120]}); rebuild {directory} with `build`") from None
    for path in sorted(directory.glob("*/*.arrow")):
        try:
            with pa.memory_map(str(path)) as source:
                pa.ipc.open_stream(source).read_all()
        except (OSError, pa.ArrowException) as err:
            raise ConfigError(f"{path} is damaged or truncated ({str(err)[:160]}); rebuild {directory} with `build`") from None
