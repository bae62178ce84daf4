"""`thinkswitch serve --workers N` and the signals a real deployment sends, with real
processes: Ctrl-C in a terminal (SIGINT to every process of the group at once, also while the
workers start), and the supervisor killed with SIGKILL (no worker may linger holding the
port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from support.cli import PLAIN_OUTPUT
from support.live_server import free_port
from support.serve_process import serving, worker_metric, worker_pids

pytestmark = pytest.mark.slow


@contextmanager
def serve_group(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`thinkswitch serve --workers 2 ARGS` as the leader of its own process group (as a
    shell's foreground job is), niced; killed with its group when the block ends."""
    process = subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-m", "thinkswitch", "serve", "--engine",
         "instant", "--workers", "2", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, **PLAIN_OUTPUT}, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def until(condition: Callable[[], object], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def port_is_free(port: int) -> bool:
    try:
        socket.create_server(("127.0.0.1", port)).close()
    except OSError:
        return False
    return True


def importing(pid: int) -> bool:
    """Whether the worker is past Python's start, amid its imports (pydantic's core loaded)."""
    try:
        return "_pydantic_core" in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.parametrize("stop", [
    lambda pid: os.killpg(pid, signal.SIGINT),  # what the terminal does on Ctrl-C
    lambda pid: os.kill(pid, signal.SIGTERM),  # a service manager, to the supervisor
], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_the_workers_start_ends_everything_without_a_traceback(
        stop: Callable[[int], None]) -> None:
    with serve_group("--port", str(free_port())) as server:
        until(lambda: len(worker_pids(server.pid)) == 2, "both workers are spawned")
        workers = worker_pids(server.pid)
        until(lambda: all(map(importing, workers)), "they import")
        stop(server.pid)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "restarting" not in err, err
    until(lambda: not any(alive(pid) for pid in workers), "the workers are gone", 30)


def test_ctrl_c_once_drains_and_stops_every_worker() -> None:
    port = free_port()
    with serve_group("--port", str(port)) as server:
        until(lambda: answers(f"http://127.0.0.1:{port}"), "it answers")
        workers = worker_pids(server.pid)
        os.killpg(server.pid, signal.SIGINT)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "Traceback" not in err, err
    assert not any(alive(pid) for pid in workers)


@pytest.mark.parametrize("ready", [False, True], ids=["starting", "serving"])
def test_workers_stop_when_their_supervisor_is_killed(ready: bool) -> None:
    port = free_port()
    with serve_group("--port", str(port)) as server:
        if ready:
            until(lambda: answers(f"http://127.0.0.1:{port}"), "it answers")
        else:
            until(lambda: len(worker_pids(server.pid)) == 2, "both workers are spawned")
        workers = worker_pids(server.pid)
        assert len(workers) == 2
        server.send_signal(signal.SIGKILL)  # the supervisor alone, not its group
        server.wait(timeout=30)
        until(lambda: not any(alive(pid) for pid in workers), "the workers are gone", 30)
        until(lambda: port_is_free(port), "the port is free", 30)


def test_a_worker_that_keeps_dying_soon_after_it_started_is_restarted_ever_more_slowly() -> None:
    with serving("--engine", "instant", "--workers", "2") as (url, server):
        for _ in range(3):  # killed as soon as it serves: three quick deaths in a row
            pid = worker_metric(url, "pid")[0]
            os.kill(pid, signal.SIGKILL)
            until(lambda gone=pid: worker_metric(url, "pid")[0] not in (0, gone),
                  "worker 0 is back", 90)
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    deaths = [line for line in err.splitlines() if line.startswith("thinkswitch: worker 0 ")]
    assert len(deaths) == 3, err
    assert deaths[0].endswith("restarting it"), deaths  # one crash: at once
    assert deaths[1].endswith("restarting it in 0.4 s"), deaths
    assert deaths[2].endswith("restarting it in 0.8 s"), deaths
