"""Shared fixtures: a fresh, offline Hugging Face home for every test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "jax_stablehlo_pairs.py"


@pytest.fixture(scope="session")
def hf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for subprocesses that run datasets: fresh HF_HOME, offline, no prompts."""
    home = tmp_path_factory.mktemp("hf_home")
    env = dict(os.environ)
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("HF_DATASETS_TRUST_REMOTE_CODE", None)
    return env


def run_python(code: str, env: dict[str, str], cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (datasets reads HF_HOME at import time)."""
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def package_copy(dest: Path, env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A private copy of the package, the loading script and configs/ (laid out as in the checkout:
    `builder/configs` links to `configs/`), importable first through PYTHONPATH. Tests that edit
    code or configs edit the copy, never the shared checkout. Returns the copy's root and its environment."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "builder", dest / "builder", ignore=ignore, symlinks=True)
    shutil.copytree(ROOT / "configs", dest / "configs", ignore=ignore)
    shutil.copy2(ROOT / "dataset_card.md", dest / "dataset_card.md")
    shutil.copy2(SCRIPT, dest / SCRIPT.name)
    return dest, {**env, "PYTHONPATH": str(dest)}
