"""The code identity of a build: what must change the cache key when it changes."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import metadata
from pathlib import Path

from .config import configs_dir

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def code_fingerprint() -> str:
    """Hash of the package's code, the shipped configs and the JAX/jaxlib versions.

    datasets keys its cache by the loading script alone; rows also depend on the
    generator, the op catalogue and JAX, so all of them go into the builder's hash.
    """
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")) + sorted(configs_dir().glob("*.yaml")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for dist in ("jax", "jaxlib"):
        h.update(f"{dist}=={metadata.version(dist)}".encode())
    return h.hexdigest()[:16]
