"""The guard that runs inside the sandbox process, then runs the untrusted program.

`thinkswitch.bench.sandbox` passes the text of this file to `python -I -B -c`, so it must need
nothing but the standard library and must do nothing when merely imported. Inside the sandbox
it reads `prog.py` from the working directory (the sandbox's temporary directory), installs an
audit hook (PEP 578) and executes the program as `__main__`.

The hook refuses, with `PermissionError`:
- creating processes (fork, exec, spawn, posix_spawn, system, subprocess, hence multiprocessing),
  sending signals, calling native code through ctypes (loading a library, as numpy does at
  import, is allowed; looking up or calling a function in it is not), and changing resource
  limits;
- opening sockets to anywhere (connect, bind, sendto, sendmsg), a Python-level copy of what the
  network namespace does at the OS level, for when `unshare` is not available;
- opening a file for writing, creating, removing, renaming, linking, chmod/chown/truncate/utime
  of any path that does not resolve (symlinks followed) inside the working directory.

This is defence in depth, not a jail: audit hooks cannot be removed from Python, but a program
that is determined enough (a C extension already loaded, interpreter internals) can get around
Python-level checks. The operating-system layers in `sandbox.py` (namespaces, resource limits,
the process group killed at the end) are what bound the damage; the hook makes the ordinary
ways of doing harm (a fork bomb, a write to the user's files) fail at once and visibly.
"""

from __future__ import annotations

import builtins
import os
import sys
import types
from collections.abc import Callable, Mapping
from types import MappingProxyType

PROGRAM_FILE = "prog.py"

# Paths a program may always open for writing: they are its own output or a sink.
ALWAYS_WRITABLE = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

DENIED_EVENTS = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.spawn",
        "os.posix_spawn",
        "os.system",
        "subprocess.Popen",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.call_function",
        "ctypes.cdata",
        "resource.setrlimit",
        "resource.prlimit",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
    }
)

# Audit events that change the file system: event -> ((path arg index, dir_fd arg index), ...);
# a dir_fd index of -1 means the event has no dir_fd argument.
PATH_EVENTS: Mapping[str, tuple[tuple[int, int], ...]] = MappingProxyType(
    {
        "open": ((0, -1),),
        "os.remove": ((0, 1),),
        "os.rmdir": ((0, 1),),
        "os.mkdir": ((0, 2),),
        "os.rename": ((0, 2), (1, 3)),
        "os.link": ((0, 2), (1, 3)),
        "os.symlink": ((1, 2),),
        "os.chmod": ((0, 2),),
        "os.chown": ((0, 3),),
        "os.truncate": ((0, -1),),
        "os.utime": ((0, 3),),
        "shutil.rmtree": ((0, 1),),
    }
)

AuditHook = Callable[[str, tuple[object, ...]], None]


def make_hook(root: str) -> AuditHook:
    """The audit hook that confines changes of the file system to `root` (a resolved path).

    Everything it calls is bound here, so a program that rebinds names in modules (`os.path`,
    this module's globals) does not change what the hook checks.
    """
    realpath, join, readlink, getcwd = os.path.realpath, os.path.join, os.readlink, os.getcwd
    fspath, fsdecode, sep = os.fspath, os.fsdecode, os.sep

    def resolve(path: object, dir_fd: object) -> str:
        if isinstance(path, int):
            return readlink(f"/proc/self/fd/{path}")
        if not isinstance(path, str | bytes | os.PathLike):
            return ""
        text = fsdecode(fspath(path))
        if text in ALWAYS_WRITABLE:
            return root
        # A negative dir_fd (AT_FDCWD, or -1 for "not given") means the working directory.
        at_fd = isinstance(dir_fd, int) and dir_fd >= 0
        base = readlink(f"/proc/self/fd/{dir_fd}") if at_fd else getcwd()
        return realpath(join(base, text))

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in DENIED_EVENTS:
            raise PermissionError(f"sandbox: {event} is not allowed")
        spots = PATH_EVENTS.get(event)
        if spots is None:
            return
        if event == "open":
            flags = args[2]
            # Wrapping an already open descriptor, or reading, changes nothing.
            if isinstance(args[0], int) or not (isinstance(flags, int) and flags & WRITE_FLAGS):
                return
        for path_at, fd_at in spots:
            dir_fd = args[fd_at] if fd_at >= 0 else None
            try:
                target = resolve(args[path_at], dir_fd)
            except (OSError, TypeError, ValueError):
                target = ""
            if target != root and not target.startswith(root + sep):
                raise PermissionError(
                    f"sandbox: {event} outside the sandbox directory: {args[path_at]!r}"
                )

    return hook


def main() -> None:
    """Read the program, install the hook, run the program as `__main__`."""
    root = os.path.realpath(os.getcwd())
    with open(PROGRAM_FILE, encoding="utf-8") as handle:
        source = handle.read()
    # dont_inherit: this file's `from __future__` imports must not leak into the program.
    code = compile(source, PROGRAM_FILE, "exec", dont_inherit=True)
    sys.addaudithook(make_hook(root))
    module = types.ModuleType("__main__")
    module.__file__ = PROGRAM_FILE
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    sys.argv[:] = [PROGRAM_FILE]
    exec(code, module.__dict__)


if __name__ == "__main__":
    main()
