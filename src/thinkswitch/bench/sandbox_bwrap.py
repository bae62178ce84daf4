"""The bubblewrap command line that jails one sandboxed program.

What the program gets (nothing else of the host is mounted):
- a new user, PID, mount, network, IPC, UTS and cgroup namespace (`--unshare-all`, and
  `--unshare-user` so it is never skipped; `--disable-userns`: no nested user namespaces, also
  where there is no seccomp filter), uid and gid 65534 inside, every capability dropped,
  its own session (`--new-session`: no TIOCSTI into our terminal), killed when the process that
  started bubblewrap dies (`--die-with-parent`);
- read-only: the interpreter binary (Debian's `/usr/bin/python3`, see `sandbox_identity`), its
  standard library, and the directories of the shared libraries it links (found with `ldd`),
  at their own paths, with the symbolic links on the way (`/lib64 -> usr/lib64`) recreated. The
  interpreter's own site-packages, where it lies inside those, is covered with an empty
  read-only tmpfs, and the interpreter runs with `-S`, so no installed package (ours, the
  venv's, Debian's) is reachable: the code suites need only the standard library;
- a fresh `/proc` of its own PID namespace (it sees its own processes only), a minimal `/dev`,
  and a private tmpfs of `WORK_DIR_BYTES` as its working directory, HOME and TMPDIR;
- the seccomp filter of `sandbox_seccomp` (`--seccomp FD`), where one exists for the machine.

As root, the command starts with `setpriv` (`sandbox_identity.privilege_drop`): bubblewrap, and
so the program, is uid/gid 65534 on the host, not root. `sandbox_probe` checks, once per
process, that all of this runs here.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from thinkswitch.bench.sandbox_identity import (
    SANDBOX_ID,
    interpreter,
    interpreter_paths,
    privilege_drop,
    system_tool,
)

WORK_DIR = "/sandbox"
WORK_DIR_BYTES = 64 * 1024 * 1024
INTERPRETER_FLAGS = ("-I", "-S", "-B")
PROBE_TIMEOUT_S = 20.0
_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def _linked_libraries(binary: Path) -> list[str]:
    """The absolute paths `ldd` prints for `binary` (the loader included)."""
    ldd = system_tool("ldd")
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
    """The bwrap arguments that mount the interpreter, its stdlib and its libraries.
    Raises OSError when the interpreter cannot say where its standard library is."""
    binary = interpreter()
    symlinks: dict[str, str] = {}
    directories = {str(binary)}
    paths = interpreter_paths()
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
            python_arguments: Sequence[str], extra_options: Sequence[str] = ()) -> list[str]:
    """The full command: the privilege drop (as root), bwrap, its options, then the interpreter
    with `python_arguments`. bwrap copies the program from `program_fd` to `prog.py`, loads the
    filter from `seccomp_fd`, and writes the host PID of the sandbox's init to `info_fd`
    (JSON), so the end of a run can wait for it. `extra_options` go after ours (the tests use
    them to bind host files into view)."""
    bwrap = system_tool("bwrap") or "/usr/bin/bwrap"
    info = ["--info-fd", str(info_fd)] if info_fd is not None else []
    options = [
        *privilege_drop(), bwrap, *info,
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
    return [*options, *extra_options, str(interpreter()), *INTERPRETER_FLAGS, *python_arguments]
