"""The `datasets` builder: configs -> splits -> shards -> rows from `pipeline`.

The loading script subclasses `PairsBuilder` and adds nothing, so `load_dataset`
on the script, the CLI and the tests all run this code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any

import datasets

from . import __version__
from .config import SPLITS, ConfigError, PairsConfig, check, known_categories, load_all
from .features import FEATURES
from .fingerprint import code_fingerprint
from .pipeline import Failure, generate_rows, shards

VERSION = datasets.Version(__version__)
NAMED = load_all()
DEFAULTS = NAMED["balanced"]


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
    shard_size: int = DEFAULTS.shard_size

    def pairs_config(self) -> PairsConfig:
        """The checked config. datasets sets kwargs with setattr after __post_init__, so check here."""
        values = {f.name: getattr(self, f.name) for f in fields(PairsConfig) if f.name != "name"}
        values["categories"] = dict(values["categories"] or {})
        return check({**values, "name": self.name}, known_categories(), source=f"config {self.name!r}")


def builder_config(config: PairsConfig) -> PairsBuilderConfig:
    values = {f.name: getattr(config, f.name) for f in fields(PairsConfig) if f.name not in ("name", "description")}
    values["categories"] = dict(config.categories)
    return PairsBuilderConfig(name=config.name, version=VERSION, description=config.description, **values)


class PairsBuilder(datasets.GeneratorBasedBuilder):
    """Synthesized JAX programs paired with their StableHLO, jaxpr, gradient IR and costs."""

    BUILDER_CONFIG_CLASS = PairsBuilderConfig
    BUILDER_CONFIGS = [builder_config(c) for c in NAMED.values()]  # noqa: RUF012 (datasets' API)
    DEFAULT_CONFIG_NAME = "balanced"
    DEFAULT_WRITER_BATCH_SIZE = 100  # rows hold long IR strings; keeps shard-size checks frequent

    def __init__(self, *args: Any, hash: str | None = None, **kwargs: Any) -> None:
        # The script's hash alone would serve stale rows after a change to the package or to JAX.
        combined = hashlib.sha256(f"{hash}|{code_fingerprint()}".encode()).hexdigest()[:16]
        super().__init__(*args, hash=combined, **kwargs)

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
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "shards": shards(config, split)})
            for split in SPLITS
            if config.split_size(split) > 0
        ]

    def _generate_examples(self, split: str, shards: list[tuple[int, int]]):  # type: ignore[override]
        config = self.pairs_config
        failures: list[Failure] = []
        for start, stop in shards:
            yield from generate_rows(config, split, start, stop, failures)
