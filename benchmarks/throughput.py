"""Pairs per second at each layer, on the same programs, next to the goals of issue 7.

    .venv/bin/python benchmarks/throughput.py                   # balanced, N = 2,000 (long: ~30 min on 2 idle cores)
    .venv/bin/python benchmarks/throughput.py --n 200 --skip reference
    .venv/bin/python benchmarks/throughput.py --n 100 --only pipeline,hlo_optimized

Measurements (each in a fresh spawned process, so no run inherits another's warm JAX caches):
- pipeline:  `generate_rows` over train[0:N] -- the full row production a build shard does
             (draw, render, exec, trace, lower, texts, cost analysis, gradient, row dict).
- limit:     a bare loop of exactly the JAX calls those rows needed, over their already exec'd
             sources: `jax.jit(fn).trace(*args).lower()`, `as_text()`, `cost_analysis()`, and
             `jax.jit(jax.grad(loss)).lower(*leaves).as_text()` where the row has a gradient.
             Its texts are checked against the pipeline's rows, so it did the same work.
- build(1), build(2): `download_and_prepare` of the builder, num_proc=None / 2, fresh cache dir,
             Arrow writing included, process start-up included (end to end).
- build(1) forward: build(1) with `gradient: false` (no gradient IR): the same columns as a
             reference pair holds (and the jaxpr), so build(1, forward)/reference is like for like.
- reference: the style of the system this project replaces, per pair: lower + text + compile +
             compiled cost analysis.
- hlo_optimized (opt-in, `--only` or `--with-hlo-optimized`): the pipeline with `hlo_optimized:
             true`, reported separately because it compiles every program.
limit, pipeline and reference first run `--warmup` programs of the validation split, untimed.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

GOALS = {
    "pipeline/limit": 0.7,
    "build(2)/build(1)": 1.7,
    "build(1)/reference": 3.0,
    "build(1, forward)/reference": 3.0,  # like for like: no gradient IR, which the reference never made
}
MEASUREMENTS = ("pipeline", "limit", "build1", "build2", "build1_forward", "reference", "hlo_optimized")
DEFAULT = ("pipeline", "limit", "build1", "build2", "build1_forward", "reference")


@dataclass(frozen=True)
class Job:
    """One program as the pipeline produced its row: what the limit and reference loops need."""

    python: str
    entry_point: str
    args: tuple[tuple[tuple[int, ...], str, bool], ...]  # (shape, dtype, weak_type) per leaf
    args_tree: str
    has_grad: bool
    compilable: bool  # False for programs over an abstract mesh: they lower here but cannot compile
    stablehlo_sha: str
    grad_sha: str | None


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float
    pairs: int
    note: str = ""

    @property
    def rate(self) -> float:
        return self.pairs / self.seconds


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _config(name: str, n: int, split: str = "train", **overrides: Any):
    """The named config with `n` rows in `split` and none in the others."""
    from builder.config import SPLITS, load_all

    sizes = {f"{s}_size": (n if s == split else 0) for s in SPLITS}
    return replace(load_all()[name], **sizes, **overrides)


def _warm(config_name: str, warmup: int) -> None:
    from builder.pipeline.rows import generate_rows

    if warmup:
        for _ in generate_rows(_config(config_name, warmup, "validation"), "validation", 0, warmup):
            pass


# --- workers: each runs in a fresh spawned process ------------------------------------------


def run_pipeline(
    config_name: str, n: int, warmup: int, hlo_optimized: bool = False
) -> tuple[float, float, list[Job], float]:
    """Seconds for the global plan and the rows (the plan included), the jobs, mean IR lines."""
    from builder.pipeline.plan import shard_plan
    from builder.pipeline.rows import generate_rows
    from builder.pipeline.seeds import limits_of
    from builder.synth.generator import generate

    _warm(config_name, warmup)
    config = _config(config_name, n, hlo_optimized=hlo_optimized)
    start = time.perf_counter()
    plan = shard_plan(config, "train", 0, n)
    planned = time.perf_counter() - start
    rows = [row for _, row in generate_rows(config, "train", 0, n, plan=plan)]
    seconds = time.perf_counter() - start
    jobs = [
        Job(
            python=r["python"],
            entry_point=r["entry_point"],
            args=tuple((tuple(a["shape"]), a["dtype"], bool(a.get("weak_type", False))) for a in r["args"]),
            args_tree=r["args_tree"],
            has_grad=r["stablehlo_grad"] is not None,
            compilable=generate(r["category"], r["seed"], limits_of(config)).compilable,
            stablehlo_sha=_sha(r["stablehlo"]),
            grad_sha=_sha(r["stablehlo_grad"]),
        )
        for r in rows
    ]
    lines = sum(r["stablehlo"].count("\n") + 1 for r in rows) / len(rows)
    return seconds, planned, jobs, lines


def _prepared(jobs: list[Job]) -> list[tuple[Any, tuple[Any, ...], Job]]:
    """Exec every source and build its abstract arguments (outside the timed loop)."""
    from builder.lowering.extractor import abstract_args, load_module
    from builder.synth.specs import TensorSpec

    out = []
    for job in jobs:
        leaves = [TensorSpec(shape, dtype, weak) for shape, dtype, weak in job.args]
        namespace = load_module(job.python, job.entry_point)
        out.append((namespace[job.entry_point], abstract_args(leaves, job.args_tree, namespace), job))
    return out


def run_limit(config_name: str, jobs: list[Job], warmup: int) -> tuple[float, int]:
    import jax

    from builder.lowering.extractor import scalar_loss
    from builder.synth.specs import FLOAT

    _warm(config_name, warmup)
    prepared = _prepared(jobs)
    results = []
    start = time.perf_counter()
    for fn, args, job in prepared:
        lowered = jax.jit(fn, keep_unused=True).trace(*args).lower()
        text = lowered.as_text()
        lowered.cost_analysis()
        grad_text = None
        if job.has_grad:
            flat, treedef = jax.tree_util.tree_flatten(args)
            argnums = tuple(i for i, (_, dtype, _) in enumerate(job.args) if dtype in FLOAT)
            grad = jax.grad(scalar_loss(fn, treedef), argnums=argnums)
            grad_text = jax.jit(grad, keep_unused=True).lower(*flat).as_text()
        results.append((text, grad_text))
    seconds = time.perf_counter() - start
    mismatches = sum(
        _sha(text) != job.stablehlo_sha or _sha(grad) != job.grad_sha for (text, grad), job in zip(results, jobs, strict=True)
    )
    return seconds, mismatches


def run_reference(config_name: str, jobs: list[Job], warmup: int) -> float:
    import jax

    _warm(config_name, warmup)
    prepared = _prepared([job for job in jobs if job.compilable])
    start = time.perf_counter()
    for fn, args, _ in prepared:
        lowered = jax.jit(fn, keep_unused=True).lower(*args)
        lowered.as_text()
        lowered.compile().cost_analysis()
    return time.perf_counter() - start


def run_build(config_name: str, n: int, num_proc: int, cache_dir: str, gradient: bool = True) -> float:
    from builder.hf_builder import make_builder

    # Rows do not depend on shard boundaries; small runs get smaller shards so both workers have work.
    shard_size = max(1, min(_config(config_name, n).shard_size, n // 8))
    sizes = {"train_size": n, "validation_size": 0, "test_size": 0}
    builder = make_builder(config_name, cache_dir, **sizes, shard_size=shard_size, gradient=gradient)
    start = time.perf_counter()
    builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
    seconds = time.perf_counter() - start
    built = builder.as_dataset(split="train")
    if len(built) != n:
        raise RuntimeError(f"build(num_proc={num_proc}) wrote {len(built)} rows, expected {n}")
    return seconds


def in_fresh_process(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --- report ---------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import jax

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, jax {jax.__version__}; "
        f"1-min load {load:.2f}"
    )


def ratio_line(name: str, figures: dict[str, Figure], num: str, den: str) -> str | None:
    if num not in figures or den not in figures:
        return None
    value = figures[num].rate / figures[den].rate
    goal = GOALS[name]
    return f"  {name:<20} {value:6.2f}   goal >= {goal}  {'ok' if value >= goal else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="balanced", help="a config name from configs/")
    parser.add_argument("--n", type=int, default=2_000, help="programs (rows) per measurement")
    parser.add_argument("--warmup", type=int, default=20, help="untimed validation rows before limit/pipeline/reference")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    parser.add_argument("--skip", help="comma-separated measurements to leave out")
    parser.add_argument("--with-hlo-optimized", action="store_true", help="also time the pipeline with hlo_optimized")
    args = parser.parse_args()
    chosen = set(args.only.split(",")) if args.only else set(DEFAULT)
    if args.with_hlo_optimized:
        chosen.add("hlo_optimized")
    chosen -= set(args.skip.split(",")) if args.skip else set()
    unknown = chosen - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurements {sorted(unknown)}; choose from {', '.join(MEASUREMENTS)}")

    hf_home = tempfile.mkdtemp(prefix="throughput-hf-")
    os.environ.update(HF_HOME=hf_home, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    print(f"{args.config}, N = {args.n:,}; {machine()}", flush=True)
    figures: dict[str, Figure] = {}

    def record(key: str, figure: Figure) -> None:
        figures[key] = figure
        print(f"  {figure.name:<26} {figure.seconds:8.1f} s {figure.rate:8.2f} pairs/s  (load {os.getloadavg()[0]:.1f})", flush=True)

    try:
        # The pipeline always runs: its rows define the programs the other loops replay.
        seconds, planned, jobs, lines = in_fresh_process(run_pipeline, args.config, args.n, args.warmup)
        grads = sum(j.has_grad for j in jobs)
        note = f"{grads} of {len(jobs)} with gradient; global plan {planned:.1f} s of it"
        record("pipeline", Figure("pipeline, 1 process", seconds, len(jobs), note))
        if "limit" in chosen:
            seconds, mismatches = in_fresh_process(run_limit, args.config, jobs, args.warmup)
            record("limit", Figure("limit (bare JAX calls)", seconds, len(jobs), f"{mismatches} texts differ from rows"))
        if "hlo_optimized" in chosen:
            seconds, _, _, _ = in_fresh_process(run_pipeline, args.config, args.n, args.warmup, True)
            record("hlo_optimized", Figure("pipeline + hlo_optimized", seconds, len(jobs), "opt-in per config"))
        builds = (("build1", 1, True, "build, num_proc=1"), ("build2", 2, True, "build, num_proc=2"),
                  ("build1_forward", 1, False, "build, 1, gradient: false"))
        for key, num_proc, gradient, name in builds:
            if key in chosen:
                cache = tempfile.mkdtemp(prefix=f"throughput-{key}-")
                try:
                    seconds = in_fresh_process(run_build, args.config, args.n, num_proc, cache, gradient)
                finally:
                    shutil.rmtree(cache, ignore_errors=True)
                note = "Arrow included" if gradient else "forward IR, jaxpr, cost: what a reference pair holds, and more"
                record(key, Figure(name, seconds, args.n, note))
        if "reference" in chosen:
            seconds = in_fresh_process(run_reference, args.config, jobs, args.warmup)
            compilable = sum(j.compilable for j in jobs)
            note = f"lower + compile + cost; the {compilable} compilable programs"
            record("reference", Figure("reference style", seconds, compilable, note))
    finally:
        shutil.rmtree(hf_home, ignore_errors=True)

    print(f"\n{'measurement':<26} {'seconds':>8} {'pairs/s':>8}")
    for key in MEASUREMENTS:
        if key in figures:
            f = figures[key]
            print(f"{f.name:<26} {f.seconds:8.1f} {f.rate:8.2f}   {f.note}")
    print(f"mean StableHLO lines per pair: {lines:.0f}")
    print("ratios:")
    for name, num, den in (
        ("pipeline/limit", "pipeline", "limit"),
        ("build(2)/build(1)", "build2", "build1"),
        ("build(1)/reference", "build1", "reference"),
        ("build(1, forward)/reference", "build1_forward", "reference"),
    ):
        line = ratio_line(name, figures, num, den)
        if line:
            print(line)
    print(f"(after: 1-min load {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
