"""The code-sandbox tests need bubblewrap. Where it cannot run they skip with the reason, unless
THINKSWITCH_REQUIRE_SANDBOX=1 (set by `make test` as root, which installs bubblewrap) makes
that a failure, so CI cannot pass without running them."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from thinkswitch.bench.sandbox import sandbox_problem
from thinkswitch.bench.sandbox_cgroup import RunCgroups


def skip_without_sandbox() -> None:
    problem = sandbox_problem()
    if problem is None:
        return
    if os.environ.get("THINKSWITCH_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"the code sandbox must run here (THINKSWITCH_REQUIRE_SANDBOX=1): {problem}")
    pytest.skip(f"the bubblewrap sandbox cannot run here: {problem}")


@pytest.fixture
def sandbox() -> None:
    """Use as `pytest.mark.usefixtures("sandbox")` (import it into the test module)."""
    skip_without_sandbox()


def skip_unless_root(why: str) -> None:
    """Skip (fail under THINKSWITCH_REQUIRE_SANDBOX=1, which `make test` sets only as root) a
    test that needs root; `why` says what it shows."""
    if os.geteuid() == 0:
        return
    if os.environ.get("THINKSWITCH_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"this sandbox test must run as root (THINKSWITCH_REQUIRE_SANDBOX=1): {why}")
    pytest.skip(f"needs root: {why}")


def require_cgroup(controller: str, why: str) -> None:
    """Skip a test that needs the run cgroups of `controller` where runs get none: not root,
    or no such hierarchy. As root under THINKSWITCH_REQUIRE_SANDBOX=1 that is a failure:
    a CI machine must bound its runs with them."""
    skip_unless_root(why)
    if controller in RunCgroups.available():
        return
    if os.environ.get("THINKSWITCH_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"root runs get no {controller} cgroup here (THINKSWITCH_REQUIRE_SANDBOX=1): "
                    f"{why}")
    pytest.skip(f"no writable {controller} cgroup hierarchy: {why}")


def probe_refusal_with_drop(monkeypatch: pytest.MonkeyPatch, drop: Callable[[], list[str]]
                            ) -> str | None:
    """What the sandbox probe says when bubblewrap is started under `drop` instead of the real
    privilege drop (the probe's cached answer is cleared before and after, so the real drop is
    probed again afterwards)."""
    from thinkswitch.bench import sandbox_bwrap, sandbox_probe

    monkeypatch.setattr(sandbox_bwrap, "privilege_drop", drop)
    sandbox_probe.bwrap_problem.cache_clear()
    try:
        return sandbox_probe.bwrap_problem()
    finally:
        monkeypatch.undo()
        sandbox_probe.bwrap_problem.cache_clear()
