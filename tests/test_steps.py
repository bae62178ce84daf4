"""Steps of a thinking trace: a pure, deterministic split with offsets into the thinking, the
same whether the thinking arrived in one piece or in many chunks, stored with the trace."""

from __future__ import annotations

import itertools

import pytest

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.thinking.steps import split_steps
from thinkswitch.triage.rules import RulesPolicy

TRACE = """Let me compute 12*3. That is 36. Wait, check: 12*3 = 36. Yes.

Step 1: read the question.
Step 2: multiply.
1. first
2) second

Alternatively, add 12 three times. Hmm, 12+12+12=36."""


def texts(thinking: str) -> list[tuple[str, str]]:
    return [(step.kind, thinking[step.start:step.end]) for step in split_steps(thinking)]


def test_paragraphs_numbered_lines_and_turns_are_steps() -> None:
    assert texts(TRACE) == [
        ("paragraph", "Let me compute 12*3. That is 36."),
        ("turn", "Wait, check: 12*3 = 36. Yes."),
        ("numbered", "Step 1: read the question."),
        ("numbered", "Step 2: multiply."),
        ("numbered", "1. first"),
        ("numbered", "2) second"),
        ("turn", "Alternatively, add 12 three times."),
        ("turn", "Hmm, 12+12+12=36."),
    ]
    assert [step.index for step in split_steps(TRACE)] == list(range(1, 9))


@pytest.mark.parametrize("thinking", ["", "   \n\n  ", "\n"])
def test_blank_thinking_has_no_steps(thinking: str) -> None:
    assert split_steps(thinking) == []


def test_one_line_is_one_paragraph() -> None:
    assert texts("just one thought") == [("paragraph", "just one thought")]


def test_words_that_only_contain_a_turn_do_not_split() -> None:
    # "awaits" contains "wait", "actually" mid-sentence is not a new sentence.
    assert texts("The queue awaits input. It is actually fine.") == [
        ("paragraph", "The queue awaits input. It is actually fine.")]


def test_a_paragraph_that_opens_with_a_turn_is_a_turn() -> None:
    assert texts("First idea.\n\nWait, no.") == [("paragraph", "First idea."),
                                                  ("turn", "Wait, no.")]


def test_steps_cover_all_text_in_order_without_overlap() -> None:
    steps = split_steps(TRACE)
    for before, after in itertools.pairwise(steps):
        assert before.end <= after.start
    covered = "".join(TRACE[s.start:s.end] for s in steps)
    assert covered.replace(" ", "") == "".join(TRACE.split())


def _result(chunks: list[str], stream: bool) -> Result:
    engine = ScriptedEngine()
    engine.enqueue(thinking=chunks, answer=["36"])
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    request = Request.build("What is 12*3?", think="on", budget=64)
    if not stream:
        return switch.run(request)
    events = list(switch.stream(request))
    result = events[-1]
    assert isinstance(result, Result)
    return result


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("chunks", [
    [TRACE],                                              # all in one chunk
    [TRACE[:37], TRACE[37:40], TRACE[40:]],               # a turn split across chunks
    [TRACE[i:i + 3] for i in range(0, len(TRACE), 3)],   # tiny chunks
])
def test_the_switch_splits_the_thinking_the_same_however_it_arrives(
        chunks: list[str], stream: bool) -> None:
    result = _result(chunks, stream)
    assert result.thinking == TRACE
    assert result.steps == split_steps(TRACE)
    assert len(result.steps) == 8


def test_thinking_off_has_no_steps() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["Paris"])
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    result = switch.run(Request.build("Capital of France?", think="off"))
    assert result.thinking == "" and result.steps == []
