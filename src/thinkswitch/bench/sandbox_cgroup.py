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

A controller counts as applied only when its limit file (`pids.max`, `memory.limit_in_bytes`
or `memory.max`) was written and reads back the value; only the swap files are optional (swap
accounting may be off). In cgroup v2 a controller limits our children only when our own
cgroup's `cgroup.subtree_control` enables it. `RunCgroups.create` returns None where nothing
could be applied (not root, or no controller is ours); the launcher then bounds the tasks with
RLIMIT_NPROC, and `describe_isolation` reports what a trial run's cgroups actually applied.

A caller killed with SIGKILL cannot remove its cgroups: each creation first removes our empty
siblings older than `STALE_AFTER_S` (rmdir refuses a cgroup that still has tasks). The end of a
run kills its tasks with cgroup v2's `cgroup.kill` where it exists, else each listed pid through
a pidfd, after checking through `/proc/<pid>/cgroup` that the pidfd's process is still in the
cgroup: a pid read from `cgroup.procs` may have been reused by another process since.
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
STALE_AFTER_S = 300.0
NAME_PREFIX = "thinkswitch-sandbox-"
CONTROLLERS = ("pids", "memory")

#: (cgroup version, controller) -> the files that set its limit, in order, and which limit:
#: "tasks" or "memory" (bytes), or a fixed value. The first file is the limit itself and must
#: take; the others (swap, which may not stretch the memory) are optional.
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
            found = Hierarchy(mount_point, kind, ours[""])
            with contextlib.suppress(OSError):
                if controller in (found.parent / "cgroup.subtree_control").read_text().split():
                    return found
    return None


def remove_stale(parent: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove our empty cgroups under `parent` older than `older_than_s` (left by a caller
    killed before it could); return them. A cgroup with tasks, or a new one, is left alone."""
    removed = []
    now = time.time()
    for path in parent.glob(f"{NAME_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > older_than_s:
                path.rmdir()
                removed.append(path)
    return removed


def _apply_limit(path: Path, kind: str, controller: str, limits: Mapping[str, int]) -> bool:
    """Write the controller's limit files; whether its own limit took (written, read back)."""
    (name, which), *optional = LIMIT_FILES[(kind, controller)]
    value = str(limits.get(which, which))
    try:
        (path / name).write_text(value, encoding="ascii")
        if (path / name).read_text(encoding="ascii").strip() != value:
            return False
    except OSError:
        return False
    for name, which in optional:
        with contextlib.suppress(OSError):
            (path / name).write_text(str(limits.get(which, which)), encoding="ascii")
    return True


@dataclass(frozen=True, slots=True)
class Cgroup:
    """One cgroup directory and the controllers whose limits it applies; `procs_fd` is open
    for writing so a child can join before exec."""

    path: Path
    found: Hierarchy
    controllers: frozenset[str]
    procs_fd: int

    @classmethod
    def create(cls, found: Hierarchy, controllers: list[str],
               limits: Mapping[str, int]) -> Cgroup | None:
        remove_stale(found.parent)
        path = found.parent / f"{NAME_PREFIX}{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except OSError:
            return None
        applied = frozenset(c for c in controllers if _apply_limit(path, found.kind, c, limits))
        try:
            if not applied:
                raise OSError("no limit took")
            procs_fd = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path, found, applied, procs_fd)

    def tasks(self) -> list[int]:
        try:
            text = (self.path / "cgroup.procs").read_text(encoding="ascii")
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def holds(self, pid: int) -> bool:
        """Whether the process `pid` is in this cgroup now (from /proc/<pid>/cgroup)."""
        relative = "/" + str(self.path.relative_to(self.found.mount_point))
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8").splitlines()
        except OSError:
            return False
        for line in lines:
            _, controllers, path = line.split(":", 2)
            names = controllers.split(",")
            mine = controllers == "" if self.found.kind == "cgroup2" else bool(
                self.controllers.intersection(names))
            if mine and path == relative:
                return True
        return False

    def kill_listed(self) -> None:
        """SIGKILL each listed task through a pidfd, once the pidfd's process is known to be
        in the cgroup: the pidfd pins the process, so a reused pid is never signalled."""
        for pid in self.tasks():
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                if self.holds(pid):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            finally:
                os.close(pidfd)

    def kill_tasks(self) -> None:
        """Kill every task: `cgroup.kill` (v2, Linux 5.14+) where it exists, else one by one."""
        try:
            (self.path / "cgroup.kill").write_text("1", encoding="ascii")
        except OSError:
            self.kill_listed()


@dataclass(frozen=True, slots=True)
class RunCgroups:
    """The cgroups of one run and the controllers whose limits they applied."""

    groups: tuple[Cgroup, ...]
    controllers: frozenset[str]

    @classmethod
    def available(cls) -> frozenset[str]:
        """The controllers a run here gets a limit from, found by creating (then removing) the
        cgroups of a trial run: empty when not root."""
        trial = cls.create(1, 64 * 1024 * 1024)
        if trial is None:
            return frozenset()
        trial.destroy()
        return trial.controllers

    @classmethod
    def create(cls, max_tasks: int, memory_bytes: int) -> RunCgroups | None:
        """New cgroups allowing `max_tasks` tasks and `memory_bytes` of memory, or None when no
        controller's limit took. Controllers sharing a hierarchy (v2) share one cgroup."""
        if os.geteuid() != 0:
            return None
        by_place: dict[Hierarchy, list[str]] = {}
        for controller in CONTROLLERS:
            found = hierarchy(controller)
            if found is not None:
                by_place.setdefault(found, []).append(controller)
        limits = {"tasks": max_tasks, "memory": memory_bytes}
        groups = [group for found, controllers in by_place.items()
                  if (group := Cgroup.create(found, controllers, limits)) is not None]
        applied = frozenset[str]().union(*(group.controllers for group in groups))
        return cls(tuple(groups), applied) if groups else None

    def paths(self) -> tuple[Path, ...]:
        return tuple(group.path for group in self.groups)

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
                group.kill_tasks()
                try:
                    group.path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
