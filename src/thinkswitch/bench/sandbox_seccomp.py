"""The seccomp filter bubblewrap loads before it runs a sandboxed program (`bwrap --seccomp FD`).

A classic BPF program, assembled here from a table (no libseccomp binding is needed: the Python
bindings are not on PyPI as wheels, and Debian's `python3-seccomp` belongs to the system
interpreter, not to the venv's). It is a deny list, like Docker's default profile turned around:
the namespaces already take away the network, other processes and the host's files, so the
filter closes the kernel interfaces a test program never needs and that have a history of
privilege escalations, or that would undo the namespaces:

- new namespaces and mounts (unshare, setns, clone with a CLONE_NEW* flag, mount and the new
  mount API, pivot_root, chroot), kernel keyrings, BPF, perf events, userfaultfd, io_uring;
- reading or writing other processes' memory (ptrace, process_vm_*), handle-based opens that
  bypass paths (open_by_handle_at), kernel modules, kexec, reboot, swap, clocks, accounting;
- the x32 syscall ABI (numbers with bit 30 set), and every other architecture: a process that
  switches to the 32-bit ABI is killed, since the numbers in the table would not apply.

- new processes: fork, vfork, and clone without CLONE_THREAD. A test program needs no child
  process (the audit hook refuses them too); threads are allowed. This bounds a fork bomb to
  nothing even where no pids cgroup or RLIMIT_NPROC applies (root without a pids hierarchy).

`clone3` fails with ENOSYS, so the C library falls back to `clone`, whose flags a classic BPF
filter can inspect (clone3 passes them in memory, out of the filter's reach).

Only x86-64 has a table; elsewhere `filter_program` returns None and the sandbox runs without
a filter (namespaces, capabilities and limits still apply), which `describe_isolation` reports.
"""

from __future__ import annotations

import errno
import platform
import struct
from collections.abc import Iterable

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JUMP_AT_LEAST = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JUMP_ANY_BIT = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000

# Offsets into struct seccomp_data: nr (int), arch (u32), instruction_pointer, args[6] (u64).
NR_OFFSET = 0
ARCH_OFFSET = 4
ARG0_LOW_OFFSET = 16

CLONE_SYSCALL = 56
CLONE3_SYSCALL = 435
CLONE_THREAD = 0x00010000
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
NEW_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 \
    | 0x20000000 | 0x40000000 | 0x00000080

#: x86-64 system call numbers that fail with EPERM inside the sandbox.
DENIED_X86_64: dict[str, int] = {
    "fork": 57,
    "vfork": 58,
    "ptrace": 101,
    "syslog": 103,
    "personality": 135,
    "vhangup": 153,
    "pivot_root": 155,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}


def _op(code: int, k: int, jump_true: int = 0, jump_false: int = 0) -> bytes:
    """One `struct sock_filter` (u16 code, u8 jt, u8 jf, u32 k), native byte order."""
    return struct.pack("=HBBI", code, jump_true, jump_false, k)


def _deny(numbers: Iterable[int], action: int) -> list[bytes]:
    """For each number: if the syscall is it, return `action`; else fall through."""
    ops = []
    for number in numbers:
        ops += [_op(JUMP_EQUAL, number, 0, 1), _op(RETURN, action)]
    return ops


def x86_64_program() -> bytes:
    """The filter for x86-64, as the bytes bubblewrap reads from its `--seccomp` descriptor."""
    eperm = RET_ERRNO | errno.EPERM
    ops = [
        _op(LOAD_WORD, ARCH_OFFSET),
        _op(JUMP_EQUAL, AUDIT_ARCH_X86_64, 1, 0),
        _op(RETURN, RET_KILL_PROCESS),
        _op(LOAD_WORD, NR_OFFSET),
        _op(JUMP_AT_LEAST, X32_SYSCALL_BIT, 0, 1),
        _op(RETURN, eperm),
        *_deny(DENIED_X86_64.values(), eperm),
        *_deny([CLONE3_SYSCALL], RET_ERRNO | errno.ENOSYS),
        # clone: a new thread goes on; a new process or namespace fails with EPERM.
        _op(JUMP_EQUAL, CLONE_SYSCALL, 0, 5),
        _op(LOAD_WORD, ARG0_LOW_OFFSET),
        _op(JUMP_ANY_BIT, NEW_NAMESPACE_FLAGS, 2, 0),
        _op(JUMP_ANY_BIT, CLONE_THREAD, 0, 1),
        _op(RETURN, RET_ALLOW),
        _op(RETURN, eperm),
        _op(RETURN, RET_ALLOW),
    ]
    return b"".join(ops)


def filter_program() -> bytes | None:
    """The compiled filter for this machine, or None where there is no table for it."""
    if platform.machine() != "x86_64":
        return None
    return x86_64_program()
