"""A two-node Ray cluster on localhost: a worker killed mid-unit is re-run elsewhere, and the rows are
still the datasets builder's."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import psutil
import pytest
from ray_helpers import assert_same_rows, descendants, wait_gone

from builder.config import resolve
from builder.engines import ray_engine
from builder.hf_builder import make_builder

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402 (after the skip: Ray is an optional extra)

SIZES = dict(train_size=12, validation_size=2, test_size=2, shard_size=3, max_statements=12)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    before = descendants()
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, log_to_driver=False)
    try:
        yield nodes
    finally:
        ray.shutdown()
        nodes.shutdown()
        assert wait_gone(descendants() - before) == set(), "the cluster left processes behind"


def kill_a_running_unit(stop: threading.Event) -> int | None:
    """SIGKILL the first worker of this test's cluster seen running a unit; its pid. Only the
    cluster's own processes (this process's descendants): another Ray build on the machine is not ours to kill."""
    while not stop.is_set():
        for proc in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if (proc.cmdline() or [""])[0].startswith("ray::run_unit"):
                    proc.kill()
                    return proc.pid
        time.sleep(0.05)
    return None


def test_a_worker_killed_mid_build_changes_no_row(cluster, tmp_path):
    config = resolve("balanced", SIZES)
    outcome: dict[str, object] = {}
    stop = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = ray_engine.build(config, tmp_path / "out", ray_engine.RayOptions(progress=False))
        finally:
            stop.set()

    builder = threading.Thread(target=run)
    builder.start()
    killed = kill_a_running_unit(stop)
    builder.join(timeout=600)
    result = outcome["result"]
    assert killed is not None and killed not in {r.pid for r in result.ran}  # its unit was run again by another worker
    assert len({r.node for r in result.ran}) == 2  # both nodes ran units
    reference, _ = make_builder("balanced", str(tmp_path / "cache"), **SIZES).build()
    assert_same_rows(tmp_path / "out" / "balanced", reference)
