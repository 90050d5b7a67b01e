"""Nothing lost, nothing stale: killed builds resume to the same rows, and the cache is keyed
by everything that changes the rows (config values, seed, generator code, JAX versions)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import SCRIPT, package_copy, run_python

from builder.hf_builder import make_builder
from builder.pipeline import fingerprint

BUILD = """
import hashlib, json, signal, sys
from pathlib import Path
from builder.hf_builder import make_builder

# Ctrl-C as on a terminal: Python turns SIGINT into KeyboardInterrupt only if its parent has not set
# SIGINT to be ignored, and a shell running a job in the background (`cmd &`) does just that.
signal.signal(signal.SIGINT, signal.default_int_handler)

def build(cache, num_proc):
    b = make_builder("balanced", cache_dir=cache, seed=3, train_size=12, validation_size=3, test_size=3,
                     shard_size=3, max_statements=6, writer_batch_size=2)
    b.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
    rows = {s: d.to_list() for s, d in b.as_dataset().items()}
    listed = set()
    for split in b.info.splits.values():
        n = len(split.shard_lengths or [None])
        listed |= {f"jax_stablehlo_pairs-{split.name}" + (f"-{i:05d}-of-{n:05d}" if n > 1 else "") + ".arrow"
                   for i in range(n)}
    files = sorted(p.name for p in Path(b.cache_dir).iterdir())
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    return {"digest": digest, "rows": {s: len(r) for s, r in rows.items()}, "files": files, "listed": sorted(listed)}

if __name__ == "__main__":
    print("RESULT" + json.dumps({spec: build(*spec.split(":")[:1], int(spec.split(":")[1])) for spec in sys.argv[1:]}))
"""


def start(script: Path, env: dict[str, str], *specs: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *specs], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: a signal reaches the workers too, as Ctrl-C would
    )


def kill_part_way(proc: subprocess.Popen[str], cache: Path, sig: signal.Signals) -> str:
    """Send `sig` to the build's process group once a shard holds rows but the build is not done."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any(f.stat().st_size > 0 for f in cache.rglob("*.incomplete/*.arrow")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before it could be interrupted: " + proc.stderr.read()[-2000:]
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    return err


def finished(cache: Path) -> list[Path]:
    return list(cache.rglob("dataset_info.json"))


def test_killed_builds_resume_to_the_same_rows_and_never_serve_half_written_shards(hf_env, tmp_path):
    _, hf_env = package_copy(tmp_path / "pkg", hf_env)  # the same code for every run, whatever else changes
    script = tmp_path / "build.py"
    script.write_text(BUILD)
    killed, interrupted = tmp_path / "killed", tmp_path / "interrupted"

    # SIGKILL with two worker processes: nothing can clean up, half-written shards stay behind
    kill_part_way(start(script, hf_env, f"{killed}:2"), killed, signal.SIGKILL)
    leftovers = [f for f in killed.rglob("*.incomplete/*") if f.is_file()]
    assert leftovers and not finished(killed)  # no dataset_info.json: datasets will not serve it

    # SIGINT (Ctrl-C) to a two-process build: it stops promptly, as a KeyboardInterrupt (not the pool's
    # TimeoutError), and datasets removes its temp dir
    t0 = time.monotonic()
    err = kill_part_way(start(script, hf_env, f"{interrupted}:2"), interrupted, signal.SIGINT)
    assert time.monotonic() - t0 < 120
    assert err.strip().splitlines()[-1] == "KeyboardInterrupt", err[-2000:]
    assert not finished(interrupted) and not list(interrupted.rglob("*.incomplete"))

    # re-runs (the killed one with another num_proc) finish with exactly the rows of an uninterrupted build
    # (the num_proc=2 run first: before JAX starts in that process its workers can be forked, which is quicker)
    proc = start(script, hf_env, f"{interrupted}:2", f"{killed}:1", f"{tmp_path / 'clean'}:1")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    result = json.loads(next(line[6:] for line in out.splitlines() if line.startswith("RESULT")))
    runs = list(result.values())
    assert {r["digest"] for r in runs} == {runs[2]["digest"]}
    assert runs[0]["rows"] == {"train": 12, "validation": 3, "test": 3}
    for run in runs:  # the cache holds the listed shards and nothing a killed run left
        assert sorted(f for f in run["files"] if f.endswith(".arrow")) == run["listed"], run
        assert "failures.jsonl" in run["files"] and "failures.parts" not in run["files"]
    assert not list(tmp_path.rglob("*.incomplete"))


def test_a_change_to_jax_or_jaxlib_is_a_new_cache(tmp_path, monkeypatch):
    frozen, _ = package_copy(tmp_path / "pkg", {})  # fingerprint a copy: the same code before and after
    monkeypatch.setattr(fingerprint, "PACKAGE_DIR", frozen / "builder")
    monkeypatch.setattr(fingerprint, "configs_dir", lambda: frozen / "builder" / "configs")
    fingerprint.code_fingerprint.cache_clear()
    before = make_builder("matrix", cache_dir=str(tmp_path)).cache_dir
    real = fingerprint.metadata.version
    monkeypatch.setattr(fingerprint.metadata, "version", lambda d: "99.0" if d == "jaxlib" else real(d))
    fingerprint.code_fingerprint.cache_clear()
    try:
        assert make_builder("matrix", cache_dir=str(tmp_path)).cache_dir != before
        monkeypatch.setattr(fingerprint.metadata, "version", real)
        fingerprint.code_fingerprint.cache_clear()
        assert make_builder("matrix", cache_dir=str(tmp_path)).cache_dir == before
    finally:
        monkeypatch.undo()
        fingerprint.code_fingerprint.cache_clear()


LOAD = """
import json
from datasets import load_dataset
ds = load_dataset({script!r}, "matrix", trust_remote_code=True, train_size=3, validation_size=0, test_size=0,
                  max_statements=5)
print("RESULT" + json.dumps({{"entry_points": ds["train"]["entry_point"], "cache": ds["train"].cache_files[0]["filename"]}}))
"""

# An edit to the generator that changes every row: what a stale cache would hide.
GENERATOR_EDIT = """

_generate_before_edit = generate


def generate(*args, **kwargs):
    program = _generate_before_edit(*args, **kwargs)
    program.entry_point = "edited_" + program.entry_point
    return program
"""


def test_a_change_to_the_generator_is_a_fresh_build_not_a_stale_one(hf_env, tmp_path):
    root, env = package_copy(tmp_path / "pkg", hf_env)
    code = LOAD.format(script=str(root / SCRIPT.name))

    def load() -> dict:
        proc = run_python(code, env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(next(line[6:] for line in proc.stdout.splitlines() if line.startswith("RESULT")))

    before = load()
    assert not any(e.startswith("edited_") for e in before["entry_points"])
    with (root / "builder" / "synth" / "generator.py").open("a") as f:
        f.write(GENERATOR_EDIT)
    after = load()
    assert after["cache"] != before["cache"]
    assert [e.removeprefix("edited_") for e in after["entry_points"]] == before["entry_points"]
    assert all(e.startswith("edited_") for e in after["entry_points"])
