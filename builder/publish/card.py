"""The published dataset card: `dataset_card.md` (a Jinja template) filled with each config's
build statistics, under a YAML header merged with what `push_to_hub` wrote.

No network here: `hub.py` fetches and commits, this module only turns records into text, so
the card can be rendered and checked offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from .. import __version__
from ..config import SPLITS, PairsConfig, load_named
from ..lowering.extractor import counted_ops
from ..pipeline.realism import TELLS
from ..pipeline.stats import CHARS_PER_TOKEN, BuildStats

DEFAULT_CONFIG = "balanced"  # PairsBuilder.DEFAULT_CONFIG_NAME; the card marks it `default: true`
PRETTY_NAME = "JAX → StableHLO pairs"
HEADER = {
    "license": "apache-2.0",
    "pretty_name": PRETTY_NAME,
    "task_categories": ["text-generation", "translation"],
    "tags": ["code", "jax", "stablehlo", "mlir", "xla", "compilers", "synthetic"],
}
STATS_DIR = "stats"  # stats/<config>.json in the repo: what the card says about each config
FIGURES_DIR = "figures"  # figures/<config>.png
ALWAYS_SHOWN = ("seed", "train_size", "validation_size", "test_size", "min_statements", "max_statements", "max_args")
EXAMPLE_CODE_COLUMNS = ("python", "stablehlo", "jaxpr", "stablehlo_grad", "hlo_optimized")


def template_path() -> Path:
    """`dataset_card.md`: shipped inside the package when built as a wheel, else the checkout's root."""
    here = Path(__file__).resolve().parent
    for path in (here / "dataset_card.md", here.parent.parent / "dataset_card.md"):
        if path.is_file():
            return path
    raise FileNotFoundError("dataset_card.md (the card template) is missing: it belongs at the repository root")


@dataclass
class ConfigRecord:
    """Everything the card says about one published config. Kept in the repo as
    `stats/<config>.json`, so publishing another config later renders the whole card again
    without rebuilding this one."""

    name: str
    config: dict[str, Any]  # the PairsConfig fields that decide the rows
    stats: BuildStats
    generator: str  # package version and code fingerprint
    named: dict[str, Any] | None = None  # the named config's values: what differs from them goes into the command
    figure: str | None = None  # path of the figure in the repo, if one was drawn

    @classmethod
    def of(cls, config: PairsConfig, stats: BuildStats, fingerprint: str, named: PairsConfig | None = None) -> ConfigRecord:
        return cls(
            name=config.name,
            config=_values(config),
            stats=stats,
            generator=f"jax-stablehlo-pairs {__version__} (code fingerprint {fingerprint})",
            named=_values(named) if named is not None else None,
        )

    @property
    def overridden(self) -> dict[str, Any]:
        """Values beyond ALWAYS_SHOWN that differ from the named config (all of them when it is unknown)."""
        named = self.named or {}
        skip = {*ALWAYS_SHOWN, "description"}
        return {k: v for k, v in self.config.items() if k not in skip and (k not in named or named[k] != v)}

    # ---- what the card shows ------------------------------------------------------------
    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def description(self) -> str:
        return str(self.config.get("description", "")).strip()

    @property
    def total_rows(self) -> int:
        return sum(self.stats.rows.values())

    @property
    def split_names(self) -> str:
        return " / ".join(s for s in SPLITS if s in self.stats.rows)

    @property
    def sizes(self) -> str:
        return " / ".join(f"{self.stats.rows.get(s, 0):,}" for s in SPLITS)

    @property
    def jax_versions(self) -> str:
        return "; ".join(sorted(self.stats.jax_versions)) or "unknown"

    @property
    def build_command(self) -> str:
        """The shell command that regenerates these rows: CLI flags are the config keys, dashed."""
        flags = [f"--{k.replace('_', '-')} {self.config[k]}" for k in ALWAYS_SHOWN]
        for key, value in self.overridden.items():
            flag = f"--{key.replace('_', '-')}"
            if key == "categories":
                flags.append(f"{flag} " + ",".join(f"{k}={float(w):g}" for k, w in sorted(value.items())))
            elif isinstance(value, bool):  # the CLI's switches: --x / --no-x
                flags.append(flag if value else f"--no-{key.replace('_', '-')}")
            else:
                flags.append(f"{flag} {value}")
        return f"jax-stablehlo-pairs build {self.name} {' '.join(flags)} --output-dir {self.name}"

    @property
    def load_call(self) -> str:
        """The `load_dataset` call on the loading script that regenerates these rows."""
        kwargs = [f"{k}={v!r}" for k, v in ((k, self.config[k]) for k in ALWAYS_SHOWN)]
        kwargs += [f"{k}={v!r}" for k, v in self.overridden.items()]
        return f'load_dataset("./jax_stablehlo_pairs.py", "{self.name}", {", ".join(kwargs)}, trust_remote_code=True)'

    @property
    def category_table(self) -> str:
        splits = [s for s in SPLITS if s in self.stats.rows] or list(self.stats.rows)
        cats = sorted({c for counts in self.stats.categories.values() for c in counts})
        rows = [[f"`{c}`", *(f"{self.stats.categories[s].get(c, 0):,}" for s in splits)] for c in cats]
        rows.append(["**total**", *(f"**{self.stats.rows[s]:,}**" for s in splits)])
        return markdown_table(["category", *splits], rows)

    @property
    def distinct_ops(self) -> int:
        return self.stats.distinct_ops

    @property
    def op_table(self) -> str:
        counted = set(counted_ops(self.stats.op_rows))
        ops = sorted(((op, n) for op, n in self.stats.op_rows.items() if op in counted), key=lambda kv: (-kv[1], kv[0]))
        total = self.total_rows or 1
        return markdown_table(["op", "rows using it", "share"], [[f"`{op}`", f"{n:,}", f"{n / total:.1%}"] for op, n in ops])

    @property
    def ir_lines_histogram(self) -> str:
        return "\n".join(self.stats.ir_lines.bars())

    @property
    def flops_histogram(self) -> str:
        return "\n".join(self.stats.flops.bars())

    @property
    def chars_per_token(self) -> str:
        return f"{CHARS_PER_TOKEN:g}"

    @property
    def budget(self) -> str:
        """The config's length budget, as the card states it ("" when it has none)."""
        parts = [f"`{k}` {self.config[k]:,}" for k in ("max_ir_chars", "max_python_chars") if self.config.get(k)]
        return ", ".join(parts)

    @property
    def length_tables(self) -> list[tuple[str, str]]:
        """(column, markdown table of characters per category: median, p90, max, median tokens)."""
        return [
            (column, markdown_table(
                ["category", "rows", "median", "p90", "max", "median ~tokens"],
                [[f"`{c}`" if c != "all" else "**all**", f"{n.rows:,}", f"{n.median:,}", f"{n.p90:,}", f"{n.max:,}",
                  f"{round(n.median / CHARS_PER_TOKEN):,}"] for c, n in per.items()],
            ))
            for column, per in self.stats.lengths.items()
        ]  # fmt: skip

    @property
    def realism_table(self) -> str:
        """Rows showing each of the generator's tells ("" for a build recorded before they were counted)."""
        fig = self.stats.realism
        if not fig:
            return ""
        rows, tells = max(fig["rows"], 1), fig["tells"]
        return markdown_table(["tell", "rows", "share"], [[label, f"{tells.get(key, 0):,}", f"{tells.get(key, 0) / rows:.1%}"] for key, label in TELLS])

    @property
    def numbered_names(self) -> str:
        fig = self.stats.realism
        share = fig["numbered_names"] / max(fig["assigned_names"], 1)
        return f"{fig['numbered_names']:,} of {fig['assigned_names']:,} assigned names are numbered placeholders ({share:.1%})."

    @property
    def top_calls(self) -> str:
        return ", ".join(f"`{name}` {n:,}" for name, n in self.stats.realism["top_calls"])

    def length_histogram(self, column: str) -> str:
        return "\n".join(self.stats.length_bins[column].bars()) if column in self.stats.length_bins else ""

    # ---- storage ----------------------------------------------------------------------------
    def to_json(self) -> str:
        data = asdict(self)
        data["stats"] = self.stats.to_dict()
        return json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ConfigRecord:
        data = json.loads(text)
        data["stats"] = BuildStats.from_dict(data["stats"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _values(config: PairsConfig) -> dict[str, Any]:
    """The fields that decide the rows (shard_size only groups work), JSON-ready."""
    values = {f.name: getattr(config, f.name) for f in fields(PairsConfig) if f.name not in ("name", "shard_size")}
    values["categories"] = dict(config.categories)
    return values


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", "<br>")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def size_category(rows: int) -> str:
    """The Hub's `size_categories` bucket for a row count."""
    for limit, label in ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M" if rows < 10**7 else "10M<n<100M"


def can_set_default(card_data: Mapping[str, Any] | None) -> bool:
    """Whether `push_to_hub(set_default=True)` works on a repo with this card header.

    datasets 3.6 pops `default` from the current default config: with configs but none marked
    default it raises `KeyError: None` (or `KeyError: 'default'` for a single unmarked config).
    """
    configs = (card_data or {}).get("configs") or []
    names = [c.get("config_name") for c in configs]
    return not configs or ("default" not in names and sum(bool(c.get("default")) for c in configs) == 1)


def merge_header(pushed: DatasetCardData, records: Sequence[ConfigRecord], default: str = DEFAULT_CONFIG) -> DatasetCardData:
    """The card's YAML: our metadata first, then every `configs:` / `dataset_info:` entry that
    `push_to_hub` wrote (all configs pushed so far), with `default` marked as the default config.

    Re-pushing the default config without `set_default` drops its `default: true`, and pushing it
    with `set_default` can fail (see `can_set_default`): the card commit puts the mark back."""
    data = pushed.to_dict()
    configs = [dict(c) for c in data.get("configs") or []]
    if default in {c.get("config_name") for c in configs}:
        for entry in configs:
            entry.pop("default", None)
            if entry.get("config_name") == default:
                entry["default"] = True
    rows = max((r.total_rows for r in records), default=0)
    ours = {**HEADER, "size_categories": [size_category(rows)]}
    rest = {k: v for k, v in data.items() if k not in ours and k not in ("configs", "dataset_info")}
    merged = {**ours, **rest, "configs": configs or None, "dataset_info": data.get("dataset_info")}
    return DatasetCardData(**{k: v for k, v in merged.items() if v is not None})


def example_section(record: ConfigRecord | None) -> dict[str, Any] | None:
    """The example row split into a table of short fields and code blocks of the IR texts."""
    if record is None or not record.stats.example:
        return None
    row = record.stats.example
    short = []
    for key, value in row.items():
        if key in EXAMPLE_CODE_COLUMNS:
            continue
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        short.append([f"`{key}`", f"`{text}`" if text else ""])
    code = [(key, row[key]) for key in EXAMPLE_CODE_COLUMNS if row.get(key)]
    return {"config": record.name, "id": row.get("id"), "table": markdown_table(["column", "value"], short), "code": code}


def category_section(records: Sequence[ConfigRecord], descriptions: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every category any record holds: what its programs exercise (its own config's description)
    and one real row of it (from the first record, in card order, that has one)."""
    if descriptions is None:
        descriptions = {name: config.description for name, config in load_named()[0].items()}
    shown: dict[str, dict[str, Any]] = {}
    for record in records:
        for category, example in record.stats.category_examples.items():
            shown.setdefault(category, {**example, "config": record.name})
    return [
        {
            "name": category,
            "description": " ".join(str(descriptions.get(category, "")).split()),
            "example": example,
            "ops": ", ".join(f"`{op.removeprefix('stablehlo.')}`" for op in example["ops"]),
        }
        for category, example in sorted(shown.items())
    ]


def render(
    repo_id: str,
    pushed: DatasetCardData,
    records: Sequence[ConfigRecord],
    default: str = DEFAULT_CONFIG,
    template: Path | None = None,
) -> DatasetCard:
    """The whole card: header from `merge_header`, body from the template and the records."""
    ordered = sorted(records, key=lambda r: (r.name != default, r.name))
    shown = next((r for r in ordered if r.stats.example), None)
    card_data = merge_header(pushed, ordered, default)
    names = [c["config_name"] for c in card_data.get("configs") or []]
    return DatasetCard.from_template(
        card_data,
        template_path=str(template or template_path()),
        repo_id=repo_id,
        default_config=default if default in names else (names[0] if names else default),
        configs=ordered,
        unrecorded=[n for n in names if n not in {r.name for r in ordered}],  # pushed by other means
        example=example_section(shown),
        categories=category_section(ordered),
        generator_version=__version__,
    )
