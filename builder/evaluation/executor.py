"""The child that compiles and runs IR texts with XLA for `evaluate` (`worker.Worker` runs it).

A predicted module is foreign input: it may ask XLA for more memory than the machine has or
crash the compiler. It runs here, in a child with an address-space limit and the caller's
time limit (the `Worker`), so that costs one row a reason. The reference runs here too, on
the same inputs, so both sides get the same executor (`runners.run_xla`).
"""

from __future__ import annotations

import resource
from typing import Any

from ..validation.runners import ask_for_host_devices, run_xla
from ..validation.worker import serve

MEMORY_BYTES = 8 << 30


def handle(request: tuple[Any, ...]) -> tuple[str, Any]:
    """("xla", text, inputs) -> ("ok", outputs) or ("error", why). Replies are plain data (arrays, strings)."""
    kind, *args = request
    try:
        if kind != "xla":
            raise ValueError(f"unknown request {kind!r}")
        return "ok", run_xla(*args)
    except Exception as err:
        return "error", f"{type(err).__name__}: {' '.join(str(err).split())}"[:600]


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    ask_for_host_devices()  # before anything starts JAX
    serve(handle)
