"""An AWS endpoint for the event-scaling playbook tests that must make no AWS call.

A loopback port that accepts a connection and closes it at once: aws_guard's probe (a TCP connect)
finds "an emulator", and any AWS call the play made would fail at once (no answer) instead of
succeeding or waiting for a timeout. Only loopback; stops with the test module.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def refusing_endpoint() -> Iterator[str]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        server.close()
