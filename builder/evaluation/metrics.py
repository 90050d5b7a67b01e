"""The figures a report gives, over any group of scored rows.

Translation tasks: `valid` (the IR parses and verifies / the Python runs), `exact_match` (the
same canonical IR) and `execution_accuracy` (agrees with the reference on drawn inputs), each a
fraction of all rows of the group: a missing, malformed, timed-out or crashed prediction counts
as wrong. Partial credit: `signature_match` (the module takes and returns the reference's types)
and `op_f1` (the mean F1 of its distinct StableHLO / CHLO ops against the reference's).

Cost: per figure, the median absolute percentage error (`mdape`, |p - r| / max(|r|, 1), so a
figure whose reference is 0 is measured in its own units) and Kendall's tau-b between predicted
and reference values; a missing or malformed cost prediction counts as 0 for every figure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .scoring import STATUSES, RowScore
from .tasks import COST_FIGURES


def mdape(predicted: Sequence[float], reference: Sequence[float]) -> float:
    """Median absolute percentage error, in percent (NaN for no rows)."""
    p, r = np.asarray(predicted, float), np.asarray(reference, float)
    if p.size == 0:
        return float("nan")
    return float(100.0 * np.median(np.abs(p - r) / np.maximum(np.abs(r), 1.0)))


def kendall_tau(x: Sequence[float], y: Sequence[float], block: int = 1024) -> float:
    """Kendall's tau-b (ties in either ranking accounted for), O(n^2) in blocks of rows; NaN when
    either side is constant or there are fewer than two rows. Agrees with scipy.stats.kendalltau."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    n = a.size
    if n < 2:
        return float("nan")
    concordant_minus_discordant = 0.0
    untied_a = untied_b = 0.0
    for start in range(0, n, block):
        da = np.sign(a[start : start + block, None] - a[None, :])
        db = np.sign(b[start : start + block, None] - b[None, :])
        concordant_minus_discordant += float((da * db).sum())
        untied_a += float(np.count_nonzero(da))
        untied_b += float(np.count_nonzero(db))
    if untied_a == 0 or untied_b == 0:
        return float("nan")
    return concordant_minus_discordant / np.sqrt(untied_a * untied_b)


def counts(scores: Sequence[RowScore]) -> dict[str, int]:
    seen = Counter(s.status for s in scores)
    return {status: seen.get(status, 0) for status in STATUSES}


def translation(scores: Sequence[RowScore]) -> dict[str, Any]:
    n = len(scores)

    def share(flag: str) -> float:
        return sum(getattr(s, flag) for s in scores) / n if n else float("nan")

    return {
        "n": n,
        "valid": share("valid"),
        "exact_match": share("exact"),
        "execution_accuracy": share("agreed"),
        "signature_match": share("signature"),
        "op_f1": share("op_f1"),
        "counts": counts(scores),
    }


def cost(scores: Sequence[RowScore]) -> dict[str, Any]:
    predicted = {k: [(s.cost or {}).get(k, 0.0) for s in scores] for k in COST_FIGURES}
    reference = {k: [s.reference_cost[k] for s in scores] for k in COST_FIGURES}
    return {
        "n": len(scores),
        "mdape": {k: mdape(predicted[k], reference[k]) for k in COST_FIGURES},
        "kendall_tau": {k: kendall_tau(predicted[k], reference[k]) for k in COST_FIGURES},
        "counts": counts(scores),
    }


def summarize(scores: Sequence[RowScore], kind: str) -> dict[str, Any]:
    return cost(scores) if kind == "cost" else translation(scores)
