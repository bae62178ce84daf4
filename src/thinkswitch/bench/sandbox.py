"""Run untrusted generated Python in a jail: bubblewrap, seccomp, limits, an unforgeable verdict.

The code suites execute what a model wrote. The layers, from the operating system up:

- bubblewrap (`sandbox_bwrap.py`): own user, PID, mount, network, IPC, UTS and cgroup
  namespaces, uid 65534 with no capabilities (65534 on the host too: as root, bubblewrap is
  started unprivileged through `setpriv`, see `sandbox_identity.py`), a read-only view of
  Debian's interpreter and its standard library only, a size-capped private tmpfs as
  working directory, no host /proc, `--die-with-parent`, `--new-session`, and the seccomp
  filter of `sandbox_seccomp.py`.
- Resource limits, set in `preexec_fn` and inherited through bubblewrap: RLIMIT_AS
  (`memory_mb`), RLIMIT_CPU (ceil(timeout)+1 s), RLIMIT_FSIZE (10 MB, which also caps the
  captured output), RLIMIT_CORE 0, and a bound on processes: RLIMIT_NPROC for an ordinary
  user, a `pids` cgroup per run as root (`sandbox_cgroup.py`): there the program's host uid is
  65534, shared by every concurrent run (and other `nobody` processes), so a per-uid count
  would bound one run by the others (where no pids cgroup takes, RLIMIT_NPROC again: the
  uid's current tasks plus the margin). As root a `memory` cgroup also bounds the whole run to
  `memory_mb`, its tmpfs files and kernel memory included. The limits and the cgroups are set
  as root in `preexec_fn`, before `setpriv` drops to uid 65534, so they bind the program and
  it cannot undo them. `preexec_fn` runs between fork and exec, which is only safe with
  threads around when it does as little as here: a few `setrlimit` calls on values computed
  beforehand and a write to each cgroup.
- A wall-clock timeout, then SIGKILL to bubblewrap's process group; its PID namespace dies with
  it, and the run waits until the namespace's init (and with it every process inside) is gone.
- The grading channel: a run passes only if the program exits 0 in time *and* the guard's
  epilogue, which runs only after the whole program (answer, then tests) returned, copied the
  run's random nonce from one inherited pipe to another. The nonce is in no file, argument or
  variable the program can read while it runs, so printing a marker, reading `prog.py` or
  calling `os._exit(0)` early does not pass. See `sandbox_guard.main` for what it cannot stop.
- The audit-hook guard (`sandbox_guard.py`), a second layer inside the interpreter.

When bubblewrap cannot run, `run_python` refuses (UsageError naming the reason) unless the
caller chose `isolation="unsafe"` (the `--unsafe-no-sandbox` flag): the old launcher of
`sandbox_unsafe.py`, which is not a security boundary (as root it still drops to uid 65534).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import resource
import secrets
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from thinkswitch.bench import sandbox_bwrap, sandbox_identity, sandbox_probe, sandbox_unsafe
from thinkswitch.bench.sandbox_cgroup import RunCgroups
from thinkswitch.bench.sandbox_guard import NONCE_BYTES, PROGRAM_FILE
from thinkswitch.bench.sandbox_seccomp import filter_program
from thinkswitch.kernel.errors import UsageError

Isolation = Literal["bwrap", "unsafe"]
GUARD_FILE = Path(__file__).with_name("sandbox_guard.py")
FILE_SIZE_LIMIT = 10 * 1024 * 1024
MAX_TASKS = 32  # processes and threads one run may have (RLIMIT_NPROC margin or pids.max)
TAIL_CHARS = 2000
MIB = 1024 * 1024
EXIT_WAIT_S = 2.0
UNSAFE_FLAG = "--unsafe-no-sandbox"

Limits = tuple[tuple[int, tuple[int, int]], ...]
minimal_env = sandbox_unsafe.minimal_env


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """How a run ended. `pid` is the launcher's process (bwrap), session and group id;
    `completed` whether the guard's epilogue returned the nonce (the program ran to its end)."""

    passed: bool
    returncode: int
    timed_out: bool
    completed: bool
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    pid: int


@dataclass
class Launch:
    """What one isolation needs to start a run: its command, directory, environment, the
    descriptors to hand over, and the cgroups to put it in (bwrap as root)."""

    command: list[str]
    cwd: Path
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    cgroup: RunCgroups | None = None


class Descriptors:
    """The descriptors of one run, each closed exactly once: closing a number twice could
    close another thread's file that reused it."""

    def __init__(self) -> None:
        self.open: set[int] = set()

    def adopt(self, fd: int) -> int:
        self.open.add(fd)
        return fd

    def pipe(self) -> tuple[int, int]:
        read_end, write_end = os.pipe()
        return self.adopt(read_end), self.adopt(write_end)

    def memfd(self, name: str, data: bytes) -> int:
        """An anonymous file holding `data`, positioned at its start, for bubblewrap."""
        fd = self.adopt(os.memfd_create(name, os.MFD_CLOEXEC))
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def close(self, *fds: int) -> None:
        for fd in fds:
            if fd in self.open:
                self.open.discard(fd)
                os.close(fd)

    def close_all(self) -> None:
        self.close(*sorted(self.open))


@functools.cache
def _guard_source() -> str:
    return GUARD_FILE.read_text(encoding="utf-8")


def sandbox_problem() -> str | None:
    """Why the bubblewrap sandbox cannot run here (one line), or None when it can."""
    return sandbox_probe.bwrap_problem()


def require_sandbox() -> None:
    """Refuse, in one line, to run model-written code when the sandbox cannot run here."""
    problem = sandbox_problem()
    if problem is not None:
        raise UsageError(f"the code sandbox cannot run: {problem}; refusing to run "
                         f"model-written code without it (pass {UNSAFE_FLAG} to run it "
                         "unconfined, as the current user)")


def _capped(which: int, value: int) -> tuple[int, int]:
    """(value, value), lowered to the current hard limit, which a non-root user cannot raise."""
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    return value, value


def resource_limits(timeout_s: float, memory_mb: int,
                    cgroups: RunCgroups | None = None) -> Limits:
    """The limits for one run, computed in the parent so `preexec_fn` only applies them.
    Without a pids cgroup, RLIMIT_NPROC bounds the tasks: a count per uid, so the margin is
    added to what the program's host uid (65534 as root: not exempt, it has no capabilities)
    runs already."""
    limits = [
        (resource.RLIMIT_AS, _capped(resource.RLIMIT_AS, memory_mb * MIB)),
        (resource.RLIMIT_CPU, _capped(resource.RLIMIT_CPU, math.ceil(timeout_s) + 1)),
        (resource.RLIMIT_FSIZE, _capped(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if cgroups is None or "pids" not in cgroups.controllers:
        tasks = sandbox_unsafe.user_tasks(sandbox_identity.host_uid()) + MAX_TASKS
        limits.append((resource.RLIMIT_NPROC, _capped(resource.RLIMIT_NPROC, tasks)))
    return tuple(limits)


def _launch_bwrap(source: str, root: Path, guard_args: list[str], fds: Descriptors,
                  info_fd: int, memory_mb: int) -> Launch:
    program_fd = fds.memfd("program", source.encode("utf-8"))
    seccomp = filter_program()
    seccomp_fd = fds.memfd("seccomp", seccomp) if seccomp is not None else None
    passed = tuple(fd for fd in (program_fd, seccomp_fd) if fd is not None)
    command = sandbox_bwrap.command(program_fd, seccomp_fd, info_fd,
                                    ["-c", _guard_source(), *guard_args])
    # bwrap starts in "/": after the privilege drop it may not enter our private `root`.
    return Launch(command, Path("/"), minimal_env(sandbox_bwrap.WORK_DIR), passed,
                  RunCgroups.create(MAX_TASKS, memory_mb * MIB))


def _launch_unsafe(source: str, root: Path, guard_args: list[str], fds: Descriptors,
                   info_fd: int, memory_mb: int) -> Launch:
    """The old launcher: `info_fd` stays unused (nothing reports a PID namespace's init), and
    `memory_mb` is bounded by RLIMIT_AS alone. As root the program runs as SANDBOX_ID, which
    gets its own working directory and may only pass through (not list) the run's directory."""
    work = root / "work"
    work.mkdir()
    (work / PROGRAM_FILE).write_text(source, encoding="utf-8")
    if sandbox_identity.drops_root():
        root.chmod(0o711)
        for path in (work, work / PROGRAM_FILE):
            os.chown(path, sandbox_identity.SANDBOX_ID, sandbox_identity.SANDBOX_ID)
    return Launch(sandbox_unsafe.command(_guard_source(), guard_args), work,
                  minimal_env(str(work)))


#: isolation name -> how to prepare a run under it.
LAUNCHERS: Mapping[str, Callable[[str, Path, list[str], Descriptors, int, int], Launch]] = (
    MappingProxyType({"bwrap": _launch_bwrap, "unsafe": _launch_unsafe}))


def _preexec(limits: Limits, cgroup: RunCgroups | None) -> Callable[[], None]:
    def apply() -> None:
        if cgroup is not None:
            cgroup.join()
        for which, pair in limits:
            resource.setrlimit(which, pair)

    return apply


def _wait_exited(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether the process exited within the timeout, leaving it unreaped."""
    pidfd = os.pidfd_open(process.pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout_s)
    finally:
        os.close(pidfd)
    return bool(ready)


def _wait_group_gone(pgid: int) -> None:
    """Wait (bounded) until the killed group's last member is gone, after reaping its leader.
    Only signal 0 is sent here, so a reused id could at worst make us wait, never kill."""
    deadline = time.monotonic() + EXIT_WAIT_S
    with contextlib.suppress(ProcessLookupError, PermissionError):
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)
            time.sleep(0.002)


def _wait_dead(pid: int) -> None:
    """Wait (bounded) until `pid` (the sandbox's init) is gone or a zombie: the kernel reaps
    every other process of its PID namespace before its init can exit."""
    deadline = time.monotonic() + EXIT_WAIT_S
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.002)


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 4 * TAIL_CHARS))
        return handle.read().decode("utf-8", errors="replace")[-TAIL_CHARS:]


def run_python(source: str, timeout_s: float = 10.0, memory_mb: int = 512, *,
               isolation: Isolation = "bwrap", audit_hook: bool = True) -> SandboxResult:
    """Run `source` as a Python program in the sandbox; it passes when it exits 0 in time and
    runs to its end. `audit_hook=False` leaves out the second layer (tests of the first)."""
    if not timeout_s > 0 or memory_mb <= 0:
        raise UsageError(f"bad sandbox limits: timeout_s={timeout_s}, memory_mb={memory_mb}")
    if isolation == "bwrap":
        require_sandbox()
    else:
        sandbox_unsafe.require_privilege_drop()
    nonce = secrets.token_hex(NONCE_BYTES // 4).encode("ascii")
    fds = Descriptors()
    launch: Launch | None = None
    with tempfile.TemporaryDirectory(
        prefix="thinkswitch-sandbox-", ignore_cleanup_errors=True
    ) as tmp:
        try:
            (nonce_r, nonce_w), (verdict_r, verdict_w), (info_r, info_w) = (
                fds.pipe(), fds.pipe(), fds.pipe())
            os.write(nonce_w, nonce)
            fds.close(nonce_w)
            root = Path(tmp)
            guard_args = [str(nonce_r), str(verdict_w), "hook" if audit_hook else "no-hook"]
            launch = LAUNCHERS[isolation](source, root, guard_args, fds, info_w, memory_mb)
            limits = resource_limits(timeout_s, memory_mb, launch.cgroup)
            out_path, err_path = root / "stdout", root / "stderr"
            with out_path.open("wb") as out, err_path.open("wb") as err:
                started = time.monotonic()
                process = subprocess.Popen(
                    launch.command, cwd=launch.cwd, env=launch.env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=err, close_fds=True, start_new_session=True,
                    pass_fds=(nonce_r, verdict_w, info_w, *launch.pass_fds),
                    preexec_fn=_preexec(limits, launch.cgroup),
                )
                fds.close(nonce_r, verdict_w, info_w, *launch.pass_fds)
                try:
                    exited = _wait_exited(process, timeout_s)
                finally:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, signal.SIGKILL)
                    returncode = process.wait()
                    _wait_group_gone(process.pid)
                    init_pid = json.loads(_read_all(info_r) or b"{}").get("child-pid")
                    if isinstance(init_pid, int):
                        _wait_dead(init_pid)
                duration = time.monotonic() - started
            completed = _read_all(verdict_r) == nonce
        finally:
            fds.close_all()
            if launch is not None and launch.cgroup is not None:
                launch.cgroup.destroy()
        return SandboxResult(
            passed=exited and returncode == 0 and completed,
            returncode=returncode,
            timed_out=not exited,
            completed=completed,
            stdout_tail=_tail(out_path),
            stderr_tail=_tail(err_path),
            duration_s=duration,
            pid=process.pid,
        )


def describe_isolation() -> Mapping[str, object]:
    """What protects sandboxed programs on this machine, for reports and `--verbose` output.
    The cgroup bounds are those a trial run's cgroups applied, not those that could exist."""
    cgroups = RunCgroups.available()
    return {
        "sandbox": "bubblewrap" if sandbox_problem() is None else "unavailable",
        "problem": sandbox_problem(),
        "seccomp": filter_program() is not None,
        "host_uid": sandbox_identity.host_uid(),
        "process_bound": "pids cgroup" if "pids" in cgroups else "RLIMIT_NPROC",
        "memory_bound": "RLIMIT_AS" + (" and memory cgroup" if "memory" in cgroups else ""),
    }
