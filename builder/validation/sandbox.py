"""Running a row's Python that our generator did not write (`validate --trust-code`).

The code runs in a child interpreter with a CPU-time limit and an address-space limit
(`resource.setrlimit`), a wall-clock timeout, no stdin, and a scratch working directory; the child
and whatever it starts form a process group that is ended with it, and it dies with validate.
That bounds what a runaway or hostile program costs this machine in time and memory; it is
not a security boundary against code written to escape (the child has the user's file and
network access), which is why `--trust-code` is explicit.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline.orphans import die_with_parent
from .npz_arrays import decode, encode
from .runners import PythonSide, ask_for_host_devices, python_fields, python_side

# JAX needs ~1.5 GiB of address space just to start its CPU client.
DEFAULT_MEMORY = 4 << 30
DEFAULT_SECONDS = 60.0


@dataclass(frozen=True)
class Limits:
    seconds: float = DEFAULT_SECONDS
    memory_bytes: int = DEFAULT_MEMORY

    def __post_init__(self) -> None:
        if not self.seconds > 0 or not self.memory_bytes > 0:
            raise ValueError(f"sandbox limits must be above 0, got {self.seconds!r} s and {self.memory_bytes!r} bytes")


def _limit(seconds: float, memory_bytes: int) -> None:
    """Runs first thing in the child, before the foreign code is even read."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def run_untrusted(row: dict[str, Any], inputs: Sequence[np.ndarray], relower: bool, limits: Limits, execute: bool = True) -> PythonSide:
    """`runners.python_side` in a limited child process; a crash, a limit or a timeout becomes `error`.

    The child leads a process group of its own, and the whole group is ended when the child is done
    (or out of time): a `sleep 300 &` it started does not outlive it. Its output goes to files, not pipes,
    so a process that inherited them cannot keep this waiting."""
    payload = pickle.dumps((python_fields(row), [np.asarray(x) for x in inputs], relower, execute))
    with tempfile.TemporaryDirectory(prefix="validate-sandbox-") as scratch:
        request, stdout, stderr = (Path(scratch) / name for name in ("request.pickle", "stdout", "stderr"))
        request.write_bytes(payload)
        with request.open("rb") as given, stdout.open("wb") as out, stderr.open("wb") as err:
            child = subprocess.Popen(
                [sys.executable, "-m", __name__, str(limits.seconds), str(limits.memory_bytes), str(os.getpid())],
                stdin=given, stdout=out, stderr=err, cwd=scratch, start_new_session=True,
            )  # fmt: skip
            try:
                code = child.wait(limits.seconds)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                _end_group(child)
        if code is None:
            return PythonSide(error=f"killed: over the {limits.seconds:g} s time limit")
        if code != 0:
            tail = stderr.read_text(errors="replace").strip().splitlines()[-1:] or ["no message"]
            why = "memory limit" if "MemoryError" in tail[0] else f"exit status {code}"
            if code in (-9, -24):  # SIGKILL / SIGXCPU: the CPU-time limit
                why = f"over the {limits.seconds:g} s CPU-time limit"
            return PythonSide(error=f"killed ({why}): {tail[0][:300]}")
        try:
            return _load(Path(scratch) / RESULT)
        except (OSError, ValueError, KeyError) as err:
            return PythonSide(error=f"the child left no readable result: {err}")


def _end_group(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (what it started in the background too) and reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


# The child's answer is data (an .npz without pickles), never a pickle: unpickling what foreign
# code wrote would hand it the parent.
RESULT = "result.npz"
_TEXTS = ("stablehlo", "stablehlo_grad", "jaxpr", "error")


def _save(side: PythonSide, path: Path) -> None:
    """`.npz` keeps numpy's own dtypes only: an ml_dtypes array (bfloat16) is stored as its bits and its dtype's name."""
    arrays, dtypes = encode(side.outputs)
    grads, grad_dtypes = encode(side.grads or [], "grad")
    meta = {k: getattr(side, k) for k in _TEXTS} | {"paths": side.paths, "dtypes": dtypes, "grads": None if side.grads is None else grad_dtypes}
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays, **grads)


def _load(path: Path) -> PythonSide:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        outputs = decode(data, meta["dtypes"])
        grads = None if meta["grads"] is None else decode(data, meta["grads"], "grad")
    return PythonSide(outputs, list(meta["paths"]), grads, *(meta[k] for k in _TEXTS))


def _main() -> None:
    die_with_parent(int(sys.argv[3]))
    _limit(float(sys.argv[1]), int(sys.argv[2]))
    ask_for_host_devices()
    row, inputs, relower, execute = pickle.loads(sys.stdin.buffer.read())
    side = python_side(row, inputs, relower, execute)
    if side.error and "MemoryError" in side.error:
        sys.stderr.write(side.error + "\n")
        sys.exit(3)
    _save(side, Path(RESULT))


if __name__ == "__main__":
    _main()
