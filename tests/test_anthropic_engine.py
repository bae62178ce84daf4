"""The `anthropic` engine against a scripted Messages API upstream (real HTTP on 127.0.0.1),
with thinkswitch served in front and the official `openai` and `anthropic` SDKs as clients:
the thinking mapping, streaming and not, signed and redacted thinking kept for the next turn,
tools, and faults (529 overloaded, a stream cut mid-thinking, an error event)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest
from support.live_server import live_server
from support.scripted_native_upstreams import THOUGHTS, NativeScript, create_messages_upstream

from thinkswitch.engines.anthropic_upstream import AnthropicEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect, guess_dialect
from thinkswitch.triage.rules import RulesPolicy

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {
        "q": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def front() -> Iterator[tuple[str, NativeScript]]:
    script = NativeScript()
    with live_server(create_messages_upstream(script)) as upstream:
        engine = AnthropicEngine(base_url=f"{upstream}/v1", model="claude-scripted",
                                 api_key="sk-test")
        assert guess_dialect(engine.model) == "anthropic"
        switch = Switch(SwitchParts(engine, get_dialect("anthropic"), RulesPolicy(),
                                    Settings(answer_max_tokens=100)))
        with live_server(create_app(switch)) as root:
            yield root, script
        engine.close()


@pytest.fixture(autouse=True)
def _reset(front: tuple[str, NativeScript]) -> None:
    front[1].mode, front[1].redacted = "ok", False


def chat(root: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)


def ask(root: str, **options: object):  # type: ignore[no-untyped-def]
    return chat(root).chat.completions.create(  # type: ignore[call-overload]
        model="claude-scripted", messages=[{"role": "user", "content": "How many apples?"}],
        **options)


def test_thinking_budget_and_answer(front: tuple[str, NativeScript]) -> None:
    root, script = front
    response = ask(root, extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}})
    body = script.last_body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 2100 and "temperature" not in body
    message = response.choices[0].message
    assert message.model_extra["reasoning_content"] == "".join(THOUGHTS)  # type: ignore[index]
    assert message.content == "Tom has 12 apples."
    usage = response.usage
    assert usage is not None and usage.prompt_tokens == 21 and usage.completion_tokens == 10
    assert 0 < usage.completion_tokens_details.reasoning_tokens < 10  # type: ignore[union-attr]


def test_small_budgets_meet_the_api_minimum_and_off_is_disabled(
        front: tuple[str, NativeScript]) -> None:
    root, script = front
    ask(root, extra_body={"thinking": {"type": "enabled", "budget_tokens": 100}})
    assert script.last_body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    response = ask(root, reasoning_effort="none")
    assert script.last_body["thinking"] == {"type": "disabled"}
    assert script.last_body["max_tokens"] == 100 and "temperature" in script.last_body
    assert not (response.choices[0].message.model_extra or {}).get("reasoning_content")


def test_streamed_through_the_messages_face(front: tuple[str, NativeScript]) -> None:
    root, _ = front
    client = anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)
    with client.messages.stream(model="claude-scripted", max_tokens=3000,
                                thinking={"type": "enabled", "budget_tokens": 1500},
                                messages=[{"role": "user", "content": "How many?"}]) as stream:
        deltas = [e.delta.thinking for e in stream if e.type == "content_block_delta"
                  and e.delta.type == "thinking_delta"]
        final = stream.get_final_message()
    assert deltas == THOUGHTS
    assert [b.type for b in final.content] == ["thinking", "text"]


def test_signed_and_redacted_thinking_go_back_with_the_tool_turn(
        front: tuple[str, NativeScript]) -> None:
    root, script = front
    script.redacted = True
    first = ask(root, tools=TOOLS, extra_body={"thinking": {"type": "enabled",
                                                            "budget_tokens": 2000}})
    (call,) = first.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
        "q": "Lisbon"}
    signature = f"sig-{len(script.bodies)}"
    assert script.last_body["tools"][0]["input_schema"]["properties"]["q"]["type"] == "string"
    chat(root).chat.completions.create(
        model="claude-scripted", tools=TOOLS,  # type: ignore[arg-type]
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}},
        messages=[{"role": "user", "content": "How many apples?"},
                  {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                  {"role": "tool", "tool_call_id": call.id, "content": "sunny"}])
    assistant, results = script.last_body["messages"][1:]
    assert assistant["content"][0] == {"type": "thinking", "thinking": "".join(THOUGHTS),
                                       "signature": signature}
    assert assistant["content"][1] == {"type": "redacted_thinking", "data": "opaque-bytes"}
    assert assistant["content"][2]["type"] == "tool_use"
    assert results["content"] == [{"type": "tool_result", "tool_use_id": call.id,
                                   "content": "sunny"}]


def test_overloaded_is_a_502_naming_it(front: tuple[str, NativeScript]) -> None:
    root, script = front
    script.mode = "overloaded"
    with pytest.raises(openai.APIStatusError) as caught:
        ask(root, extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}})
    assert caught.value.status_code == 502
    assert "529" in str(caught.value) and "Overloaded" in str(caught.value)


@pytest.mark.parametrize("mode", ["cut", "error_event"])
def test_a_stream_broken_mid_thinking_ends_with_an_error(front: tuple[str, NativeScript],
                                                         mode: str) -> None:
    root, script = front
    script.mode = mode  # type: ignore[assignment]
    thinking: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in ask(root, stream=True,
                         extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}}):
            for choice in chunk.choices:
                thinking.append((choice.delta.model_extra or {}).get("reasoning_content", ""))
    assert "".join(thinking) == ("".join(THOUGHTS) if mode == "error_event" else THOUGHTS[0])
    assert ("stream broke" if mode == "cut" else "overloaded_error") in str(caught.value)
    with pytest.raises(openai.APIStatusError) as whole:
        ask(root, extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}})
    assert whole.value.status_code == 502


def test_dialect_mapping() -> None:
    from thinkswitch.kernel.plan import ThinkingPlan

    dialect = get_dialect("anthropic")
    messages = ()
    extras = [dialect.prepare(messages, plan).request_extras["thinking"] for plan in (
        ThinkingPlan(mode="on", budget=None), ThinkingPlan(mode="on", budget=5000),
        ThinkingPlan(mode="off"))]
    assert extras == [{"type": "adaptive"}, {"type": "enabled", "budget_tokens": 5000},
                      {"type": "disabled"}]
