"""Print a digest of the rows of a small build of every config (or the ones named).

For refactors that must not change a single row: run it before and after and compare
the lines. It goes through the public path (`load_dataset` on the loading script, in a
fresh cache), so it reads the rows the way a user gets them.

    python benchmarks/row_digests.py [--rows 16] [CONFIG ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help="config names (default: every YAML in configs/)")
    parser.add_argument("--rows", type=int, default=16, help="rows per config: 3/4 train, the rest split over validation and test")
    args = parser.parse_args()
    names = args.configs or sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as home:
        os.environ.update(HF_HOME=home, HF_HUB_OFFLINE="1", HF_DATASETS_TRUST_REMOTE_CODE="1")
        import datasets

        datasets.disable_progress_bars()
        total = hashlib.sha256()
        held = (args.rows - args.rows * 3 // 4) // 2
        for name in names:
            ds = datasets.load_dataset(
                str(ROOT / "jax_stablehlo_pairs.py"), name, trust_remote_code=True, cache_dir=home,
                train_size=args.rows - 2 * held, validation_size=held, test_size=held,
            )
            digest = hashlib.sha256()
            for split in sorted(ds):
                for row in ds[split]:
                    digest.update(json.dumps(row, sort_keys=True).encode())
            total.update(digest.digest())
            print(f"{name:14s} {sum(len(d) for d in ds.values()):4d} rows  {digest.hexdigest()}", flush=True)
        print(f"{'all':14s}            {total.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
