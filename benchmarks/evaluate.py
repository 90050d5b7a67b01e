"""Seconds to score predictions with `evaluate`, per task and `--num-proc`, next to the goal of issue 19
(1,000 predictions of a task in minutes on two cores).

    .venv/bin/python benchmarks/evaluate.py --reference out/bench --n 1000             # the goal's scale
    .venv/bin/python benchmarks/evaluate.py --reference /tmp/small --n 40 --num-proc 1,2 # a quick look

The reference's own answers (`baselines.gold`) are scored without the exact-match shortcut, so
every row does the whole work of its task: parse, canonical hash, both modules compiled and run by
XLA (IR tasks), the contained child that runs and lowers the Python (stablehlo-to-python). A
correct IR prediction costs less in a real run (its exact match spares both XLA runs). Rows per second and the projection to
1,000 rows are printed with the load average: on a shared machine the wall-clock figures are only
as good as the load was low. CPU seconds per row (this process and its children) depend little on
the load; "if idle" projects 1,000 rows from them, spread over `min(num_proc, cores)` cores.
`--warm` scores each task again with the reference's outputs the first run kept
(`evaluate --reference-cache`): what every later scoring of the same rows costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from builder.evaluation.baselines import gold
from builder.evaluation.containment import protection
from builder.evaluation.predictions import Predictions
from builder.evaluation.reference import load_reference
from builder.evaluation.run import Options, evaluate
from builder.evaluation.tasks import TASKS, Task, get_task


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (the XLA and contained children)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def measure(label: str, task: Task, rows: list[dict[str, Any]], options: Options) -> None:
    """Score the reference's own answers once and print the figures of that run."""
    started, cpu = time.perf_counter(), cpu_seconds()
    report = evaluate(task, rows, Predictions(gold(task, rows)), options)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    projected = 1000 * seconds / max(report.n, 1) / 60
    idle = 1000 * cpu / max(report.n, 1) / 60 / min(options.num_proc, os.cpu_count() or 1)
    print(
        f"{label:22} {options.num_proc:>8} {report.n:>5} {seconds:>8.1f} {report.n / seconds:>7.2f} {projected:>8.1f} min "
        f"{cpu / max(report.n, 1):>8.2f} {idle:>8.1f} min  {load}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, help="a build directory (or Hub repo id)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=1000, help="rows scored per task (a seeded sample)")
    parser.add_argument("--num-proc", default="1,2", help="comma-separated --num-proc values")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--warm", action="store_true", help="also score each again with the reference's outputs kept by the first run")
    args = parser.parse_args()
    rows = load_reference(args.reference, args.split)
    print(f"reference {args.reference} ({args.split}): {len(rows)} rows; sample {args.n}; {os.cpu_count()} cores")
    print(f"containment: {protection().describe()}")
    print(f"{'task':22} {'num_proc':>8} {'rows':>5} {'seconds':>8} {'rows/s':>7} {'1,000 rows':>11} {'CPU s/row':>9} {'if idle':>11}  load (1/5/15 min)")
    for name in args.tasks.split(","):
        task = get_task(name)
        for num_proc in (int(n) for n in args.num_proc.split(",")):
            with tempfile.TemporaryDirectory(prefix="evaluate-bench-") as cache:
                for run in ("cold", "warm") if args.warm else ("",):
                    options = Options(sample=args.n, num_proc=num_proc, progress=False, shortcut=False, reference_cache=Path(cache))
                    measure(f"{name} {run}".strip(), task, rows, options)
        if task.kind == "python" and protection().sandbox:
            print("  (CPU s/row leaves out the contained children: bubblewrap's PID namespace does not pass their usage on)")


if __name__ == "__main__":
    main()
