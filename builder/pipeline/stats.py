"""Figures about a build: rows per split and category, op coverage, sizes. Read by the CLI
summary and by the dataset card."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import datasets

from ..lowering.extractor import counted_ops
from .realism import Figures, Source, analyse, summary


@dataclass
class BuildStats:
    rows: dict[str, int] = field(default_factory=dict)
    categories: dict[str, Counter[str]] = field(default_factory=dict)
    op_rows: Counter[str] = field(default_factory=Counter)  # op -> rows whose stablehlo uses it
    failures: int = 0
    jax_versions: set[str] = field(default_factory=set)
    ir_lines: Histogram = field(default_factory=lambda: Histogram.of([], 2))  # lines of `stablehlo`
    flops: Histogram = field(default_factory=lambda: Histogram.of([], 10))
    example: dict[str, Any] | None = None  # one real row: the shortest differentiable program of the first split
    category_examples: dict[str, dict[str, Any]] = field(default_factory=dict)  # category -> a short summary of one row
    duplicates: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> why -> programs dropped as repeats
    platform_rows: int = 0  # rows whose IR carries platform-specific pieces
    platform_pieces: Counter[str] = field(default_factory=Counter)  # piece (custom_call:<target>, ...) -> rows
    budget_redraws: int = 0  # draws over the config's length budget, replaced by the next seed
    lengths: dict[str, dict[str, Lengths]] = field(default_factory=dict)  # column -> category (and "all") -> characters
    length_bins: dict[str, Histogram] = field(default_factory=dict)  # column -> characters per row, log bins
    realism: dict[str, Any] = field(default_factory=dict)  # the generator's tells in the rows' Python (`realism.summary`)

    @property
    def platform_share(self) -> float:
        """The share of rows whose StableHLO is not portable (custom calls, backend attributes)."""
        total = sum(self.rows.values())
        return self.platform_rows / total if total else 0.0

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
        lines.append(f"draws over the length budget (replaced): {self.budget_redraws}")
        dropped = {s: sum(d.values()) for s, d in self.duplicates.items()}
        lines.append(
            "programs dropped as duplicates (replaced): "
            + ("; ".join(f"{s} {dropped[s]} ({', '.join(f'{why}: {n}' for why, n in d.items())})" for s, d in self.duplicates.items()) or "0")
        )
        pieces = ", ".join(f"{p} {n}" for p, n in self.platform_pieces.most_common())
        lines.append(f"rows with platform-specific IR: {self.platform_rows} ({self.platform_share:.1%})" + (f": {pieces}" if pieces else ""))
        if self.realism:
            tells = ", ".join(f"{key} {n}" for key, n in self.realism["tells"].items() if n) or "none"
            lines.append(f"rows showing a generator tell (benchmarks/realism.py): {tells}")
        if self.jax_versions:
            lines.append("produced by: " + "; ".join(sorted(self.jax_versions)))
        lines += ["", "StableHLO lines per program:", *self.ir_lines.bars()]
        lines += ["", "FLOPs per program (XLA cost analysis):", *self.flops.bars()]
        for column, per in self.lengths.items():
            lines += ["", f"{column}: characters per row (tokens at ~{CHARS_PER_TOKEN:g} characters a token)", *length_lines(per)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; `from_dict` reads it back (publishing keeps one per config in the repo)."""
        return {
            "rows": dict(self.rows),
            "categories": {s: dict(sorted(c.items())) for s, c in self.categories.items()},
            "op_rows": dict(sorted(self.op_rows.items())),
            "failures": self.failures,
            "jax_versions": sorted(self.jax_versions),
            "ir_lines": self.ir_lines.to_dict(),
            "flops": self.flops.to_dict(),
            "example": self.example,
            "category_examples": self.category_examples,
            "duplicates": self.duplicates,
            "platform_rows": self.platform_rows,
            "platform_pieces": dict(sorted(self.platform_pieces.items())),
            "budget_redraws": self.budget_redraws,
            "chars_per_token": CHARS_PER_TOKEN,
            "lengths": {col: {c: asdict(n) for c, n in per.items()} for col, per in self.lengths.items()},
            "length_bins": {col: h.to_dict() for col, h in self.length_bins.items()},
            "realism": self.realism,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuildStats:
        return cls(
            rows=dict(data["rows"]),
            categories={s: Counter(c) for s, c in data["categories"].items()},
            op_rows=Counter(data["op_rows"]),
            failures=int(data.get("failures", 0)),
            jax_versions=set(data.get("jax_versions", ())),
            ir_lines=Histogram.from_dict(data["ir_lines"]),
            flops=Histogram.from_dict(data["flops"]),
            example=data.get("example"),
            category_examples={c: dict(e) for c, e in data.get("category_examples", {}).items()},
            duplicates={s: dict(d) for s, d in data.get("duplicates", {}).items()},
            platform_rows=int(data.get("platform_rows", 0)),
            platform_pieces=Counter(data.get("platform_pieces", {})),
            budget_redraws=int(data.get("budget_redraws", 0)),
            lengths={col: {c: Lengths(**n) for c, n in per.items()} for col, per in data.get("lengths", {}).items()},
            length_bins={col: Histogram.from_dict(h) for col, h in data.get("length_bins", {}).items()},
            realism=dict(data.get("realism", {})),
        )


@dataclass(frozen=True)
class Histogram:
    """Counts in power-of-`base` bins: bin e holds values in [base**e, base**(e+1)); values below 1
    (a program with no FLOPs) are counted apart. Log bins because sizes span orders of magnitude."""

    base: int
    below_one: int
    bins: dict[int, int]  # exponent -> count, ascending
    minimum: float | None = None
    median: float | None = None
    maximum: float | None = None

    @classmethod
    def of(cls, values: Iterable[float], base: int) -> Histogram:
        vals = sorted(float(v) for v in values)
        bins: Counter[int] = Counter(_exponent(v, base) for v in vals if v >= 1)
        if not vals:
            return cls(base, 0, {})
        return cls(base, sum(v < 1 for v in vals), dict(sorted(bins.items())), vals[0], vals[len(vals) // 2], vals[-1])

    @property
    def total(self) -> int:
        return self.below_one + sum(self.bins.values())

    def rows(self) -> list[tuple[str, int]]:
        """(bin label, count) for every bin from the lowest to the highest filled one."""
        out = [("< 1", self.below_one)] if self.below_one else []
        if self.bins:
            for e in range(min(self.bins), max(self.bins) + 1):
                out.append((f"{_short(self.base**e)}–{_short(self.base ** (e + 1) - 1)}", self.bins.get(e, 0)))
        return out

    def bars(self, width: int = 40) -> list[str]:
        """A text histogram, one line per bin."""
        rows = self.rows()
        if not rows:
            return ["  (no rows)"]
        label = max(len(r[0]) for r in rows)
        top = max(n for _, n in rows) or 1
        return [f"  {name:>{label}} │{'█' * round(width * n / top):<{width}} {n:,}" for name, n in rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "below_one": self.below_one,
            "bins": {str(e): n for e, n in self.bins.items()},
            "min": self.minimum,
            "median": self.median,
            "max": self.maximum,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        bins = {int(e): int(n) for e, n in data["bins"].items()}
        return cls(int(data["base"]), int(data["below_one"]), dict(sorted(bins.items())), data["min"], data["median"], data["max"])


def _exponent(value: float, base: int) -> int:
    """floor(log_base(value)) for value >= 1, exact at powers of the base."""
    e = 0
    while base ** (e + 1) <= value:
        e += 1
    return e


def _short(n: float) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size and n % size == 0:
            return f"{int(n // size)}{unit}"
    return f"{int(n):,}"


CHARS_PER_TOKEN = 3.0  # a stated estimate for MLIR and Python text with a code tokenizer (BPE); real counts vary
LENGTH_COLUMNS = ("python", "stablehlo", "stablehlo_grad")


@dataclass(frozen=True)
class Lengths:
    """Characters per row of one column, over one category's rows (or all rows)."""

    rows: int
    median: int
    p90: int
    max: int

    @classmethod
    def of(cls, values: list[int]) -> Lengths:
        ordered = sorted(values)
        return cls(len(ordered), ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, (len(ordered) * 9) // 10)], ordered[-1])


def length_lines(per: Mapping[str, Lengths]) -> list[str]:
    """A text table: category, rows, median, p90, max characters and the median in tokens."""
    width = max([len(c) for c in per] + [8])
    out = [f"  {'category':<{width}} {'rows':>7} {'median':>9} {'p90':>9} {'max':>9} {'~tokens':>8}"]
    for name, n in per.items():
        out.append(f"  {name:<{width}} {n.rows:>7,} {n.median:>9,} {n.p90:>9,} {n.max:>9,} {round(n.median / CHARS_PER_TOKEN):>8,}")
    return out


def length_stats(per_category: Mapping[str, Mapping[str, list[int]]]) -> dict[str, dict[str, Lengths]]:
    """column -> category -> Lengths, with "all" last; a column no row has (no gradients) is left out."""
    out: dict[str, dict[str, Lengths]] = {}
    for column in LENGTH_COLUMNS:
        per = {c: Lengths.of(v) for c, v in sorted(per_category.get(column, {}).items()) if v}
        if per:
            per["all"] = Lengths.of([n for v in per_category[column].values() for n in v])
            out[column] = per
    return out


def ir_line_count(text: str) -> int:
    return text.count("\n") + (not text.endswith("\n")) if text else 0


def collect(
    ds: Mapping[str, datasets.Dataset],
    failures: int = 0,
    duplicates: Mapping[str, Mapping[str, int]] | None = None,
    budget_redraws: int = 0,
) -> BuildStats:
    stats = BuildStats(failures=failures, duplicates={s: dict(d) for s, d in (duplicates or {}).items()}, budget_redraws=budget_redraws)
    chars: dict[str, dict[str, list[int]]] = {c: {} for c in LENGTH_COLUMNS}
    lines: list[int] = []
    flops: list[float] = []
    example: tuple[tuple[bool, int, str], datasets.Dataset, int] | None = None
    candidates: dict[str, list[tuple[bool, int, str, str, int]]] = {}  # category -> (no gradient, lines, id, split, index)
    tells = Figures()
    for split, d in ds.items():
        stats.rows[split] = len(d)
        stats.categories[split] = Counter(d["category"])
        for ops in d["ops"]:
            stats.op_rows.update(ops)
        stats.jax_versions.update(set(d.unique("jax_version")) if len(d) else set())
        for pieces in d["platform_specific"] if "platform_specific" in d.column_names else ():
            stats.platform_rows += bool(pieces)
            stats.platform_pieces.update(pieces)
        columns = d.select_columns(["id", "category", "python", "args", "stablehlo", "stablehlo_grad", "flops"])
        for index, row in enumerate(columns):
            analyse(Source(row["python"], row["args"]), tells)
            for column in LENGTH_COLUMNS:
                if row[column] is not None:
                    chars[column].setdefault(row["category"], []).append(len(row[column]))
            n = ir_line_count(row["stablehlo"])
            lines.append(n)
            candidates.setdefault(row["category"], []).append((row["stablehlo_grad"] is None, n, row["id"], split, index))
            flops.append(row["flops"])
            key = (row["stablehlo_grad"] is None, n, row["id"])
            if example is None or (example[1] is d and key < example[0]):
                example = (key, d, index)
    stats.ir_lines = Histogram.of(lines, 2)
    stats.lengths = length_stats(chars)
    stats.length_bins = {c: Histogram.of([n for v in chars[c].values() for n in v], 2) for c in stats.lengths}
    stats.flops = Histogram.of(flops, 10)
    stats.realism = summary(tells)
    if example is not None:
        stats.example = example[1][example[2]]
    for category in sorted(candidates):
        _, n, _, split, index = representative(candidates[category])
        row = ds[split][index]
        stats.category_examples[category] = {
            "id": row["id"],
            "seed": row["seed"],
            "python": row["python"],
            "ops": list(row["ops"]),
            "lines": n,
            "gradient": row["stablehlo_grad"] is not None,
        }
    return stats


def representative(candidates: list[tuple[bool, int, str, str, int]]) -> tuple[bool, int, str, str, int]:
    """The row a card shows for a category: one with gradient IR if any, as long as the category's
    lower-quartile program (typical, yet short enough to read), ties broken by id."""
    ranked = sorted(candidates, key=lambda c: (c[1], c[2]))
    target = ranked[len(ranked) // 4][1]
    return min(candidates, key=lambda c: (c[0], abs(c[1] - target), c[2]))
