"""The bubblewrap command line that jails one sandboxed program.

What the program gets (nothing else of the host is mounted):
- a new user, PID, mount, network, IPC, UTS and cgroup namespace (`--unshare-all`, and
  `--unshare-user` so it is never skipped; `--disable-userns`: no nested user namespaces, also
  where there is no seccomp filter), uid and gid 65534 inside, every capability dropped,
  its own session (`--new-session`: no TIOCSTI into our terminal), killed when the process that
  started bubblewrap dies (`--die-with-parent`);
- read-only: the interpreter binary, its standard library, and the directories of the shared
  libraries it links (found with `ldd`), at their own paths, with the symbolic links on the way
  (`/lib64 -> usr/lib64`) recreated. The interpreter's own site-packages is covered with an empty
  read-only tmpfs, and the interpreter runs with `-S`, so no installed package (ours, the venv's)
  is reachable: the code suites need only the standard library;
- a fresh `/proc` of its own PID namespace (it sees its own processes only), a minimal `/dev`,
  and a private tmpfs of `WORK_DIR_BYTES` as its working directory, HOME and TMPDIR;
- the seccomp filter of `sandbox_seccomp` (`--seccomp FD`), where one exists for the machine.

`bwrap_problem` says, once per process, why bubblewrap cannot run here (not installed, user
namespaces disabled, ...), or None when it can: it runs a real sandbox with `python -c pass`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from thinkswitch.bench.sandbox_seccomp import filter_program

SANDBOX_ID = 65534
WORK_DIR = "/sandbox"
WORK_DIR_BYTES = 64 * 1024 * 1024
INTERPRETER_FLAGS = ("-I", "-S", "-B")
PROBE_TIMEOUT_S = 20.0
_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def interpreter() -> Path:
    """The real interpreter binary behind the venv's `python` (a venv is not mounted)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


def _linked_libraries(binary: Path) -> list[str]:
    """The absolute paths `ldd` prints for `binary` (the loader included)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        listing = subprocess.run(
            [ldd, str(binary)], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [match.group(1) for match in map(_LDD_PATH.search, listing.splitlines()) if match]


def _mirror(path: str, symlinks: dict[str, str]) -> str:
    """Resolve `path` one component at a time, noting each symbolic link met (link -> target)
    so the sandbox can recreate it; return the real path."""
    real = "/"
    parts = [part for part in path.split("/") if part]
    hops = 0
    while parts and hops < 40:
        candidate = os.path.join(real, parts.pop(0))
        if os.path.islink(candidate):
            target = os.readlink(candidate)
            symlinks[candidate] = target
            base = "/" if target.startswith("/") else real
            parts = [part for part in os.path.join(base, target).split("/") if part] + parts
            real, hops = "/", hops + 1
        else:
            real = candidate
    return os.path.normpath(real)


@functools.cache
def mounts() -> tuple[str, ...]:
    """The bwrap arguments that mount the interpreter, its stdlib and its libraries."""
    binary = interpreter()
    symlinks: dict[str, str] = {}
    directories = {str(binary)}
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
    for name in ("stdlib", "platstdlib"):
        directories.add(_mirror(paths[name], symlinks))
    for library in _linked_libraries(binary):
        directories.add(os.path.dirname(_mirror(library, symlinks)))
    arguments: list[str] = []
    for directory in sorted(directories):
        arguments += ["--ro-bind", directory, directory]
    for link, target in sorted(symlinks.items()):
        if not any(link == d or link.startswith(d + "/") for d in directories):
            arguments += ["--symlink", target, link]
    sites = {_mirror(paths[name], {}) for name in ("purelib", "platlib")}
    for site in sorted(sites):
        if os.path.isdir(site) and any(site.startswith(d + "/") for d in directories):
            arguments += ["--tmpfs", site, "--remount-ro", site]
    return tuple(arguments)


def command(program_fd: int, seccomp_fd: int | None, info_fd: int | None,
            python_arguments: Sequence[str]) -> list[str]:
    """The full command: bwrap, its options, then the interpreter with `python_arguments`.
    bwrap copies the program from `program_fd` to `prog.py`, loads the filter from
    `seccomp_fd`, and writes the host PID of the sandbox's init to `info_fd` (JSON), so the
    end of a run can wait for it."""
    bwrap = shutil.which("bwrap") or "bwrap"
    options = [bwrap] + (["--info-fd", str(info_fd)] if info_fd is not None else []) + [
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--uid", str(SANDBOX_ID), "--gid", str(SANDBOX_ID),
        "--cap-drop", "ALL",
        "--die-with-parent", "--new-session",
        "--hostname", "sandbox",
        *mounts(),
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(WORK_DIR_BYTES), "--tmpfs", WORK_DIR,
        "--file", str(program_fd), f"{WORK_DIR}/prog.py",
        "--chdir", WORK_DIR,
    ]
    if seccomp_fd is not None:
        options += ["--seccomp", str(seccomp_fd)]
    return [*options, str(interpreter()), *INTERPRETER_FLAGS, *python_arguments]


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox programs here, in one line, or None when it can.

    Runs the real command line (every option, the seccomp filter) on a program that checks it
    is not root, so an older bwrap that lacks an option is caught here, not at the first item.
    """
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    program_fd = os.memfd_create("probe", 0)
    seccomp = filter_program()
    seccomp_fd = os.memfd_create("seccomp", 0) if seccomp is not None else None
    try:
        if seccomp is not None and seccomp_fd is not None:
            os.write(seccomp_fd, seccomp)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
        probe = command(program_fd, seccomp_fd, None,
                        ["-c", "import os; assert os.getuid() != 0"])
        passed = tuple(fd for fd in (program_fd, seccomp_fd) if fd is not None)
        run = subprocess.run(probe, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL, pass_fds=passed, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"bubblewrap cannot start: {error}"
    finally:
        for fd in (program_fd, seccomp_fd):
            if fd is not None:
                os.close(fd)
    if run.returncode != 0:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {run.returncode}"
        return f"bubblewrap cannot create a sandbox here ({reason}); are user namespaces enabled?"
    return None
