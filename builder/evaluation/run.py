"""Score a predictions file against reference rows: sample, score in parallel, report."""

from __future__ import annotations

import queue
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..config import ConfigError
from .containment import Limits, protection
from .predictions import Predictions, check_ids
from .reference_cache import ReferenceCache
from .report import Report, build_report
from .scoring import CRASHED, RowScore, Scorer
from .tasks import Task, tier


@dataclass(frozen=True)
class Options:
    input_seed: int = 0  # seeds the inputs drawn and the sample
    sample: int | None = None  # score a seeded sample of this many rows
    num_proc: int = 1  # rows scored at once, each with its own XLA child
    timeout: float = 120.0  # seconds per XLA run (compile included)
    limits: Limits = field(default_factory=Limits)  # per Python prediction
    progress: bool = True
    shortcut: bool = True  # a prediction in the reference's canonical form counts as agreeing without a second run (False: run it; benchmarks)
    reference_cache: Path | None = None  # keep the reference's outputs here, reused by later runs (None: computed every time)


def task_rows(task: Task, rows: list[dict[str, Any]], sample: int | None, seed: int) -> list[dict[str, Any]]:
    """The rows of the task, or a seeded sample of them (in row order)."""
    rows = [r for r in rows if task.applies(r)]
    if not rows:
        raise ConfigError(f"the reference has no rows for {task.name} (no {task.reference} column values)")
    if sample is not None:
        if sample < 1:
            raise ConfigError(f"--sample must be at least 1, got {sample}")
        keep = sorted(random.Random(seed).sample(range(len(rows)), min(sample, len(rows))))
        rows = [rows[i] for i in keep]
    return rows


def evaluate(task: Task, reference: list[dict[str, Any]], predictions: Predictions, options: Options, where: str = "the reference") -> Report:
    """Score every row of the task (or the sample); every prediction file id must be a row of it."""
    if options.num_proc < 1:
        raise ConfigError(f"--num-proc must be at least 1, got {options.num_proc}")
    check_ids(predictions, (r["id"] for r in reference if task.applies(r)), where)
    rows = task_rows(task, reference, options.sample, options.input_seed)
    scorers: queue.SimpleQueue[Scorer] = queue.SimpleQueue()
    cache = ReferenceCache(options.reference_cache) if options.reference_cache is not None else None
    started = [Scorer(task, options.input_seed, options.timeout, options.limits, options.shortcut, cache) for _ in range(min(options.num_proc, len(rows)))]
    for s in started:
        scorers.put(s)

    def score(row: dict[str, Any]) -> RowScore:
        scorer = scorers.get()
        try:
            return scorer.score(row, predictions.values.get(row["id"]), row["id"] in predictions.values)
        except Exception as err:  # whatever a prediction does to the scorer costs its own row, not the run
            return RowScore(row["id"], row["category"], tier(row), CRASHED, reason=f"the scorer failed: {type(err).__name__}: {err}"[:400])
        finally:
            scorers.put(scorer)

    scores: list[RowScore] = []
    try:
        with ThreadPoolExecutor(len(started), thread_name_prefix="evaluate") as pool, tqdm(
            total=len(rows), desc=f"evaluate {task.name}", unit=" rows", disable=not options.progress
        ) as bar:
            for result in pool.map(score, rows):
                scores.append(result)
                bar.update()
    finally:
        for s in started:
            s.close()
    guard = protection().describe() if task.kind == "python" else None
    settings = {"input_seed": options.input_seed, "sample": options.sample, "num_proc": options.num_proc, "reference": where}
    return build_report(task, scores, predictions.read, predictions.malformed_lines, guard, settings)
