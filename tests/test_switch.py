"""The switch's own logic on a scripted engine: decisions, plans, timings, result assembly."""

from __future__ import annotations

import pytest

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import BudgetError, EngineUnavailableError, UsageError
from thinkswitch.kernel.events import AnswerDelta, ThinkingDelta, UsageReport
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy


@pytest.fixture
def engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture
def switch(engine: ScriptedEngine) -> Switch:
    settings = Settings(default_budget=300, answer_max_tokens=77, temperature=0.3)
    return Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), settings))


def test_on_passes_the_budget_and_assembles_the_result(
    engine: ScriptedEngine, switch: Switch
) -> None:
    engine.enqueue(thinking=["  first, ", "second "], answer=["\n4", "2 "])
    result = switch.run(Request.build("What is 6*7?", think="on", budget=64, min_thinking=3))
    plan = engine.requests[0].plan
    assert (plan.mode, plan.budget, plan.min_thinking, plan.answer_max_tokens) == ("on", 64, 3, 77)
    assert engine.requests[0].temperature == 0.3
    assert result.thinking == "first, second"
    assert result.answer == "42"
    assert result.usage.thinking_tokens == 2 and result.usage.answer_tokens == 2
    assert result.decision.policy == "user" and result.decision.budget == 64
    assert result.finish_reason == "stop"
    timings = result.timings
    assert timings.ttft_s is not None and timings.first_answer_s is not None
    assert 0 <= timings.ttft_s <= timings.first_answer_s <= timings.total_s


def test_off_sends_no_budget_and_no_min_thinking(engine: ScriptedEngine, switch: Switch) -> None:
    engine.enqueue(answer=["Paris"])
    result = switch.run(Request.build("Capital of France?", think="off", min_thinking=0))
    assert engine.requests[0].plan.mode == "off"
    assert engine.requests[0].plan.budget is None
    assert result.decision == Decision(
        requested="off", mode="off", budget=None, policy="user",
        reason="thinking switched off by the caller",
    )
    assert result.thinking == "" and result.timings.first_answer_s is not None


def test_default_budget_applies_when_none_given(engine: ScriptedEngine, switch: Switch) -> None:
    engine.enqueue()
    switch.run(Request.build("q?", think="on"))
    assert engine.requests[0].plan.budget == 300


@pytest.mark.parametrize(
    ("question", "mode"),
    [
        ("If a train travels 120 km in 2 hours and then 90 km in 1.5 hours, what is its "
         "average speed?", "on"),
        ("What is the capital of France?", "off"),
        ("Think carefully: is this argument valid?", "on"),
        ("Quick answer: how many legs does a spider have?", "off"),
    ],
)
def test_auto_decides_with_a_reason(
    engine: ScriptedEngine, switch: Switch, question: str, mode: str
) -> None:
    engine.enqueue()
    result = switch.run(Request.build(question, think="auto"))
    assert result.decision.requested == "auto"
    assert result.decision.mode == mode
    assert result.decision.policy == "rules"
    assert result.decision.score is not None and 0.0 <= result.decision.score <= 1.0
    assert "score" in result.decision.reason and "cue rules" in result.decision.reason
    assert engine.requests[0].plan.mode == mode


def test_stream_yields_decision_then_deltas_then_result(
    engine: ScriptedEngine, switch: Switch
) -> None:
    engine.enqueue(thinking=["a"], answer=["b"])
    events = list(switch.stream(Request.build("x?", think="on")))
    kinds = [type(event) for event in events]
    assert kinds == [Decision, ThinkingDelta, AnswerDelta, Result]


@pytest.mark.parametrize(
    ("question", "options", "error", "message"),
    [
        ("   ", {"think": "on"}, UsageError, "empty"),
        ("q", {"think": "on", "budget": -1}, UsageError, "budget"),
        ("q", {"think": "on", "budget": 0}, UsageError, "budget"),
        ("q", {"think": "sometimes"}, UsageError, "think"),
        ("q", {"think": "on", "budget": 10, "min_thinking": 20}, BudgetError, "min_thinking"),
        ("q", {"think": "on", "budget": 1.5}, UsageError, "budget"),
        ("q", {"mood": "happy"}, UsageError, "mood"),
    ],
)
def test_bad_requests_are_clear_errors(
    switch: Switch, question: str, options: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        switch.run(Request.build(question, **options))


def test_engine_without_finish_is_an_error(engine: ScriptedEngine, switch: Switch) -> None:
    engine.enqueue_events([AnswerDelta("x"), UsageReport(1, 0, 1)])
    with pytest.raises(EngineUnavailableError, match="without finishing"):
        switch.run(Request.build("q", think="off"))


def test_switch_refuses_a_dialect_the_engine_cannot_drive() -> None:
    class LocalOnly(ScriptedEngine):
        def supports(self, dialect: object) -> bool:
            return False

    with pytest.raises(UsageError, match="cannot drive dialect 'openai_effort'"):
        Switch(SwitchParts(LocalOnly(), get_dialect("openai_effort"), RulesPolicy(), Settings()))
