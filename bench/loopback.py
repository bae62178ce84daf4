"""Start and stop servers on 127.0.0.1 for the benches: a free port, a child process that is
waited for until it answers, and a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"
#: How much of a child's stderr is shown when its block ends.
STDERR_SHOWN = 4000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(command: Sequence[str], ready_url: str, timeout_s: float = 120.0,
            env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the block ends; wait until GET `ready_url` answers below 500.

    The child's stderr goes to a temporary file, not a pipe: a pipe nobody reads fills at
    64 KiB and then blocks the server at its next warning (a bench would measure a hung
    server, and its messages would be lost). Whatever the child wrote there is shown when the
    block ends, so a warning or traceback under load is seen with the figures."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(list(command), env={**os.environ, **(env or {})},
                                   stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited: {_tail(stderr)!r}")
                try:
                    if httpx.get(ready_url, timeout=1.0).status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ready_url} did not come up in {timeout_s:.0f} s")
                time.sleep(0.1)
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            said = _tail(stderr, STDERR_SHOWN)
            if said:
                print(f"{Path(command[0]).name} wrote on stderr (last {STDERR_SHOWN} bytes):\n"
                      f"{said.decode(errors='replace')}", file=sys.stderr)


def _tail(stream: IO[bytes], size: int = 800) -> bytes:
    """The last `size` bytes written to the file `stream`."""
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - size))
    return stream.read()


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of a process and its live descendants (`serve --workers`: the
    supervisor and its workers)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:  # it ended meanwhile
            continue
        pending += [int(child) for child in children]
    return total
