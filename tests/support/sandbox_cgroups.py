"""The cgroups that this test's own sandbox runs created, so leftover checks look only at them:
the parent cgroup is shared with concurrent runs on the machine, whose cgroups come and go."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkswitch.bench.sandbox_cgroup import RunCgroups


def record_run_cgroups(monkeypatch: pytest.MonkeyPatch) -> list[RunCgroups]:
    """A list that receives every RunCgroups the real `RunCgroups.create` makes from now on
    (until `monkeypatch` is undone), in order."""
    created: list[RunCgroups] = []
    real = RunCgroups.create

    def recording(max_tasks: int, memory_bytes: int) -> RunCgroups | None:
        made = real(max_tasks, memory_bytes)
        if made is not None:
            created.append(made)
        return made

    monkeypatch.setattr(RunCgroups, "create", staticmethod(recording))
    return created


def leftover(created: list[RunCgroups]) -> list[Path]:
    """The cgroup directories of `created` that still exist."""
    return [path for run in created for path in run.paths() if path.exists()]
