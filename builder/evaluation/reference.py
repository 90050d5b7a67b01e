"""The reference rows: a `build --output-dir` directory (either engine), or a published dataset by repo id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from ..config import ConfigError
from ..pipeline.build_dir import SINGLE, check_digests, load_splits, open_build


def load_reference(reference: str, split: str, config: str | None = None) -> list[dict[str, Any]]:
    """The rows of `split`: a build directory of either layout (`pipeline.build_dir`), `load_dataset` for a repo id."""
    path = Path(reference)
    if path.is_dir():
        build = open_build(path, "--reference")  # either layout: a saved DatasetDict or Parquet from `build --engine ray`
        check_digests(build)
        name = SINGLE if build.splits == [SINGLE] else split  # a saved Dataset (not a DatasetDict) is its one split
        return load_splits(build, [name])[name].to_list()
    if reference.count("/") != 1 or reference.startswith((".", "/")) or path.suffix:
        raise ConfigError(f"--reference {reference}: not a directory, nor a Hub repo id like 'org/jax-stablehlo-pairs'")
    try:
        return datasets.load_dataset(reference, config, split=split).to_list()
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"--reference {reference} (config {config or 'default'}, split {split}) could not be loaded: {err}"[:600]) from None
