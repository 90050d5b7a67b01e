"""The IR-length tiers of `bench` before and after its second stage (`stratify_ir_tiers`), and what
the stage costs against the map.

Draws the first N test rows of `bench` as the map does (one process), runs the pass after the map
on them (repeats, then the spread over tiers) and prints, per category, the rows in each tier as
drawn and as kept, with CPU seconds of both stages and the load average beside them.

    .venv/bin/python benchmarks/bench_strata.py --rows 420        # 20 rows of each of the 21 categories
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import replace

from builder.config import resolve
from builder.pipeline.dedup import dedup_columns, key_columns
from builder.pipeline.plan import build_plan
from builder.pipeline.rows import generate_rows
from builder.pipeline.strata import TIER_QUOTA
from builder.pipeline.tiers import TIER_NAMES, tier_of


def cells(counts: Counter[str]) -> str:
    return " ".join(f"{counts[t]:>4}" for t in TIER_NAMES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=420, help="test rows of bench (its categories in equal measure)")
    args = parser.parse_args()
    config = replace(resolve("bench"), test_size=args.rows)
    print(f"bench: {args.rows} test rows, seed {config.seed}; load {os.getloadavg()[0]:.2f}", flush=True)
    cpu = time.process_time()
    plan = build_plan(config)  # held_out_from: balanced's train structures drawn again first
    plan_cpu, cpu = time.process_time() - cpu, time.process_time()
    rows = [row for _, row in generate_rows(config, "test", 0, args.rows, None, plan.shard("test", 0, args.rows))]
    map_cpu, cpu = time.process_time() - cpu, time.process_time()
    columns = {"test": {k: [r[k] for r in rows] for k in key_columns(config)}}
    failures: list = []
    report, new = dedup_columns(config, columns, plan.dropped, failures)
    stage_cpu = time.process_time() - cpu
    final = [new.get(("test", i), r) for i, r in enumerate(rows)]
    moved = sum(r["reason"] == TIER_QUOTA for r in report.replaced)
    print(
        f"CPU: plan {plan_cpu:.0f} s, map {map_cpu:.0f} s, pass after the map {stage_cpu:.0f} s "
        f"({stage_cpu / max(map_cpu, 1e-9):.0%} of the map); rows moved to another tier: {moved}; "
        f"other repeats replaced: {len(report.replaced) - moved}; failures in the pass: {len(failures)}; load {os.getloadavg()[0]:.2f}"
    )
    header = " ".join(f"{t.split(':')[0]:>4}" for t in TIER_NAMES)
    print(f"\n{'category':<16} drawn (tiers {header.strip()})   kept")
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for category in sorted({r["category"] for r in rows}):
        drawn = Counter(tier_of(r["stablehlo"]) for r in rows if r["category"] == category)
        kept = Counter(tier_of(r["stablehlo"]) for r in final if r["category"] == category)
        before += drawn
        after += kept
        print(f"{category:<16} {cells(drawn)}    {cells(kept)}")
    print(f"{'all':<16} {cells(before)}    {cells(after)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
