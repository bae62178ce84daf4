"""A request's text is hostile: no triage pattern may take more than linear time on it.

The work cues (`triage/worklike.py`) once had an unanchored lookahead pair (`(?=.*\\d\\D+\\d)`
tried at every position: cubic) and an unbounded `return[^.\\n]*` (quadratic): a 16 KB passage
took 9 s, and a body at the server's 1 MiB limit would have held the GIL for hours. Each shape
below is decided in a child process with a deadline; with the old patterns the first shapes
alone run for minutes at this size.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from thinkswitch.triage.worklike import WORK_CUES, read_work

SIZE = 256_000
#: Shapes that make backtracking patterns blow up: many starts, long runs, no closing match.
SHAPES = {
    "digits and words": "1 a ",
    "return without a close": "return ",
    "prose": "word ",
    "one number then text": "x",
    "digit run": "1",
    "space run": " ",
    "write without a program": "write ",
    "dots": "a.",
    "questions": "How many 12 + 3 = ? ",
    "blank lines": "\n\t",  # `^\s*` multiple-choice lines once rescanned every later line
}
DEADLINE_S = 60.0

DECIDE_ALL = """
import sys
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy, default_model_path
from thinkswitch.triage.rules import RulesPolicy
size = int(sys.argv[1])
shapes = sys.argv[2:]
policies = (RulesPolicy(), LearnedPolicy(LearnedModel.load(default_model_path())))
for shape in shapes:
    text = "1" + (shape * (size // len(shape) + 1))[:size]
    for policy in policies:
        decision = policy.decide((ChatMessage(role="user", content=text),), 1024)
        assert decision.score is not None and 0.0 <= decision.score <= 1.0, decision
print("decided", len(shapes) * len(policies))
"""


def test_every_policy_decides_hostile_shapes_in_linear_time() -> None:
    done = subprocess.run(
        [sys.executable, "-c", DECIDE_ALL, str(SIZE), *SHAPES.values()],
        capture_output=True, text=True, timeout=DEADLINE_S, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"decided {len(SHAPES) * 2}"


@pytest.mark.parametrize(("text", "cue"), [
    ("A farmer has 12 cows and buys 5 more. How many cows are there in total?", "word problem"),
    ("def f(x):\n    return g(x)", "code"),
])
def test_the_bounded_patterns_still_fire(text: str, cue: str) -> None:
    assert cue in read_work(text).cues


def test_a_word_problem_fires_its_cue_wherever_the_numbers_and_the_question_are() -> None:
    assert "word problem" in read_work(
        "Sam has 3 bags of 12 marbles. How many marbles does he have?").cues
    assert "word problem" in read_work("How many apples are left?\n\nTom had 5, ate 2.").cues
    assert "word problem" not in read_work("How many apples are left after lunch?").cues
    assert "word problem" not in read_work("Tom had 5 apples and ate 2 of them.").cues
    assert {cue.label for cue in WORK_CUES} >= {"word problem", "code"}
