"""The report of one evaluation: figures overall, per category and per tier, a table and JSON."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..pipeline.tiers import TIERS
from .metrics import summarize
from .scoring import SCORED, STATUSES, RowScore
from .tasks import COST_FIGURES, Task

TRANSLATION_KEYS = ("valid", "exact_match", "execution_accuracy", "signature_match", "op_f1")


@dataclass
class Report:
    task: str
    n: int  # rows scored: every row of the task (or of --sample), predicted or not
    predictions: int  # lines read from the predictions file
    metrics: dict[str, Any]
    per_category: dict[str, dict[str, Any]]
    per_tier: dict[str, dict[str, Any]]
    counts: dict[str, int]  # statuses, plus the predictions file's unreadable lines
    protection: str | None  # what contained the Python predictions (stablehlo-to-python)
    settings: dict[str, Any] = field(default_factory=dict)
    malformed_lines: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(_finite(asdict(self)), indent=1)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    def format(self) -> str:
        """The table the CLI prints: overall, then each category and tier."""
        cost = self.task == "cost"
        keys = [f"{k}:{f}" for k in ("mdape", "kendall_tau") for f in COST_FIGURES] if cost else list(TRANSLATION_KEYS)
        head = ["group", "n", *(k.replace("bytes_accessed", "bytes").replace("transcendentals", "transc") for k in keys)]
        lines = [head]
        groups = [("overall", self.metrics)] + [(f"  {c}", m) for c, m in self.per_category.items()]
        groups += [(f"  tier {t}", m) for t, m in self.per_tier.items()]
        for name, m in groups:
            lines.append([name, str(m["n"]), *(_cell(m, k, cost) for k in keys)])
        widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
        table = "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))) for row in lines)
        tally = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{self.task}: {self.n} rows, {self.predictions} predictions read ({tally})\n{table}"


def _cell(m: dict[str, Any], key: str, cost: bool) -> str:
    if cost:
        metric, figure = key.split(":")
        value = m[metric][figure]
        return "-" if math.isnan(value) else (f"{value:.1f}%" if metric == "mdape" else f"{value:.3f}")
    value = m[key]
    if math.isnan(value):
        return "-"
    return f"{value:.3f}" if key == "op_f1" else f"{100 * value:.1f}%"


def _finite(value: Any) -> Any:
    """NaN (no rows, or a constant ranking) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def build_report(
    task: Task, scores: Sequence[RowScore], predictions: int, malformed_lines: list[str], protection: str | None, settings: dict[str, Any]
) -> Report:
    by_category: dict[str, list[RowScore]] = defaultdict(list)
    by_tier: dict[str, list[RowScore]] = defaultdict(list)
    for s in scores:
        by_category[s.category].append(s)
        by_tier[s.tier].append(s)
    tiers = [name for _, name in TIERS if name in by_tier]
    counts = {status: sum(s.status == status for s in scores) for status in STATUSES} | {"unreadable_lines": len(malformed_lines)}
    rows = [
        {"id": s.id, "category": s.category, "tier": s.tier, "status": s.status, "valid": s.valid, "exact": s.exact, "agreed": s.agreed, "reason": s.reason}
        | ({"cost": s.cost} if task.kind == "cost" else {})
        for s in scores
        if task.kind == "cost" or s.status != SCORED or not s.agreed  # what went wrong, and every cost
    ]
    return Report(
        task=task.name,
        n=len(scores),
        predictions=predictions,
        metrics=summarize(scores, task.kind),
        per_category={c: summarize(by_category[c], task.kind) for c in sorted(by_category)},
        per_tier={t: summarize(by_tier[t], task.kind) for t in tiers},
        counts=counts,
        protection=protection,
        settings=settings,
        malformed_lines=malformed_lines[:100],
        rows=rows,
    )
