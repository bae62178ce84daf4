"""Whether the bubblewrap sandbox can run here, and runs as it must: checked once per process.

The probe starts the real command line (privilege drop, every bwrap option, the seccomp filter)
on a program that waits for its stdin to close. While it waits, the probe reads the host uids
and gids, supplementary groups included, of the sandbox's init (bwrap reports its PID on the
info descriptor) from /proc, and refuses the sandbox if any of them is 0: the program must
never be root on the host, whoever starts it. An older bwrap that lacks an option, a missing
`setpriv`, an interpreter the sandbox's uid cannot reach, or user namespaces that are switched
off all show up here, with bwrap's own message, rather than at the first item of a bench.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import subprocess
import time

from thinkswitch.bench.sandbox_bwrap import command
from thinkswitch.bench.sandbox_identity import (
    SYSTEM_PATH,
    drops_root,
    host_ids,
    interpreter,
    setpriv,
    system_tool,
)
from thinkswitch.bench.sandbox_seccomp import filter_program

PROBE_TIMEOUT_S = 20.0
PROBE_PROGRAM = "import sys; sys.stdin.read()"
USERNS_HINT = ("are unprivileged user namespaces enabled? (sysctl kernel.unprivileged_userns_clone"
               "=1, user.max_user_namespaces > 0; a setuid-root bwrap is a last resort, see "
               "the README's Security model)")


def _read_until_closed(fd: int, timeout_s: float) -> bytes:
    """Everything written to `fd` until its writers close it, or what came within the time."""
    deadline = time.monotonic() + timeout_s
    chunks = []
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _missing_tool() -> str | None:
    if system_tool("bwrap") is None:
        return (f"bubblewrap (bwrap) is not installed in {SYSTEM_PATH} (Debian: apt-get "
                "install bubblewrap)")
    if drops_root() and setpriv() is None:
        return ("setpriv is not installed (Debian: apt-get install util-linux); as root it "
                "starts bubblewrap unprivileged")
    if not interpreter().exists():
        return (f"the sandbox interpreter {interpreter()} is missing (Debian: apt-get install "
                "python3)")
    return None


def _run_probe() -> tuple[int, str, tuple[set[int], set[int]] | None]:
    """(exit code, stderr, host ids of the sandbox's init while it ran) of one probe run."""
    seccomp = filter_program()
    fds: list[int] = []
    try:
        program_fd = os.memfd_create("probe", os.MFD_CLOEXEC)
        fds.append(program_fd)
        seccomp_fd = os.memfd_create("seccomp", os.MFD_CLOEXEC) if seccomp is not None else None
        if seccomp is not None and seccomp_fd is not None:
            fds.append(seccomp_fd)
            os.write(seccomp_fd, seccomp)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
        info_r, info_w = os.pipe()
        fds += [info_r, info_w]
        probe = command(program_fd, seccomp_fd, info_w, ["-c", PROBE_PROGRAM])
        with subprocess.Popen(probe, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd="/", pass_fds=tuple(fds)) as process:
            fds.remove(info_w)
            os.close(info_w)
            info = _read_until_closed(info_r, PROBE_TIMEOUT_S)
            child = json.loads(info or b"{}").get("child-pid")
            ids = host_ids(child) if isinstance(child, int) else None
            try:
                _, stderr = process.communicate(timeout=PROBE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
        return process.returncode, stderr.decode("utf-8", errors="replace"), ids
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox programs here, in one line, or None when it can."""
    missing = _missing_tool()
    if missing is not None:
        return missing
    try:
        returncode, stderr, ids = _run_probe()
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        return f"bubblewrap cannot start: {error}"
    if returncode != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {returncode}"
        return f"bubblewrap cannot create a sandbox here ({reason}); {USERNS_HINT}"
    if ids is None:
        return "bubblewrap did not report the sandbox's process, so its host uid is unknown"
    uids, gids = ids
    if 0 in uids or 0 in gids:
        return (f"the sandbox would run as root on the host (uids {sorted(uids)}, gids and "
                f"groups {sorted(gids)}); refusing")
    return None
