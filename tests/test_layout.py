"""The package reads top-down: every import (module-level or inside a function) points to a lower
stage, so a row's walk from a config's seed to its Arrow row never enters a module twice, and
the stages that must stay light or independent import nothing they must not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "builder"
# Higher stages may import lower ones, never the reverse (equal rank: only within the same stage).
RANK = {
    "builder.cli": 9,
    "builder.publish": 8,
    "builder.engines": 8,
    "builder.evaluation": 8,
    "builder.hf_builder": 7,
    "builder.validation": 6,
    "builder.pipeline": 5,
    "builder.lowering": 4,
    "builder.config": 3,
    "builder.features": 3,
    "builder.synth": 2,
    "builder": 1,  # __init__: the version
}
# What a stage must never import, whatever the ranks say.
FORBIDDEN = {
    "builder.synth": ("jax", "jaxlib", "datasets", "builder.lowering", "builder.pipeline"),
    "builder.validation": ("builder.pipeline.rows", "builder.pipeline.plan", "builder.pipeline.dedup", "builder.hf_builder"),
    "builder.evaluation": ("builder.pipeline.rows", "builder.pipeline.plan", "builder.pipeline.dedup", "builder.hf_builder"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(name: str) -> str:
    while name not in RANK:
        name = name.rsplit(".", 1)[0]
    return name


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out += [(node.lineno, f"{base}.{alias.name}" if base == "builder" else base) for alias in node.names]
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "configs" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_run_down_the_stages(path):
    here = stage(module_name(path))
    wrong = []
    for line, target in imports(path):
        if target.split(".")[0] == "builder" and target != "builder":
            there = stage(target)
            if there != here and RANK[there] >= RANK[here]:
                wrong.append(f"line {line}: {target} ({there}, rank {RANK[there]}) from {here} (rank {RANK[here]})")
        for banned in FORBIDDEN.get(here, ()):
            if target == banned or target.startswith(banned + "."):
                wrong.append(f"line {line}: {here} must not import {banned}")
    assert not wrong, "\n".join(wrong)


def test_every_stage_is_ranked():
    """A new subpackage takes its place in RANK (and so in docs/layout.md) before it lands."""
    assert all(stage(module_name(p)) in RANK for p in MODULES)
    unranked = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {n.split(".")[1] for n in RANK if "." in n}
    assert not unranked
