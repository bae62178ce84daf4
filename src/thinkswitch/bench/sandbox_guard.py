"""The guard that runs inside the sandbox process, then runs the untrusted program.

`thinkswitch.bench.sandbox` passes the text of this file to `python -c` inside bubblewrap (or,
with `--unsafe-no-sandbox`, in a plain child process), so it must need nothing but the standard
library and must do nothing when merely imported. It reads `prog.py` from the working
directory, installs an audit hook (PEP 578), executes the program as `__main__`, and, only if
the program returned normally, runs the epilogue that hands the run's nonce back (see `main`).

The hook refuses, with `PermissionError`:
- creating processes (fork, exec, spawn, posix_spawn, system, subprocess, and importing
  `_posixsubprocess`, whose `fork_exec` raises no audit event), sending signals, ctypes
  (importing `_ctypes`; also looking up or calling a function), changing resource limits;
- opening sockets to anywhere (connect, bind, sendto, sendmsg);
- `gc.get_objects` / `get_referrers` / `get_referents`, which would hand the program the hook;
- opening a file for writing, creating, removing, renaming, linking, chmod/chown/truncate/utime
  of any path that does not resolve (symlinks followed) inside the working directory.

This is defence in depth, not a jail: a program determined enough (interpreter internals)
can get around Python-level checks. The operating-system layers in `sandbox.py` (bubblewrap,
seccomp, resource limits) are the boundary; the hook makes the ordinary ways of doing harm
fail at once and visibly.
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
        "sqlite3.connect": ((0, -1),),
    }
)

# Introspection that reaches the hook's function object or the guard's frames from the program.
DENIED_INTROSPECTION = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
# Native modules that start processes or call C without raising an audit event of their own:
# `_posixsubprocess.fork_exec` (subprocess, multiprocessing's spawn) and ctypes.
DENIED_IMPORTS = frozenset({"_posixsubprocess", "_ctypes"})
NONCE_BYTES = 64

AuditHook = Callable[[str, tuple[object, ...]], None]


def make_hook(root: str, private_fds: frozenset[int]) -> AuditHook:
    """The audit hook that confines changes of the file system to `root` (a resolved path).

    Everything it reads is bound here, in its closure, not looked up in module globals or
    builtins at call time, so a program that rebinds names (this module's globals through
    `sys._getframe(1).f_globals`, `builtins.isinstance`, `os.path`) does not change what it
    checks; the gc functions that would hand the program the hook itself are refused.
    `private_fds` are the grading descriptors, which the program may not wrap in a file.
    """
    realpath, join, readlink, getcwd = os.path.realpath, os.path.join, os.readlink, os.getcwd
    fspath, fsdecode, sep = os.fspath, os.fsdecode, os.sep
    is_instance, text_types, denied_error = isinstance, (str, bytes, os.PathLike), PermissionError
    denied, denied_imports = DENIED_EVENTS | DENIED_INTROSPECTION, DENIED_IMPORTS
    # Immutable values only: the hook's frame (and so its closure's values) is reachable from
    # the traceback of every PermissionError it raises.
    path_events, always_writable, write_flags = PATH_EVENTS, ALWAYS_WRITABLE, WRITE_FLAGS

    def resolve(path: object, dir_fd: object) -> str:
        if is_instance(path, int):
            return readlink(f"/proc/self/fd/{path}")
        if not is_instance(path, text_types):
            return ""
        text = fsdecode(fspath(path))  # type: ignore[call-overload]
        if text in always_writable:
            return root
        # A negative dir_fd (AT_FDCWD, or -1 for "not given") means the working directory.
        at_fd = is_instance(dir_fd, int) and dir_fd >= 0  # type: ignore[operator]
        base = readlink(f"/proc/self/fd/{dir_fd}") if at_fd else getcwd()
        return realpath(join(base, text))

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in denied:
            raise denied_error(f"sandbox: {event} is not allowed")
        if event == "import" and args[0] in denied_imports:
            raise denied_error(f"sandbox: import of {args[0]} is not allowed")
        spots = path_events.get(event)
        if spots is None:
            return
        if event == "open":
            if args[0] in private_fds:
                raise denied_error("sandbox: the grading descriptors are not the program's")
            flags = args[2]
            # Wrapping an already open descriptor, or reading, changes nothing.
            writes = is_instance(flags, int) and flags & write_flags  # type: ignore[operator]
            if is_instance(args[0], int) or not writes:
                return
        for path_at, fd_at in spots:
            dir_fd = args[fd_at] if fd_at >= 0 else None
            try:
                target = resolve(args[path_at], dir_fd)
            except (OSError, TypeError, ValueError):
                target = ""
            if target != root and not target.startswith(root + sep):
                raise denied_error(
                    f"sandbox: {event} outside the sandbox directory: {args[path_at]!r}"
                )

    return hook


def main() -> None:
    """Read the program, install the hook, run the program as `__main__`, then the epilogue.

    Arguments: the descriptor the run's nonce can be read from, the descriptor the verdict is
    written to, and `hook` or `no-hook`. The epilogue runs only when the program (the answer,
    then the tests) returned normally: it copies the nonce to the verdict descriptor, which is
    how the harness knows the tests ran to the end. The nonce is in no file, argument or
    variable the program can read while it runs; it is read from its pipe only here.
    """
    nonce_fd, verdict_fd, layer = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    read, write = os.read, os.write
    root = os.path.realpath(os.getcwd())
    with open(PROGRAM_FILE, encoding="utf-8") as handle:
        source = handle.read()
    # dont_inherit: this file's `from __future__` imports must not leak into the program.
    code = compile(source, PROGRAM_FILE, "exec", dont_inherit=True)
    if layer == "hook":
        sys.addaudithook(make_hook(root, frozenset({nonce_fd, verdict_fd})))
    module = types.ModuleType("__main__")
    module.__file__ = PROGRAM_FILE
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    sys.argv[:] = [PROGRAM_FILE]
    exec(code, module.__dict__)
    write(verdict_fd, read(nonce_fd, NONCE_BYTES))


if __name__ == "__main__":
    main()
