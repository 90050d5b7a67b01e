"""`build --engine ray`: the pipeline's work units as Ray tasks, on this machine or a cluster.

The driver draws the global plan once (`pipeline.plan`) and hands each task its unit's slice
(a `ShardPlan`); a task runs the same pure (config, split, shard) -> rows function as the
`datasets` builder (`pipeline.rows.generate_rows`) and writes its rows straight to their final
Parquet name in the Hub layout (`parquet_layout`). The pass after the map (`pipeline.dedup`,
the same code the `datasets` builder runs) is a second stage on the driver. So the rows are the
`datasets` builder's, byte for byte, whatever the number of workers or machines.

Everything is written into a staging directory that survives interrupts (`staging`): the same
command run again does only the units whose files are missing. A worker process is replaced
after `max_calls` units, so JAX's caches cannot grow without bound however long the build.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from types import ModuleType
from typing import Any

from tqdm.auto import tqdm

from ..config import SPLITS, ConfigError, PairsConfig, load_named, resolve
from ..pipeline.build_dir import parquet_digests
from ..pipeline.dedup import KEY_COLUMNS, REPORT_NAME, DedupReport, Wanted, dedup_columns, key_columns
from ..pipeline.failures import REPORT_NAME as FAILURES_NAME
from ..pipeline.failures import Failure, describe, merge_parts, read_report, write_part
from ..pipeline.fingerprint import code_fingerprint
from ..pipeline.output import MANIFEST, check_target, lock, read_manifest, recover, swap_into_place
from ..pipeline.plan import Candidate, Plan, ShardPlan, first_candidates, plan_from, python_key
from ..pipeline.replacement import Attempt, draw_attempt
from ..pipeline.rows import generate_rows
from .parquet_layout import Unit, read_columns, read_rows, remove_partial_files, replace_rows, unit_of, units, write_rows
from .staging import DEDUP_ROWS, PLAN, Staging, has_plan, holds, identity, load_plan, open_staging, staging_dir, write_json

logger = logging.getLogger(__name__)
INSTALL_HINT = "--engine ray needs Ray, an optional extra: pip install -e '.[ray]' (or pip install 'ray>=2.9')"
SUMMARY_COLUMNS = (*KEY_COLUMNS, "category", "jax_version")


@dataclass(frozen=True)
class RayOptions:
    """Where and how the tasks run. No address (and no RAY_ADDRESS): a local Ray on `num_cpus` cores (all by default)."""

    address: str | None = None
    num_cpus: int | None = None
    max_calls: int = 10  # units a worker process runs before Ray replaces it (bounds JAX's caches)
    max_retries: int = 3  # re-runs of a unit whose worker died
    progress: bool = True


@dataclass(frozen=True)
class UnitResult:
    """What a task reports: its unit, rows, file size, failures, and the worker that ran it."""

    unit: Unit
    rows: int
    bytes: int
    failures: int
    pid: int
    node: str  # the Ray node's id
    peak_rss_mib: float  # the worker process's peak RSS so far
    seconds: float
    cpu_seconds: float  # of this process on this unit (comparable with one process under any load)


@dataclass
class BuildResult:
    """What a build did: where it is, its manifest, and the figures of this run."""

    out: Path
    manifest: dict[str, Any]
    failures: list[Failure]
    duplicates: DedupReport
    ran: list[UnitResult] = field(default_factory=list)
    reused: int = 0  # units finished by an earlier, interrupted run
    already_complete: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # ray start, plan, map, dedup, total


def import_ray() -> ModuleType:
    try:
        import ray  # lazy: an optional extra, and slow to import
    except ImportError as err:
        raise ConfigError(f"{INSTALL_HINT} ({err})") from None
    return ray


def _same_code(fingerprint: str) -> None:
    if code_fingerprint() != fingerprint:
        raise RuntimeError(
            f"this worker's code or JAX ({code_fingerprint()}) differs from the driver's ({fingerprint}): "
            "install the same version of the project and of JAX on every node"
        )


def plan_block(config: PairsConfig, split: str, start: int, stop: int, fingerprint: str) -> list[Candidate]:
    """The plan's task: attempt 0 of every index of `split[start:stop]`, drawn, rendered and hashed."""
    _same_code(fingerprint)
    return first_candidates(config, split, start, stop)


def python_keys_of(path: Path, fingerprint: str) -> list[str]:
    """The dedup pass's task: the `python_key` of every row of one file, in order (on the driver,
    parsing every row's Python would be the pass's serial cost: ~3 ms a row)."""
    _same_code(fingerprint)
    return [python_key(source) for source in read_columns([path], ["python"])["python"]]


def keys_in_tasks(ray: ModuleType, files: Mapping[str, Sequence[Path]]) -> dict[str, list[str]]:
    """Each split's `python_key`s in row order, a task per file."""
    task = ray.remote(num_cpus=1)(python_keys_of)
    fingerprint = code_fingerprint()
    calls = [(split, path) for split, paths in files.items() for path in paths]
    keys: dict[str, list[str]] = {split: [] for split in files}
    for (split, _), of_file in zip(calls, _in_order(ray, task, [(path, fingerprint) for _, path in calls]), strict=True):
        keys[split] += of_file
    return keys


def replacement_attempts(config: PairsConfig, wanted: Wanted, fingerprint: str) -> list[Attempt]:
    """The dedup pass's other task: one repeat's first replacement seeds drawn and lowered (`draw_attempt`)."""
    _same_code(fingerprint)
    return [draw_attempt(config, wanted.split, wanted.index, wanted.category, seed) for seed in wanted.seeds]


def attempts_in_tasks(ray: ModuleType, config: PairsConfig, wanted: Sequence[Wanted]) -> list[list[Attempt]]:
    """Every repeat's `replacement_attempts`, a task each, in order."""
    task = ray.remote(num_cpus=1)(replacement_attempts)
    fingerprint = code_fingerprint()
    return list(_in_order(ray, task, [(config, w, fingerprint) for w in wanted]))


def run_unit(config: PairsConfig, unit: Unit, plan: ShardPlan, staging: Staging, fingerprint: str) -> UnitResult:
    """The task: one work unit's rows, written to their final name; failures recorded first, so a
    finished file always has its failures beside it."""
    _same_code(fingerprint)
    started, cpu = time.perf_counter(), time.process_time()
    failures: list[Failure] = []
    rows = [row for _, row in generate_rows(config, unit.split, unit.start, unit.stop, failures, plan)]
    write_part(staging.parts_dir, unit.split, unit.start, failures)
    size = write_rows(staging.path(unit), rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    node = import_ray().get_runtime_context().get_node_id()
    return UnitResult(unit, len(rows), size, len(failures), os.getpid(), node, peak, time.perf_counter() - started, time.process_time() - cpu)


def _connect(ray: ModuleType, options: RayOptions) -> bool:
    """Join the cluster at the address (or RAY_ADDRESS), else start a local Ray; whether it was started here."""
    if ray.is_initialized():
        return False
    address = options.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
        return True  # disconnect when done (the cluster keeps running)
    # "local": a Ray of its own, never one found running on this machine (a bare `ray.init()` joins
    # the last one started here, another build's included, and refuses `num_cpus` when it does)
    ray.init(address="local", num_cpus=options.num_cpus or os.cpu_count(), include_dashboard=False)
    return True


@contextmanager
def ray_session(options: RayOptions, seconds: dict[str, float]) -> Iterator[ModuleType]:
    """Ray, joined or started for the plan and the map; shut down after if started here.
    `seconds["ray start"]`: joining or starting it."""
    ray = import_ray()
    started = time.perf_counter()
    started_here = _connect(ray, options)
    seconds["ray start"] = time.perf_counter() - started
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _window(ray: ModuleType) -> int:
    """Tasks kept in flight: twice the cluster's cores, topped up as they finish, so the driver never
    holds a million task references and an interrupt cancels little."""
    return max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))


def _in_order(ray: ModuleType, task: Any, calls: Sequence[tuple[Any, ...]]) -> Iterator[Any]:
    """The results of `task(*call)` for every call, in order, through a window of tasks in flight."""
    queue = iter(calls)
    pending = deque(task.remote(*c) for c in islice(queue, _window(ray)))
    try:
        while pending:
            result = ray.get(pending.popleft())
            pending.extend(task.remote(*c) for c in islice(queue, 1))
            yield result
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def draw_plan(ray: ModuleType, config: PairsConfig) -> Plan:
    """The global plan with its costly part in tasks: attempt 0 of every index drawn, rendered and
    hashed in blocks (`plan_block`), then walked in order here (`plan.plan_from`: set lookups, and a
    redraw here for the few indices whose first program repeats). The same plan as `build_plan`."""
    cores = int(ray.cluster_resources().get("CPU", 1))
    total = sum(config.split_size(s) for s in SPLITS)
    size = max(100, min(20_000, -(-total // (4 * cores))))
    blocks = [(s, a, min(a + size, config.split_size(s))) for s in SPLITS for a in range(0, config.split_size(s), size)]
    task = ray.remote(num_cpus=1)(plan_block)
    fingerprint = code_fingerprint()
    results = _in_order(ray, task, [(config, s, a, b, fingerprint) for s, a, b in blocks])
    in_order = zip(blocks, results, strict=True)  # the walk asks for every index once, in order: the blocks' order
    current: tuple[str, int, int, list[Candidate]] = ("", 0, 0, [])

    def first(split: str, index: int) -> Candidate:
        nonlocal current
        while not (current[0] == split and current[1] <= index < current[2]):
            (s, a, b), candidates = next(in_order)
            current = (s, a, b, candidates)
        return current[3][index - current[1]]

    try:
        return plan_from(config, first)
    finally:
        results.close()  # cancels what is still in flight when the walk stopped early (a ConfigError)


def run_units(ray: ModuleType, config: PairsConfig, plan: Plan, todo: Sequence[Unit], staging: Staging, options: RayOptions) -> list[UnitResult]:
    """Run `todo` as Ray tasks, one core each; the results as they finish."""
    task = ray.remote(num_cpus=1, max_calls=options.max_calls, max_retries=options.max_retries)(run_unit)
    fingerprint = code_fingerprint()
    window = _window(ray)
    queue = iter(todo)
    pending: list[Any] = []
    results: list[UnitResult] = []
    try:
        with tqdm(total=len(todo), unit="shard", desc="ray", disable=not options.progress) as bar:
            while True:
                pending += [task.remote(config, u, plan.shard(u.split, u.start, u.stop), staging, fingerprint) for u in islice(queue, window - len(pending))]
                if not pending:
                    break
                done, pending = ray.wait(pending, num_returns=1)
                results.append(ray.get(done[0]))
                bar.update(1)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    return results


def _split_files(config: PairsConfig, staging: Staging) -> dict[str, list[Path]]:
    return {s: [staging.path(u) for u in units(config) if u.split == s] for s in SPLITS if config.split_size(s) > 0}


def dedup_stage(config: PairsConfig, plan: Plan, staging: Staging, options: RayOptions | None = None) -> DedupReport:
    """The pass after the map, on the driver, resumable: the replacement rows are kept before any file
    changes, then put in (again, if a run stopped part way: that writes the same bytes). What costs a
    row's worth of work runs in Ray tasks, and only when some row is to be replaced: the rows'
    `python_key`s, which a replacement is checked against, and each repeat's first replacement
    seeds, drawn and lowered (`dedup.AHEAD`); the driver only walks the repeats in order."""
    report_path = staging.root / REPORT_NAME
    rows_path = staging.root / DEDUP_ROWS
    if not report_path.is_file():
        files = _split_files(config, staging)
        columns = {s: read_columns(paths, key_columns(config)) for s, paths in files.items()}
        failures: list[Failure] = []
        with ExitStack() as session:
            connected: list[ModuleType] = []

            def ray_now() -> ModuleType:  # started once, only when a row is to be replaced
                if not connected:
                    connected.append(session.enter_context(ray_session(options or RayOptions(), {})))
                return connected[0]

            report, rows = dedup_columns(
                config, columns, plan.dropped, failures,
                lambda: keys_in_tasks(ray_now(), files), lambda wanted: attempts_in_tasks(ray_now(), config, wanted),
            )  # fmt: skip
        write_part(staging.parts_dir, "dedup", 0, failures)
        if rows:
            write_rows(rows_path, [rows[key] for key in sorted(rows, key=lambda k: (SPLITS.index(k[0]), k[1]))])
        write_json(report_path, {"planned": report.planned, "replaced": report.replaced})
    report = DedupReport.read(staging.root) or DedupReport()
    by_file: dict[Path, dict[int, dict[str, Any]]] = {}
    for row in read_rows(rows_path) if rows_path.is_file() else []:
        split, index = row["id"].rsplit("-", 1)
        unit, offset = unit_of(config, split, int(index))
        by_file.setdefault(staging.path(unit), {})[offset] = row
    for path, replaced in by_file.items():
        replace_rows(path, replaced)
    return report


def finish(config: PairsConfig, staging: Staging, out: Path, ident: dict[str, Any], report: DedupReport) -> tuple[dict[str, Any], list[Failure]]:
    """Merge the failure parts, write the manifest, and move the complete build to `out`."""
    root = staging.root
    if staging.parts_dir.is_dir() or not (root / FAILURES_NAME).is_file():
        failures = merge_parts(root)
    else:  # merged by a run stopped just after
        failures = read_report(root) or []
    files = _split_files(config, staging)
    summary = {s: read_columns(paths, ("category", "jax_version")) for s, paths in files.items()}
    manifest = {
        **ident,
        "complete": True,
        "engine": "ray",
        "rows": {s: len(c["category"]) for s, c in summary.items()},
        "files": {s: len(paths) for s, paths in files.items()},
        "jax_version": sorted({v for c in summary.values() for v in c["jax_version"]}),
        "failures": len(failures),
        "duplicates": report.per_split(),
        "data_files": parquet_digests(root),  # sha256 of every shard: `validate`, `evaluate` and `publish` check them
    }
    write_json(root / MANIFEST, manifest)
    for name in (PLAN, DEDUP_ROWS):
        (root / name).unlink(missing_ok=True)
    remove_partial_files(staging.data_dir)  # a worker killed while writing, whose unit another worker then ran
    swap_into_place(root, out)
    return manifest, failures


def build(config: PairsConfig, out: Path, options: RayOptions | None = None, overwrite: bool = False) -> BuildResult:
    """Build `config` into `out` in the Hub's Parquet layout with Ray, resuming an interrupted run of the same build."""
    options = options or RayOptions()
    import_ray()  # before any work: say how to install it
    out = out.resolve()
    ident = identity(config, code_fingerprint())
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    with lock(out):
        recover(out)
        if holds(out, ident, complete=True):
            return BuildResult(out, read_manifest(out) or {}, read_report(out) or [], DedupReport.read(out) or DedupReport(), already_complete=True)
        check_target(out, overwrite)
        staging, _ = open_staging(out, ident, overwrite)
        every = units(config)
        finished = set(staging.finished(every))
        todo = [u for u in every if u not in finished]
        ran: list[UnitResult] = []
        if todo or not has_plan(staging):
            with ray_session(options, seconds) as ray:
                mark = time.perf_counter()
                plan, drawn = load_plan(staging, config, lambda c: draw_plan(ray, c))
                seconds["plan" if drawn else "plan (read back)"] = time.perf_counter() - mark
                mark = time.perf_counter()
                ran = run_units(ray, config, plan, todo, staging, options) if todo else []
                seconds["map"] = time.perf_counter() - mark
        else:
            plan, _ = load_plan(staging, config)
        mark = time.perf_counter()
        report = dedup_stage(config, plan, staging, options)
        seconds["dedup"] = time.perf_counter() - mark
        manifest, failures = finish(config, staging, out, ident, report)
    seconds["total"] = time.perf_counter() - started
    return BuildResult(out, manifest, failures, report, ran, len(finished), seconds=seconds)


def worker_peaks(ran: Sequence[UnitResult]) -> dict[tuple[str, int], float]:
    """Peak RSS (MiB) of every worker process that ran units, by (node, pid)."""
    peaks: dict[tuple[str, int], float] = {}
    for r in ran:
        peaks[(r.node, r.pid)] = max(peaks.get((r.node, r.pid), 0.0), r.peak_rss_mib)
    return peaks


def format_result(result: BuildResult) -> str:
    """The summary a person reads after a build: rows, files, failures, duplicates, time, workers."""
    m = result.manifest
    rows = ", ".join(f"{s} {m['rows'][s]:,}" for s in SPLITS if s in m.get("rows", {}))
    if result.already_complete:
        return f"{m.get('config')}: {result.out} already holds this build, complete ({rows}); nothing to do"
    data = result.out / m["config"]
    size = sum(p.stat().st_size for p in data.glob("*.parquet"))
    lines = [f"{m['config']}: saved to {result.out} ({rows}; {sum(m['files'].values())} Parquet files in {data}, {size / 2**20:,.1f} MiB)"]
    lines.append(f"  shards run now {len(result.ran)}, finished by an earlier run {result.reused}")
    lines.append("  seconds: " + ", ".join(f"{k} {v:,.1f}" for k, v in result.seconds.items()))
    peaks = worker_peaks(result.ran)
    if peaks:
        lines.append(f"  worker processes {len(peaks)}, peak RSS {max(peaks.values()):,.0f} MiB (max), {min(peaks.values()):,.0f} MiB (min)")
    dropped = {s: sum(d.values()) for s, d in result.duplicates.per_split().items()}
    lines.append(f"  programs dropped as duplicates (replaced): {dropped or 0}")
    lines.append(f"  programs that failed to lower (replaced): {len(result.failures)}")
    lines += [f"    failed: {describe(f)}" for f in result.failures[:20]]
    lines.append(f'  load it: load_dataset("parquet", data_dir="{data}") or load_dataset("{result.out}")')
    return "\n".join(lines)


def main(name: str, out: Path, overrides: dict[str, Any], overwrite: bool, address: str | None) -> int:
    """`jax-stablehlo-pairs build NAME --engine ray`: check everything, build, print the summary."""
    import_ray()
    named, broken = load_named()
    if name in broken:
        raise broken[name]
    config = resolve(name, overrides, named)
    try:
        result = build(config, out, RayOptions(address=address), overwrite)
    except KeyboardInterrupt:
        print(f"interrupted: finished shards are kept in {staging_dir(out.resolve())}; run the same command again to resume", file=sys.stderr)
        raise
    print(format_result(result))
    return 0
