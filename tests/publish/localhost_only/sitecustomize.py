"""Loaded by the interpreters that tests/test_hub.py starts (this folder is put first on their
PYTHONPATH): every connection to anything but the loopback address is refused and written to
$HUB_TEST_EXTERNAL_LOG, so a test can assert that publishing and loading reached localhost only."""

import os
import socket

_connect = socket.socket.connect
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address[0] not in LOOPBACK:
        log = os.environ.get("HUB_TEST_EXTERNAL_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{address}\n")
        raise ConnectionRefusedError(f"tests reach only localhost, not {address}")
    return _connect(self, address)


socket.socket.connect = _guarded_connect
