"""The embedded llama.cpp engine on the real packaged model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.kernel.errors import BudgetError, ModelNotFoundError, UsageError
from thinkswitch.kernel.events import ThinkingDelta
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

QUESTION = "Tom has 3 boxes with 4 apples in each box. How many apples does Tom have?"


@pytest.fixture
def switch(llama_engine: LlamaCppEngine, llama_settings: Settings) -> Switch:
    return Switch(SwitchParts(llama_engine, get_dialect("prompted"), RulesPolicy(), llama_settings))


def test_loads_the_packaged_model_once(llama_engine: LlamaCppEngine) -> None:
    again = LlamaCppEngine.from_settings(Settings(temperature=0.0, n_ctx=2048))
    assert again.llama is llama_engine.llama
    assert llama_engine.model.lower().startswith("smollm2")


def test_off_produces_no_thinking(switch: Switch) -> None:
    result = switch.run(Request.build(QUESTION, think="off", answer_max_tokens=48))
    assert result.thinking == ""
    assert result.usage.thinking_tokens == 0
    assert result.answer
    assert 0 < result.usage.answer_tokens <= 48
    assert result.usage.prompt_tokens > 10
    assert result.finish_reason in {"stop", "length"}


@pytest.mark.parametrize("budget", [8, 32])
def test_on_never_exceeds_the_budget_and_still_answers(switch: Switch, budget: int) -> None:
    result = switch.run(
        Request.build(QUESTION, think="on", budget=budget, answer_max_tokens=400)
    )
    assert 0 < result.usage.thinking_tokens <= budget
    assert result.thinking
    assert result.answer
    assert result.finish_reason == "budget"
    # The counted thinking tokens are the model's own tokens of the emitted trace.
    engine = switch.engine
    assert isinstance(engine, LlamaCppEngine)
    assert abs(len(engine.tokenize(result.thinking)) - result.usage.thinking_tokens) <= 3


def test_streamed_thinking_arrives_before_the_answer(switch: Switch) -> None:
    events = list(switch.stream(Request.build(QUESTION, think="on", budget=16,
                                              answer_max_tokens=32)))
    kinds = ["t" if isinstance(e, ThinkingDelta) else "r" if isinstance(e, Result) else "o"
             for e in events]
    assert kinds.index("t") < len(kinds) - 1
    result = events[-1]
    assert isinstance(result, Result)
    streamed = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert streamed.strip() == result.thinking


def test_min_thinking_replaces_an_early_end_with_wait(switch: Switch) -> None:
    # Few-shot turns with one-line thinking make the model close its thinking early.
    shots = []
    for q, a in [("Capital of Italy?", "Rome."), ("Capital of Spain?", "Madrid."),
                 ("Capital of Peru?", "Lima.")]:
        shots += [ChatMessage(role="user", content=q),
                  ChatMessage(role="assistant", content=f"<think>\nEasy.\n</think>\n{a}")]
    messages = (*shots, ChatMessage(role="user", content="Capital of France?"))
    without = switch.run(Request(messages=messages, think="on", budget=200,
                                 answer_max_tokens=24))
    assert without.usage.thinking_tokens < 30, "the few-shot prompt should end thinking early"
    assert "Wait," not in without.thinking
    forced = switch.run(Request(messages=messages, think="on", budget=200, min_thinking=30,
                                answer_max_tokens=24))
    assert "Wait," in forced.thinking
    assert forced.usage.thinking_tokens >= 30
    assert forced.usage.thinking_tokens <= 200


def test_budget_beyond_the_context_is_refused(switch: Switch) -> None:
    with pytest.raises(BudgetError, match="context window of 2048"):
        switch.run(Request.build(QUESTION, think="on", budget=5000))


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="model file not found"):
        LlamaCppEngine.from_settings(Settings(model=str(tmp_path / "nope.gguf")))


def test_answer_cap_ends_with_length(switch: Switch) -> None:
    result = switch.run(Request.build("Write a long story about a dragon.", think="off",
                                      answer_max_tokens=5))
    assert result.usage.answer_tokens == 5
    assert result.finish_reason == "length"


def test_top_p_reaches_the_sampler(switch: Switch) -> None:
    """At a hot temperature, answers differ from seed to seed; with top_p near 0 only the most
    likely token survives, so every seed gives the same answer."""
    question = "Write one sentence about the sea."

    def answers(**options: object) -> set[str]:
        return {switch.run(Request.build(question, think="off", temperature=1.5, seed=seed,
                                         answer_max_tokens=16, options=options)).answer
                for seed in (1, 2, 3)}

    assert len(answers()) > 1
    assert len(answers(top_p=1e-6)) == 1


def test_a_parameter_the_embedded_engine_cannot_honour_is_refused(switch: Switch) -> None:
    with pytest.raises(UsageError, match="parameter 'tools' is not supported by engine "
                                         "'llama_cpp'"):
        switch.run(Request.build("hi", think="off", options={"tools": []}))


def test_a_model_that_ends_inside_its_thinking_still_answers(switch: Switch) -> None:
    """SmolLM2 ends this request while thinking (end of sequence before `</think>`): the
    thinking is closed and the answer asked for, from the same KV cache."""
    events = list(switch.stream(Request.build("What is 12*3?", think="on", budget=32,
                                              answer_max_tokens=24)))
    result = events[-1]
    assert isinstance(result, Result)
    assert result.finish_reason == "thinking_ended"
    assert "36" in result.thinking
    assert result.answer and "36" in result.answer
    assert 0 < result.usage.thinking_tokens <= 32
    assert result.usage.answer_tokens > 0
    kinds = [type(e).__name__ for e in events[:-1]]
    assert kinds.index("AnswerDelta") > max(
        i for i, kind in enumerate(kinds) if kind == "ThinkingDelta")


@pytest.mark.parametrize("question", ["What is 7 + 15?", "Is 17 a prime number?",
                                      "Name a color of the sky."])
def test_thinking_answers_are_never_empty_and_carry_no_markup(switch: Switch,
                                                               question: str) -> None:
    for budget in (32, 64):
        result = switch.run(Request.build(question, think="on", budget=budget,
                                          answer_max_tokens=24))
        assert result.answer.strip(), (budget, result.finish_reason)
        assert "<think>" not in result.answer and "</think>" not in result.answer
        assert result.finish_reason in {"budget", "thinking_ended", "stop", "length"}
