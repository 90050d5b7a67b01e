"""The reference rows: a `build --output-dir` directory, or a published dataset by repo id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from ..config import ConfigError


def load_reference(reference: str, split: str, config: str | None = None) -> list[dict[str, Any]]:
    """The rows of `split`: `datasets.load_from_disk` for a directory, `load_dataset` for a repo id."""
    path = Path(reference)
    if path.is_dir():
        try:
            loaded = datasets.load_from_disk(str(path))
        except FileNotFoundError as err:
            raise ConfigError(f"--reference {path} holds no saved dataset ({err}); give a directory written by `build --output-dir`") from None
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ConfigError(f"--reference {path} has no split {split!r}; it has {', '.join(loaded)} (pass --split)")
            loaded = loaded[split]
        return loaded.to_list()
    if reference.count("/") != 1 or reference.startswith((".", "/")) or path.suffix:
        raise ConfigError(f"--reference {reference}: not a directory, nor a Hub repo id like 'org/jax-stablehlo-pairs'")
    try:
        return datasets.load_dataset(reference, config, split=split).to_list()
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"--reference {reference} (config {config or 'default'}, split {split}) could not be loaded: {err}"[:600]) from None
