"""Arrays through `.npz` without pickles: numpy stores its own dtypes only, so an ml_dtypes array
(bfloat16, float8) travels as its bits plus its dtype's name. Used for the contained child's answer
(data, never a pickle, since unpickling what foreign code wrote would hand it the parent: validate's
sandbox and evaluate's containment) and for the reference outputs `evaluate` keeps on disk."""

from __future__ import annotations

from collections.abc import Sequence

import ml_dtypes
import numpy as np


def encode(outputs: Sequence[np.ndarray], prefix: str = "out") -> tuple[dict[str, np.ndarray], list[str]]:
    """The arrays `np.savez` can store (as `out0`, `out1`, ... for the default prefix) and the dtype name of each."""
    arrays = [np.asarray(a) for a in outputs]
    stored = {f"{prefix}{i}": a if a.dtype.isnative and a.dtype.kind != "V" else a.view(f"u{a.dtype.itemsize}") for i, a in enumerate(arrays)}
    return stored, [a.dtype.name for a in arrays]


def decode(data: np.lib.npyio.NpzFile, dtypes: Sequence[str], prefix: str = "out") -> list[np.ndarray]:
    """The arrays `encode` stored under `prefix`, viewed back as their dtypes."""
    return [_as(data[f"{prefix}{i}"], str(name)) for i, name in enumerate(dtypes)]


def _as(array: np.ndarray, dtype: str) -> np.ndarray:
    if array.dtype.name == dtype:
        return array
    if dtype not in ml_dtypes.__all__:
        raise ValueError(f"output dtype {dtype!r} is neither numpy's nor ml_dtypes'")
    return array.view(getattr(ml_dtypes, dtype))
