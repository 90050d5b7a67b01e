"""The tasks `evaluate` scores, and the difficulty tiers every score is broken down by."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError
from ..pipeline.tiers import tier_of

COST_FIGURES = ("flops", "bytes_accessed", "transcendentals")


@dataclass(frozen=True)
class Task:
    """One task: what a prediction is (`kind`: "ir", "python" or "cost") and the column it is scored against."""

    name: str
    kind: str
    reference: str
    prediction: str  # what a prediction holds, for messages and docs

    def applies(self, row: dict[str, Any]) -> bool:
        """Whether the row is part of this task (forward-to-gradient: rows with a gradient)."""
        return row.get(self.reference) is not None


TASKS = {
    t.name: t
    for t in (
        Task("python-to-stablehlo", "ir", "stablehlo", "the StableHLO text of the row's `python`"),
        Task("stablehlo-to-python", "python", "stablehlo", "Python source defining the row's `entry_point` (or one top-level function)"),
        Task("forward-to-gradient", "ir", "stablehlo_grad", "the StableHLO text of the gradient, given the row's `stablehlo`"),
        Task("cost", "cost", "flops", "an object {flops, bytes_accessed, transcendentals} for the row's `stablehlo`"),
    )
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown task {name!r}{hint}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def tier(row: dict[str, Any]) -> str:
    """The row's difficulty tier, by the length of its forward StableHLO (`pipeline.strata.TIERS`)."""
    return tier_of(row["stablehlo"])
