"""The card's figure for one config: rows per category, StableHLO lines and FLOPs per program.

Drawn with matplotlib when it is installed (`pip install 'jax-stablehlo-pairs[publish]'`);
without it the card keeps its text histograms and simply has no image.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..pipeline.stats import Histogram
    from .card import ConfigRecord


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def figure_png(record: ConfigRecord) -> bytes | None:
    """A small PNG (about 1000x300 px), or None when matplotlib is missing."""
    if not available():
        return None
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    chars = {c: h for c, h in record.stats.length_bins.items() if c in ("python", "stablehlo")}
    fig = Figure(figsize=(4 * (3 + len(chars)), 3.4), dpi=90)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.3, top=0.84, wspace=0.3)  # fixed: a layout engine costs 0.5 s
    ax_cat, ax_lines, ax_flops, *ax_chars = fig.subplots(1, 3 + len(chars))

    cats = sorted({c for counts in record.stats.categories.values() for c in counts})
    left = [0] * len(cats)
    for split, counts in record.stats.categories.items():
        values = [counts.get(c, 0) for c in cats]
        ax_cat.barh(cats, values, left=left, label=split)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax_cat.invert_yaxis()
    ax_cat.set_title("rows per category")
    ax_cat.legend(fontsize="small", frameon=False)

    _histogram(ax_lines, record.stats.ir_lines, "StableHLO lines per program")
    _histogram(ax_flops, record.stats.flops, "FLOPs per program (XLA)")
    for ax, (column, hist) in zip(ax_chars, chars.items(), strict=True):
        _histogram(ax, hist, f"{column}: characters per row")
    fig.suptitle(f"config {record.name}")

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _histogram(ax, hist: Histogram, title: str) -> None:  # type: ignore[no-untyped-def]
    rows = hist.rows()
    ax.bar(range(len(rows)), [n for _, n in rows], color="tab:blue")
    ax.set_xticks(range(len(rows)), [label for label, _ in rows], rotation=45, ha="right", fontsize="small")
    ax.set_ylabel("programs")
    ax.set_title(title)
