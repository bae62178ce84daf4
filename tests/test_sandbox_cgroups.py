"""The run cgroups as root: a bound is reported only when it took, a missing one falls back to
RLIMIT_NPROC, cgroups left by a killed caller are removed, and the end of a run signals only
processes that are in its cgroup."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import MappingProxyType

import pytest
from support.sandbox_cgroups import leftover, record_run_cgroups
from support.sandbox_required import require_cgroup, sandbox  # noqa: F401  (the fixture)

from thinkswitch.bench import sandbox_cgroup
from thinkswitch.bench.sandbox import MAX_TASKS, describe_isolation, resource_limits, run_python
from thinkswitch.bench.sandbox_cgroup import STALE_AFTER_S, Cgroup, RunCgroups, remove_stale

pytestmark = pytest.mark.usefixtures("sandbox")
MIB = 1024 * 1024


@pytest.fixture
def run_cgroups(monkeypatch: pytest.MonkeyPatch) -> list[RunCgroups]:
    """The cgroups this test's runs create (others' runs share the parent cgroup)."""
    return record_run_cgroups(monkeypatch)


@pytest.fixture
def no_pids_limit_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pids controller's limit file is one the kernel does not have, as on a hierarchy
    where the controller is mounted but not enabled for our children."""
    require_cgroup("pids", "a pids cgroup whose limit file is missing must not count")
    files = {key: ((("pids.absent", "tasks"),) if key[1] == "pids" else value)
             for key, value in sandbox_cgroup.LIMIT_FILES.items()}
    monkeypatch.setattr(sandbox_cgroup, "LIMIT_FILES", MappingProxyType(files))


@pytest.mark.usefixtures("no_pids_limit_file")
def test_a_controller_whose_limit_file_is_missing_is_not_applied_nor_reported(
    run_cgroups: list[RunCgroups],
) -> None:
    made = RunCgroups.create(MAX_TASKS, 300 * MIB)
    assert made is not None
    made.destroy()
    assert "pids" not in made.controllers
    assert describe_isolation()["process_bound"] == "RLIMIT_NPROC"
    assert leftover(run_cgroups) == []


@pytest.mark.usefixtures("no_pids_limit_file")
def test_root_without_a_pids_cgroup_falls_back_to_rlimit_nproc(
    run_cgroups: list[RunCgroups],
) -> None:
    """uid 65534 has no capabilities, so RLIMIT_NPROC binds it: the thread bomb stops at the
    margin. Small stacks and 2 GiB of address space, so RLIMIT_AS would allow all 200."""
    limits = dict(resource_limits(5.0, 512, RunCgroups.create(MAX_TASKS, 512 * MIB)))
    for made in run_cgroups:
        made.destroy()
    assert resource.RLIMIT_NPROC in limits
    result = run_python(textwrap.dedent("""
        import os, threading, time
        threading.stack_size(256 * 1024)
        started = 0
        try:
            while started < 200:
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                started += 1
        except RuntimeError:
            pass
        print('stopped after', started, flush=True)
        os._exit(0)
    """), timeout_s=5.0, memory_mb=2048, audit_hook=False)
    words = result.stdout_tail.split()
    assert words[:2] == ["stopped", "after"], result.stderr_tail
    assert 0 < int(words[2]) < MAX_TASKS
    assert leftover(run_cgroups) == []


def test_with_a_pids_cgroup_no_rlimit_nproc_is_needed(run_cgroups: list[RunCgroups]) -> None:
    require_cgroup("pids", "the pids cgroup bounds the run's tasks")
    made = RunCgroups.create(MAX_TASKS, 64 * MIB)
    assert made is not None
    try:
        assert resource.RLIMIT_NPROC not in dict(resource_limits(5.0, 64, made))
    finally:
        made.destroy()
    assert leftover(run_cgroups) == []


CREATE_AND_DIE = """
import sys, time
from thinkswitch.bench.sandbox_cgroup import RunCgroups
for _ in range(2):
    print(*RunCgroups.create(4, 64 * 1024 * 1024).paths(), flush=True)
time.sleep(60)
"""


def test_cgroups_left_by_a_killed_caller_are_removed_once_stale() -> None:
    require_cgroup("pids", "cgroups a SIGKILLed caller left behind")
    caller = subprocess.Popen([sys.executable, "-c", CREATE_AND_DIE], stdout=subprocess.PIPE,
                              text=True)
    assert caller.stdout is not None
    stale, fresh = (tuple(map(Path, caller.stdout.readline().split())) for _ in range(2))
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    try:
        assert all(path.is_dir() for path in (*stale, *fresh))  # no one removed them
        old = time.time() - STALE_AFTER_S - 60
        for path in stale:
            os.utime(path, (old, old))
        made = RunCgroups.create(4, 64 * MIB)
        assert made is not None
        made.destroy()
        assert [path.exists() for path in stale] == [False] * len(stale)
        assert all(path.is_dir() for path in fresh)  # a young one may be a run starting
    finally:
        for path in (*stale, *fresh):
            if path.exists():
                path.rmdir()


def test_a_stale_cgroup_with_a_task_is_left_alone() -> None:
    require_cgroup("pids", "rmdir refuses a cgroup that still has tasks")
    made = RunCgroups.create(4, 64 * MIB)
    assert made is not None
    sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=made.join)
    try:
        old = time.time() - STALE_AFTER_S - 60
        for path in made.paths():
            os.utime(path, (old, old))
        assert remove_stale(made.paths()[0].parent) == []
        assert all(path.is_dir() for path in made.paths())
    finally:
        made.destroy()
        sleeper.wait(timeout=5)
    assert sleeper.returncode == -signal.SIGKILL
    assert not any(path.exists() for path in made.paths())


def test_the_end_of_a_run_signals_no_process_outside_its_cgroup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pid read from cgroup.procs may since belong to another process: the pidfd's process
    is checked to be in the cgroup before it is killed (cgroup v1 has no cgroup.kill)."""
    require_cgroup("pids", "the kill at the end of a run")
    made = RunCgroups.create(4, 64 * MIB)
    assert made is not None
    member = subprocess.Popen(["sleep", "30"], preexec_fn=made.join)
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        group = next(g for g in made.groups if member.pid in g.tasks())
        assert group.holds(member.pid) and not group.holds(bystander.pid)
        monkeypatch.setattr(Cgroup, "tasks", lambda self: [bystander.pid, member.pid])
        group.kill_listed()
        assert member.wait(timeout=5) == -signal.SIGKILL
        time.sleep(0.05)
        assert bystander.poll() is None
    finally:
        monkeypatch.undo()
        made.destroy()
        bystander.kill()
        bystander.wait()
