"""Run untrusted generated Python in a separate, limited, short-lived process.

The code suites execute what a model wrote, so the program runs as a subprocess of the same
interpreter (`sys.executable -I -B`: isolated mode, no user site, no PYTHON* variables, no .pyc
writes) in a fresh temporary directory that is removed afterwards, with a minimal environment
(PATH, LANG/LC_ALL, HOME and TMPDIR pointing at the temporary directory; nothing inherited).

The layers, from the operating system up:
- Namespaces, when util-linux `unshare` can create them (checked once per process, see
  `isolation_prefix`): `--user --map-root-user --net --pid --fork --kill-child`. The program
  has no network (a new network namespace whose loopback is down), sees and can signal no other
  process, dies with its namespace, and holds no capability on the host, so it cannot raise its
  own limits even when we run as root. If that fails, `--net` alone is tried; if `unshare` is
  missing or not permitted (e.g. an unprivileged container), the program runs without
  namespaces and only the guard's Python-level socket checks stand between it and the network.
- Resource limits set in `preexec_fn`: RLIMIT_AS (`memory_mb`), RLIMIT_CPU (ceil(timeout)+1 s),
  RLIMIT_FSIZE (10 MB, which also caps the captured output), RLIMIT_CORE 0, and RLIMIT_NPROC for
  non-root users (the current number of the user's tasks plus a margin, as the kernel counts
  every task of the user). The kernel does not enforce RLIMIT_NPROC for root, so as root a fork
  bomb is stopped by the guard and by the process group kill below. `preexec_fn` runs between
  fork and exec, which is only safe with threads around when it does as little as here: a few
  `setrlimit` calls on values computed beforehand.
- Its own session and process group, killed with SIGKILL when the wall-clock timeout passes and
  at the end of every run, also after success, so nothing it started survives. The parent
  waits on a pidfd without reaping, so the group id cannot be reused before the kill.
- The guard (`sandbox_guard.py`, an audit hook installed before the program runs): no process
  creation, signals, ctypes, sockets or limit changes, and no writes outside the temporary
  directory. It is defence in depth, not a jail; see its docstring.

Not covered: the program can read any file the user can read, and as root only the guard stops
writes outside the temporary directory (no read-only file system is mounted).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from thinkswitch.bench.sandbox_guard import PROGRAM_FILE
from thinkswitch.kernel.errors import UsageError

GUARD_FILE = Path(__file__).with_name("sandbox_guard.py")
INTERPRETER_FLAGS = ("-I", "-B")
NAMESPACE_TIERS = (
    ("--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"),
    ("--net",),
)
FILE_SIZE_LIMIT = 10 * 1024 * 1024
EXTRA_TASKS = 32  # RLIMIT_NPROC margin over the tasks the user already runs (non-root only)
TAIL_CHARS = 2000
PROBE_TIMEOUT_S = 10.0
GROUP_EXIT_WAIT_S = 2.0

Limits = tuple[tuple[int, tuple[int, int]], ...]


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """How a run ended. `pid` is the sandbox's process, session and process group id."""

    passed: bool
    returncode: int
    timed_out: bool
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    pid: int


def minimal_env(home: str) -> dict[str, str]:
    """The whole environment of a sandboxed program: nothing of ours is inherited."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": home,
    }


@functools.cache
def isolation_prefix() -> tuple[str, ...]:
    """The `unshare ... --` command prefix that works here, or () without namespaces.

    Probed once per process by running the interpreter under each tier of flags.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for flags in NAMESPACE_TIERS:
        prefix = (unshare, *flags, "--")
        try:
            probe = subprocess.run(
                [*prefix, sys.executable, *INTERPRETER_FLAGS, "-c", "pass"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=minimal_env(tempfile.gettempdir()),
                timeout=PROBE_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return ()


def network_isolated() -> bool:
    """Whether sandboxed programs run in their own network namespace."""
    return "--net" in isolation_prefix()


@functools.cache
def _guard_source() -> str:
    return GUARD_FILE.read_text(encoding="utf-8")


def _user_tasks(uid: int) -> int:
    """How many tasks (threads included) the user runs now: what RLIMIT_NPROC counts."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text(encoding="utf-8")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def _capped(which: int, value: int) -> tuple[int, int]:
    """(value, value), lowered to the current hard limit, which a non-root user cannot raise."""
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    return value, value


def resource_limits(timeout_s: float, memory_mb: int) -> Limits:
    """The limits for one run, computed in the parent so `preexec_fn` only applies them."""
    memory = memory_mb * 1024 * 1024
    cpu = math.ceil(timeout_s) + 1
    limits = [
        (resource.RLIMIT_AS, _capped(resource.RLIMIT_AS, memory)),
        (resource.RLIMIT_CPU, _capped(resource.RLIMIT_CPU, cpu)),
        (resource.RLIMIT_FSIZE, _capped(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    uid = os.geteuid()
    if uid != 0:
        tasks = _user_tasks(uid) + EXTRA_TASKS
        limits.append((resource.RLIMIT_NPROC, _capped(resource.RLIMIT_NPROC, tasks)))
    return tuple(limits)


def _apply_limits(limits: Limits) -> Callable[[], None]:
    def apply() -> None:
        for which, pair in limits:
            resource.setrlimit(which, pair)

    return apply


def _wait_exited(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether the process exited within the timeout, leaving it unreaped when possible."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout_s)
    finally:
        os.close(pidfd)
    return bool(ready)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _wait_group_gone(pgid: int) -> None:
    """Wait (bounded) until the killed group's last member is gone, after reaping its leader.

    A killed member takes a moment to exit, and one whose parent died first is reaped by init,
    not by us; until then it still counts. After a normal exit the group is already empty.
    Only signal 0 is sent here, so a reused id could at worst make us wait, never kill.
    """
    deadline = time.monotonic() + GROUP_EXIT_WAIT_S
    try:
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)
            time.sleep(0.002)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 4 * TAIL_CHARS))
        return handle.read().decode("utf-8", errors="replace")[-TAIL_CHARS:]


def run_python(source: str, timeout_s: float = 10.0, memory_mb: int = 512) -> SandboxResult:
    """Run `source` as a Python program in the sandbox; it passes when it exits 0 in time."""
    if not timeout_s > 0 or memory_mb <= 0:
        raise UsageError(f"bad sandbox limits: timeout_s={timeout_s}, memory_mb={memory_mb}")
    limits = resource_limits(timeout_s, memory_mb)
    command = [*isolation_prefix(), sys.executable, *INTERPRETER_FLAGS, "-c", _guard_source()]
    with tempfile.TemporaryDirectory(
        prefix="thinkswitch-sandbox-", ignore_cleanup_errors=True
    ) as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        (work / PROGRAM_FILE).write_text(source, encoding="utf-8")
        out_path, err_path = root / "stdout", root / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.monotonic()
            process = subprocess.Popen(
                command,
                cwd=work,
                env=minimal_env(str(work)),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                close_fds=True,
                start_new_session=True,
                preexec_fn=_apply_limits(limits),
            )
            try:
                exited = _wait_exited(process, timeout_s)
            finally:
                _kill_group(process.pid)
                returncode = process.wait()
                _wait_group_gone(process.pid)
            duration = time.monotonic() - started
        return SandboxResult(
            passed=exited and returncode == 0,
            returncode=returncode,
            timed_out=not exited,
            stdout_tail=_tail(out_path),
            stderr_tail=_tail(err_path),
            duration_s=duration,
            pid=process.pid,
        )


def describe_isolation() -> Mapping[str, object]:
    """What protects sandboxed programs on this machine, for reports and `--verbose` output."""
    return {
        "namespaces": " ".join(isolation_prefix()[1:-1]) or "none",
        "network_isolated": network_isolated(),
        "nproc_limit_enforced": os.geteuid() != 0,
    }
