"""Validate's results kept row by row (`validate --resume-file`), so that a run stopped part way goes on
where it stopped: a framework-style row takes seconds to check, and 1,000 of them take hours.

The file is JSON Lines: a header saying what the results depend on (the checks' own code and the
options), then one line per checked row with a digest of the row's contents. A result is used again
only under the same header and for a row at the same place with the same digest. A file under
another header (other checks or options), or not a journal at all, is refused, never overwritten:
it may hold hours of results. Lines are appended and flushed as rows finish, and a torn last line
(a kill while writing) is dropped, so the file never holds a result that was not reached.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ..config import ConfigError
from .row_report import Finding, RowReport

VERSION = 1
ROW_COLUMNS = ("id", "python", "stablehlo", "stablehlo_grad", "args", "seed")


def checked_files() -> list[Path]:
    """The modules whose code decides a row's result: `builder/validation/` but this file, which only
    keeps results (its format has `VERSION`): a change here must not make hours of results unusable."""
    return [p for p in sorted(Path(__file__).resolve().parent.rglob("*.py")) if p.name != Path(__file__).name]


def checks_code() -> str:
    """A hash of `checked_files()`: a result recorded by other checks is not this code's result."""
    h = hashlib.sha256()
    for path in checked_files():
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def row_digest(row: dict[str, Any]) -> str:
    """What a result is about: the row's id, Python, IR, arguments and seed."""
    text = json.dumps([row.get(k) for k in ROW_COLUMNS], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def to_json(report: RowReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "category": report.category,
        "seed": report.seed,
        "input_seed": report.input_seed,
        "findings": [asdict(f) for f in report.findings],
        "seconds": dict(report.seconds),
    }


def from_json(data: dict[str, Any]) -> RowReport:
    report = RowReport(data["id"], data["category"], data["seed"], data["input_seed"], [Finding(**f) for f in data["findings"]])
    report.seconds = Counter(data["seconds"])
    return report


@dataclass
class Journal:
    """An open `--resume-file`: the results it already holds, by (split, position), and the file to add to."""

    path: Path
    header: dict[str, Any]
    done: dict[tuple[str, int], tuple[str, dict[str, Any]]] = field(default_factory=dict)  # -> (row digest, report)
    _out: IO[str] | None = None

    @classmethod
    def open(cls, path: Path, options: Any) -> Journal:
        header = {"journal": VERSION, "checks": checks_code(), "options": repr(options)}
        journal = cls(Path(path), header)
        journal._read()
        mode = "a" if journal.path.is_file() else "w"
        journal.path.parent.mkdir(parents=True, exist_ok=True)
        journal._out = journal.path.open(mode, encoding="utf-8")
        if mode == "w":
            journal._write(header)
        return journal

    def _read(self) -> None:
        if not self.path.is_file():
            return
        lines = self.path.read_text(encoding="utf-8").split("\n")
        try:
            first = json.loads(lines[0])
        except json.JSONDecodeError:
            first = None
        if not (isinstance(first, dict) and "journal" in first):
            raise ConfigError(f"--resume-file {self.path} is not a validate journal (its first line is not a journal's header): name another file")
        if first != self.header:
            theirs, ours = first.get("checks"), self.header["checks"]
            what = f"other checks ({theirs}; these are {ours})" if theirs != ours else f"other options ({first.get('options')})"
            raise ConfigError(
                f"--resume-file {self.path} holds {sum(1 for line in lines[1:] if line.strip())} results of {what}, which cannot be used again; "
                "it is left as it is: remove it to check every row afresh, or name another file"
            )
        kept = [lines[0]]
        for line in lines[1:]:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a torn last line: that row was not finished
                break
            self.done[(entry["split"], entry["position"])] = (entry["row"], entry["report"])
            kept.append(line)
        self.path.write_text("\n".join(kept) + "\n", encoding="utf-8")  # without a torn tail to append after

    def reuse(self, split: str, position: int, row: dict[str, Any]) -> RowReport | None:
        """The recorded result of this row, when there is one for its place and contents."""
        entry = self.done.get((split, position))
        return from_json(entry[1]) if entry is not None and entry[0] == row_digest(row) else None

    def record(self, split: str, position: int, row: dict[str, Any], report: RowReport) -> None:
        self._write({"split": split, "position": position, "row": row_digest(row), "report": to_json(report)})

    def _write(self, entry: dict[str, Any]) -> None:
        assert self._out is not None
        self._out.write(json.dumps(entry, sort_keys=True) + "\n")
        self._out.flush()
        os.fsync(self._out.fileno())

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
