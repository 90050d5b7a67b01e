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
from dataclasses import dataclass, fields
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
    check,
    known_categories,
    load_named,
    unknown_config,
    unknown_keys,
)
from .dedup import dedup_prepared
from .failures import PARTS_DIR, REPORT_NAME, merge_parts, write_part
from .features import FEATURES
from .fingerprint import code_fingerprint
from .pipeline import Failure, ShardPlan, generate_rows, shard_plan, shards
from .plan import build_plan

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
DEFAULTS = PairsConfig(name="defaults")  # every builder config comes from a YAML file; these only fill the dataclass
# What `load_dataset` may pass besides our fields; data_dir / data_files mean nothing for synthesized data.
DATASETS_KWARGS = ("version",)


@dataclass
class PairsBuilderConfig(datasets.BuilderConfig):
    """A named config from `configs/`; every field can be overridden as a `load_dataset` kwarg."""

    seed: int = DEFAULTS.seed
    train_size: int = DEFAULTS.train_size
    validation_size: int = DEFAULTS.validation_size
    test_size: int = DEFAULTS.test_size
    categories: Any = None
    min_statements: int = DEFAULTS.min_statements
    max_statements: int = DEFAULTS.max_statements
    max_args: int = DEFAULTS.max_args
    hlo_optimized: bool = False
    gradient: bool = DEFAULTS.gradient
    shard_size: int = DEFAULTS.shard_size
    split_mode: str = DEFAULTS.split_mode
    portable_only: bool = DEFAULTS.portable_only

    def pairs_config(self) -> PairsConfig:
        """The checked config. datasets sets kwargs with setattr after __post_init__, so check here."""
        values = {f.name: getattr(self, f.name) for f in fields(PairsConfig) if f.name != "name"}
        values["categories"] = dict(values["categories"] or {})
        return check({**values, "name": self.name}, known_categories(), source=f"config {self.name!r}")


def builder_config(config: PairsConfig) -> PairsBuilderConfig:
    values = {f.name: getattr(config, f.name) for f in fields(PairsConfig) if f.name not in ("name", "description")}
    values["categories"] = dict(config.categories)
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
        named = NAMED[name]
        given = {k: v for k, v in config_kwargs.items() if v is not None and k not in DATASETS_KWARGS}
        values = {f.name: getattr(named, f.name) for f in fields(PairsConfig)}
        values["categories"] = dict(values["categories"])
        checked = check({**values, **given}, known_categories(), source=f"config {name!r}")
        canonical = {
            k: dict(getattr(checked, k)) if k == "categories" else getattr(checked, k)
            for k in given
            if getattr(checked, k) != getattr(named, k)
        }
        extra = {k: v for k, v in config_kwargs.items() if k in DATASETS_KWARGS}
        return super()._create_builder_config(name, custom_features, **canonical, **extra)

    @property
    def pairs_config(self) -> PairsConfig:
        return self.config.pairs_config()

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
        if local:
            # We hold datasets' builder lock: anything here is from a run that was killed part way.
            for stale in out.iterdir():
                shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
            self._failure_parts = str(out / PARTS_DIR)
        try:
            super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        except Exception as err:
            if caused_by_interrupt(err):  # Ctrl-C with num_proc surfaces as the pool's TimeoutError
                raise KeyboardInterrupt from err
            raise
        finally:
            self._failure_parts = None
        if not local:
            return
        dedup_failures: list[Failure] = []
        dedup_prepared(out, self.dataset_name, self.pairs_config, build_plan(self.pairs_config).dropped, dedup_failures)
        if dedup_failures:
            write_part(out / PARTS_DIR, "dedup", 0, dedup_failures)
        failures = merge_parts(out)
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
        for (start, stop), plan in zip(shards, plans, strict=True):
            failures: list[Failure] = []
            yield from generate_rows(config, split, start, stop, failures, plan)
            if self._failure_parts is not None:
                write_part(Path(self._failure_parts), split, start, failures)
