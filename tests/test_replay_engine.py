"""The replay engine against the real recorded runs in the data directory.

Expected values are read from the raw jsonl files here, independently of the engine's parser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from thinkswitch.engines.registry import create_engine
from thinkswitch.engines.replay import ReplayEngine
from thinkswitch.kernel.errors import (
    BudgetError,
    ModelNotFoundError,
    ReplayMissError,
    UnknownNameError,
)
from thinkswitch.kernel.events import ThinkingDelta
from thinkswitch.kernel.plan import ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

DATA_DIR = Settings().data_dir
OUTPUTS = DATA_DIR / "outcomes" / "simpleqa" / "outputs"

needs_data = pytest.mark.skipif(
    not OUTPUTS.is_dir(), reason=f"recorded runs not found at {OUTPUTS} (set THINKSWITCH_DATA)"
)


def raw_row(relative: str, index: int = 0) -> dict[str, Any]:
    """Row `index` of a raw run file, parsed with nothing but json."""
    with (OUTPUTS / relative).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number == index:
                row: dict[str, Any] = json.loads(line)
                return row
    raise AssertionError(f"{relative} has no row {index}")


def raw_row_for(relative: str, question: str) -> dict[str, Any]:
    with (OUTPUTS / relative).open(encoding="utf-8") as handle:
        for line in handle:
            row: dict[str, Any] = json.loads(line)
            if row["problem"] == question:
                return row
    raise AssertionError(f"{relative} has no row for {question!r}")


def make_switch(model: str | None = None) -> tuple[Switch, ReplayEngine]:
    settings = Settings(engine="replay", model=model, data_dir=DATA_DIR)
    engine = ReplayEngine.from_settings(settings)
    return Switch(SwitchParts(engine, get_dialect("qwen3"), RulesPolicy(), settings)), engine


def ask(switch: Switch, question: str, **options: object) -> Result:
    return switch.run(Request.build(question, **options))


@needs_data
def test_qwen3_8b_think_on_replays_the_exd0_trace() -> None:
    row = raw_row("qwen3-8b/Qwen3-8B_simpleqa_exd0.jsonl", 5)
    switch, engine = make_switch()
    assert engine.model == "Qwen3-8B"
    result = ask(switch, row["problem"], think="on")
    expected_thinking = row["thought"].removeprefix("<think>\n").removesuffix("</think>")
    assert result.thinking == expected_thinking.strip()
    assert result.thinking
    assert result.answer == row["response"].removesuffix("<|im_end|>").strip()
    assert result.usage.thinking_tokens == row["thinking_tokens"]
    assert result.usage.answer_tokens == row["response_tokens"]
    assert result.usage.prompt_tokens == 0
    assert result.finish_reason == "stop"
    assert result.model == "Qwen3-8B"
    assert result.engine == "replay"


@needs_data
def test_qwen3_8b_think_off_replays_the_no_think_answer() -> None:
    first = raw_row("qwen3-8b/Qwen3-8B_simpleqa_exd0.jsonl", 5)
    row = raw_row_for("qwen3-8b/Qwen3-8B_simpleqa_no_think.jsonl", first["problem"])
    switch, _ = make_switch("qwen3-8b")
    events = list(switch.stream(Request.build(first["problem"], think="off")))
    assert not [event for event in events if isinstance(event, ThinkingDelta)]
    result = events[-1]
    assert isinstance(result, Result)
    assert result.thinking == ""
    assert result.answer == row["response"].removesuffix("<|im_end|>").strip()
    assert result.usage.thinking_tokens == 0
    assert result.usage.answer_tokens == row["response_tokens"]


@needs_data
def test_stream_chunks_join_to_the_exact_trace() -> None:
    row = raw_row("qwen3-14b/Qwen3-14B_simpleqa_exd0.jsonl", 0)
    engine = ReplayEngine(DATA_DIR, "Qwen3-14B")
    events = list(switch_events(engine, row["problem"]))
    thinking = [event.text for event in events if isinstance(event, ThinkingDelta)]
    assert len(thinking) > 1
    assert "".join(thinking) == row["thought"][len("<think>\n") : -len("</think>")]


def switch_events(engine: ReplayEngine, question: str) -> list[object]:
    switch = Switch(SwitchParts(engine, get_dialect("qwen3"), RulesPolicy(),
                                Settings(data_dir=DATA_DIR)))
    return list(switch.stream(Request.build(question, think="on")))


@needs_data
def test_qwen3_min_thinking_uses_the_forced_longer_run() -> None:
    engine = ReplayEngine(DATA_DIR, "Qwen3-8B")
    assert engine.run_for(ThinkingPlan(mode="on", budget=4096)) == "exd0"
    assert engine.run_for(ThinkingPlan(mode="on", budget=64, min_thinking=10)) == "exd2"
    row = raw_row("qwen3-8b/Qwen3-8B_simpleqa_exd2.jsonl", 3)
    switch, _ = make_switch()
    result = ask(switch, row["problem"], think="on", budget=2048, min_thinking=100)
    assert result.usage.thinking_tokens == row["thinking_tokens"]


@needs_data
def test_gemini_uses_the_largest_recorded_budget_within_the_cap() -> None:
    row = raw_row("gemini-2_5-flash/gemini-2.5-flash_simpleqa_budget512.jsonl", 7)
    switch, engine = make_switch("Gemini-2.5-Flash")
    assert engine.model == "gemini-2.5-flash"
    result = ask(switch, row["problem"], think="on", budget=600)
    assert result.thinking == row["thought_summary"].strip()
    assert result.answer == row["response"].strip()
    assert result.usage.thinking_tokens == row["reasoning_tokens"]
    assert result.usage.answer_tokens == row["response_tokens"]
    assert engine.run_for(ThinkingPlan(mode="on", budget=2048)) == "budget2048"
    assert engine.run_for(ThinkingPlan(mode="on", budget=None)) == "budget2048"


@needs_data
def test_gemini_budget_below_every_recording_is_refused() -> None:
    switch, engine = make_switch("gemini-2_5-flash")
    question = engine.questions(1)[0]
    with pytest.raises(BudgetError, match="256, 512, 1024, 2048"):
        ask(switch, question, think="on", budget=100)


@needs_data
def test_claude_token_split_sums_to_completion_tokens() -> None:
    relative = "claude-sonnet-4/claude-sonnet4_simpleqa_budget1024.jsonl"
    switch, engine = make_switch("claude-sonnet-4")
    for index in range(5):
        row = raw_row(relative, index)
        result = ask(switch, row["problem"], think="on", budget=1500)
        assert result.thinking == row["thought_summary"].strip()
        assert result.answer == row["response"].strip()
        usage = result.usage
        assert usage.thinking_tokens + usage.answer_tokens == row["completion_tokens"]
        thought, response = len(row["thought_summary"]), len(row["response"])
        share = row["completion_tokens"] * thought / (thought + response)
        assert abs(usage.thinking_tokens - share) <= 0.5
    with pytest.raises(BudgetError, match="1024, 2048, 4096"):
        engine.run_for(ThinkingPlan(mode="on", budget=1000))


@needs_data
def test_claude_off_puts_every_token_in_the_answer() -> None:
    row = raw_row("claude-sonnet-4/claude-sonnet4_simpleqa_no_think.jsonl", 2)
    switch, _ = make_switch("claude-sonnet-4")
    result = ask(switch, row["problem"], think="off")
    assert result.thinking == ""
    assert result.usage.thinking_tokens == 0
    assert result.usage.answer_tokens == row["completion_tokens"]


@needs_data
def test_question_is_matched_after_whitespace_normalising() -> None:
    row = raw_row("qwen3-8b/Qwen3-8B_simpleqa_no_think.jsonl", 10)
    switch, _ = make_switch()
    spaced = "  " + row["problem"].replace(" ", "  \n ") + "\n"
    result = ask(switch, spaced, think="off")
    assert result.usage.answer_tokens == row["response_tokens"]


@needs_data
def test_unknown_question_is_a_short_replay_miss() -> None:
    switch, _ = make_switch()
    question = "What is the airspeed velocity of an unladen swallow? " * 10
    with pytest.raises(ReplayMissError) as caught:
        ask(switch, question, think="on")
    message = str(caught.value)
    assert "\n" not in message
    assert len(message) < 200
    assert "Qwen3-8B" in message


@needs_data
def test_questions_lists_recorded_questions() -> None:
    engine = ReplayEngine(DATA_DIR)
    assert len(engine.questions()) == 800
    first = engine.questions(3)
    assert first[0] == raw_row("qwen3-8b/Qwen3-8B_simpleqa_no_think.jsonl", 0)["problem"]
    assert len(first) == 3


@needs_data
def test_registry_builds_the_replay_engine() -> None:
    engine = create_engine(Settings(engine="replay", model="QWEN3-14B", data_dir=DATA_DIR))
    assert isinstance(engine, ReplayEngine)
    assert engine.model == "Qwen3-14B"


def test_unknown_model_lists_the_recorded_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError) as caught:
        ReplayEngine(tmp_path, "gpt-7")
    message = str(caught.value)
    for name in ("Qwen3-8B", "Qwen3-14B", "gemini-2.5-flash", "claude-sonnet-4"):
        assert name in message


def test_missing_data_dir_names_the_path_and_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelNotFoundError) as caught:
        ReplayEngine.from_settings(Settings(engine="replay", data_dir=missing))
    message = str(caught.value)
    assert str(missing) in message
    assert "THINKSWITCH_DATA" in message
    assert "--data-dir" in message


def test_missing_run_file_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "outcomes" / "simpleqa" / "outputs" / "qwen3-8b"
    folder.mkdir(parents=True)
    engine = ReplayEngine(tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"Qwen3-8B_simpleqa_no_think\.jsonl"):
        engine.questions()
