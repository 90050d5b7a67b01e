"""(config, split, shard) -> rows: the one pure function every way of building shares.

Each index gets its seed from the global plan (`plan`) and its category and size limits
from `seeds`; a shard needs nothing but its own index range, whatever the number of
processes.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..config import SPLITS, ConfigError, PairsConfig
from ..lowering.extractor import extract, jax_version
from ..lowering.irhash import canonical_hash, portability, structure_hash
from ..synth.domains import default_domain
from ..synth.generator import generate
from ..synth.program import Program
from .budget import ir_over_budget
from .failures import BUDGET, Failure
from .plan import ShardPlan, shard_plan
from .seeds import attempts, candidate_seeds, category_plan, limits_of

logger = logging.getLogger(__name__)


def make_row(config: PairsConfig, split: str, index: int, category: str, seed: int) -> dict[str, Any]:
    """Draw, render and lower one program: one row of the data contract."""
    program = generate(category, seed, limits_of(config))
    source = program.render()
    leaves = [leaf.spec for leaf in program.leaves]
    args_tree = program.args_tree()
    optimized = config.hlo_optimized and program.compilable  # an abstract-mesh program cannot compile here
    ir = extract(source, program.entry_point, leaves, args_tree, config.gradient and program.differentiable, optimized)
    return {
        "id": f"{split}-{index:07d}",
        "category": category,
        "python": source,
        "entry_point": program.entry_point,
        "args": arg_entries(program),
        "args_tree": args_tree,
        "outputs": [{"shape": list(o.shape), "dtype": o.dtype} for o in ir.outputs],
        "jaxpr": ir.jaxpr,
        "stablehlo": ir.stablehlo,
        "stablehlo_grad": ir.stablehlo_grad,
        "hlo_optimized": ir.hlo_optimized,
        "flops": ir.flops,
        "transcendentals": ir.transcendentals,
        "bytes_accessed": ir.bytes_accessed,
        "loop_trip_counts": ir.loop_trip_counts,
        "ops": ir.ops,
        "canonical_hash": canonical_hash(ir.stablehlo),
        "structure_hash": structure_hash(ir.stablehlo),
        "platform_specific": platform_specific(ir.stablehlo, ir.stablehlo_grad),
        "seed": seed,
        "jax_version": jax_version(source),
    }


def arg_entries(program: Program) -> list[dict[str, Any]]:
    """The row's `args`: one entry per argument leaf, with the domain its program is defined on."""
    return [
        {
            "name": leaf.name,
            "shape": list(leaf.spec.shape),
            "dtype": leaf.spec.dtype,
            "weak_type": leaf.spec.weak_type,
            "domain": str(leaf.domain or default_domain(leaf.spec)),
        }
        for leaf in program.leaves
    ]


def platform_specific(*texts: str | None) -> list[str]:
    """The platform-specific pieces (custom_call targets, backend attributes) of the given IR texts."""
    return sorted({piece for text in texts if text for piece in portability(text).pieces})


def generate_rows(
    config: PairsConfig,
    split: str,
    start: int,
    stop: int,
    failures: list[Failure] | None = None,
    plan: ShardPlan | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows `start..stop` of `split`, keyed by id, from the planned seeds (`plan`, else the
    config's global plan). A program that fails to lower is recorded in `failures` and
    replaced by a spare seed, so counts stay exact."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    categories = category_plan(config, split)
    plan = plan or shard_plan(config, split, start, stop)
    if failures is not None:
        failures.extend(plan.failures)
    with fewer_gc_passes():
        for index, planned in zip(range(start, stop), plan.seeds, strict=True):
            category = categories[index]
            budget_misses = 0
            for seed in candidate_seeds(config, split, index, planned):
                try:
                    row = make_row(config, split, index, category, seed)
                except Exception as err:  # a generator bug: report it, keep the build going
                    failure = Failure(split, index, category, seed, f"{type(err).__name__}: {err}"[:2000])
                    logger.warning("program failed to lower (category %s, seed %d): %s", category, seed, failure.error)
                    if failures is not None:
                        failures.append(failure)
                    continue
                over = rejection(config, row)
                if over:  # over the length budget, or not portable when portable IR was asked for: draw a spare
                    if failures is not None and over.startswith("over budget"):
                        failures.append(Failure(split, index, category, seed, over, BUDGET))
                    budget_misses += over.startswith("over budget")
                    continue
                yield row["id"], row
                break
            else:
                if budget_misses > attempts(config) // 2:
                    raise ConfigError(
                        f"{split}[{index}]: {budget_misses} of {attempts(config)} programs of category {category!r} were over "
                        f"max_ir_chars={config.max_ir_chars:,}: raise it, or leave {category!r} out of categories"
                    )
                raise RuntimeError(f"{split}[{index}] ({category}): {attempts(config)} programs in a row failed to lower")


def rejection(config: PairsConfig, row: dict[str, Any]) -> str | None:
    """Why a lowered row must be redrawn under `config` (None when it is kept): over the IR budget,
    or platform-specific when portable IR only was asked for. The map and the dedup pass share it."""
    if config.portable_only and row["platform_specific"]:
        return "not portable: " + ", ".join(row["platform_specific"])
    return ir_over_budget(config, row)


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Run Python's cyclic GC less often while rows are lowered, and restore the thresholds after.

    Tracing and lowering allocate ~100k short-lived objects a row; at the default young-
    generation threshold (700) Python collects ~30 times a row, ~6% of the time. At 10,000
    it is ~1%, with the same memory (benchmarks/README.md); the garbage is freed as before.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 10_000), max(old[1], 20), old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
