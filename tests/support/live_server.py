"""Run an ASGI app on a real uvicorn server on 127.0.0.1 for the length of a test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(app: Any, start_timeout_s: float = 30.0, *, guarded: bool = False,
                **limits: Any) -> Iterator[str]:
    """Serve `app` in a thread; yields its root URL (`http://127.0.0.1:PORT`). `guarded`:
    on the protocol `thinkswitch serve` runs (header timeout and cap; `limits` set them)."""
    import uvicorn

    from thinkswitch.server.protocol import server_config

    port = free_port()
    config = (server_config(app, "127.0.0.1", port, log_level="warning", **limits) if guarded
              else uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
