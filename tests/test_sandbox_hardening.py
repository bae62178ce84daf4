"""Hardening around the sandbox: tools come from the system's directories, the descriptors
handed to bubblewrap are not inherited by anything else, the probe looks at supplementary
groups too, and `--unsafe-no-sandbox` never runs model code as root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.bind_over import bind_over
from support.cli import assert_one_line_error, thinkswitch
from support.public_dir import public_dir
from support.sandbox_required import (  # noqa: F401  (the fixture)
    probe_refusal_with_drop,
    sandbox,
    skip_unless_root,
)

from thinkswitch.bench import sandbox_bwrap, sandbox_identity, sandbox_probe, sandbox_unsafe
from thinkswitch.bench.code_suites import choose_isolation
from thinkswitch.bench.sandbox import Descriptors, run_python
from thinkswitch.kernel.errors import UsageError

SECRET = "root-only-secret"


@pytest.fixture
def planted_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH whose first directory holds a `bwrap` and an `ldd` that are not the system's."""
    for name in ("bwrap", "ldd"):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\necho '/planted/lib.so (0x0000)'\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    return tmp_path


def test_bwrap_and_ldd_come_from_the_system_directories_not_path(planted_path: Path) -> None:
    prefix = sandbox_identity.privilege_drop()
    command = sandbox_bwrap.command(3, None, None, ["-c", "pass"])
    assert command[len(prefix)] == sandbox_identity.system_tool("bwrap")
    assert not command[len(prefix)].startswith(str(planted_path))
    libraries = sandbox_bwrap._linked_libraries(sandbox_identity.interpreter())
    assert libraries and "/planted/lib.so" not in libraries


def test_the_descriptors_for_bubblewrap_are_not_inheritable() -> None:
    """pass_fds hands them to bubblewrap; any other child (another thread's) must not get them."""
    fds = Descriptors()
    try:
        fd = fds.memfd("program", b"print(1)")
        assert not os.get_inheritable(fd)
        assert os.read(fd, 100) == b"print(1)"
    finally:
        fds.close_all()


def test_a_saved_root_uid_still_counts_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """A setuid-root caller with euid 1000 could switch back to root: drop as for root."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getresuid", lambda: (1000, 1000, 0))
    assert sandbox_identity.drops_root()
    assert sandbox_identity.host_uid() == sandbox_identity.SANDBOX_ID
    monkeypatch.setattr(os, "getresuid", lambda: (1000, 1000, 1000))
    assert not sandbox_identity.drops_root()


@pytest.mark.usefixtures("sandbox")
def test_the_probe_refuses_a_sandbox_with_root_as_a_supplementary_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uid and gid 65534 but group 0 kept: root's group files would be in reach."""
    skip_unless_root("only root can start bubblewrap with group 0 as uid 65534")
    setpriv = sandbox_identity.setpriv()
    assert setpriv is not None
    problem = probe_refusal_with_drop(monkeypatch, lambda: [
        setpriv, "--reuid=65534", "--regid=65534", "--groups=0", "--inh-caps=-all",
        "--bounding-set=-all", "--"])
    assert problem is not None and "would run as root on the host" in problem
    assert "groups [0, 65534]" in problem
    assert sandbox_probe.bwrap_problem() is None


UNSAFE_PROGRAM = """
print(open('/proc/self/uid_map').read().split())
try:
    open(SECRET_FILE).read()
    print('read')
except PermissionError:
    print('refused')
"""


def test_unsafe_mode_as_root_runs_the_program_as_uid_65534() -> None:
    skip_unless_root("only root's unsafe runs drop privileges")
    with public_dir("thinkswitch-unsafe-") as directory:
        secret = directory / "secret"
        secret.write_text(SECRET)
        secret.chmod(0o600)
        program = UNSAFE_PROGRAM.replace("SECRET_FILE", repr(str(secret)))
        result = run_python(program, isolation="unsafe", audit_hook=False)
    assert result.passed, result.stderr_tail
    uid_map, verdict = result.stdout_tail.splitlines()
    assert verdict == "refused"
    # Inside, unshare may map the program to uid 0; outside (the second column) it is 65534.
    assert uid_map.split(", ")[1] == "'65534'", uid_map


def test_unsafe_mode_as_root_without_setpriv_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    skip_unless_root("only root's unsafe runs need the privilege drop")
    monkeypatch.setattr(sandbox_unsafe, "setpriv", lambda: None)
    with pytest.raises(UsageError, match="refusing to run model-written code as root"):
        choose_isolation(["mbpp"], unsafe_no_sandbox=True)
    with pytest.raises(UsageError, match="refusing to run model-written code as root"):
        run_python("print(1)", isolation="unsafe")



def test_unsafe_mode_as_root_without_setpriv_is_a_one_line_cli_error() -> None:
    skip_unless_root("only root's unsafe runs need the privilege drop")
    setpriv = Path(sandbox_identity.setpriv() or "/usr/bin/setpriv")
    run = thinkswitch("bench", "mbpp", "--limit", "1", "--unsafe-no-sandbox",
                      prefix=bind_over({setpriv: Path("/dev/null")}))
    assert_one_line_error(run, 2, "refusing to run model-written code as root")
