"""The pass after the map: no two rows of a build share canonical IR or Python, and in
`structural` split mode no validation/test row shares a structure hash with train.

The plan (`plan.py`) already rejects repeated Python before anything is lowered; what only
the lowered IR shows (two different programs with the same canonical StableHLO, or a spare
seed drawn after a lowering failure) is found here from the hash columns alone, and each
offending row is replaced by the first of its replacement seeds that repeats nothing. The
rows are visited in one fixed order (train, validation, test; by index), so the result
depends on the config alone, never on `num_proc`.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..config import SPLITS, PairsConfig
from .failures import Failure
from .plan import DUPLICATE_PYTHON
from .replacement import Attempt, Kept, PythonKeys, first_new_row
from .seeds import attempts, category_plan, derive_seed
from .strata import TIER_QUOTA, index_of, stratify

logger = logging.getLogger(__name__)
REPORT_NAME = "duplicates.json"
SAME_IR = "same canonical StableHLO as an earlier row"
TRAIN_STRUCTURE = "structure hash seen in train"
KEY_COLUMNS = ("id", "python", "canonical_hash", "structure_hash")
# Replacement seeds drawn and lowered ahead, all repeats at once, where a caller has cores to spare
# (the Ray engine's tasks): nearly every repeat takes its first seed, so lowering replacements one
# by one on the driver, the pass's serial cost at scale (~0.3 s a repeat), is left to the rare rest.
AHEAD = 2


@dataclass(frozen=True)
class Wanted:
    """A repeat's replacement to draw ahead: which row, its planned category, its first seeds."""

    split: str
    index: int
    category: str
    seeds: tuple[int, ...]


DrawAhead = Callable[[Sequence[Wanted]], Sequence[Sequence[Attempt]]]


def key_columns(config: PairsConfig) -> tuple[str, ...]:
    """The columns the pass reads: the keys, and the forward StableHLO where it spreads rows over IR-length tiers."""
    return (*KEY_COLUMNS, "stablehlo") if config.stratify_ir_tiers else KEY_COLUMNS


@dataclass(frozen=True)
class Repeat:
    """A row that repeats an earlier one: where it is and why it goes."""

    split: str
    position: int
    id: str
    reason: str


@dataclass
class DedupReport:
    """What a build dropped as duplicate, per split: by the plan (before lowering) and by this pass."""

    planned: dict[str, dict[str, int]] = field(default_factory=dict)
    replaced: list[dict[str, Any]] = field(default_factory=list)  # {split, id, reason, old_seed, new_seed}

    def per_split(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {s: Counter(self.planned.get(s, {})) for s in SPLITS}
        for r in self.replaced:
            out[r["split"]][r["reason"]] += 1
        return {s: dict(sorted(c.items())) for s, c in out.items() if c}

    def to_json(self) -> str:
        return json.dumps({"planned": self.planned, "replaced": self.replaced}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, directory: Path) -> DedupReport | None:
        path = Path(directory) / REPORT_NAME
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(planned=data.get("planned", {}), replaced=data.get("replaced", []))


def find_repeats(columns: Mapping[str, Mapping[str, Sequence[Any]]], structural: bool) -> list[Repeat]:
    """Every row that repeats an earlier row (in split order, then position), from the key columns."""
    seen_python: set[str] = set()
    seen_ir: set[str] = set()
    train_structures = set(columns.get("train", {}).get("structure_hash", ()))
    repeats = []
    for split in SPLITS:
        if split not in columns:
            continue
        cols = columns[split]
        for pos, (row_id, python, canon, structure) in enumerate(zip(*(cols[k] for k in KEY_COLUMNS), strict=True)):
            reason = None
            if python in seen_python:
                reason = DUPLICATE_PYTHON
            elif canon in seen_ir:
                reason = SAME_IR
            elif structural and split != "train" and structure in train_structures:
                reason = TRAIN_STRUCTURE
            if reason is not None:
                repeats.append(Repeat(split, pos, row_id, reason))
                continue
            seen_python.add(python)
            seen_ir.add(canon)
    return repeats


def replacement_seeds(config: PairsConfig, split: str, index: int) -> Iterator[int]:
    for k in range(attempts(config)):
        yield derive_seed(config.seed, split, index, "replace", k)


def replace_repeats(
    config: PairsConfig,
    columns: Mapping[str, Mapping[str, Sequence[Any]]],
    repeats: Sequence[Repeat],
    failures: list[Failure] | None = None,
    keys: PythonKeys | None = None,
    draw_ahead: DrawAhead | None = None,
) -> dict[tuple[str, int], dict[str, Any]]:
    """A new row for every repeat: the first replacement seed whose program repeats no kept row
    (and, in structural mode, crosses no split's structures). Keyed by (split, position).
    `keys`: the rows' `python_key`s, when computed elsewhere (else here). `draw_ahead`: draws and
    lowers each repeat's first `AHEAD` seeds elsewhere (in parallel); the walk over the repeats, in
    order, then decides from them exactly as from seeds drawn here."""
    gone = {(r.split, r.position) for r in repeats}
    kept = Kept()
    for split in columns:
        for pos in range(len(columns[split]["id"])):
            if (split, pos) not in gone:
                key = keys[split][pos] if keys is not None else None
                kept.add(split, *(columns[split][k][pos] for k in ("python", "canonical_hash", "structure_hash")), key=key)
    wanted = [Wanted(r.split, index_of(r.id), category_plan(config, r.split)[index_of(r.id)], ()) for r in repeats]
    ahead: Sequence[Sequence[Attempt]] = [()] * len(repeats)
    if draw_ahead is not None and repeats:
        ahead = draw_ahead([replace(w, seeds=tuple(islice(replacement_seeds(config, w.split, w.index), AHEAD))) for w in wanted])
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r, w, drawn in zip(repeats, wanted, ahead, strict=True):
        row = first_new_row(config, r.split, w.index, w.category, replacement_seeds(config, r.split, w.index), kept, failures, drawn=drawn)
        if row is None:
            raise RuntimeError(f"{r.id}: no replacement in {attempts(config)} seeds repeats nothing (and fits the budget); raise max_statements")
        kept.add(r.split, row["python"], row["canonical_hash"], row["structure_hash"])
        out[(r.split, r.position)] = row
    return out


# --- the pass over a prepared build's Arrow files ---------------------------------------


def split_files(directory: Path, dataset_name: str, split: str) -> list[Path]:
    """The Arrow files datasets wrote for `split`, in row order (shard numbers are zero-padded)."""
    return sorted(directory.glob(f"{dataset_name}-{split}.arrow")) + sorted(directory.glob(f"{dataset_name}-{split}-*.arrow"))


def _read(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_stream(source).read_all()


def dedup_columns(
    config: PairsConfig,
    columns: Mapping[str, Mapping[str, Sequence[Any]]],
    planned: Mapping[str, Mapping[str, int]],
    failures: list[Failure] | None = None,
    python_keys: Callable[[], PythonKeys] | None = None,
    draw_ahead: DrawAhead | None = None,
) -> tuple[DedupReport, dict[tuple[str, int], dict[str, Any]]]:
    """The pass itself, whatever holds the rows: from every split's key columns (`KEY_COLUMNS`, in
    row order), the report and a new row for each repeat, keyed by (split, position).
    `python_keys`: computes the rows' `python_key`s elsewhere (in parallel), called only when a row
    is to be replaced; without it they are computed here. `draw_ahead`: see `replace_repeats`."""
    repeats = find_repeats(columns, config.split_mode == "structural")
    report = DedupReport(planned={s: dict(c) for s, c in planned.items() if c})
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    keys = python_keys() if python_keys is not None and (repeats or config.stratify_ir_tiers) else None
    if repeats:
        logger.info("replacing %d rows that repeat earlier rows", len(repeats))
        rows = replace_repeats(config, columns, repeats, failures, keys, draw_ahead)
        reasons = {(r.split, r.position): r.reason for r in repeats}
        for (split, position), row in rows.items():
            report.replaced.append({"split": split, "id": row["id"], "reason": reasons[(split, position)], "new_seed": row["seed"]})
    if config.stratify_ir_tiers:  # after the repeats: the spread sees the rows they left
        spread = stratify(config, columns, rows, failures, keys)
        for (split, _), row in sorted(spread.items(), key=lambda kv: (SPLITS.index(kv[0][0]), kv[0][1])):
            report.replaced.append({"split": split, "id": row["id"], "reason": TIER_QUOTA, "new_seed": row["seed"]})
        rows = {**rows, **spread}
    return report, rows


def dedup_prepared(
    directory: Path,
    dataset_name: str,
    config: PairsConfig,
    planned: Mapping[str, Mapping[str, int]],
    failures: list[Failure] | None = None,
) -> DedupReport:
    """Find and replace repeats in the Arrow files of a prepared build, in place; write the report."""
    files = {s: split_files(directory, dataset_name, s) for s in SPLITS}
    columns: dict[str, dict[str, list[Any]]] = {}
    for split, paths in files.items():
        if paths:
            tables = [_read(p).select(list(key_columns(config))) for p in paths]
            columns[split] = {k: [v for t in tables for v in t.column(k).to_pylist()] for k in key_columns(config)}
    report, rows = dedup_columns(config, columns, planned, failures)
    for split, paths in files.items():
        if rows:
            _rewrite(paths, {p: row for (s, p), row in rows.items() if s == split})
    (directory / REPORT_NAME).write_text(report.to_json())
    return report


def _rewrite(paths: Sequence[Path], rows: Mapping[int, dict[str, Any]]) -> None:
    """Put `rows` (by position in the split) into the split's Arrow files, keeping their schema."""
    from datasets import Features

    start = 0
    for path in paths:
        table = _read(path)
        stop = start + table.num_rows
        here = {p - start: row for p, row in rows.items() if start <= p < stop}
        start = stop
        if not here:
            continue
        features = Features.from_arrow_schema(table.schema)
        records = table.to_pylist()
        for offset, row in here.items():
            records[offset] = features.encode_example(row)
        new = pa.Table.from_pylist(records, schema=table.schema)
        tmp = path.with_name(path.name + ".dedup")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(new)
        os.replace(tmp, path)
