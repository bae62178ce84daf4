"""The code sandbox: ordinary programs run; harmful ones fail safely and leave nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.local_listener import local_listener
from support.sandbox_required import sandbox  # noqa: F401  (the fixture)

from thinkswitch.bench.sandbox import (
    TAIL_CHARS,
    SandboxResult,
    minimal_env,
    run_python,
)
from thinkswitch.kernel.errors import UsageError

pytestmark = pytest.mark.usefixtures("sandbox")


def group_survivors(pgid: int) -> list[int]:
    """Processes still in the sandbox's process group or session, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name in parentheses: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[1].split()
        if pgid in (int(fields[2]), int(fields[3])):
            found.append(int(entry.name))
    return found


def assert_clean(result: SandboxResult) -> None:
    assert group_survivors(result.pid) == []


def test_a_plain_program_passes_and_its_output_is_kept() -> None:
    result = run_python("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n")
    assert result.passed and result.returncode == 0 and not result.timed_out
    assert result.stdout_tail == "hello\n"
    assert result.stderr_tail == "oops\n"
    assert_clean(result)


def test_a_failing_program_fails_with_its_traceback() -> None:
    result = run_python("assert 1 == 2, 'nope'\n")
    assert not result.passed and result.returncode == 1
    assert result.stderr_tail.strip().endswith("AssertionError: nope")
    assert 'File "prog.py", line 1' in result.stderr_tail


def test_an_infinite_loop_is_killed_at_the_timeout() -> None:
    result = run_python("while True:\n    pass\n", timeout_s=1.0)
    assert result.timed_out and not result.passed
    assert result.returncode < 0
    assert result.duration_s < 1.0 + 2.0
    assert_clean(result)


def test_a_sleeping_program_is_killed_at_the_timeout() -> None:
    result = run_python("import time\ntime.sleep(60)\n", timeout_s=0.5)
    assert result.timed_out and result.duration_s < 2.5
    assert_clean(result)


@pytest.mark.parametrize(
    "bomb",
    [
        "import os\nwhile True:\n    os.fork()\n",
        "import subprocess, sys\nwhile True:\n    subprocess.Popen([sys.executable, '-c', 'x'])\n",
        "import multiprocessing\nwhile True:\n    multiprocessing.Process(target=print).start()\n",
        "import os\nos.system('sh -c \":(){ :|:& };:\"')\n",
    ],
    ids=["os.fork", "subprocess", "multiprocessing", "shell"],
)
def test_a_fork_bomb_fails_at_once_and_leaves_no_process(bomb: str) -> None:
    result = run_python(bomb, timeout_s=5.0)
    assert not result.passed and not result.timed_out
    assert "PermissionError: sandbox:" in result.stderr_tail
    assert result.duration_s < 5.0
    assert_clean(result)
    # The machine is fine: the next program runs normally.
    assert run_python("print(6 * 7)").stdout_tail == "42\n"


def test_a_2gb_allocation_fails_with_memory_error() -> None:
    result = run_python("b = bytearray(2 * 1024**3)\nprint('allocated')\n")
    assert not result.passed and not result.timed_out
    assert "MemoryError" in result.stderr_tail
    assert "allocated" not in result.stdout_tail
    assert_clean(result)


@pytest.mark.parametrize(
    "write",
    [
        "open(TARGET, 'w').write('x')",
        "import pathlib\npathlib.Path(TARGET).write_text('x')",
        "import os\nos.close(os.open(TARGET, os.O_WRONLY | os.O_CREAT))",
        "import os\nos.symlink(os.path.dirname(TARGET), 'link')\n"
        "open(os.path.join('link', os.path.basename(TARGET)), 'w').write('x')",
        "import shutil\nshutil.copy('prog.py', TARGET)",
        "import os\nos.rename('prog.py', TARGET)",
    ],
    ids=["open", "pathlib", "os.open", "symlink", "shutil.copy", "rename"],
)
def test_a_write_outside_the_temp_dir_fails(tmp_path: Path, write: str) -> None:
    target = tmp_path / "escaped.txt"
    result = run_python(f"TARGET = {str(target)!r}\n{write}\n")
    assert not result.passed
    assert "PermissionError: sandbox:" in result.stderr_tail
    assert not target.exists()


def test_files_inside_the_temp_dir_work_and_the_dir_is_removed_after() -> None:
    program = (
        "import os, tempfile\n"
        "open('data.txt', 'w').write('kept')\n"
        "with tempfile.TemporaryDirectory() as inner:\n"
        "    open(os.path.join(inner, 'x'), 'w').write('y')\n"
        "print(open('data.txt').read(), os.getcwd())\n"
    )
    result = run_python(program)
    assert result.passed, result.stderr_tail
    text, cwd = result.stdout_tail.split()
    assert text == "kept"
    assert cwd == "/sandbox"  # a private tmpfs, gone with the sandbox's mount namespace


def test_the_network_is_unreachable_even_to_a_local_listener() -> None:
    with local_listener() as (port, accepted):
        program = (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n"
        )
        result = run_python(program, timeout_s=5.0)
    assert not result.passed
    assert accepted == []


def test_the_sandbox_has_its_own_network_namespace() -> None:
    """The OS layer alone, without the guard's socket checks: only a loopback exists."""
    result = run_python("import socket\nprint([name for _, name in socket.if_nameindex()])\n")
    assert result.passed, result.stderr_tail
    assert result.stdout_tail.strip() == "['lo']"


def test_our_environment_is_not_visible_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKSWITCH_TEST_SECRET", "hunter2")
    result = run_python("import json, os\nprint(json.dumps(dict(os.environ)))\n")
    assert result.passed
    assert "hunter2" not in result.stdout_tail
    environment = json.loads(result.stdout_tail)
    # bubblewrap adds PWD for the working directory it changes to.
    assert environment.pop("PWD") == "/sandbox"
    assert set(environment) == set(minimal_env("/x"))


def test_limits_cannot_be_raised_and_signals_cannot_be_sent() -> None:
    program = (
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)\n"
    )
    assert "PermissionError" in run_python(program).stderr_tail
    kill = run_python(f"import os, signal\nos.kill({os.getpid()}, signal.SIGTERM)\n")
    assert not kill.passed and "PermissionError" in kill.stderr_tail


def test_huge_output_is_capped() -> None:
    result = run_python("import sys\nfor _ in range(40):\n    print('x' * 1024 * 1024)\n")
    assert not result.passed
    assert len(result.stdout_tail) <= TAIL_CHARS
    assert len(result.stderr_tail) <= TAIL_CHARS


def test_bad_limits_are_a_usage_error() -> None:
    with pytest.raises(UsageError):
        run_python("pass", timeout_s=0)
    with pytest.raises(UsageError):
        run_python("pass", memory_mb=-1)


def test_the_unsafe_launcher_still_runs_and_grades() -> None:
    """`--unsafe-no-sandbox`: the old launcher runs programs and the nonce still decides."""
    result = run_python("print('hello')\n", isolation="unsafe")
    assert result.passed and result.completed and result.stdout_tail == "hello\n"
    early = run_python("import os\nprint('done')\nos._exit(0)\n", isolation="unsafe")
    assert early.returncode == 0 and not early.completed and not early.passed


def test_a_program_that_exits_early_is_not_completed() -> None:
    for escape in ("import sys\nsys.exit(0)", "import os\nos._exit(0)", "raise SystemExit"):
        result = run_python(f"print('x')\n{escape}\n")
        assert result.returncode == 0 and not result.completed and not result.passed
