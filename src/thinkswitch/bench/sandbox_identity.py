"""Who a sandboxed program is on the host, and which interpreter it runs.

bubblewrap maps the sandbox's uid to the uid that started bubblewrap. Started by root, the
program would be root on the host behind its user namespace: a file that leaks into its view
(a bind, a kernel bug) would be root's to read and write. So when we are root, bubblewrap is
started through util-linux `setpriv` as uid/gid 65534 (`nobody`/`nogroup`) with no supplementary
groups and no inheritable or bounding-set capabilities; it then builds the sandbox with an
unprivileged user namespace and sets `no_new_privs` for the program itself. (`setpriv` does not
set `no_new_privs`: that would disarm a setuid bwrap, Debian's mode for kernels without
unprivileged user namespaces.) What must happen as root (joining the run's
cgroups, setting the resource limits) happens in `preexec_fn`, before `setpriv` runs.

An unprivileged bubblewrap cannot reach an interpreter under a 0700 home (pyenv under /root),
so the sandbox runs Debian's world-readable `/usr/bin/python3` (packages `python3`, whose
standard library is all the code suites need), falling back to the interpreter behind our venv
only where there is no system one (then it must be reachable by the sandbox's host uid).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

SANDBOX_ID = 65534
SYSTEM_PYTHON = Path("/usr/bin/python3")
QUERY_TIMEOUT_S = 20.0
# The tools we start (setpriv, bwrap, ldd) come from the system's directories, never from PATH.
SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
_PATHS_QUERY = "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"


def interpreter() -> Path:
    """The real interpreter binary the sandbox runs (Debian's python3 where it exists)."""
    if SYSTEM_PYTHON.exists():
        return Path(os.path.realpath(SYSTEM_PYTHON))
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


@functools.cache
def interpreter_paths() -> dict[str, str]:
    """`sysconfig.get_paths()` of `interpreter()`, asked of that interpreter itself (it is
    usually not the one running us). Raises OSError when it cannot answer."""
    binary = interpreter()
    try:
        answer = subprocess.run(
            [str(binary), "-I", "-S", "-c", _PATHS_QUERY], capture_output=True, text=True,
            timeout=QUERY_TIMEOUT_S, check=True, stdin=subprocess.DEVNULL,
        ).stdout
        paths = json.loads(answer)
    except (subprocess.SubprocessError, ValueError) as error:
        raise OSError(f"{binary} cannot report its standard library: {error}") from error
    if not isinstance(paths, dict):
        raise OSError(f"{binary} reported no paths")
    return {str(name): str(path) for name, path in paths.items()}


def drops_root() -> bool:
    """Whether programs are started as SANDBOX_ID instead of as us: any of our real, effective
    or saved uids is root (a setuid caller with euid != 0 could regain root otherwise)."""
    return 0 in os.getresuid()


def host_uid() -> int:
    """The uid the sandboxed program has on the host."""
    return SANDBOX_ID if drops_root() else os.geteuid()


def system_tool(name: str) -> str | None:
    """The program `name` from the system's directories only (never a PATH entry), or None."""
    return shutil.which(name, path=SYSTEM_PATH)


def setpriv() -> str | None:
    """util-linux `setpriv`, from the system's directories, or None."""
    return system_tool("setpriv")


def privilege_drop() -> list[str]:
    """The command prefix that runs bubblewrap unprivileged when we are root (else nothing)."""
    if not drops_root():
        return []
    return [setpriv() or "/usr/bin/setpriv", f"--reuid={SANDBOX_ID}", f"--regid={SANDBOX_ID}",
            "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]


def host_ids(pid: int) -> tuple[set[int], set[int]] | None:
    """The real, effective, saved and file-system uids of `pid` as the host sees them, and
    its gids of the same four kinds together with its supplementary groups (from
    /proc/<pid>/status), or None when the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return ({int(uid) for uid in fields["Uid"].split()},
            {int(gid) for gid in (fields["Gid"] + " " + fields.get("Groups", "")).split()})
