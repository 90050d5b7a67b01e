"""A large build end to end: does it complete with bounded shards and flat memory?

    .venv/bin/python benchmarks/scale.py                         # 100,000 balanced rows, num_proc 2
    .venv/bin/python benchmarks/scale.py --rows 2000 --every 500

Runs the builder as `jax-stablehlo-pairs build` / `load_dataset` do (`download_and_prepare`
with `num_proc`, Arrow written by `datasets`) into a scratch cache, and samples the resident
memory of the parent and of every worker process while it runs. Each worker produces
rows / num_proc rows in one process, so at 100,000 rows and num_proc 2 each worker is a
50,000-row memory run with Arrow writing included. Prints, every `--every` rows, the rows done,
the rate, and each process's RSS; at the end the Arrow files' sizes and the goals:
the build completes, no Arrow file exceeds `datasets`' `max_shard_size`, the parent does not
hold the dataset, and each worker's RSS at the end is within 20% of its RSS at the first
checkpoint.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

GOAL_RSS = 1.20


def rss_mib(pid: int) -> float | None:
    """Current resident set size of a process (Linux /proc), or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (the build's worker processes and anything they started)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except FileNotFoundError:
            continue
        for kid in kids:
            out += [kid, *children(kid)]
    return out


def rows_done() -> int:
    """Rows the build has produced so far: the count on `datasets`' "Generating ..." progress bars."""
    from tqdm.std import tqdm

    return sum(int(bar.n) for bar in list(getattr(tqdm, "_instances", ())) if str(bar.desc).startswith("Generating"))


class Sampler(threading.Thread):
    """Every `period` seconds: rows done and the RSS of the parent and each worker; prints a line per `every` rows."""

    def __init__(self, every: int, period: float, total: int) -> None:
        super().__init__(daemon=True)
        self.every, self.period, self.total = every, period, total
        self.start_time = time.perf_counter()
        self.stopped = threading.Event()
        self.checkpoints: list[tuple[int, float, dict[int, float]]] = []  # rows, parent RSS, worker pid -> RSS
        self.peak_parent = 0.0

    def sample(self, final: bool = False) -> None:
        done = self.total if final else rows_done()
        parent = rss_mib(os.getpid()) or 0.0
        self.peak_parent = max(self.peak_parent, parent)
        workers = {pid: rss for pid in children(os.getpid()) if (rss := rss_mib(pid)) is not None and rss > 100}
        next_mark = (len(self.checkpoints) + 1) * self.every
        if (done >= next_mark and workers) or final:
            elapsed = time.perf_counter() - self.start_time
            self.checkpoints.append((done, parent, workers))
            shown = "  ".join(f"{pid}: {rss:5.0f}" for pid, rss in sorted(workers.items()))
            print(f"  {done:>8,} rows  {elapsed / 60:6.1f} min  {done / elapsed:5.2f} rows/s  parent {parent:5.0f} MiB  workers (pid: MiB) {shown}", flush=True)

    def run(self) -> None:
        while not self.stopped.wait(self.period):
            self.sample()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="balanced")
    parser.add_argument("--rows", type=int, default=100_000, help="train rows to build (no validation or test split)")
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--every", type=int, default=5_000, help="print a checkpoint every this many rows")
    parser.add_argument("--period", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--work-dir", help="where the build's cache goes (default: a temporary directory, removed after)")
    args = parser.parse_args()

    import datasets

    from builder.hf_builder import make_builder

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="scale-"))
    load = os.getloadavg()[0]
    print(f"{args.config}: {args.rows:,} rows, num_proc {args.num_proc}, cache {work}, 1-min load {load:.1f}", flush=True)
    builder = make_builder(args.config, str(work), train_size=args.rows, validation_size=0, test_size=0)
    sampler = Sampler(args.every, args.period, args.rows)
    sampler.start()
    started = time.perf_counter()
    try:
        builder.download_and_prepare(num_proc=args.num_proc if args.num_proc > 1 else None)
    finally:
        sampler.stopped.set()
        sampler.join()
    wall = time.perf_counter() - started
    sampler.sample(final=True)

    shards = sorted(Path(builder.cache_dir).glob("*.arrow"))
    sizes = [p.stat().st_size for p in shards]
    rows = sum(builder.info.splits[s].num_examples for s in builder.info.splits)
    limit = datasets.config.MAX_SHARD_SIZE
    limit_bytes = datasets.utils.py_utils.convert_file_size_to_int(limit)
    print(f"\nbuilt {rows:,} rows in {wall / 3600:.2f} h ({rows / wall:.2f} rows/s), 1-min load now {os.getloadavg()[0]:.1f}")
    print(f"Arrow files: {len(shards)}, {sum(sizes) / 2**30:.2f} GiB in all, largest {max(sizes, default=0) / 2**20:.0f} MiB (max_shard_size {limit})")
    print(f"parent RSS peak {sampler.peak_parent:.0f} MiB (the dataset is {sum(sizes) / 2**20:,.0f} MiB on disk)")

    print("\ngoals:")
    print(f"  build completes with all rows          {rows:,} of {args.rows:,}  {'ok' if rows == args.rows else 'MISSED'}")
    print(f"  no Arrow file over max_shard_size      {'ok' if max(sizes, default=0) <= limit_bytes else 'MISSED'}")
    with_workers = [c for c in sampler.checkpoints if c[2]]
    if len(with_workers) >= 2:
        first, last = with_workers[0], with_workers[-1]
        for pid in sorted(first[2]):
            if pid in last[2]:
                ratio = last[2][pid] / first[2][pid]
                verdict = "ok" if ratio <= GOAL_RSS else "MISSED"
                print(
                    f"  worker {pid}: RSS at {last[0]:,} / at {first[0]:,} rows (build total)  "
                    f"{last[2][pid]:.0f} / {first[2][pid]:.0f} MiB = {ratio:.3f}  goal <= {GOAL_RSS}  {verdict}"
                )
    else:
        print("  worker RSS: fewer than two checkpoints with workers running (raise --rows or lower --every)")
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
