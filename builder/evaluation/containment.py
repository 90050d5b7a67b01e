"""Running a model's Python prediction: contained, because anyone may have written it.

A prediction runs in a child interpreter of its own (one per row), with:

- resource limits set before the foreign code is read (`resource.setrlimit`): CPU seconds,
  address space, file size, no core files, and a process count;
- a wall-clock timeout, after which the child's whole session (or PID namespace) is killed;
- an empty temporary working directory, the only place it may write (under bubblewrap a private
  tmpfs of `Limits.disk_bytes`; the answer goes to a file of the parent's, through fd 1);
- a scrubbed environment (PATH, HOME and TMPDIR pointing at that directory, PYTHONPATH);
- under bubblewrap (`bwrap`, where the machine has it): a read-only view of the file system,
  the home directory hidden (only the Python installation under it shown), a private network
  namespace with nothing in it, private PID / IPC / UTS namespaces, and a child that dies with
  its parent. Run as root, the child drops to a user id of its own inside the sandbox, drawn at
  random from a range no account uses (root is exempt from `RLIMIT_NPROC`, and the process count
  is per user: a fork bomb in one sandbox must not starve another's threads); run as a user,
  bubblewrap's user namespace makes the process count its own.

Without bubblewrap only the limits, the timeout, the directory and the environment are in
force: no network isolation and no file-system protection beyond the user's own permissions
(and, as root, no process-count limit). `protection().describe()` says which, and `evaluate`
prints it. What a child answers is data (an `.npz` read without pickles); a prediction written to
forge that answer is not defended against: the scores are as honest as the submitter.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import pickle
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..validation.npz_arrays import decode, encode
from ..validation.runners import PythonSide, ask_for_host_devices, python_side

# Run as root, each sandboxed child becomes a user id drawn from here: no account, no files, and a
# process count of its own.
SANDBOX_UIDS = range(1 << 20, 1 << 30)
_TEXTS = ("stablehlo", "stablehlo_grad", "jaxpr", "error")


@dataclass(frozen=True)
class Limits:
    """What one prediction may use. JAX alone needs ~1.5 GiB of address space and ~20 threads
    (threads count as processes)."""

    seconds: float = 60.0  # wall clock, compile included; CPU time is capped at the same figure
    memory_bytes: int = 4 << 30
    processes: int = 256
    file_bytes: int = 256 << 20  # per file written (the answer included)
    disk_bytes: int = 64 << 20  # the working directory (a tmpfs of this size under bubblewrap)


@dataclass(frozen=True)
class Protection:
    """What is in force around a prediction on this machine."""

    sandbox: str | None  # e.g. "bubblewrap 0.8.0"; None: limits only
    why_not: str = ""  # why there is no sandbox

    def describe(self) -> str:
        base = "CPU-time, memory, file-size limits; wall-clock timeout; empty temporary working directory; scrubbed environment"
        if self.sandbox:
            return (
                f"{base}; {self.sandbox}: process-count limit, read-only file system outside the working directory, "
                "home directory hidden, no network, private PID namespace"
            )
        return (
            f"{base}. NOT in force ({self.why_not}): network isolation, file-system protection beyond this user's permissions, "
            "a process-count limit. Install bubblewrap (apt-get install bubblewrap) for those."
        )


@cache
def protection() -> Protection:
    """Probe once whether bubblewrap can build the sandbox here (it may exist and still be refused)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Protection(None, "bubblewrap is not installed")
    try:
        probe = subprocess.run([*_bwrap_args(Path("/"), bwrap=bwrap), "/bin/true"], capture_output=True, timeout=30, check=False)
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as err:
        return Protection(None, f"bubblewrap did not start: {err}")
    if probe.returncode != 0:
        return Protection(None, f"bubblewrap refused to run here: {probe.stderr.decode(errors='replace').strip()[:200]}")
    return Protection(version or "bubblewrap")


def _visible_under_home() -> list[Path]:
    """The Python installation and import path entries that live under the hidden home directory."""
    home = Path.home().resolve()
    roots = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path) if p and Path(p).exists()}
    under = sorted(p for p in roots if p.is_relative_to(home) and p != home)
    return [p for p in under if not any(p != q and p.is_relative_to(q) for q in under)]  # one bind shows what lies below it


def _bwrap_args(scratch: Path, disk_bytes: int = 0, bwrap: str = "bwrap") -> list[str]:
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    home = Path.home().resolve()
    if home != Path("/") and home.is_dir():
        args += ["--tmpfs", str(home)]
        made: set[Path] = set()
        for path in _visible_under_home():
            for parent in reversed(path.relative_to(home).parents[:-1]):  # bubblewrap would make them 0700
                if home / parent not in made:
                    made.add(home / parent)
                    args += ["--perms", "0755", "--dir", str(home / parent)]
            args += ["--ro-bind", str(path), str(path)]
    if scratch != Path("/"):  # a private tmpfs of `disk_bytes` over the (empty) directory: the disk stays ours
        args += ["--perms", "01777", "--size", str(disk_bytes), "--tmpfs", str(scratch), "--chdir", str(scratch)]
    args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    if os.getuid() == 0:  # the child drops to a user id of its own, after its limits are set
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return args


def _environment(scratch: Path) -> dict[str, str]:
    package_root = str(Path(__file__).resolve().parents[2])  # the directory holding `builder`
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "PYTHONPATH": package_root,
        "PYTHONDONTWRITEBYTECODE": "1",
        "JAX_PLATFORMS": "cpu",
        "LANG": "C.UTF-8",
    }


def run_contained(fields: dict[str, Any], inputs: Sequence[np.ndarray], limits: Limits | None = None) -> tuple[str, PythonSide]:
    """`runners.python_side(fields, inputs, relower=True)` in a contained child.

    Returns (status, side): status "ok" (the child answered; `side.error` says whether the
    prediction itself failed), "timed_out" or "crashed" (`side.error` says why)."""
    guard, limits = protection(), limits or Limits()
    payload = pickle.dumps((fields, [np.asarray(x) for x in inputs]))
    scratch = Path(tempfile.mkdtemp(prefix="evaluate-sandbox-"))
    log = tempfile.TemporaryFile(prefix="evaluate-sandbox-", suffix=".log")  # noqa: SIM115 (closed below)
    answer = tempfile.TemporaryFile(prefix="evaluate-answer-")  # noqa: SIM115 (closed below): the child's fd 1
    drop = guard.sandbox is not None and os.getuid() == 0
    try:
        command = [sys.executable, "-m", __name__, str(limits.seconds), str(limits.memory_bytes), str(limits.processes), str(limits.file_bytes)]
        if guard.sandbox:
            mode = f"drop:{secrets.choice(SANDBOX_UIDS)}" if drop else "sandboxed"
            command = [*_bwrap_args(scratch, limits.disk_bytes), *command, mode]
        child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=answer, stderr=log, cwd=scratch, env=_environment(scratch), start_new_session=True
        )
        try:
            child.communicate(payload, timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            _kill_session(child)
            return "timed_out", PythonSide(error=f"killed: over the {limits.seconds:g} s time limit")
        finally:
            _kill_session(child)  # whatever it forked and left behind
        if child.returncode != 0:
            return "crashed", PythonSide(error=_why(child.returncode, log, limits))
        try:
            answer.seek(0)
            return "ok", _load(answer)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
            return "crashed", PythonSide(error=f"the child left no readable answer: {err}"[:300])
    finally:
        log.close()
        answer.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _kill_session(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _why(code: int, log: Any, limits: Limits) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    last = lines[-1][:300] if lines else "no message"
    if code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        return f"killed (over the {limits.seconds:g} s CPU-time limit?): {last}"
    if "MemoryError" in last:
        return f"killed (the {limits.memory_bytes / 2**30:g} GiB memory limit): {last}"
    return f"exit status {code}: {last}"


# The child's answer is data (an .npz without pickles), never a pickle: unpickling what foreign
# code wrote would hand it the parent.


def _save(side: PythonSide, path: Any) -> None:
    """`.npz` keeps numpy's own dtypes only: an ml_dtypes array (bfloat16) is stored as its bits and its dtype's name."""
    arrays, dtypes = encode(side.outputs)
    meta = {k: getattr(side, k) for k in _TEXTS} | {"paths": side.paths, "dtypes": dtypes}
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def _load(file: Any) -> PythonSide:
    """One archive, starting at the file's first byte: anything before it was written by another
    process (a copy the prediction forked) and the archive read from the end may be anyone's."""
    with np.load(file, allow_pickle=False) as data:
        if min((info.header_offset for info in data.zip.infolist()), default=0) != 0:
            raise ValueError("it holds more than one archive: a process the prediction forked wrote one too")
        meta = json.loads(str(data["meta"]))
        outputs = decode(data, meta["dtypes"])
    texts = [meta[k] if isinstance(meta[k], str) or meta[k] is None else str(meta[k]) for k in _TEXTS]
    return PythonSide(outputs, [str(p) for p in meta["paths"]], None, *texts)



def _limit(seconds: float, memory_bytes: int, processes: int, file_bytes: int, mode: str) -> None:
    """First thing in the child, before the foreign code is read. `mode`: "drop:UID" (root in the
    sandbox: become that user), "sandboxed" (bubblewrap's user namespace counts this child's
    processes alone), anything else: no process-count limit (it would count all the user's)."""
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if mode == "sandboxed" or mode.startswith("drop:"):
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    if mode.startswith("drop:"):  # root ignores RLIMIT_NPROC: become a user of its own (the tmpfs is anyone's)
        uid = int(mode.removeprefix("drop:"))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def entry_point(source: str, expected: str) -> str:
    """The function a prediction defines: `expected` (the row's entry point), or its one top-level
    function. Parsed here, in the contained child: a source built to crash the parser crashes this."""
    functions = [node.name for node in ast.parse(source).body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if expected in functions:
        return expected
    if len(functions) == 1:
        return functions[0]
    raise ValueError(f"the prediction defines no {expected!r} and {len(functions)} top-level functions; define {expected!r}")


def _main() -> None:
    seconds, memory, processes, file_bytes = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    _limit(seconds, memory, processes, file_bytes, sys.argv[5] if len(sys.argv) > 5 else "limits only")
    ask_for_host_devices()
    fields, inputs = pickle.loads(sys.stdin.buffer.read())
    answer = os.fdopen(os.dup(1), "wb")  # the answer goes to the parent's file; what the prediction prints, to the log
    os.dup2(2, 1)
    started = os.getpid()
    try:
        fields["entry_point"] = entry_point(fields["python"], fields["entry_point"])
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        side = PythonSide(error=f"not a program: {type(err).__name__}: {err}"[:500])
    else:
        side = python_side(fields, inputs, relower=True)
    if os.getpid() != started:  # a copy the prediction forked came back here: only this child answers
        os._exit(0)
    _save(side, answer)
    answer.close()


if __name__ == "__main__":
    _main()
