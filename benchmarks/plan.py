"""What the global dedup plan costs next to the map it runs before.

    .venv/bin/python benchmarks/plan.py                          # balanced, 2,000 planned rows, 40 lowered
    .venv/bin/python benchmarks/plan.py --config nn --rows 5000 --lowered 100

The plan draws and renders every program once (serially, in the parent) to reject repeats
before anything is lowered; the map then lowers each row (in parallel). Goal: the plan costs
under 5% of the map's single-process time, so dedup does not trade away throughput.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from builder.config import load_all
from builder.pipeline.plan import build_plan
from builder.pipeline.rows import make_row

GOAL = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="balanced")
    parser.add_argument("--rows", type=int, default=2000, help="train rows to plan")
    parser.add_argument("--lowered", type=int, default=40, help="rows to lower for the map's cost per row")
    args = parser.parse_args()
    config = replace(load_all()[args.config], train_size=args.rows, validation_size=0, test_size=0)

    start = time.perf_counter()
    plan = build_plan(config)
    plan_s = (time.perf_counter() - start) / args.rows
    dropped = sum(plan.dropped["train"].values())

    from builder.pipeline.seeds import category_plan

    categories = category_plan(config, "train")
    start = time.perf_counter()
    for i in range(args.lowered):
        make_row(config, "train", i, categories[i], plan.seed("train", i))
    map_s = (time.perf_counter() - start) / args.lowered

    share = plan_s / map_s
    print(f"{args.config}: plan {plan_s * 1e3:.2f} ms/row ({dropped} repeats rejected in {args.rows:,} rows); "
          f"map {map_s * 1e3:.0f} ms/row; plan / map = {share:.2%} (goal < {GOAL:.0%}): {'ok' if share < GOAL else 'MISSED'}")


if __name__ == "__main__":
    main()
