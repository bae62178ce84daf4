"""`thinkswitch` as a user runs it, and the check that a failure is one line.

`thinkswitch(...)` runs the real entry point (`thinkswitch.cli.app.main`, the same function
`python -m thinkswitch` calls) in this process, with its own argv, environment, stdin, stdout
and stderr, and returns what a process would have: the exit code and both streams. That saves
the interpreter's start-up and imports (~0.5 s of CPU a run). `thinkswitch_process(...)` starts
a real process: for what only a process shows (start-up, signals, output written by child
processes or C code, a traceback that escapes everything, what a process finds out once), and
whenever a `prefix` (e.g. `support.bind_over.bind_over`) wraps the interpreter.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from thinkswitch.settings import default_data_dir

REPLAY_DATA = default_data_dir() / "outcomes" / "simpleqa" / "outputs"

#: What every run sees besides the caller's environment: no colour, a wide terminal.
PLAIN_OUTPUT = {"NO_COLOR": "1", "COLUMNS": "200"}


def thinkswitch_process(*args: str, env: dict[str, str] | None = None,
                        prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """`prefix` goes before the interpreter."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "thinkswitch", *args],
        capture_output=True,
        text=True,
        timeout=300,  # a live bench run takes ~60 s on a quiet 2-core machine
        env={**os.environ, **PLAIN_OUTPUT, **(env or {})},
    )


@contextmanager
def _as_a_process(extra: dict[str, str]) -> Iterator[None]:
    """The caller's environment plus `extra`; the root logger without pytest's handlers, so
    a warning logged goes to (the captured) stderr as in a fresh interpreter."""
    saved, root = dict(os.environ), logging.getLogger()
    handlers = root.handlers[:]
    os.environ.update(extra)
    root.handlers.clear()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        os.environ.clear()
        os.environ.update(saved)


def _pipe(errors: str) -> io.TextIOWrapper:
    """A stream like a process's stdout/stderr on a pipe: UTF-8, not a terminal, `.buffer`."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    # as `subprocess.run(text=True)` reads a pipe: universal newlines
    return raw.getvalue().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _exit_code(stop: SystemExit, stderr: io.TextIOWrapper) -> int:
    """What the interpreter makes of `sys.exit(code)`."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=stderr)
    return 1


def thinkswitch(*args: str, env: dict[str, str] | None = None,
                prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run `thinkswitch ARGS` in this process; with a `prefix`, in a process (see above)."""
    if prefix:
        return thinkswitch_process(*args, env=env, prefix=prefix)
    from thinkswitch.cli.app import main

    stdin, stdout = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"), _pipe("strict")
    stderr = _pipe("backslashreplace")
    saved = sys.stdin, sys.stdout, sys.stderr
    code = 0
    with _as_a_process({**PLAIN_OUTPUT, **(env or {})}):
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
        try:
            main(list(args))
        except SystemExit as stop:
            code = _exit_code(stop, stderr)
        except Exception:  # what escapes `main` reaches the interpreter: a traceback, exit 1
            traceback.print_exc(file=stderr)
            code = 1
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
    return subprocess.CompletedProcess(["thinkswitch", *args], code, _text(stdout),
                                       _text(stderr))


def assert_one_line_error(run: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("thinkswitch:")]
    assert len(errors) == 1 and lines[-1] == errors[0], run.stderr
    assert words in errors[0]
