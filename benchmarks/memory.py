"""Resident memory while one process produces many rows: does it stay flat?

    .venv/bin/python benchmarks/memory.py                  # 50,000 rows, RSS every 5,000
    .venv/bin/python benchmarks/memory.py --n 2000 --every 250

Rows come from `generate_rows` exactly as a build shard makes them (and are dropped at
once, as the Arrow writer does after each batch), so any growth is the pipeline's or
JAX's. Goal: RSS after the last row within 20% of RSS after the first checkpoint.
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import replace

from builder.config import load_all
from builder.pipeline.rows import generate_rows

GOAL = 1.20


def rss_mib() -> float:
    """Current resident set size (Linux /proc), not the peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (this benchmark needs Linux)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="balanced")
    parser.add_argument("--n", type=int, default=50_000, help="rows to produce")
    parser.add_argument("--every", type=int, default=5_000, help="print RSS every this many rows")
    args = parser.parse_args()
    config = replace(load_all()[args.config], train_size=args.n)

    start = time.perf_counter()
    checkpoints: list[tuple[int, float]] = []
    print(f"{args.config}: {args.n:,} rows, RSS every {args.every:,}; start RSS {rss_mib():.0f} MiB", flush=True)
    for done, _ in enumerate(generate_rows(config, "train", 0, args.n), start=1):
        if done % args.every == 0 or done == args.n:
            gc.collect()
            rss = rss_mib()
            checkpoints.append((done, rss))
            rate = done / (time.perf_counter() - start)
            print(f"  {done:>7,} rows  RSS {rss:8.0f} MiB  ({rate:.1f} rows/s)", flush=True)
    first, last = checkpoints[0][1], checkpoints[-1][1]
    ratio = last / first
    verdict = "meets" if ratio <= GOAL else "MISSES"
    print(f"RSS after {checkpoints[-1][0]:,} / after {checkpoints[0][0]:,} rows: {ratio:.3f} ({verdict} goal <= {GOAL})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
