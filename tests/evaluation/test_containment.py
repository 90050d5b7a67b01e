"""A hostile decompilation costs its own row a reason and nothing else: the files, the network,
the process table and the memory of the machine are untouched, and the next row scores."""

from __future__ import annotations

import os
import socket
import subprocess
import textwrap
import threading
import time

import pytest

from builder.config import PairsConfig
from builder.evaluation import containment
from builder.evaluation.containment import SANDBOX_UIDS, Limits, Protection, protection
from builder.evaluation.scoring import CRASHED, SCORED, TIMED_OUT, Scorer
from builder.evaluation.tasks import get_task
from builder.pipeline.rows import generate_rows

CONFIG = PairsConfig(
    name="c", seed=3, train_size=1, validation_size=0, test_size=0, categories=(("elementwise", 1.0),), min_statements=3, max_statements=4
)
SANDBOXED = protection().sandbox is not None
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason=f"no sandbox here ({protection().why_not}): this protection is reported as not in force")


@pytest.fixture(scope="module")
def row() -> dict:
    return next(r for _, r in generate_rows(CONFIG, "train", 0, 1))


@pytest.fixture(scope="module")
def scorer():
    s = Scorer(get_task("stablehlo-to-python"), limits=Limits(seconds=45.0, memory_bytes=3 << 30))
    yield s
    s.close()


@pytest.fixture(scope="module")
def quick():
    """For predictions that never finish: a short time limit (a contained run of the row takes ~2 s)."""
    s = Scorer(get_task("stablehlo-to-python"), limits=Limits(seconds=8.0, processes=64))  # a fork bomb spins fewer processes
    yield s
    s.close()


def hostile(row: dict, body: str) -> str:
    """The row's own program with `body` run first, at import time."""
    return textwrap.dedent(body) + "\n" + row["python"]


def assert_harmless(scorer: Scorer, row: dict, score) -> None:
    assert not score.agreed and score.reason, score
    assert scorer.score(row, row["python"], True).agreed  # the next row is scored as if nothing happened


def test_the_reference_program_runs_contained(scorer, row):
    score = scorer.score(row, row["python"], True)
    assert (score.status, score.valid, score.exact, score.agreed) == (SCORED, True, True, True), score


@needs_sandbox
def test_a_prediction_that_deletes_files_deletes_nothing(scorer, row, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("still here")
    os.chmod(tmp_path, 0o777)  # writable for anyone: only the sandbox stands between the prediction and the file
    score = scorer.score(row, hostile(row, f"import os\nos.remove({str(canary)!r})"), True)
    assert canary.read_text() == "still here"
    assert "Read-only file system" in score.reason or "Permission denied" in score.reason, score
    assert_harmless(scorer, row, score)


@needs_sandbox
def test_a_prediction_that_fills_the_disk_fills_its_own_small_tmpfs(scorer, row):
    score = scorer.score(row, hostile(row, "with open('junk', 'wb') as f:\n    while True:\n        f.write(bytes(1 << 20))"), True)
    assert "No space left on device" in score.reason, score
    assert_harmless(scorer, row, score)


def test_what_a_prediction_prints_does_not_spoil_its_answer(scorer, row):
    score = scorer.score(row, hostile(row, "import sys\nprint('PK' * 1000)\nsys.stdout.buffer.write(b'garbage')"), True)
    assert score.agreed, score


@needs_sandbox
def test_a_prediction_that_opens_a_socket_reaches_nobody(scorer, row):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    reached: list[object] = []

    def listen() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not done.is_set():
            try:
                reached.append(server.accept())
            except TimeoutError:
                continue

    done = threading.Event()
    thread = threading.Thread(target=listen)
    thread.start()
    try:
        score = scorer.score(row, hostile(row, f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'secret')"), True)
    finally:
        done.set()
        thread.join()
        server.close()
    assert not reached
    assert "ConnectionRefused" in score.reason or "unreachable" in score.reason, score
    assert_harmless(scorer, row, score)


def sandbox_uids() -> set[int]:
    """The user ids of sandboxed children that have processes now (a root run gives each child its own)."""
    table = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True, check=False).stdout.split()
    return {int(u) for u in table if u.isdigit() and int(u) in SANDBOX_UIDS}


@needs_sandbox
def test_a_prediction_that_forks_without_end_is_stopped(quick, row):
    before = sandbox_uids()  # another run's sandboxes: they come and go on their own
    score = quick.score(row, hostile(row, "import os\nwhile True:\n    os.fork()"), True)
    assert score.status in (SCORED, TIMED_OUT, CRASHED) and not score.valid, score
    if os.getuid() == 0:  # none of the bomb's processes is left once the kernel has reaped them
        deadline, left = time.monotonic() + 60, sandbox_uids() - before
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left &= sandbox_uids()
        assert not left, left
    assert_harmless(quick, row, score)


def test_a_copy_the_prediction_forks_does_not_answer_for_it(scorer, row):
    """A forked copy that returns (here: by failing) must not write an answer beside the child's:
    two archives in one file, or their bytes interleaved, are not the prediction's answer."""
    copy = "import os\nif os.fork() == 0:\n    raise RuntimeError('a forked copy')\nos.wait()"
    score = scorer.score(row, hostile(row, copy), True)
    assert score.agreed, score


def test_a_prediction_that_allocates_without_end_hits_the_memory_limit(scorer, row):
    score = scorer.score(row, hostile(row, "hoard = []\nwhile True:\n    hoard.append(bytearray(1 << 26))"), True)
    assert "MemoryError" in score.reason or "memory limit" in score.reason, score
    assert_harmless(scorer, row, score)


def test_a_prediction_that_loops_forever_is_killed(quick, row):
    started = time.monotonic()
    score = quick.score(row, hostile(row, "while True:\n    pass"), True)
    assert time.monotonic() - started < 40
    assert score.status in (TIMED_OUT, CRASHED) and "limit" in score.reason, score
    assert_harmless(quick, row, score)


def test_the_protection_in_force_is_stated():
    text = protection().describe()
    assert "memory" in text and "timeout" in text
    assert ("no network" in text) == SANDBOXED
    assert ("NOT in force" in text) == (not SANDBOXED)


def test_without_a_sandbox_the_limits_still_hold_and_the_rest_is_reported(row, monkeypatch):
    bare = Protection(None, "bubblewrap is not installed")
    monkeypatch.setattr(containment, "protection", lambda: bare)
    with Scorer(get_task("stablehlo-to-python"), limits=Limits(seconds=30.0, memory_bytes=3 << 30)) as limited:
        score = limited.score(row, hostile(row, "hoard = []\nwhile True:\n    hoard.append(bytearray(1 << 26))"), True)
        assert "MemoryError" in score.reason or "memory limit" in score.reason, score
        assert limited.score(row, row["python"], True).agreed
    assert "NOT in force (bubblewrap is not installed): network isolation" in bare.describe()


def test_a_prediction_that_is_not_a_program_or_defines_the_wrong_function_is_wrong(scorer, row):
    renamed = row["python"].replace(f"def {row['entry_point']}(", "def decompiled(", 1)
    assert scorer.score(row, renamed, True).agreed  # one top-level function: taken, whatever its name
    for source, reason in (("def f(:\n", "SyntaxError"), ("(" * 100_000, "not a program"), ("def a(x): return x\ndef b(x): return x\n", "define")):
        score = scorer.score(row, source, True)
        assert score.status == SCORED and not score.valid and reason in score.reason, score
