"""Hostile programs against the code sandbox, run as root in CI (issue 14).

Each case tries one escape and asserts that the attempt fails *and* that the host is unchanged
(no file appears outside, no secret leaks into the output, no process is left). Most cases run
twice: with the audit-hook guard (what `thinkswitch bench` does) and without it, so the
operating-system layer (bubblewrap, seccomp, limits) is shown to hold on its own, as it must
when a program disables the guard.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.local_listener import local_listener
from support.sandbox_cgroups import leftover, record_run_cgroups
from support.sandbox_required import require_cgroup, sandbox  # noqa: F401  (the fixture)

from thinkswitch.bench.code_suites import CodeChecker
from thinkswitch.bench.items import Item
from thinkswitch.bench.sandbox import MAX_TASKS, SandboxResult, run_python
from thinkswitch.bench.sandbox_bwrap import WORK_DIR_BYTES
from thinkswitch.bench.sandbox_cgroup import RunCgroups

pytestmark = pytest.mark.usefixtures("sandbox")
BOTH_LAYERS = pytest.mark.parametrize("audit_hook", [True, False], ids=["guarded", "os-only"])


def run(program: str, audit_hook: bool, timeout_s: float = 10.0) -> SandboxResult:
    return run_python(textwrap.dedent(program), timeout_s=timeout_s, audit_hook=audit_hook)


@pytest.fixture
def run_cgroups(monkeypatch: pytest.MonkeyPatch) -> list[RunCgroups]:
    """The cgroups this test's runs create (others' runs share the parent cgroup)."""
    return record_run_cgroups(monkeypatch)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Path]:
    """A host path a program tries to create; it must not exist afterwards."""
    path = tmp_path / "escaped"
    yield path
    assert not path.exists(), "the sandboxed program created a file on the host"


def test_inside_the_program_is_nobody_without_capabilities_and_filtered() -> None:
    result = run("""
        import os
        status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
        print(os.getuid(), os.getgid(), status['CapEff'].strip(), status['CapBnd'].strip(),
              status['NoNewPrivs'].strip(), status['Seccomp'].strip())
        print(sorted(os.listdir('/')))
    """, audit_hook=False)
    assert result.passed, result.stderr_tail
    identity, listing = result.stdout_tail.splitlines()
    assert identity == "65534 65534 0000000000000000 0000000000000000 1 2"
    assert "etc" not in listing and "home" not in listing and "tmp" not in listing


@BOTH_LAYERS
def test_frame_and_gc_tampering_then_a_shell_as_root(target: Path, audit_hook: bool) -> None:
    result = run(f"""
        import gc, os, sys
        frame = sys._getframe(1)
        for name in list(frame.f_globals):
            if name.startswith('DENIED') or name == 'PATH_EVENTS':
                frame.f_globals[name] = frozenset() if name != 'PATH_EVENTS' else {{}}
        try:
            for thing in gc.get_objects():
                for cell in getattr(thing, '__closure__', None) or ():
                    if isinstance(cell.cell_contents, frozenset):
                        cell.cell_contents = frozenset()
        except PermissionError as error:
            print('gc refused:', error)
        status = os.system('id > {target}; id')
        print('system returned', status)
        print(open('/proc/self/status').read().split('Uid:')[1].split()[0])
    """, audit_hook)
    assert "uid=0" not in result.stdout_tail
    if audit_hook:
        assert "gc refused: sandbox: gc.get_objects is not allowed" in result.stdout_tail
        assert "PermissionError: sandbox: os.system is not allowed" in result.stderr_tail
    else:
        # seccomp refuses the new process; glibc reports a failed spawn as exit status 127.
        assert "system returned 32512" in result.stdout_tail
        assert result.stdout_tail.splitlines()[-1] == "65534"


def test_the_hooks_own_frame_cannot_switch_it_off(target: Path) -> None:
    """Its closure's values show in the traceback of each refusal: they must be immutable."""
    result = run(f"""
        import sys
        try:
            open('/refused', 'w')
        except PermissionError as error:
            tb = error.__traceback__
            while tb is not None:
                for value in list(tb.tb_frame.f_locals.values()):
                    for wipe in ('clear', 'discard'):
                        try:
                            getattr(value, wipe)()
                        except Exception:
                            pass
                tb = tb.tb_next
        open({str(target)!r}, 'w').write('x')
    """, audit_hook=True)
    assert "PermissionError: sandbox: open outside the sandbox directory" in result.stderr_tail


@BOTH_LAYERS
def test_posixsubprocess_fork_exec(target: Path, audit_hook: bool) -> None:
    result = run(f"""
        import _posixsubprocess, os, sys
        TARGET = {str(target)!r}
        for argv in (['/bin/sh', '-c', 'id > ' + TARGET],
                     [sys.executable, '-c', 'open(%r, "w").write("x")' % TARGET]):
            read_end, write_end = os.pipe()
            try:
                pid = _posixsubprocess.fork_exec(
                    argv, [os.fsencode(argv[0])], True, (), None, None, -1, -1, -1, -1, -1, -1,
                    read_end, write_end, False, False, -1, None, None, None, -1, None, False)
                print('started', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
            except OSError as error:
                print('refused', argv[0], error.errno)
    """, audit_hook)
    if audit_hook:
        assert "PermissionError: sandbox: import of _posixsubprocess" in result.stderr_tail
    else:
        # The seccomp filter refuses every new process (EPERM); there is no shell anyway.
        assert [line.split()[::2] for line in result.stdout_tail.splitlines()] == [
            ["refused", "1"], ["refused", "1"]]


@BOTH_LAYERS
def test_multiprocessing_spawn(target: Path, audit_hook: bool) -> None:
    result = run(f"""
        import multiprocessing
        def escape():
            open({str(target)!r}, 'w').write('x')
        if __name__ == '__main__':
            multiprocessing.set_start_method('spawn')
            child = multiprocessing.Process(target=escape)
            child.start()
            child.join()
            print('child exit', child.exitcode)
    """, audit_hook)
    if audit_hook:
        assert "PermissionError: sandbox: import of _posixsubprocess" in result.stderr_tail
    else:
        assert "PermissionError: [Errno 1] Operation not permitted" in result.stderr_tail
        assert "child exit" not in result.stdout_tail


@BOTH_LAYERS
def test_ctypes_loads_a_library_whose_constructor_writes_outside(
    tmp_path: Path, target: Path, audit_hook: bool
) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build the hostile library")
    source = tmp_path / "evil.c"
    source.write_text(textwrap.dedent(f"""
        #include <stdio.h>
        #include <unistd.h>
        __attribute__((constructor)) static void evil(void) {{
            FILE *f = fopen("{target}", "w");
            printf("constructor ran as uid %d, host file %s\\n", (int)getuid(),
                   f ? "written" : "refused");
            fflush(stdout);
            if (f) fclose(f);
        }}
    """))
    library = tmp_path / "evil.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    encoded = base64.b64encode(library.read_bytes()).decode()
    result = run(f"""
        import base64, ctypes
        open('evil.so', 'wb').write(base64.b64decode({encoded!r}))
        ctypes.CDLL('./evil.so')
    """, audit_hook)
    if audit_hook:
        assert "PermissionError: sandbox: import of _ctypes" in result.stderr_tail
    else:
        assert result.stdout_tail == "constructor ran as uid 65534, host file refused\n"


@BOTH_LAYERS
@pytest.mark.parametrize(
    "attempt",
    [
        "import os\nroot = os.open('/', os.O_RDONLY)\n"
        "os.close(os.open(TARGET.lstrip('/'), os.O_WRONLY | os.O_CREAT, dir_fd=root))",
        "import sqlite3\nsqlite3.connect(TARGET).execute('create table t (x)')",
        "import os\nos.mkfifo(TARGET)",
        "import readline\nreadline.write_history_file(TARGET)",
    ],
    ids=["dir_fd", "sqlite3", "mkfifo", "readline-history"],
)
def test_writes_outside_fail(target: Path, attempt: str, audit_hook: bool) -> None:
    result = run(f"TARGET = {str(target)!r}\n{attempt}\n", audit_hook)
    assert not result.passed
    assert "Error" in result.stderr_tail


@BOTH_LAYERS
def test_a_pth_file_in_site_packages_cannot_be_planted(audit_hook: bool) -> None:
    venv_site = Path(sysconfig.get_paths()["purelib"])
    base_site = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["purelib"])
    name = f"thinkswitch-hostile-{secrets.token_hex(4)}.pth"
    result = run(f"""
        for site in ({str(venv_site)!r}, {str(base_site)!r}):
            try:
                open(site + '/{name}', 'w').write('import os; os.system("id")')
                print('planted', site)
            except OSError as error:
                print('refused', type(error).__name__)
    """, audit_hook)
    assert "planted" not in result.stdout_tail
    assert not (venv_site / name).exists() and not (base_site / name).exists()


@BOTH_LAYERS
def test_etc_shadow_is_not_there(audit_hook: bool) -> None:
    result = run("print(open('/etc/shadow').read())", audit_hook)
    assert not result.passed
    assert "FileNotFoundError" in result.stderr_tail
    with contextlib.suppress(OSError):
        first_entry = Path("/etc/shadow").read_text().split(":", 1)[0] + ":"
        assert first_entry not in result.stdout_tail


@BOTH_LAYERS
def test_host_command_lines_are_invisible(audit_hook: bool) -> None:
    secret = f"--api-key=hostile-{secrets.token_hex(8)}"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", secret])
    try:
        result = run("""
            import os
            for pid in sorted(os.listdir('/proc')):
                if pid.isdigit():
                    try:
                        line = open(f'/proc/{pid}/cmdline', 'rb').read()
                        print(pid, b'--api-key' in line, line[:60])
                    except OSError as error:
                        print(pid, error)
        """, audit_hook)
    finally:
        holder.kill()
        holder.wait()
    assert result.passed, result.stderr_tail
    assert secret not in result.stdout_tail
    # Only the sandbox's own PID namespace: bubblewrap's init (1) and the program (2).
    assert [line.split()[0] for line in result.stdout_tail.splitlines()] == ["1", "2"]


def test_a_forged_pass_is_graded_failed() -> None:
    """The old escape: print the marker found in prog.py, then exit 0 before the tests."""
    item = Item("hostile/1", "", "", "code",
                {"test_list": ["assert always_one() == 1", "assert always_one() == 2"],
                 "test_setup_code": ""})
    answer = (
        "```python\nimport os, sys\n"
        "def always_one():\n    return 1\n"
        "print(open('prog.py').read())\n"
        "print(open(sys.argv[0]).read())\n"
        "sys.stdout.flush()\nos._exit(0)\n```"
    )
    verdict = CodeChecker().check(item, answer)
    assert not verdict.correct
    assert verdict.detail == "failed: exited before the tests ran"


@BOTH_LAYERS
def test_a_fork_bomb_is_bounded_and_leaves_nothing(audit_hook: bool,
                                                   run_cgroups: list[RunCgroups]) -> None:
    result = run("""
        import os, time
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                children += 1
        except OSError as error:
            print('stopped after', children, error.errno)
    """, audit_hook, timeout_s=5.0)
    assert not result.timed_out and result.duration_s < 5.0
    if audit_hook:
        assert result.stdout_tail == "stopped after 0 None\n"  # PermissionError from the guard
    else:
        assert result.stdout_tail == "stopped after 0 1\n"  # EPERM from the seccomp filter
    assert leftover(run_cgroups) == []
    assert run_python("print(6 * 7)").stdout_tail == "42\n"


@BOTH_LAYERS
def test_a_thread_bomb_stops_at_the_task_bound(audit_hook: bool,
                                               run_cgroups: list[RunCgroups]) -> None:
    """Threads are allowed, but counted: the pids cgroup (root) or RLIMIT_NPROC stops them."""
    result = run("""
        import threading, time
        started = 0
        try:
            while True:
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                started += 1
        except RuntimeError as error:
            print('stopped after', started, error, flush=True)
        import os
        os._exit(0)
    """, audit_hook, timeout_s=5.0)
    words = result.stdout_tail.split()
    assert words[:2] == ["stopped", "after"], result.stderr_tail
    assert 0 < int(words[2]) < MAX_TASKS
    assert "can't start new thread" in result.stdout_tail
    assert not result.timed_out and leftover(run_cgroups) == []


@BOTH_LAYERS
def test_a_disk_bomb_fills_only_its_capped_tmpfs(audit_hook: bool) -> None:
    result = run("""
        import os
        written = 0
        try:
            for number in range(1000):
                with open(f'fill{number}', 'wb') as handle:
                    for _ in range(8):
                        written += handle.write(b'x' * 1024 * 1024)
        except OSError as error:
            print('stopped at', written, error.errno)
    """, audit_hook)
    words = result.stdout_tail.split()
    assert words[:2] == ["stopped", "at"], result.stderr_tail
    assert int(words[2]) <= WORK_DIR_BYTES
    assert words[3] == "28"  # ENOSPC


@BOTH_LAYERS
def test_a_memory_bomb_fails_with_memory_error(audit_hook: bool) -> None:
    result = run("""
        blocks = []
        while True:
            blocks.append(bytearray(64 * 1024 * 1024))
    """, audit_hook)
    assert not result.passed and not result.timed_out
    assert "MemoryError" in result.stderr_tail


@BOTH_LAYERS
def test_no_connection_reaches_a_local_server(audit_hook: bool) -> None:
    with local_listener() as (port, accepted):
        result = run(f"""
            import socket
            socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')
        """, audit_hook, timeout_s=5.0)
    assert not result.passed
    assert accepted == []
    assert ("PermissionError: sandbox: socket.connect" if audit_hook
            else "ConnectionRefusedError") in result.stderr_tail


def test_seccomp_refuses_new_namespaces_even_to_native_code() -> None:
    """ctypes straight to the kernel (the guard is off): unshare, mount, ptrace fail with EPERM."""
    result = run("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
        for name, call in (('unshare', lambda: libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)),
                           ('mount', lambda: libc.mount(b'none', b'/sandbox', b'tmpfs', 0, None)),
                           ('ptrace', lambda: libc.ptrace(0, 0, None, None))):
            print(name, call(), ctypes.get_errno())
    """, audit_hook=False)
    assert result.passed, result.stderr_tail
    assert result.stdout_tail.splitlines() == ["unshare -1 1", "mount -1 1", "ptrace -1 1"]


def test_root_runs_get_pids_and_memory_cgroups_that_are_removed(
    run_cgroups: list[RunCgroups],
) -> None:
    for controller in ("pids", "memory"):
        require_cgroup(controller, "the run's own task and memory bounds")
    results: list[SandboxResult] = []
    runner = threading.Thread(target=lambda: results.append(run_python(
        "import time\ntime.sleep(1.5)", memory_mb=300, audit_hook=False)))
    trials = len(run_cgroups)  # require_cgroup's trial runs, already removed
    runner.start()
    while runner.is_alive() and len(run_cgroups) == trials:
        time.sleep(0.001)
    ours = run_cgroups[trials]
    limits = {name: (path / name).read_text().strip() for path in ours.paths()
              for name in ("pids.max", "memory.limit_in_bytes", "memory.max")
              if (path / name).exists()}
    runner.join()
    assert results[0].passed
    assert ours.controllers == {"pids", "memory"}
    assert limits["pids.max"] == str(MAX_TASKS)
    assert (limits.get("memory.limit_in_bytes") or limits["memory.max"]) == str(300 * 1024 * 1024)
    assert leftover(run_cgroups) == []


@BOTH_LAYERS
def test_the_memory_cgroup_counts_the_tmpfs_too(audit_hook: bool,
                                                run_cgroups: list[RunCgroups]) -> None:
    """RLIMIT_AS sees only the address space; files written to the tmpfs live in memory too.
    Filling most of the tmpfs, then allocating up to the address-space limit, exceeds the
    run's memory: the memory cgroup ends the program (SIGKILL) before it is done."""
    require_cgroup("memory", "the memory cgroup counts tmpfs files, RLIMIT_AS does not")
    result = run_python(textwrap.dedent("""
        for number in range(6):  # 54 MiB, in files under RLIMIT_FSIZE
            with open(f'fill{number}', 'wb') as handle:
                handle.write(b'x' * 9 * 1024 * 1024)
        print('filled', flush=True)
        blocks = []
        try:
            while True:
                blocks.append(bytearray(8 * 1024 * 1024))
        except MemoryError:
            print('address space exhausted at', len(blocks) * 8, 'MiB', flush=True)
    """), memory_mb=160, audit_hook=audit_hook)
    assert result.stdout_tail == "filled\n", result.stderr_tail
    assert not result.passed and not result.completed and not result.timed_out
    assert result.returncode == 128 + 9  # bubblewrap's init reports the program's SIGKILL
    assert leftover(run_cgroups) == []
