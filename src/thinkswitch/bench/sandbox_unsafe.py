"""The unsafe fallback launcher: the code sandbox as it was before bubblewrap.

Used only when the user passes `--unsafe-no-sandbox` (bubblewrap cannot run here), and by
`bench/sandbox_overhead.py` as the baseline. The program runs as a child of the same interpreter
(`sys.executable -I -B`) in a host temporary directory, under util-linux `unshare` namespaces
when they can be created (`--user --map-root-user --net --pid --fork --kill-child`, else `--net`
alone, probed once per process), with the audit-hook guard and the resource limits of
`sandbox.py`. It is NOT a security boundary: the program runs as the caller, reads every file
the caller can read, and only the in-process guard stops writes outside its directory; a
program that disables the guard (interpreter internals) owns the caller's account. As root it
is never root: it starts through the same `setpriv` privilege drop as bubblewrap (uid/gid
65534, Debian's `/usr/bin/python3`, which that uid can reach), and refuses without `setpriv`.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from thinkswitch.bench.sandbox_identity import (
    drops_root,
    interpreter,
    privilege_drop,
    setpriv,
    system_tool,
)
from thinkswitch.kernel.errors import UsageError

INTERPRETER_FLAGS = ("-I", "-B")
NAMESPACE_TIERS = (
    ("--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"),
    ("--net",),
)
PROBE_TIMEOUT_S = 10.0


def minimal_env(home: str) -> dict[str, str]:
    """The whole environment of a sandboxed program: nothing of ours is inherited."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": home,
    }


def require_privilege_drop() -> None:
    """Refuse, in one line, to run model-written code as root when it cannot drop root."""
    if drops_root() and setpriv() is None:
        raise UsageError("refusing to run model-written code as root: --unsafe-no-sandbox "
                         "needs setpriv (Debian: apt-get install util-linux) to run it as "
                         "uid 65534")


def runner() -> tuple[str, ...]:
    """The privilege drop (as root) and the interpreter that run the guard."""
    if drops_root():
        return (*privilege_drop(), str(interpreter()))
    return (sys.executable,)


@functools.cache
def isolation_prefix() -> tuple[str, ...]:
    """The `unshare ... --` command prefix that works here, or () without namespaces."""
    unshare = system_tool("unshare")
    if unshare is None:
        return ()
    *drop, python = runner()
    for flags in NAMESPACE_TIERS:
        prefix = (unshare, *flags, "--")
        try:
            probe = subprocess.run(
                [*drop, *prefix, python, *INTERPRETER_FLAGS, "-c", "pass"],
                cwd="/",
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


def user_tasks(uid: int) -> int:
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


def command(guard_source: str, guard_arguments: list[str]) -> list[str]:
    """The command that runs the guard (and through it `prog.py` in the working directory)."""
    *drop, python = runner()
    return [*drop, *isolation_prefix(), python, *INTERPRETER_FLAGS, "-c", guard_source,
            *guard_arguments]
