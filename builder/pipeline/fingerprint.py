"""The code identity of a build: what must change the cache key when it changes."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import metadata
from pathlib import Path

from ..config import SUFFIXES, configs_dir

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # builder/
# The stages that read builds and never make rows: a change to them leaves every cache, resumable
# build and validation campaign valid (tests/pipeline/test_fingerprint.py checks that no module
# the rows come from imports them).
NOT_ROW_CODE = ("evaluation", "publish", "validation", "cli.py")


def row_code() -> list[Path]:
    """The package's Python files rows depend on: all of it but `NOT_ROW_CODE`, in a fixed order."""
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if p.relative_to(PACKAGE_DIR).parts[0] not in NOT_ROW_CODE)


PLUGIN = re.compile(r"jax[-_](cuda|rocm|metal|tpu)|libtpu", re.IGNORECASE)


def platform_inputs() -> str:
    """What decides the lowering platform: the JAX_PLATFORMS setting and the accelerator plugins installed."""
    import jax

    plugins = sorted({d.metadata["Name"] for d in metadata.distributions() if PLUGIN.match(d.metadata["Name"] or "")})
    return f"platforms={jax.config.jax_platforms or ''}; plugins={','.join(plugins)}"


@cache
def code_fingerprint() -> str:
    """Hash of the package's row code, the shipped configs, the JAX/jaxlib/flax/optax versions and the lowering platform.

    datasets keys its cache by the loading script alone; rows also depend on the
    generator, the op catalogue and JAX, so all of them go into the builder's hash; the
    stages that only read builds (`NOT_ROW_CODE`: validate, evaluate, publish, the CLI) do not.
    The platform is there because the same JAX lowers differently on CPU and GPU; it is
    read from what decides it (JAX_PLATFORMS and the installed accelerator plugins), not
    by starting a backend: the parent of forked workers must not start one.
    """
    h = hashlib.sha256()
    configs = sorted(p for p in configs_dir().iterdir() if p.suffix in SUFFIXES and p.is_file())  # not a lock file's dangling link
    for path in row_code() + configs:
        h.update(path.name.encode())
        try:
            h.update(path.read_bytes())
        except OSError:  # unreadable: not a config (`load_named` names it), so not part of what rows depend on
            continue
    for dist in ("jax", "jaxlib", "flax", "optax"):  # flax and optax: the styled categories trace their code
        h.update(f"{dist}=={metadata.version(dist)}".encode())
    h.update(platform_inputs().encode())
    return h.hexdigest()[:16]
