"""Kill the driver of a Ray build part way (SIGINT, SIGKILL), run the same command again: it does only
what is missing, and the directory ends byte for byte as an uninterrupted build's."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from ray_helpers import local_ray, wait_gone  # noqa: F401 (local_ray: a fixture, used by name)

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]
SIZES = ["--train-size", "8", "--validation-size", "2", "--test-size", "2", "--shard-size", "2", "--max-statements", "12"]


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "builder.cli", "build", "balanced", "--engine", "ray", *SIZES, "--output-dir", str(out)]


def environment(hf_env: dict[str, str]) -> dict[str, str]:
    return {**hf_env, "PYTHONPATH": str(ROOT), "RAY_ADDRESS": ""}


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted(hf_env, tmp_path_factory, local_ray) -> dict[str, bytes]:  # noqa: F811 (the fixture by name)
    """Built while another local Ray runs on this machine (this process's): with no address the build
    starts a Ray of its own. A bare `ray.init()` would join the other and refuse its `num_cpus`."""
    out = tmp_path_factory.mktemp("reference") / "out"
    done = subprocess.run(command(out), env=environment(hf_env), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return files(out)


def interrupt_after_first_shard(out: Path, env: dict[str, str], sig: signal.Signals) -> tuple[dict[Path, int], str]:
    """Start the build, send `sig` to its driver once a shard is finished; the finished shards (inode by
    path) and what the driver printed. Whatever the driver started is gone when this returns."""
    driver = subprocess.Popen(command(out), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    data = out.parent / f".{out.name}.partial" / "balanced"
    deadline = time.monotonic() + 300
    while not list(data.glob("*.parquet")) and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
    assert driver.poll() is None, "the build ended before a shard was finished: make it bigger"
    started = {p.pid for p in psutil.Process(driver.pid).children(recursive=True)}
    driver.send_signal(sig)
    printed, _ = driver.communicate(timeout=120)
    finished = {p: p.stat().st_ino for p in data.glob("*.parquet")}
    # A SIGKILLed driver cannot stop its local Ray: raylet and workers die with it, Ray's two agents
    # only ~2 min later. They are this test's own processes: end them by pid.
    for pid in wait_gone(started, timeout=10 if sig == signal.SIGKILL else 60):
        psutil.Process(pid).kill()
    assert wait_gone(started, timeout=30) == set()
    return finished, printed


@pytest.mark.parametrize(
    "sig", [pytest.param(signal.SIGINT, marks=pytest.mark.slow), signal.SIGKILL], ids=["sigint", "sigkill"]
)  # each ~60 s on a loaded machine: the SIGKILL case (the harder one) runs by default
def test_a_killed_build_resumes_and_ends_as_an_uninterrupted_one(sig, uninterrupted, hf_env, tmp_path):
    out, env = tmp_path / "out", environment(hf_env)
    finished, printed = interrupt_after_first_shard(out, env, sig)
    assert finished and not out.exists()  # the output directory appears only complete
    if sig == signal.SIGINT:
        assert "run the same command again to resume" in printed
    done = subprocess.run(command(out), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    reused = int(done.stdout.split("finished by an earlier run ")[1].split()[0])
    assert reused >= len(finished)
    for path, inode in finished.items():  # kept, not written again
        assert (out / "balanced" / path.name).stat().st_ino == inode
    assert files(out) == uninterrupted
    assert not (tmp_path / ".out.partial").exists()
