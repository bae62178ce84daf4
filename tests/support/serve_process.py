"""`thinkswitch serve` as a real process (a supervisor and its workers with `--workers N`), and
what a test reads of it from outside: `/metrics` and the worker processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.cli import PLAIN_OUTPUT
from support.live_server import free_port
from support.startup_wait import wait_until_answering


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None, start_timeout_s: float = 90.0,
            ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`thinkswitch serve ARGS --port P` until the block ends (SIGTERM, then SIGKILL);
    yields its root URL once `/health` answers, and the process (niced: the box is shared)."""
    port = free_port()
    process = subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-m", "thinkswitch", "serve", *args,
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **PLAIN_OUTPUT, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_answering(f"{url}/health", process, start_timeout_s, "thinkswitch serve")
        except RuntimeError as error:
            process.kill()
            out, err = process.communicate(timeout=30)
            raise RuntimeError(f"{error}: {out}{err}") from None
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def metric_values(url: str, name: str) -> dict[str, float]:
    """`name`'s samples on `/metrics`, by their label text ('' for none)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = re.compile(rf"^{re.escape(name)}(?:{{(.*)}})? (\S+)$", re.MULTILINE)
    return {labels or "": float(value) for labels, value in pattern.findall(text)}


def worker_metric(url: str, name: str) -> dict[int, int]:
    """A `thinkswitch_worker_*` series by worker index."""
    return {int(labels.split('"')[1]): int(value)
            for labels, value in metric_values(url, f"thinkswitch_worker_{name}").items()}


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's worker processes (its spawned children but the resource tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    workers = []
    for child in map(int, children):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            workers.append(child)
    return workers
