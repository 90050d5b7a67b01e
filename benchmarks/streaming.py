"""Seconds from `load_dataset(..., streaming=True)` to the first rows, for small and huge splits.

    .venv/bin/python benchmarks/streaming.py                      # train_size 1,000 and 1,000,000
    .venv/bin/python benchmarks/streaming.py --sizes 10000000 --rows 3

Each size runs in a fresh interpreter (fresh HF_HOME, offline), so import and JAX start-up are
counted, as a user would see them. Streaming lowers rows on demand: the only O(split size)
work before the first row is the category plan (an exact-quota shuffle of the split's
categories) and the shard list.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import time
start = time.perf_counter()
from datasets import load_dataset
ds = load_dataset({script!r}, {config!r}, split="train", streaming=True, trust_remote_code=True,
                  train_size={size}, validation_size=1, test_size=1)
it = iter(ds)
first = next(it)
t_first = time.perf_counter() - start
for _ in range({rows} - 1):
    next(it)
print(f"{{t_first:.2f}} {{time.perf_counter() - start:.2f}} {{first['id']}}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="balanced")
    parser.add_argument("--sizes", default="1000,1000000", help="comma-separated train sizes")
    parser.add_argument("--rows", type=int, default=10, help="rows to read")
    args = parser.parse_args()
    print(f"{args.config}: seconds to the first row and to {args.rows} rows (fresh process each)")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="streaming-hf-") as home:
            env = {**os.environ, "HF_HOME": home, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
            code = CHILD.format(script=str(ROOT / "jax_stablehlo_pairs.py"), config=args.config, size=size, rows=args.rows)
            done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        first, total, row_id = done.stdout.split()[-3:]
        print(f"  train_size {size:>12,}: first row {first:>6} s, {args.rows} rows {total:>6} s  (first id {row_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
