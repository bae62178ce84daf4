"""The work-likeness prior reads a long request in linear time: its look-ahead cue is anchored,
so a body of a megabyte cannot hold a worker for hours (unanchored, 10 KB took 2.7 s of CPU and
the training pipelines spent minutes in it)."""

from __future__ import annotations

import time

import pytest

from thinkswitch.triage.worklike import read_work


def test_a_word_problem_fires_its_cue_wherever_the_numbers_and_the_question_are() -> None:
    assert "word problem" in read_work(
        "Sam has 3 bags of 12 marbles. How many marbles does he have?").cues
    assert "word problem" in read_work("How many apples are left?\n\nTom had 5, ate 2.").cues
    assert "word problem" not in read_work("How many apples are left after lunch?").cues
    assert "word problem" not in read_work("Tom had 5 apples and ate 2 of them.").cues


@pytest.mark.parametrize("text", ["1 x " * 50_000, "x " * 100_000 + "1", "1 " + "x " * 100_000],
                         ids=["digits-throughout", "digit-at-the-end", "digit-at-the-start"])
def test_a_200_kb_request_is_read_at_once(text: str) -> None:
    started = time.process_time()
    reading = read_work(text)
    assert time.process_time() - started < 1.0  # unanchored: ~20 minutes for the first
    assert "word problem" not in reading.cues
