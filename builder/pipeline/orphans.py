"""Processes this project starts die with the process that started them.

A SIGKILL cannot be caught, so a parent cannot clean up after itself: each child arms its own end.
On Linux that is the kernel's parent-death signal (`prctl(PR_SET_PDEATHSIG)`); elsewhere a daemon
thread that polls the parent's pid.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """Call first thing in a child: end this process (SIGKILL) when `parent`, the pid that started it, ends.

    Linux sends the signal when the parent *thread* that forked the child exits; every caller here
    starts its children from a thread that lives as long as they are needed."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # the parent ended before the signal was armed
                os._exit(1)
            return
    threading.Thread(target=_watch, args=(parent,), name="die-with-parent", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)
