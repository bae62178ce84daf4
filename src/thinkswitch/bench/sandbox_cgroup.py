"""A pids cgroup per sandbox run, for when we run as root.

bubblewrap maps the sandbox's uid 65534 to the caller's uid. For an ordinary user the kernel
enforces RLIMIT_NPROC on that uid; for root it does not (tasks of the host's root user are
exempt, namespace or not), so as root a fork bomb is bounded by a `pids` cgroup instead: a
fresh child of our own cgroup in the pids hierarchy (cgroup v1 `pids` or v2 with the `pids`
controller), with `pids.max` set, that bubblewrap joins before it starts anything. The cgroup
also lists every task of the run, so the end of the run can kill them all and wait for none to
remain before removing it.

`PidsCgroup.create` returns None where no writable pids hierarchy exists; the sandbox then runs
without the bound and says so in `describe_isolation`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
EMPTY_WAIT_S = 2.0


def _pids_hierarchy() -> tuple[Path, str] | None:
    """(mount point of the pids hierarchy, our cgroup path in it), or None."""
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
        if kind == "cgroup" and "pids" in options:
            own = next((p for c, p in ours.items() if "pids" in c.split(",")), None)
            if own is not None:
                return mount_point, own
        if kind == "cgroup2" and "" in ours:
            with contextlib.suppress(OSError):
                if "pids" in (mount_point / "cgroup.controllers").read_text().split():
                    return mount_point, ours[""]
    return None


@dataclass(frozen=True, slots=True)
class PidsCgroup:
    """One run's cgroup; `procs_fd` is open for writing so a child can join it before exec."""

    path: Path
    procs_fd: int

    @staticmethod
    def available() -> bool:
        """Whether runs here get a pids cgroup (root, with a pids hierarchy)."""
        return os.geteuid() == 0 and _pids_hierarchy() is not None

    @classmethod
    def create(cls, max_tasks: int) -> PidsCgroup | None:
        """A new cgroup allowing `max_tasks` tasks, or None when pids cgroups are not ours."""
        if os.geteuid() != 0:
            return None
        found = _pids_hierarchy()
        if found is None:
            return None
        mount_point, own = found
        path = mount_point / own.lstrip("/") / f"thinkswitch-sandbox-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except OSError:
            return None
        try:
            (path / "pids.max").write_text(str(max_tasks), encoding="ascii")
            procs_fd = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path, procs_fd)

    def join(self) -> None:
        """Move the calling process into the cgroup (called in the child before exec)."""
        os.write(self.procs_fd, b"0")

    def tasks(self) -> list[int]:
        try:
            text = (self.path / "cgroup.procs").read_text(encoding="ascii")
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def destroy(self) -> None:
        """Kill every task left, wait (bounded) until none remains, remove the cgroup."""
        os.close(self.procs_fd)
        deadline = time.monotonic() + EMPTY_WAIT_S
        while True:
            for pid in self.tasks():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.002)
