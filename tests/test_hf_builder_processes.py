"""Parallel builds in real processes: no hang without a `__main__` guard, the same rows as a fresh
process, and no process left behind when the one that started the build is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import SCRIPT

TINY = "validation_size=0, test_size=0, max_statements=4, trust_remote_code=True"
# A plain script, as users write one: no `if __name__ == "__main__":` guard, JAX running before the
# parallel build (the first load_dataset lowered programs in this process).
UNGUARDED = f"""
import json
from datasets import load_dataset
from jax._src import xla_bridge
load_dataset({str(SCRIPT)!r}, "matrix", train_size=2, {TINY})
print("JAX_STARTED", xla_bridge.backends_are_initialized(), flush=True)
ds = load_dataset({str(SCRIPT)!r}, "reduction", seed=5, train_size=4, shard_size=1, num_proc=2, {TINY})
print("ROWS" + json.dumps(ds["train"].to_list()), flush=True)
"""
FRESH = f"""
import json
from datasets import load_dataset
ds = load_dataset({str(SCRIPT)!r}, "reduction", seed=5, train_size=4, shard_size=1, num_proc=2, {TINY})
print("ROWS" + json.dumps(ds["train"].to_list()), flush=True)
"""


def run_script(code: str, directory: Path, env: dict[str, str], timeout: int = 420) -> subprocess.CompletedProcess[str]:
    """`python script.py`, so `__main__` is a file that spawned workers would import again."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "script.py"
    script.write_text(code)
    home = directory / "hf_home"
    return subprocess.run([sys.executable, str(script)], env={**env, "HF_HOME": str(home)}, cwd=directory,
                          capture_output=True, text=True, timeout=timeout, check=False)


def rows_of(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(next(line.removeprefix("ROWS") for line in proc.stdout.splitlines() if line.startswith("ROWS")))


def test_an_unguarded_script_builds_in_parallel_after_jax_ran_with_the_rows_of_a_fresh_process(hf_env, tmp_path):
    unguarded = run_script(UNGUARDED, tmp_path / "unguarded", hf_env)  # hung at "0 examples" before: the timeout fails it
    assert "JAX_STARTED True" in unguarded.stdout, unguarded.stderr[-3000:]  # the case under test
    fresh = run_script(FRESH, tmp_path / "fresh", hf_env)
    assert rows_of(unguarded) == rows_of(fresh)
    assert len(rows_of(fresh)) == 4


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (children of children too)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


def test_killing_the_parent_of_a_parallel_build_leaves_no_process_behind(hf_env, tmp_path):
    """Both ways a parallel build runs: datasets' pool forked from a fresh process, and (JAX already
    running) a child process whose own pool does the work. SIGKILL of the user's process ends all."""
    for name, code in (("fresh", FRESH), ("jax-started", UNGUARDED)):
        slow = code.replace("train_size=4", "train_size=400").replace("max_statements=4", "max_statements=30")
        directory = tmp_path / name
        directory.mkdir()
        (directory / "script.py").write_text(slow)
        env = {**hf_env, "HF_HOME": str(directory / "hf_home")}
        parent = subprocess.Popen([sys.executable, "script.py"], env=env, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline, below = time.monotonic() + 240, set()
            want = 2 if name == "fresh" else 3  # two pool workers (and the child that runs them)
            while time.monotonic() < deadline and len(below) < want:
                time.sleep(0.5)
                below = descendants(parent.pid)
            assert len(below) >= want, (name, below)
            time.sleep(2)  # the workers are generating rows
            below = descendants(parent.pid)
        finally:
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in below):
            time.sleep(0.5)
        left = [(p, command(p)) for p in below if alive(p)]
        for pid, _ in left:  # never leave them to the next test
            os.kill(pid, signal.SIGKILL)
        assert left == [], f"{name}: processes left behind: {left}"


