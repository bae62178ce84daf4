"""Who a sandboxed program is on the host: never root, even when thinkswitch runs as root (CI).

As root, bubblewrap is started through `setpriv` as uid/gid 65534, so behind its user namespace
the program is `nobody` on the host too. These tests look from outside (/proc of the host) and
bind root's files into the sandbox's view on purpose, to show that ownership, not only the
mounts, keeps them out of reach.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.public_dir import public_dir
from support.sandbox_required import (  # noqa: F401  (the fixture)
    probe_refusal_with_drop,
    sandbox,
    skip_unless_root,
)

from thinkswitch.bench import sandbox_bwrap, sandbox_probe
from thinkswitch.bench.sandbox import SandboxResult, run_python
from thinkswitch.bench.sandbox_identity import SANDBOX_ID
from thinkswitch.bench.sandbox_seccomp import filter_program

pytestmark = pytest.mark.usefixtures("sandbox")
SECRET = "root-only-secret"


def status_fields(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
    return {key: value.strip() for key, value in (line.split(":", 1) for line in lines)}


def descendants(ancestor: int) -> list[int]:
    """Every live process below `ancestor`, from the host's /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [ancestor]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def sandbox_tree_while_running() -> tuple[dict[int, dict[str, str]], SandboxResult]:
    """The /proc status of our descendants at the moment the sandboxed interpreter runs (it is
    the process in a PID namespace of its own whose name starts with python)."""
    results: list[SandboxResult] = []
    runner = threading.Thread(target=lambda: results.append(
        run_python("import time\ntime.sleep(3)\n", timeout_s=10.0, audit_hook=False)))
    runner.start()
    tree: dict[int, dict[str, str]] = {}
    deadline = time.monotonic() + 10.0
    while runner.is_alive() and time.monotonic() < deadline:
        snapshot = {}
        for pid in descendants(os.getpid()):
            try:
                snapshot[pid] = status_fields(pid)
            except OSError:
                continue
        if any(fields["Name"].startswith("python") and len(fields["NSpid"].split()) == 2
               for fields in snapshot.values()):
            # the run's own processes: the outer bwrap and what it started (this process
            # may have other children, e.g. a judge's worker left by an earlier test)
            outer = [pid for pid, fields in snapshot.items()
                     if fields["Name"] == "bwrap" and int(fields["PPid"]) == os.getpid()]
            tree = {pid: snapshot[pid] for root in outer for pid in [root, *descendants(root)]
                    if pid in snapshot}
            break
        time.sleep(0.01)
    runner.join()
    return tree, results[0]


def test_the_sandboxed_program_is_not_root_on_the_host() -> None:
    tree, result = sandbox_tree_while_running()
    assert result.passed, result.stderr_tail
    # bubblewrap outside, bubblewrap as the namespace's init, the interpreter inside.
    names = sorted(fields["Name"] for fields in tree.values())
    assert names[:2] == ["bwrap", "bwrap"] and len(names) == 3, names
    assert names[2].startswith("python"), names
    uid = SANDBOX_ID if os.geteuid() == 0 else os.getuid()
    gid = SANDBOX_ID if os.geteuid() == 0 else os.getgid()
    for fields in tree.values():
        # Real, effective, saved and file-system ids, as the host sees them.
        assert set(fields["Uid"].split()) == {str(uid)}, fields
        assert set(fields["Gid"].split()) == {str(gid)}, fields
        if os.geteuid() == 0:
            assert fields["Groups"] == "", fields
    program = next(f for f in tree.values() if f["Name"].startswith("python"))
    assert program["CapEff"] == program["CapPrm"] == "0000000000000000"


@pytest.fixture
def root_owned_dir() -> Iterator[Path]:
    """A root-owned 0755 directory others can enter (so unprivileged bwrap can bind it), with
    a root-only 0600 file and a world-readable one."""
    skip_unless_root("the files must belong to root, not to the sandbox's host uid")
    with public_dir("thinkswitch-root-owned-") as directory:
        (directory / "secret").write_text(SECRET)
        (directory / "secret").chmod(0o600)
        (directory / "public").write_text("public")
        (directory / "public").chmod(0o644)
        yield directory


def run_with_binds(options: list[str], program: str) -> subprocess.CompletedProcess[str]:
    """The production command line (privilege drop, namespaces, seccomp) plus `options`."""
    seccomp = filter_program()
    program_fd = os.memfd_create("program")
    seccomp_fd = os.memfd_create("seccomp") if seccomp is not None else None
    try:
        if seccomp is not None and seccomp_fd is not None:
            os.write(seccomp_fd, seccomp)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
        command = sandbox_bwrap.command(program_fd, seccomp_fd, None, ["-c", program],
                                        extra_options=options)
        passed = tuple(fd for fd in (program_fd, seccomp_fd) if fd is not None)
        return subprocess.run(command, capture_output=True, text=True, timeout=30, cwd="/",
                              pass_fds=passed, stdin=subprocess.DEVNULL, check=False)
    finally:
        for fd in (program_fd, seccomp_fd):
            if fd is not None:
                os.close(fd)


ATTEMPTS = """
import os
def attempt(name, action):
    try:
        print(name, 'ok', action())
    except OSError as error:
        print(name, 'refused', error.errno)
attempt('stat', lambda: oct(os.stat('/hostdir/secret').st_mode & 0o777))
attempt('public', lambda: open('/hostdir/public').read())
attempt('secret', lambda: open('/hostdir/secret').read())
attempt('create', lambda: open('/hostdir/planted', 'w').write('x'))
attempt('append', lambda: open('/hostdir/public', 'a').write('x'))
attempt('chmod', lambda: os.chmod('/hostdir/secret', 0o644))
attempt('unlink', lambda: os.unlink('/hostdir/public'))
"""


def test_a_root_only_file_bound_into_view_cannot_be_read_nor_root_files_written(
    root_owned_dir: Path,
) -> None:
    """Bound read-write on purpose: the file system would allow it, ownership must not."""
    run = run_with_binds(["--bind", str(root_owned_dir), "/hostdir"], ATTEMPTS)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "stat ok 0o600",  # it is there, in view,
        "public ok public",  # the directory is readable,
        "secret refused 13",  # but root's file is not the sandbox's (EACCES),
        "create refused 13",  # nor is root's directory,
        "append refused 13",  # nor root's world-readable file,
        "chmod refused 1",  # and it owns none of them (EPERM).
        "unlink refused 13",
    ]
    assert sorted(p.name for p in root_owned_dir.iterdir()) == ["public", "secret"]
    assert (root_owned_dir / "public").read_text() == "public"
    assert (root_owned_dir / "secret").stat().st_mode & 0o777 == 0o600


def test_the_probe_refuses_a_sandbox_that_would_be_root_on_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the privilege drop, bubblewrap started by root maps the sandbox to root: the
    probe must see that from /proc and refuse, so no bench runs that way."""
    skip_unless_root("only root's bubblewrap maps the sandbox to root")
    problem = probe_refusal_with_drop(monkeypatch, list)
    assert problem is not None and "would run as root on the host" in problem
    assert sandbox_probe.bwrap_problem() is None
