"""The spread of a benchmark's rows over IR-length tiers (`stratify_ir_tiers`): quotas, and the second stage
that meets them.

A row's tier is the length of its forward StableHLO, known only once it is lowered, so the spread
is a second stage after the map, beside the dedup pass and in the same fixed row order. Within a
split, each category's rows get equal quotas over the tiers that category reaches on its own (at
least `MIN_TIER_SHARE` of its natural draw); a row beyond its tier's quota is replaced by the
first of its tier seeds whose program lands in a tier still under quota and repeats nothing. A
category that reaches a tier too rarely for `TIER_SEARCH` seeds to find one keeps the rest of its
rows as drawn. Candidates are lowered forward only to read their tier; the one kept is lowered whole.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import SPLITS, PairsConfig
from ..lowering.extractor import lower
from ..synth.program import Program
from .failures import Failure
from .replacement import Kept, PythonKeys, first_new_row
from .seeds import category_plan, derive_seed
from .tiers import TIER_NAMES, tier_of

logger = logging.getLogger(__name__)

TIER_QUOTA = "over its category's quota of an IR-length tier"
MIN_TIER_SHARE = 0.05  # a tier a category reaches for fewer of its rows than this gets no quota of its own
TIER_SEARCH = 32  # seeds a row over quota tries before its category's spread stops


def quotas(natural: Counter[str], n: int) -> dict[str, int]:
    """Equal shares of `n` rows over the tiers holding at least `MIN_TIER_SHARE` of them (the first
    tiers take the remainder); tiers below that share get none."""
    reached = [t for t in TIER_NAMES if natural[t] >= MIN_TIER_SHARE * n] or [natural.most_common(1)[0][0]]
    base, extra = divmod(n, len(reached))
    return {t: base + (reached.index(t) < extra) if t in reached else 0 for t in TIER_NAMES}


def index_of(row_id: str) -> int:
    return int(row_id.rsplit("-", 1)[1])


def tier_seeds(config: PairsConfig, split: str, index: int) -> list[int]:
    return [derive_seed(config.seed, split, index, "tier", k) for k in range(TIER_SEARCH)]


def lands_in(tiers: set[str]) -> Callable[[Program, str], bool]:
    """A probe for `first_new_row`: the program's forward StableHLO, lowered alone, is in one of `tiers`."""

    def probe(program: Program, source: str) -> bool:
        leaves = [leaf.spec for leaf in program.leaves]
        return tier_of(lower(source, program.entry_point, leaves, program.args_tree(), differentiable=False).forward.as_text()) in tiers

    return probe


def stratify(
    config: PairsConfig,
    columns: Mapping[str, Mapping[str, Sequence[Any]]],
    replaced: Mapping[tuple[str, int], dict[str, Any]],
    failures: list[Failure] | None = None,
    keys: PythonKeys | None = None,
) -> dict[tuple[str, int], dict[str, Any]]:
    """New rows that spread each category of each split over the IR-length tiers, keyed by (split,
    position); `columns` are the key columns with `stablehlo`, `replaced` the dedup pass's rows."""

    def current(split: str, pos: int, key: str) -> Any:
        row = replaced.get((split, pos))
        return row[key] if row is not None else columns[split][key][pos]

    kept = Kept()
    for split in columns:
        for pos in range(len(columns[split]["id"])):
            key = keys[split][pos] if keys is not None and (split, pos) not in replaced else None
            kept.add(split, current(split, pos, "python"), current(split, pos, "canonical_hash"), current(split, pos, "structure_hash"), key)
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for split in (s for s in SPLITS if s in columns):
        plan = category_plan(config, split)
        tiers = [tier_of(current(split, pos, "stablehlo")) for pos in range(len(columns[split]["id"]))]
        by_category: dict[str, list[int]] = {}
        for pos in range(len(tiers)):
            by_category.setdefault(plan[index_of(current(split, pos, "id"))], []).append(pos)
        for category, positions in sorted(by_category.items()):
            count = Counter(tiers[pos] for pos in positions)
            quota = quotas(count, len(positions))
            seen: Counter[str] = Counter()
            over = []
            for pos in positions:
                seen[tiers[pos]] += 1
                if seen[tiers[pos]] > quota[tiers[pos]]:
                    over.append(pos)
            for pos in over:
                under = {t for t in TIER_NAMES if count[t] < quota[t]}
                index = index_of(current(split, pos, "id"))
                row = first_new_row(config, split, index, category, tier_seeds(config, split, index), kept, failures, lands_in(under))
                if row is None:
                    logger.info("%s: no seed of %d reaches tiers %s; the rest of %s stays as drawn", split, TIER_SEARCH, sorted(under), category)
                    break
                count[tiers[pos]] -= 1
                count[tier_of(row["stablehlo"])] += 1
                kept.add(split, row["python"], row["canonical_hash"], row["structure_hash"])
                out[(split, pos)] = row
    return out
