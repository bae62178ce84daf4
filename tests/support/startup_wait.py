"""Waiting for a test's child server to answer, shared by the helpers that start one."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_until_answering(url: str, process: subprocess.Popen[str] | subprocess.Popen[bytes],
                         timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """Return once GET `url` answers 200; RuntimeError naming `what` if `process` exits first
    or `timeout_s` passes (the caller kills it and reads its output)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(interval_s)
