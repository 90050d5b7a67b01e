"""Framework-style programs are clean under pyflakes (ruff's `F` rules): no unused import, no
unused local, no undefined name. Families share import sets and template lines, so a drawn variant
can leave one unread (a GNN's degree that only the mean aggregator divides by); real code would not."""

from __future__ import annotations

import json
import subprocess
import sys

from builder.synth.styles import CATEGORIES, generate

SEEDS = 120


def test_styled_programs_have_no_pyflakes_findings(tmp_path):
    for category in CATEGORIES:
        for seed in range(SEEDS):
            (tmp_path / f"{category}_{seed}.py").write_text(generate(category, seed).render())
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F", "--output-format", "json", "--no-cache", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    findings = json.loads(proc.stdout)
    assert len(list(tmp_path.glob("*.py"))) == SEEDS * len(CATEGORIES)
    assert findings == [], [(f["filename"].rsplit("/", 1)[-1], f["code"], f["message"]) for f in findings[:10]]
