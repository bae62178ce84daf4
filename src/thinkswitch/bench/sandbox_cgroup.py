"""The cgroups of one sandbox run, for when we run as root: a task bound and a memory bound.

As root, bubblewrap is started as uid 65534 (`sandbox_identity`), a uid every concurrent run
shares, so RLIMIT_NPROC (a count per uid) would bound one run by the others: a fork or thread
bomb is bounded by a `pids` cgroup of the run's own instead. A `memory` cgroup bounds the run's
memory as a whole: every task's pages, kernel memory, and the files it writes to its tmpfs,
which RLIMIT_AS (per process, address space only) does not count. Each is a fresh child of our
own cgroup in that controller's hierarchy (cgroup v1, or v2 where the controller is enabled),
created and limited by us as root; the launcher joins them in `preexec_fn`, before dropping
root, so the program cannot leave them. They also list every task of the run, so the end of the
run can kill them all and wait for none to remain before removing them.

`RunCgroups.create` returns None where no writable hierarchy exists (not root, or neither
controller is ours); a missing controller just means that bound is absent, which
`describe_isolation` reports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

EMPTY_WAIT_S = 2.0
NAME_PREFIX = "thinkswitch-sandbox-"
CONTROLLERS = ("pids", "memory")

#: (cgroup version, controller) -> the files that set its limit, in order, and which limit:
#: "tasks" or "memory" (bytes), or a fixed value. Swap is not allowed to stretch the memory.
LIMIT_FILES: Mapping[tuple[str, str], tuple[tuple[str, str], ...]] = MappingProxyType({
    ("cgroup", "pids"): (("pids.max", "tasks"),),
    ("cgroup2", "pids"): (("pids.max", "tasks"),),
    ("cgroup", "memory"): (("memory.limit_in_bytes", "memory"),
                           ("memory.memsw.limit_in_bytes", "memory")),
    ("cgroup2", "memory"): (("memory.max", "memory"), ("memory.swap.max", "0")),
})


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Where a controller's hierarchy is mounted, its version, and our cgroup's path in it."""

    mount_point: Path
    kind: str
    own: str

    @property
    def parent(self) -> Path:
        return self.mount_point / self.own.lstrip("/")


def hierarchy(controller: str) -> Hierarchy | None:
    """The hierarchy in which `controller` can limit our children, or None."""
    try:
        memberships = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
        mounts = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    ours = {}
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        ours[controllers] = path
    for line in mounts:
        fields = line.split()
        separator = fields.index("-")
        kind, options = fields[separator + 1], fields[separator + 3].split(",")
        mount_point = Path(fields[4])
        if kind == "cgroup" and controller in options:
            own = next((p for c, p in ours.items() if controller in c.split(",")), None)
            if own is not None:
                return Hierarchy(mount_point, kind, own)
        if kind == "cgroup2" and "" in ours:
            with contextlib.suppress(OSError):
                if controller in (mount_point / "cgroup.controllers").read_text().split():
                    return Hierarchy(mount_point, kind, ours[""])
    return None


@dataclass(frozen=True, slots=True)
class Cgroup:
    """One cgroup directory; `procs_fd` is open for writing so a child can join before exec."""

    path: Path
    procs_fd: int

    @classmethod
    def create(cls, found: Hierarchy, controllers: list[str],
               limits: Mapping[str, int]) -> Cgroup | None:
        path = found.parent / f"{NAME_PREFIX}{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except OSError:
            return None
        try:
            for controller in controllers:
                for name, limit in LIMIT_FILES[(found.kind, controller)]:
                    value = str(limits.get(limit, limit))
                    if (path / name).exists():
                        (path / name).write_text(value, encoding="ascii")
            procs_fd = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path, procs_fd)

    def tasks(self) -> list[int]:
        try:
            text = (self.path / "cgroup.procs").read_text(encoding="ascii")
        except OSError:
            return []
        return [int(pid) for pid in text.split()]


@dataclass(frozen=True, slots=True)
class RunCgroups:
    """The cgroups of one run and the controllers they apply."""

    groups: tuple[Cgroup, ...]
    controllers: frozenset[str]

    @staticmethod
    def available() -> frozenset[str]:
        """The controllers runs here get a cgroup of (root only)."""
        if os.geteuid() != 0:
            return frozenset()
        return frozenset(c for c in CONTROLLERS if hierarchy(c) is not None)

    @classmethod
    def create(cls, max_tasks: int, memory_bytes: int) -> RunCgroups | None:
        """New cgroups allowing `max_tasks` tasks and `memory_bytes` of memory, or None when no
        controller is ours. Controllers sharing a hierarchy (v2) share one cgroup."""
        if os.geteuid() != 0:
            return None
        by_place: dict[Hierarchy, list[str]] = {}
        for controller in CONTROLLERS:
            found = hierarchy(controller)
            if found is not None:
                by_place.setdefault(found, []).append(controller)
        limits = {"tasks": max_tasks, "memory": memory_bytes}
        groups, applied = [], set()
        for found, controllers in by_place.items():
            group = Cgroup.create(found, controllers, limits)
            if group is not None:
                groups.append(group)
                applied.update(controllers)
        return cls(tuple(groups), frozenset(applied)) if groups else None

    def join(self) -> None:
        """Move the calling process into every cgroup (in the child, before exec, as root)."""
        for group in self.groups:
            os.write(group.procs_fd, b"0")

    def destroy(self) -> None:
        """Kill every task left, wait (bounded) until none remains, remove the cgroups."""
        for group in self.groups:
            os.close(group.procs_fd)
        deadline = time.monotonic() + EMPTY_WAIT_S
        for group in self.groups:
            while True:
                for pid in group.tasks():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    group.path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
