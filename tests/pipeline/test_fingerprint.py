"""The code identity in the cache key: every module rows come from is in it, and the stages that only read
builds (validate, evaluate, publish, the CLI) are not, so an edit to them keeps caches and resumable builds."""

from __future__ import annotations

import ast
import shutil

from conftest import ROOT

from builder.pipeline import fingerprint


def test_no_module_rows_come_from_imports_a_stage_left_out_of_the_fingerprint():
    left_out = {f"builder.{name.removesuffix('.py')}" for name in fingerprint.NOT_ROW_CODE}
    kept = fingerprint.row_code()
    assert {p.name for p in kept} >= {"rows.py", "generator.py", "extractor.py", "hf_builder.py", "ray_engine.py", "strata.py"}
    wrong = []
    for path in kept:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            wrong += [f"{module}: {n}" for n in names if any(n == m or n.startswith(m + ".") for m in left_out)]
    assert not wrong, wrong


def test_an_edit_to_evaluate_keeps_the_fingerprint_and_one_to_the_generator_changes_it(tmp_path, monkeypatch):
    copy = tmp_path / "builder"
    shutil.copytree(ROOT / "builder", copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "PACKAGE_DIR", copy)
    fingerprint.code_fingerprint.cache_clear()
    try:
        before = fingerprint.code_fingerprint()
        for name in ("evaluation/report.py", "validation/compare.py", "publish/card.py", "cli.py"):
            (copy / name).write_text((copy / name).read_text() + "\n# edited\n")
        fingerprint.code_fingerprint.cache_clear()
        assert fingerprint.code_fingerprint() == before
        (copy / "synth" / "generator.py").write_text((copy / "synth" / "generator.py").read_text() + "\n# edited\n")
        fingerprint.code_fingerprint.cache_clear()
        assert fingerprint.code_fingerprint() != before
    finally:
        monkeypatch.undo()
        fingerprint.code_fingerprint.cache_clear()
