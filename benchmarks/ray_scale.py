"""Ray builds at scale: workers against one process, the driver's costs, and a whole resumable build.

    .venv/bin/python benchmarks/ray_scale.py --compare-rows 40                # rows/s: one process, Ray 1 and 2 workers
    .venv/bin/python benchmarks/ray_scale.py --compare-rows 1000 --workers 2  # the same, 2 workers only
    .venv/bin/python benchmarks/ray_scale.py --compare-rows 1000 --workers 2 --plain  # also 2 plain processes, no Ray
    .venv/bin/python benchmarks/ray_scale.py --interleave-rows 200 --rounds 6  # the same rows in alternating rounds (this VM drifts)
    .venv/bin/python benchmarks/ray_scale.py --plan-rows 1000000              # driver: plan + dedup pass (measured at 100,000)
    .venv/bin/python benchmarks/ray_scale.py --rows 100000 --output-dir out/ray-balanced-100k   # run again to resume

`--compare-rows`: the same `balanced` train rows built by the pipeline in this process
(`generate_rows` and each unit's rows written as Parquet: the work of a Ray task, without Ray),
then by the Ray engine on a local Ray of 1 and of 2 CPUs (each started afresh; its start-up is
shown apart); with `--plain`, also by as many plain processes as the largest Ray run has workers
(spawned, JAX imported before the clock starts, units handed out in order as they free up: Ray's
work without Ray), which tells the machine's share of a shortfall from the engine's. The rows are
cut into units of at most 25 rows (at least 16 units), so that two workers finish close together.
`--plan-rows`: the global
plan before any task (it draws and renders every program, lowers none), in this process and as
`build --engine ray` draws it (candidates in Ray tasks, the walk over them in the driver) and the
dedup pass's search for repeats over the key columns, measured at `--measure-rows` and
extrapolated linearly when that is smaller (said so in the output). `--rows`: a whole build
with the Ray engine (80% train, 10% validation, 10% test), resumable: interrupt it and run the
same command again (with `--num-cpus N`, a local Ray of N cores). It prints this run's wall time and rows/s, every worker's peak RSS, the
Parquet files' sizes, the failures, and the rows whose canonical StableHLO repeats another's.
Each run notes its start in `<output-dir>.runs.jsonl`, so the whole build's wall time and rows/s
are printed over all its runs, the interrupted ones included.
The 1-minute load average is printed next to every figure: on a shared machine they are not
an idle machine's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq

from builder.config import PairsConfig, resolve
from builder.engines.parquet_layout import Unit, read_columns, units
from builder.engines.ray_engine import BuildResult, RayOptions, build, draw_plan, worker_peaks
from builder.pipeline.dedup import find_repeats
from builder.pipeline.plan import Plan, ShardPlan, build_plan
from builder.pipeline.rows import generate_rows
from builder.pipeline.seeds import category_plan, example_seed
from builder.pipeline.unit_store import write_rows


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def train_only(name: str, rows: int, shard_size: int) -> PairsConfig:
    return replace(resolve(name), train_size=rows, validation_size=0, test_size=0, shard_size=shard_size)


def warm_split(cpu_by_process: dict[object, list[tuple[int, float]]]) -> str:
    """CPU a row in each process's first unit (JAX's first lowerings, cold caches) and in the rest."""
    first = [units[0] for units in cpu_by_process.values()]
    rest = [u for units in cpu_by_process.values() for u in units[1:]]
    def per_row(us: list[tuple[int, float]]) -> str:
        return f"{sum(c for _, c in us) / max(1, sum(n for n, _ in us)) * 1e3:.0f} ms" if us else "-"
    return f"first unit of each process {per_row(first)} a row, the later units {per_row(rest)}"


def plain_warm(seconds: float) -> int:
    """A plain worker's start: import what a row needs (as Ray's workers do in the plan's tasks), then
    wait, so that each process of the pool takes one of these before the clock starts."""
    import builder.pipeline.rows  # noqa: F401  (JAX and the package)

    time.sleep(seconds)
    return os.getpid()


def plain_unit(config: PairsConfig, unit: Unit, shard: ShardPlan, tmp: str) -> tuple[int, int, float]:
    """One unit in a plain process: the rows and their Parquet file, as a Ray task makes them."""
    cpu = time.process_time()
    rows = [row for _, row in generate_rows(config, unit.split, unit.start, unit.stop, None, shard)]
    write_rows(Path(tmp) / unit.file_name, rows)
    return os.getpid(), len(rows), time.process_time() - cpu


def plain_processes(config: PairsConfig, plan: Plan, processes: int) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the rows and the first/later split, for the units run by
    `processes` spawned processes without Ray."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(processes, mp_context=context) as pool:
        pids = set(pool.map(plain_warm, [2.0] * processes))
        if len(pids) != processes:
            raise RuntimeError(f"{len(pids)} of {processes} processes started before the clock")
        started = time.perf_counter()
        futures = [pool.submit(plain_unit, config, u, plan.shard(u.split, u.start, u.stop), tmp) for u in units(config)]
        by_process: dict[object, list[tuple[int, float]]] = {}
        for future in futures:  # in submission order: each process's units in the order it took them
            pid, n, cpu = future.result()
            by_process.setdefault(pid, []).append((n, cpu))
        wall = time.perf_counter() - started
    return wall, sum(c for us in by_process.values() for _, c in us), warm_split(by_process)


def compare(name: str, rows: int, workers: tuple[int, ...], plain: bool = False, max_calls: int = RayOptions.max_calls) -> None:
    """rows/s of one process against Ray with `workers` workers (and, with `plain`, as many plain
    processes as the most workers), on the same rows."""
    config = train_only(name, rows, max(1, min(25, rows // 16)))
    print(f"{name}: {rows} train rows, {config.shard_size} a unit; a Ray worker replaced after {max_calls} units; {load()}")
    ray_seconds = {}
    for cpus in workers:  # first: Ray starts its processes by fork + exec, which JAX warns about once it runs here
        with tempfile.TemporaryDirectory() as tmp:
            result = build(config, Path(tmp) / "out", RayOptions(num_cpus=cpus, max_calls=max_calls, progress=False))
        cpu = sum(r.cpu_seconds for r in result.ran)
        by_worker: dict[object, list[tuple[int, float]]] = {}
        for r in result.ran:  # in the order they finished: a worker's units in the order it ran them
            by_worker.setdefault((r.node, r.pid), []).append((r.rows, r.cpu_seconds))
        start = result.seconds.get("ray start", 0.0)  # the map's time, with Ray's start-up; the plan apart, as in one process
        ray_seconds[cpus] = (start + result.seconds["map"], start, cpu, load(), warm_split(by_worker))
    plan = build_plan(config)
    started, cpu = time.perf_counter(), time.process_time()
    per_unit: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for unit in units(config):
            _, n, unit_cpu = plain_unit(config, unit, plan.shard(unit.split, unit.start, unit.stop), tmp)
            per_unit.append((n, unit_cpu))
    one, one_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"  {'pipeline, 1 process':<20} {one:8.1f} s  {rows / one:6.2f} rows/s   CPU {one_cpu / rows * 1e3:.0f} ms a row ({load()})")
    print(f"  {'':<20} {warm_split({0: per_unit})}")
    for cpus, (ray_s, start, ray_cpu, at, warm) in ray_seconds.items():
        print(
            f"  {'ray, ' + str(cpus) + ' worker' + ('s' if cpus > 1 else ''):<20} {ray_s:8.1f} s  {rows / ray_s:6.2f} rows/s   "
            f"CPU in the tasks {ray_cpu / rows * 1e3:.0f} ms a row; {rows / (ray_s - start):.2f} rows/s without Ray's start-up of "
            f"{start:.1f} s; {one / ray_s:.2f}x one process, {one / (ray_s - start):.2f}x without start-up ({at})"
        )
        print(f"  {'':<20} {warm}")
    if plain:
        processes = max(workers)
        wall, cpu, warm = plain_processes(config, plan, processes)
        print(f"  {str(processes) + ' plain processes':<20} {wall:8.1f} s  {rows / wall:6.2f} rows/s   CPU in the units "
              f"{cpu / rows * 1e3:.0f} ms a row; {one / wall:.2f}x one process (no Ray: spawned, JAX imported before the clock; {load()})")
        print(f"  {'':<20} {warm}")


def interleaved(name: str, rows: int, rounds: int, workers: int) -> None:
    """One process against `workers` Ray workers, in alternating rounds of `rows` rows each, both on the
    same rows in a round: on a VM whose speed drifts by a fifth over minutes (benchmarks/README.md),
    back-to-back runs of several minutes compare the drift as much as the engines."""
    import ray

    config = train_only(name, rows * (rounds + 1), 10)  # small units: the round's last unit, run alone, is short
    plan = build_plan(config)
    every = units(config)
    per_round = len(every) // (rounds + 1)
    print(f"{name}: {rounds} rounds of {per_round * config.shard_size} train rows ({config.shard_size} a unit), "
          f"one process against {workers} Ray workers, alternating which goes first; {load()}")
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(plain_unit)
        warm = ray.remote(num_cpus=1)(plain_warm)
        with tempfile.TemporaryDirectory() as tmp:
            def one(block: list[Unit]) -> tuple[float, float]:
                started, cpu = time.perf_counter(), time.process_time()
                for u in block:
                    plain_unit(config, u, plan.shard(u.split, u.start, u.stop), tmp)
                return time.perf_counter() - started, time.process_time() - cpu

            def many(block: list[Unit]) -> tuple[float, float]:
                started = time.perf_counter()
                done = ray.get([task.remote(config, u, plan.shard(u.split, u.start, u.stop), tmp) for u in block])
                return time.perf_counter() - started, sum(c for _, _, c in done)

            if len(set(ray.get([warm.remote(2.0) for _ in range(workers)]))) != workers:
                raise RuntimeError("the Ray workers did not all start before the clock")
            one(every[:per_round])  # round 0, untimed: every process's first units (cold JAX) out of the figures
            many(every[:per_round])
            ratios, totals, n = [], [0.0, 0.0, 0.0, 0.0], 0
            for k in range(1, rounds + 1):
                block = every[k * per_round : (k + 1) * per_round]
                in_round = sum(u.stop - u.start for u in block)
                n += in_round
                if k % 2:
                    (a, a_cpu), (b, b_cpu) = one(block), many(block)
                else:
                    (b, b_cpu), (a, a_cpu) = many(block), one(block)
                ratios.append(a / b)
                totals = [totals[0] + a, totals[1] + a_cpu, totals[2] + b, totals[3] + b_cpu]
                print(f"  round {k}: {in_round} rows; 1 process {a:6.1f} s (CPU {a_cpu / in_round * 1e3:.0f} ms a row), {workers} workers "
                      f"{b:6.1f} s (CPU in the tasks {b_cpu / in_round * 1e3:.0f} ms a row): {a / b:.2f}x ({load()})", flush=True)
    finally:
        ray.shutdown()
    print(f"  all rounds: 1 process {n / totals[0]:.2f} rows/s (CPU {totals[1] / n * 1e3:.0f} ms a row), {workers} workers "
          f"{n / totals[2]:.2f} rows/s (CPU {totals[3] / n * 1e3:.0f} ms a row): {totals[0] / totals[2]:.2f}x; "
          f"per round median {statistics.median(ratios):.2f}x, min {min(ratios):.2f}x, max {max(ratios):.2f}x")


def redrawn_by_category(config: PairsConfig, plan: Plan, top: int = 6) -> str:
    """The train indices whose planned seed is not their first (a repeat, or a program that failed
    or was over budget), by category: which categories' program spaces fill up first."""
    categories = category_plan(config, "train")
    redrawn = Counter(categories[i] for i, seed in enumerate(plan.seeds["train"]) if seed != example_seed(config.seed, "train", i))
    total = Counter(categories)
    worst = sorted(redrawn, key=lambda c: -redrawn[c] / total[c])[:top]
    return "redrawn, by category: " + ", ".join(f"{c} {redrawn[c] / total[c]:.1%}" for c in worst) + (f" (of {len(redrawn)} categories)" if redrawn else "none")


def driver_costs(name: str, rows: int, measured: int, workers: int, one_process: bool = True) -> None:
    """The global plan and the dedup pass's search at `measured` rows, scaled to `rows` (`one_process`:
    also draw the plan in this process, as the `datasets` builder does, and check the two plans agree)."""
    measured = min(rows, measured)
    scale = rows / measured
    how = "measured" if scale == 1 else f"extrapolated linearly from {measured:,} measured rows"
    config = train_only(name, measured, 100)
    plan = None
    if one_process:
        before, started, cpu = rss_mib(), time.perf_counter(), time.process_time()
        plan = build_plan(config)
        plan_s, plan_cpu, plan_mib = time.perf_counter() - started, time.process_time() - cpu, rss_mib() - before
        dropped = sum(plan.dropped["train"].values())
        print(f"{name}: global plan of {measured:,} rows: {plan_s:.1f} s wall, {plan_cpu:.1f} s CPU ({plan_cpu / measured * 1e3:.2f} ms CPU a row), "
              f"RSS +{plan_mib:,.0f} MiB, {dropped:,} repeats rejected; {redrawn_by_category(config, plan)}; {load()}")
        print(f"  {rows:,} rows: {plan_cpu * scale / 60:,.1f} min of one core, RSS +{plan_mib * scale:,.0f} MiB ({how})")
    else:
        print(f"{name}: global plan of {measured:,} rows, in Ray tasks only (not drawn in one process); {load()}")
    if workers:  # what `build --engine ray` does: candidates drawn in tasks, the walk over them on the driver
        import ray

        ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
        try:
            before, started, cpu = rss_mib(), time.perf_counter(), time.process_time()
            drawn = draw_plan(ray, config)
            wall, driver, driver_mib = time.perf_counter() - started, time.process_time() - cpu, rss_mib() - before
        finally:
            ray.shutdown()
        if plan is None:
            dropped = sum(drawn.dropped["train"].values())
            same = f"{dropped:,} repeats rejected; {redrawn_by_category(config, drawn)}"
            tasks = f"at most {wall * workers / 3600:,.2f} core-hours here (wall x workers)"
        else:
            same = "the same plan" if drawn.to_json() == plan.to_json() else "A DIFFERENT PLAN (a bug)"
            same += f" ({plan_s / wall:.2f}x one process)"
            tasks = f"{plan_cpu * scale / 3600:,.2f} core-hours spread over the cluster"
        print(f"  drawn in Ray tasks ({workers} workers): {wall:.1f} s wall, driver CPU {driver:.1f} s ({driver / measured * 1e6:,.0f} us a row: "
              f"the serial walk and the tasks' results), driver RSS +{driver_mib:,.0f} MiB; {same}; {load()}")
        print(f"  {rows:,} rows: the driver's part {driver * scale / 60:,.1f} min of one core; the tasks' {tasks} ({how})")
    # The pass's search sees each row's key columns: Python text (~1.5 KB), two hashes; synthetic but sized like the rows.
    python = [f"def f{i}(x):\n" + "    y = jnp.tanh(x)\n" * 80 for i in range(measured)]
    columns = {"train": {"id": [f"train-{i:07d}" for i in range(measured)], "python": python,
                         "canonical_hash": [f"{i:032x}" for i in range(measured)], "structure_hash": [f"{i:032x}" for i in range(measured)]}}
    started = time.process_time()
    find_repeats(columns, structural=True)
    search_s = time.process_time() - started
    held = sum(len(p) for p in python) / 2**20
    print(f"  dedup pass, search for repeats over {measured:,} rows' key columns: {search_s:.2f} s CPU, "
          f"{held:,.0f} MiB of Python text held; {rows:,} rows: {search_s * scale:,.1f} s, {held * scale:,.0f} MiB ({how}); "
          "reading the columns back from Parquet and lowering replacements (rare) come on top")  # fmt: skip


def report_build(result: BuildResult, rows: int) -> None:
    """The figures of a whole build: this run's time and workers, and the build's files, failures and repeats."""
    data = result.out / result.manifest["config"]
    files = sorted(data.glob("*.parquet"))
    if result.already_complete:
        print(f"{result.out}: already complete (nothing run now)")
    else:
        built = sum(r.rows for r in result.ran)
        print(f"this run: {result.seconds['total']:,.0f} s wall, {built:,} rows built ({built / result.seconds['map']:.2f} rows/s in the map), "
              f"{result.reused} of {len(files)} shards finished by earlier runs; {load()}")
        print("  seconds: " + ", ".join(f"{k} {v:,.1f}" for k, v in result.seconds.items()))
        peaks = worker_peaks(result.ran)
        units = Counter((r.node, r.pid) for r in result.ran)
        print(f"  peak RSS of each of {len(peaks)} worker processes (MiB, units run): "
              + ", ".join(f"{peaks[w]:.0f} ({units[w]})" for w in sorted(peaks, key=peaks.get)))
    sizes = [f.stat().st_size / 2**20 for f in files]
    print(f"shards: {len(files)} files, {sum(sizes):,.1f} MiB; per file min {min(sizes):.2f}, median {statistics.median(sizes):.2f}, "
          f"max {max(sizes):.2f} MiB")
    print(f"failures (programs that failed to lower, replaced): {len(result.failures)} (goal 0)")
    hashes = [h for split in ("train", "validation", "test") for h in
              read_columns(sorted(data.glob(f"{split}-*.parquet")), ["canonical_hash"])["canonical_hash"]]
    repeats = len(hashes) - len(set(hashes))
    print(f"rows: {len(hashes):,} of {rows:,}; rows whose canonical StableHLO repeats another row's: {repeats} (goal 0); "
          f"replaced by the dedup pass: {len(result.duplicates.replaced)}")


def runs_log(out: Path) -> Path:
    """Where each run of a resumable build notes its start, beside (not in) the output directory."""
    return out.with_name(out.name + ".runs.jsonl")


def report_runs(log: Path, data: Path) -> None:
    """The whole build over all its runs, interrupted ones included: each finished shard is counted
    in the last run started before its file was written, and a run's wall time runs from its start
    to its last shard (work lost when it was interrupted is not in it)."""
    starts = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    spans: list[list[float]] = [[] for _ in starts]
    rows = [0 for _ in starts]
    for f in data.glob("*.parquet"):
        written = f.stat().st_mtime
        run = max((i for i, s in enumerate(starts) if s["started"] <= written), default=None)
        if run is not None:
            spans[run].append(written)
            rows[run] += pq.read_metadata(f).num_rows
    total_s = total_rows = 0.0
    for i, (start, span) in enumerate(zip(starts, spans, strict=True)):
        if not span:
            print(f"  run {i + 1} ({time.strftime('%Y-%m-%d %H:%M', time.gmtime(start['started']))} UTC): no shard finished")
            continue
        wall = max(span) - start["started"]
        total_s, total_rows = total_s + wall, total_rows + rows[i]
        print(f"  run {i + 1} ({time.strftime('%Y-%m-%d %H:%M', time.gmtime(start['started']))} UTC, load at start "
              f"{start['load']:.2f}): {len(span):,} shards, {rows[i]:,} rows in {wall:,.0f} s ({rows[i] / wall:.2f} rows/s)")
    if total_s:
        print(f"all {len(starts)} runs: {total_rows:,.0f} rows in {total_s:,.0f} s of wall time ({total_s / 3600:.2f} h; "
              f"{total_rows / total_s:.2f} rows/s)")


def full_build(name: str, rows: int, out: Path, address: str | None, max_calls: int, num_cpus: int | None, overwrite: bool) -> None:
    validation = test = rows // 10
    config = replace(resolve(name), train_size=rows - validation - test, validation_size=validation, test_size=test)
    print(f"{name}: {rows:,} rows ({config.train_size:,} / {validation:,} / {test:,}) into {out}; {load()}")
    log = runs_log(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:  # a run killed part way leaves its start here, and its shards say how far it got
        f.write(json.dumps({"started": time.time(), "load": os.getloadavg()[0], "rows": rows}) + "\n")
    result = build(config, out, RayOptions(address=address, num_cpus=num_cpus, max_calls=max_calls), overwrite=overwrite)
    report_build(result, rows)
    report_runs(log, result.out / result.manifest["config"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="balanced")
    parser.add_argument("--compare-rows", type=int, help="rows/s of one process and of Ray with 1 and 2 workers on this many rows")
    parser.add_argument("--workers", default="1,2", help="--compare-rows: the Ray runs, by workers (comma-separated)")
    parser.add_argument("--plain", action="store_true", help="--compare-rows: also as many plain processes (no Ray) as the most workers")
    parser.add_argument("--interleave-rows", type=int, help="one process against Ray workers in alternating rounds of this many rows")
    parser.add_argument("--rounds", type=int, default=6, help="--interleave-rows: timed rounds (after an untimed warm-up round)")
    parser.add_argument("--plan-rows", type=int, help="the driver's plan and dedup search for this many rows")
    parser.add_argument("--plan-workers", type=int, default=2, help="--plan-rows: also draw the plan in Ray tasks on a local Ray of this many CPUs (0: not)")
    parser.add_argument("--no-one-process", action="store_true", help="--plan-rows: draw the plan only in Ray tasks, not also in this process")
    parser.add_argument("--measure-rows", type=int, default=100_000, help="rows the driver's costs are measured at (then extrapolated)")
    parser.add_argument("--rows", type=int, help="a whole resumable build of this many rows")
    parser.add_argument("--output-dir", type=Path, help="--rows: where the build goes (default out/ray-<config>-<rows>)")
    parser.add_argument("--address", help="--rows: a Ray cluster (default: RAY_ADDRESS, else a local Ray on every core)")
    parser.add_argument("--num-cpus", type=int, help="--rows: cores of the local Ray (default: all; a resumed run may give another)")
    parser.add_argument("--overwrite", action="store_true", help="--rows: discard an interrupted build of other code or values there")
    parser.add_argument("--max-calls", type=int, default=RayOptions.max_calls, help="--rows, --compare-rows: units a Ray worker runs before it is replaced")
    args = parser.parse_args()
    if not (args.compare_rows or args.interleave_rows or args.plan_rows or args.rows):
        parser.error("give --compare-rows, --interleave-rows, --plan-rows and/or --rows")
    if args.compare_rows:
        compare(args.config, args.compare_rows, tuple(int(w) for w in args.workers.split(",")), args.plain, args.max_calls)
    if args.interleave_rows:
        interleaved(args.config, args.interleave_rows, args.rounds, max(int(w) for w in args.workers.split(",")))
    if args.plan_rows:
        driver_costs(args.config, args.plan_rows, args.measure_rows, args.plan_workers, not args.no_one_process)
    if args.rows:
        out = args.output_dir or Path(f"out/ray-{args.config}-{args.rows}")
        full_build(args.config, args.rows, out, args.address, args.max_calls, args.num_cpus, args.overwrite)


if __name__ == "__main__":
    sys.exit(main())
