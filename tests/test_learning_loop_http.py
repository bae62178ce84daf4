"""The closed learning loop through a real `thinkswitch serve` (replay engine of Gemini 2.5
Flash, shadow rate 0.5, the official OpenAI SDK, a real SQLite store): bench/learning_loop.py
--compare runs one seed over HTTP and in process (replaying the server's shadow draws) and the
two must decide every request alike, judge and promote alike at each checkpoint, and the store
must hold exactly the promotions the rounds made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import REPLAY_DATA

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.slow
@pytest.mark.skipif(not REPLAY_DATA.is_dir(), reason="shared outcome data absent")
def test_the_loop_over_http_decides_and_promotes_as_the_in_process_loop(tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    run = subprocess.run(
        [sys.executable, "learning_loop.py", "--compare", "0", "--rates", "0.5", "--models",
         "gemini-2.5-flash", "--questions", "400", "--out", str(out)],
        cwd=BENCH, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())["gemini-2.5-flash"]
    assert result["requests"] == 400 and result["differ"] == 0
    assert [r["step"] for r in result["http"]] == [200, 400]
    promoted = 0
    for mine, theirs in zip(result["in_process"], result["http"], strict=True):
        assert mine["pairs"] == theirs["pairs"]
        assert 0.3 * mine["step"] <= theirs["pairs"] <= 0.7 * mine["step"]  # rate 0.5
        assert mine["promoted"] == theirs["promoted"]
        assert mine["guard"] == theirs["guard"]
        promoted += theirs["promoted"]
        assert theirs["promotions_recorded"] == promoted
        assert 0 < theirs["half_width"] < 0.2
        assert theirs["low"] <= theirs["loss"] <= theirs["high"]
