"""A long-lived child process that answers requests, bounded in time and isolated from crashes.

Validation runs code that may not come back: the reference interpreter aborts the process on an
op it lacks, a program's while loop may run for hours on the inputs drawn, a custom call may
crash. Each such call goes to a child (`python -m <module> <in-fd> <out-fd>`, a plain subprocess,
so nothing of the caller's `__main__` is re-imported); a crash or a timeout costs one request a
reason, and the next request starts a fresh child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..pipeline.orphans import die_with_parent


@dataclass(frozen=True)
class Reply:
    """A child's answer: `value`, or why there is none (`failed`: a crash or a timeout)."""

    value: Any = None
    failed: str | None = None


class Worker:
    """Sends requests to a child running `serve(module's handler)`; restarts it after a crash or a timeout."""

    def __init__(self, module: str, timeout: float) -> None:
        self.module = module
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._inbox: Connection | None = None  # the child's answers
        self._outbox: Connection | None = None  # requests for the child
        self._stderr = tempfile.NamedTemporaryFile(prefix="validate-worker-", suffix=".log", delete=False)  # noqa: SIM115

    def _start(self) -> tuple[Connection, Connection]:
        if self._process is None or self._process.poll() is not None:
            self._stop()
            to_child_r, to_child_w = os.pipe()
            from_child_r, from_child_w = os.pipe()
            self._stderr.seek(0)
            self._stderr.truncate()
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module, str(to_child_r), str(from_child_w), str(os.getpid())],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,  # LLVM's "Unsupported op" and friends go to fd 2: kept as the reason of a crash
            )
            os.close(to_child_r)
            os.close(from_child_w)
            self._outbox, self._inbox = Connection(to_child_w, readable=False), Connection(from_child_r, writable=False)
        assert self._inbox is not None and self._outbox is not None
        return self._inbox, self._outbox

    def call(self, request: Any, timeout: float | None = None) -> Reply:
        inbox, outbox = self._start()
        limit = self.timeout if timeout is None else timeout
        try:
            outbox.send(request)
            if not inbox.poll(limit):
                self._stop()
                return Reply(failed=f"over the {limit:g} s time limit")
            return Reply(inbox.recv())
        except (EOFError, BrokenPipeError, ConnectionResetError):
            assert self._process is not None
            try:
                code = self._process.wait(10)
            except subprocess.TimeoutExpired:
                code = None
            why = self._last_error()
            if code is not None and code < 0 and why == "no message":
                why = signal.Signals(-code).name + (" (an integer division by zero?)" if code == -signal.SIGFPE else "")
            self._stop()
            return Reply(failed=f"aborted: {why}")

    def _last_error(self) -> str:
        try:
            lines = [line.strip() for line in Path(self._stderr.name).read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        lines = [line for line in lines if not line.startswith(("I0", "I1", "W0", "W1"))]  # absl INFO / WARNING
        message = next((line for line in reversed(lines) if "ERROR" in line or "rror:" in line or "Fatal" in line), lines[-1] if lines else "")
        return message[:300] or "no message"

    def _stop(self) -> None:
        for conn in (self._inbox, self._outbox):
            if conn is not None:
                conn.close()
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(10)
        self._process, self._inbox, self._outbox = None, None, None

    def close(self) -> None:
        self._stop()
        self._stderr.close()
        Path(self._stderr.name).unlink(missing_ok=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(handle: Callable[[Any], Any]) -> None:
    """The child's loop (call from the module's `__main__`): answer each request with `handle(request)`."""
    die_with_parent(int(sys.argv[3]))  # a SIGKILL of validate leaves no executor behind
    inbox, outbox = Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
    while True:
        try:
            request = inbox.recv()
        except EOFError:
            return
        if request is None:
            return
        outbox.send(handle(request))
