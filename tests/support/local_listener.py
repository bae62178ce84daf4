"""A TCP listener on 127.0.0.1 that records whether anything reached it: the sandbox tests
point programs at it and assert that nothing got through."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

ACCEPT_TIMEOUT_S = 3.0


@contextlib.contextmanager
def local_listener() -> Iterator[tuple[int, list[object]]]:
    """Yield (port, accepted): a thread accepts one connection for ACCEPT_TIMEOUT_S and
    appends it to `accepted`; leaving the block waits for that thread, then closes."""
    accepted: list[object] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(ACCEPT_TIMEOUT_S)

        def accept() -> None:
            with contextlib.suppress(OSError):
                accepted.append(server.accept())

        waiter = threading.Thread(target=accept)
        waiter.start()
        try:
            yield server.getsockname()[1], accepted
        finally:
            waiter.join()
