"""Figures about a build: rows per split and category, op coverage, sizes. Read by the CLI
summary and by the dataset card."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import datasets

from .extractor import counted_ops


@dataclass
class BuildStats:
    rows: dict[str, int] = field(default_factory=dict)
    categories: dict[str, Counter[str]] = field(default_factory=dict)
    op_rows: Counter[str] = field(default_factory=Counter)  # op -> rows whose stablehlo uses it
    failures: int = 0
    jax_versions: set[str] = field(default_factory=set)

    @property
    def distinct_ops(self) -> int:
        """stablehlo.* and chlo.* ops seen (the coverage figure the project tracks)."""
        return len(counted_ops(self.op_rows))

    def format(self) -> str:
        cats = sorted({c for counts in self.categories.values() for c in counts})
        splits = list(self.rows)
        width = max([len(c) for c in cats] + [8])
        lines = [f"{'category':<{width}} " + " ".join(f"{s:>10}" for s in splits)]
        for c in cats:
            lines.append(f"{c:<{width}} " + " ".join(f"{self.categories[s].get(c, 0):>10}" for s in splits))
        lines.append(f"{'total':<{width}} " + " ".join(f"{self.rows[s]:>10}" for s in splits))
        lines.append("")
        lines.append(f"distinct StableHLO/CHLO ops: {self.distinct_ops}")
        lines.append("rows per op: " + ", ".join(f"{op} {n}" for op, n in sorted(self.op_rows.items(), key=lambda kv: (-kv[1], kv[0]))))
        lines.append(f"programs that failed to lower (replaced): {self.failures}")
        if self.jax_versions:
            lines.append("produced by: " + "; ".join(sorted(self.jax_versions)))
        return "\n".join(lines)


def collect(ds: Mapping[str, datasets.Dataset], failures: int = 0) -> BuildStats:
    stats = BuildStats(failures=failures)
    for split, d in ds.items():
        stats.rows[split] = len(d)
        stats.categories[split] = Counter(d["category"])
        for ops in d["ops"]:
            stats.op_rows.update(ops)
        stats.jax_versions.update(set(d.unique("jax_version")) if len(d) else set())
    return stats
