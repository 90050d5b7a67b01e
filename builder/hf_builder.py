"""The `datasets` builder: configs -> splits -> shards -> rows from `pipeline`.

The loading script subclasses `PairsBuilder` and adds nothing, so `load_dataset`
on the script, the CLI and the tests all run this code.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import field as dataclass_field
from dataclasses import make_dataclass
from pathlib import Path
from typing import Any

import datasets
import multiprocess

from . import __version__
from .config import (
    FIELDS,
    SPLITS,
    ConfigError,
    PairsConfig,
    from_values,
    load_named,
    resolve,
    unknown_config,
    unknown_keys,
)
from .features import FEATURES
from .pipeline.budget import statement_caps
from .pipeline.dedup import dedup_prepared
from .pipeline.failures import LOWERING, PARTS_DIR, REPORT_NAME, Failure, merge_parts, of_kind, read_report, write_part
from .pipeline.fingerprint import code_fingerprint
from .pipeline.plan import ShardPlan, build_plan, shard_plan
from .pipeline.rows import generate_rows
from .pipeline.seeds import shards
from .pipeline.unit_store import load_unit, save_unit

logger = logging.getLogger(__name__)
VERSION = datasets.Version(__version__)


@contextmanager
def _spawn_if_jax_started(num_proc: int | None) -> Iterator[None]:
    """Make datasets' worker pool spawn rather than fork while JAX's backend is live in this process."""
    from jax._src import xla_bridge

    if not num_proc or num_proc < 2 or not xla_bridge.backends_are_initialized():
        yield
        return
    before = multiprocess.get_start_method(allow_none=True)
    multiprocess.set_start_method("spawn", force=True)
    try:
        yield
    finally:
        multiprocess.set_start_method(before, force=True)


# A broken YAML file must not sink the other configs: it is left out, and asking for it raises its error.
NAMED, BROKEN = load_named()
for _error in BROKEN.values():
    logger.warning("config left out: %s", _error)
# What `load_dataset` may pass besides our fields; data_dir / data_files mean nothing for synthesized data.
DATASETS_KWARGS = ("version",)
OVERRIDABLE = tuple(f for f in FIELDS if f not in ("name", "description"))  # the rest are BuilderConfig's own


def _pairs_config(self: datasets.BuilderConfig) -> PairsConfig:
    """The checked config. datasets sets kwargs with setattr after __post_init__, so check here."""
    values = {name: getattr(self, name) for name in OVERRIDABLE}
    return from_values({**values, "name": self.name, "description": self.description or ""}, f"config {self.name!r}")


# A builder config is a `datasets.BuilderConfig` holding `PairsConfig`'s fields, declared from them, so
# that every field of a named config can be overridden as a `load_dataset` kwarg.
PairsBuilderConfig = make_dataclass(
    "PairsBuilderConfig",
    [(name, Any, dataclass_field(default=None)) for name in OVERRIDABLE],
    bases=(datasets.BuilderConfig,),
    namespace={"pairs_config": _pairs_config, "__doc__": "A named config from `configs/`; every field can be overridden."},
)
PairsBuilderConfig.__module__ = __name__


def builder_config(config: PairsConfig) -> datasets.BuilderConfig:
    values = {k: v for k, v in config.values().items() if k in OVERRIDABLE}
    return PairsBuilderConfig(name=config.name, version=VERSION, description=config.description, **values)


def caused_by_interrupt(err: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is down the exception chain of `err`."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


class PairsBuilder(datasets.GeneratorBasedBuilder):
    """Synthesized JAX programs paired with their StableHLO, jaxpr, gradient IR and costs."""

    BUILDER_CONFIG_CLASS = PairsBuilderConfig
    BUILDER_CONFIGS = [builder_config(c) for c in NAMED.values()]  # noqa: RUF012 (datasets' API)
    DEFAULT_CONFIG_NAME = "balanced"
    DEFAULT_WRITER_BATCH_SIZE = 100  # rows hold long IR strings; keeps shard-size checks frequent

    _failure_parts: str | None = None  # set while download_and_prepare writes: where work units record failures
    _unit_store: str | None = None  # and where finished work units are kept until the build is complete (resume)

    def __init__(self, *args: Any, hash: str | None = None, **kwargs: Any) -> None:
        # The script's hash alone would serve stale rows after a change to the package or to JAX.
        combined = hashlib.sha256(f"{hash}|{code_fingerprint()}".encode()).hexdigest()[:16]
        super().__init__(*args, hash=combined, **kwargs)

    def _create_builder_config(
        self, config_name: str | None = None, custom_features: Any = None, **config_kwargs: Any
    ) -> tuple[datasets.BuilderConfig, str]:
        """Check the config name and every kwarg before datasets hashes them into a cache id,
        and pass on only the canonical values that differ from the named config, so equal
        configs share one cache (`seed="7"` and `seed=7`, a kwarg equal to the YAML's value)."""
        name = config_name or self.DEFAULT_CONFIG_NAME
        if name in BROKEN:
            raise BROKEN[name]
        if name not in NAMED:
            raise unknown_config(name, NAMED)
        allowed = tuple(f for f in FIELDS if f != "name") + DATASETS_KWARGS
        unknown = sorted(set(config_kwargs) - set(allowed))
        if unknown:
            raise unknown_keys(unknown, allowed, f"load_dataset(..., {name!r}, ...)")
        given = {k: v for k, v in config_kwargs.items() if v is not None and k not in DATASETS_KWARGS}
        resolved = resolve(name, given, NAMED)
        statement_caps(resolved)  # a length budget too tight for a category fails here, before any work
        checked = resolved.values()
        canonical = {k: checked[k] for k in given if checked[k] != NAMED[name].values()[k]}
        extra = {k: v for k, v in config_kwargs.items() if k in DATASETS_KWARGS}
        return super()._create_builder_config(name, custom_features, **canonical, **extra)

    @property
    def pairs_config(self) -> PairsConfig:
        return self.config.pairs_config()

    def build(self, num_proc: int | None = None) -> tuple[datasets.DatasetDict, list[Failure]]:
        """Build the config, or reuse the finished build in the datasets cache (same config and
        overrides): the rows, and the drawn programs that failed to lower on the way."""
        self.download_and_prepare(num_proc=num_proc if num_proc and num_proc > 1 else None)
        return self.as_dataset(), read_report(Path(self.cache_dir)) or []

    def _info(self) -> datasets.DatasetInfo:
        try:
            config = self.pairs_config
        except ConfigError as err:
            raise ConfigError(f"{err}") from None
        return datasets.DatasetInfo(
            description=config.description,
            features=FEATURES,
            homepage="https://github.com/jax-stablehlo-pairs/jax-stablehlo-pairs",
            license="apache-2.0",
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        config = self.pairs_config
        # The global plan (every row's seed, repeats rejected) is drawn once, here, and each work unit gets
        # its slice. Streaming draws it lazily instead, as far as the reader goes (plan None: see generate_rows).
        streaming = isinstance(dl_manager, datasets.StreamingDownloadManager)
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "split": split,
                    "shards": shards(config, split),
                    "plans": [None if streaming else shard_plan(config, split, a, b) for a, b in shards(config, split)],
                },
            )
            for split in SPLITS
            if config.split_size(split) > 0
        ]

    def _download_and_prepare(self, dl_manager: Any, verification_mode: Any, **prepare_split_kwargs: Any) -> None:
        """datasets writes into `<cache>.incomplete` and renames it when done; add what it lacks:
        drop what a killed run left there, and merge the work units' failure parts into the report."""
        out = Path(self._output_dir)
        local = out.name.endswith(".incomplete") and out.is_dir()  # remote targets are written in place
        units = out.with_name(out.name.removesuffix(".incomplete") + ".units")
        if local:
            # We hold datasets' builder lock: anything here is from a run that was killed part way. Its
            # finished work units are kept apart (datasets deletes `.incomplete` on an interrupt) and reused.
            for stale in out.iterdir():
                shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
            self._failure_parts = str(out / PARTS_DIR)
            units.mkdir(exist_ok=True)
            self._unit_store = str(units)
        try:
            super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        except Exception as err:
            if caused_by_interrupt(err):  # Ctrl-C with num_proc surfaces as the pool's TimeoutError
                raise KeyboardInterrupt from err
            raise
        finally:
            self._failure_parts = self._unit_store = None
        if not local:
            return
        dedup_failures: list[Failure] = []
        dedup_prepared(out, self.dataset_name, self.pairs_config, build_plan(self.pairs_config).dropped, dedup_failures)
        if dedup_failures:
            write_part(out / PARTS_DIR, "dedup", 0, dedup_failures)
        failures = of_kind(merge_parts(out), LOWERING)
        shutil.rmtree(units, ignore_errors=True)  # the build is complete: datasets renames it into place next
        if failures:
            logger.warning(
                "%d drawn programs failed to trace or lower and were replaced by the next seed (a generator bug); "
                "seed, category and error of each are in %s",
                len(failures),
                out.with_name(out.name.removesuffix(".incomplete")) / REPORT_NAME,
            )

    def _prepare_split(
        self, split_generator: datasets.SplitGenerator, *args: Any, num_proc: int | None = None, **kwargs: Any
    ) -> None:
        # Forking a process whose JAX runtime has started deadlocks its XLA threads: spawn then.
        with _spawn_if_jax_started(num_proc):
            super()._prepare_split(split_generator, *args, num_proc=num_proc, **kwargs)

    def _generate_examples(self, split: str, shards: list[tuple[int, int]], plans: list[ShardPlan | None]):  # type: ignore[override]
        config = self.pairs_config
        store = Path(self._unit_store) if self._unit_store else None
        reused = 0
        for (start, stop), plan in zip(shards, plans, strict=True):
            failures: list[Failure] = []
            if store is None:  # streaming (or a remote target): rows as they come
                yield from generate_rows(config, split, start, stop, failures, plan)
            else:
                kept = load_unit(store, split, start)
                reused += kept is not None
                rows, failures = kept or self._new_unit(store, split, start, stop, plan)
                yield from ((row["id"], row) for row in rows)
            if self._failure_parts is not None:
                write_part(Path(self._failure_parts), split, start, failures)
        if reused:
            logger.warning("resumed: %d of %d work units of %s were finished by an interrupted run and reused", reused, len(shards), split)

    def _new_unit(self, store: Path, split: str, start: int, stop: int, plan: ShardPlan | None) -> tuple[list[dict[str, Any]], list[Failure]]:
        """Lower a unit's rows and keep them, so a rerun after an interrupt need not lower them again."""
        failures: list[Failure] = []
        rows = [row for _, row in generate_rows(self.pairs_config, split, start, stop, failures, plan)]
        save_unit(store, split, start, rows, failures)
        return rows, failures


def make_builder(config: str, cache_dir: str | None = None, **overrides: Any) -> PairsBuilder:
    """The builder the loading script would make, without needing the script file: the one way the
    CLI, publishing and the benchmarks build or reuse a build."""
    return PairsBuilder(config_name=config, dataset_name="jax_stablehlo_pairs", cache_dir=cache_dir, **overrides)
