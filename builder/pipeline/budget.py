"""Length budgets: rows that fit a model's context (`max_ir_chars`, `max_python_chars`).

A budget shapes programs and then filters them. Shaping: each category's statements are capped
at what the budget affords by the table below (characters a statement of that category costs), so
a tight budget draws smaller programs of every category rather than rejecting most draws. Filtering:
a drawn program still over budget is redrawn from the seed stream (Python in the global plan, before
any lowering; IR once lowered), and every such redraw is counted in the build's report. The table
only steers: a stale one costs redraws, never a row over budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import ConfigError, PairsConfig
from ..synth.styles import STYLES

# Upper-quartile characters a statement costs per category: StableHLO (forward or gradient, the
# longer) and Python. `python benchmarks/budget.py` prints this table from lowered programs.
CHARS_PER_STATEMENT: dict[str, tuple[int, int]] = {
    "arithmetic": (843, 42),
    "autodiff": (2364, 86),
    "broadcasting": (1039, 58),
    "composite": (1335, 63),
    "conditional": (1035, 72),
    "control_flow": (3102, 367),
    "convolution": (1368, 102),
    "elementwise": (1349, 48),
    "indexing": (1287, 86),
    "linalg": (6803, 89),
    "matrix": (941, 50),
    "nn": (2342, 86),
    "numerics": (1791, 59),
    "parallel": (977, 79),
    "random": (7004, 74),
    "reduction": (1542, 59),
    "vmap": (1420, 63),
}
UNKNOWN = (8000, 250)  # a category not in the table: assume a costly one (redraws find the rest)
HEADROOM = 0.7  # aim a program's expected length at this share of the budget: the spread is wide
IR_COLUMNS = ("stablehlo", "stablehlo_grad")


def statement_caps(config: PairsConfig) -> tuple[tuple[str, int], ...]:
    """(category, most statements) for every category of `config` the budget constrains; raises a
    ConfigError naming a category whose single statement already costs more than the budget."""
    if not (config.max_ir_chars or config.max_python_chars):
        return ()
    caps = []
    for category, weight in config.categories:
        if weight <= 0 or category in STYLES:  # a styled program is written whole by its family: filtered, not shaped
            continue
        ir, py = CHARS_PER_STATEMENT.get(category, UNKNOWN)
        cap = config.max_statements
        if config.max_ir_chars:
            cap = min(cap, int(config.max_ir_chars * HEADROOM / ir))
        if config.max_python_chars:
            cap = min(cap, int(config.max_python_chars * HEADROOM / py))
        if (config.max_ir_chars and config.max_ir_chars < ir) or (config.max_python_chars and config.max_python_chars < py):
            raise ConfigError(
                f"the length budget (max_ir_chars={config.max_ir_chars:,}, max_python_chars={config.max_python_chars:,}) "
                f"is too tight for category {category!r}: one of its statements costs about {ir:,} characters of "
                f"StableHLO and {py:,} of Python; raise the budget or leave {category!r} out of categories"
            )
        caps.append((category, max(cap, 1)))
    return tuple(caps)


def python_over_budget(config: PairsConfig, source: str) -> str | None:
    """Why `source` is over the config's Python budget (None when it fits)."""
    if config.max_python_chars and len(source) > config.max_python_chars:
        return f"over budget: python has {len(source):,} characters, max_python_chars is {config.max_python_chars:,}"
    return None


def ir_over_budget(config: PairsConfig, row: Mapping[str, Any]) -> str | None:
    """Why a lowered row is over the config's IR budget (None when it fits)."""
    if not config.max_ir_chars:
        return None
    for column in IR_COLUMNS:
        text = row.get(column) or ""
        if len(text) > config.max_ir_chars:
            return f"over budget: {column} has {len(text):,} characters, max_ir_chars is {config.max_ir_chars:,}"
    return None
