"""The reference's outputs on a row's drawn inputs, kept on disk: computed once, reused by every later
scoring of that row (another model, another checkpoint, another task on the same module).

Half of an IR row's work is compiling and running the reference; its answer depends only on the
module's text, the inputs (drawn from the row and `--input-seed`), the XLA compiler options and
jaxlib, so the key is the sha256 of those. A file holds arrays only (an `.npz` read without
pickles; bfloat16 and friends stored as their bits and their dtype's name), written under a
temporary name and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..validation.npz_arrays import decode, encode
from ..validation.runners import COMPILER_OPTIONS


def default_dir() -> Path:
    """`evaluate`'s cache unless told otherwise: under $XDG_CACHE_HOME, else ~/.cache."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jax-stablehlo-pairs" / "reference-outputs"


def key(text: str, inputs: Sequence[np.ndarray]) -> str:
    """sha256 of what decides the reference's outputs: the module, the inputs, the compiler and its options."""
    h = hashlib.sha256()
    h.update(json.dumps([version("jaxlib"), COMPILER_OPTIONS], sort_keys=True).encode())
    h.update(text.encode())
    for x in inputs:
        a = np.ascontiguousarray(x)
        h.update(f"\0{a.dtype.name}{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class ReferenceCache:
    """Outputs by `key`, one `.npz` a key under `directory` (made when first written)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, digest: str) -> Path:
        return self.directory / digest[:2] / f"{digest}.npz"

    def get(self, digest: str) -> list[np.ndarray] | None:
        """The outputs kept for `digest`, or None (none kept, or a file that does not read: computed again)."""
        try:
            with np.load(self._path(digest), allow_pickle=False) as data:
                names = json.loads(str(data["dtypes"]))
                return decode(data, names)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, digest: str, outputs: Sequence[np.ndarray]) -> None:
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        stored, dtypes = encode(outputs)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
            np.savez(tmp, dtypes=np.array(json.dumps(dtypes)), **stored)
        os.replace(tmp.name, path)

