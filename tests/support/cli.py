"""`thinkswitch` as a user runs it: a real process, and the check that a failure is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from thinkswitch.settings import default_data_dir

REPLAY_DATA = default_data_dir() / "outcomes" / "simpleqa" / "outputs"


def thinkswitch(*args: str, env: dict[str, str] | None = None,
                prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """`prefix` goes before the interpreter (e.g. `support.bind_over.bind_over`)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "thinkswitch", *args],
        capture_output=True,
        text=True,
        timeout=300,  # a live bench run takes ~60 s on a quiet 2-core machine
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )


def assert_one_line_error(run: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("thinkswitch:")]
    assert len(errors) == 1 and lines[-1] == errors[0], run.stderr
    assert words in errors[0]
