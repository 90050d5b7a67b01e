"""Reading a predictions file: JSON Lines of {"id": ..., "prediction": ...}, checked before any work."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError


@dataclass
class Predictions:
    """The predictions by id, and the lines that could not be read (kept: they are counted, not dropped)."""

    values: dict[str, Any]
    malformed_lines: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return len(self.values) + len(self.malformed_lines)


def read_predictions(path: str | Path) -> Predictions:
    """Every line of `path`; a line that is not a JSON object with a string `id` and a
    `prediction` is kept as malformed (its row then counts as missing)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--predictions {path}: no such file; give a JSON Lines file of {{\"id\": ..., \"prediction\": ...}}")
    values: dict[str, Any] = {}
    bad: list[str] = []
    ids: Counter[str] = Counter()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                bad.append(f"line {number}: not JSON ({err.msg})")
                continue
            if not isinstance(record, dict) or not isinstance(record.get("id"), str) or "prediction" not in record:
                bad.append(f'line {number}: not an object with a string "id" and a "prediction"')
                continue
            ids[record["id"]] += 1
            values[record["id"]] = record["prediction"]
    twice = [i for i, n in ids.items() if n > 1]
    if twice:
        raise ConfigError(f"{path}: {len(twice)} ids appear more than once (e.g. {', '.join(map(repr, twice[:3]))}); give one prediction per id")
    if not values and not bad:
        raise ConfigError(f"{path} holds no predictions; expected one JSON object a line")
    return Predictions(values, bad)


def check_ids(predictions: Predictions, known: Iterable[str], where: str) -> None:
    """Every predicted id must name a row of the task (a wrong split or config is the usual cause)."""
    unknown = sorted(set(predictions.values) - set(known))
    if unknown:
        raise ConfigError(
            f"{len(unknown)} predicted ids are not rows of {where} (e.g. {', '.join(map(repr, unknown[:3]))}); "
            "check --reference, --split and --task (forward-to-gradient scores only rows with a gradient)"
        )
