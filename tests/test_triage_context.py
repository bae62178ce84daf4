"""Triage reads the last user turn in the context of the conversation."""

from __future__ import annotations

import pytest
from support.chat import turns

from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.context import is_follow_up, triage_text
from thinkswitch.triage.learned import LearnedPolicy
from thinkswitch.triage.rules import RulesPolicy

MATH = "A farmer has 3 fields with 12 rows of 8 plants each. How many plants are there in total?"


@pytest.mark.parametrize(("text", "expected"), [
    ("and with 5 fields?", True), ("why?", True), ("Are you sure about that?", True),
    ("What about the second one, can you redo it?", True),
    ("thanks!", False), ("ok", False), ("Thank you.", False), ("Say hello.", False),
    ("5 fields?", True),
    ("What is the capital of France and when was it founded as a city?", False),
    ("Write a Python function that returns the n-th prime number, with tests.", False),
])
def test_follow_ups_are_recognised(text: str, expected: bool) -> None:
    assert is_follow_up(text) is expected


def test_a_follow_up_is_read_with_the_previous_user_turn_not_the_assistant() -> None:
    read = triage_text(turns(MATH, "There are 288 plants.", "and with 5 fields?"))
    assert read.text == f"{MATH}\nand with 5 fields?"
    assert "follow-up" in read.note
    assert "288" not in read.text


def test_a_new_question_is_read_alone() -> None:
    question = "Name three primary colours used in painting, please, in a simple list."
    read = triage_text(turns(MATH, "288.", question))
    assert (read.text, read.note) == (question, "")
    assert triage_text(turns("hi")).text == "hi"
    assert triage_text(()).text == ""


@pytest.mark.parametrize("policy", [RulesPolicy(), LearnedPolicy.from_path()],
                         ids=["rules", "learned"])
def test_policies_think_for_a_follow_up_of_a_hard_question(policy: TriagePolicy) -> None:
    alone = policy.decide(turns("and with 5 fields?"), 1024)
    follow_up = policy.decide(turns(MATH, "288 plants.", "and with 5 fields?"), 1024)
    thanks = policy.decide(turns(MATH, "288 plants.", "thanks!"), 1024)
    assert follow_up.score is not None and alone.score is not None
    assert thanks.score is not None and follow_up.score > thanks.score
    if isinstance(policy, RulesPolicy):  # its cues (numbers, steps) are in the earlier turn
        assert follow_up.score > alone.score
    assert follow_up.mode == "on"
    assert "follow-up, read with the user turn before it" in follow_up.reason
    assert thanks.mode == "off" and "follow-up" not in thanks.reason
