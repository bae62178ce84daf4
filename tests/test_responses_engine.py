"""The `openai_responses` engine against a scripted server that speaks only the Responses API
(real HTTP on 127.0.0.1), with thinkswitch in front and the official `openai` SDK: effort and
summaries, encrypted reasoning items passed back, tools, and faults."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from support.live_server import live_server
from support.scripted_native_upstreams import THOUGHTS, NativeScript, create_responses_upstream

from thinkswitch.engines.responses_upstream import ResponsesEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {
        "q": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def front() -> Iterator[tuple[openai.OpenAI, NativeScript]]:
    script = NativeScript()
    with live_server(create_responses_upstream(script)) as upstream:
        engine = ResponsesEngine(base_url=f"{upstream}/v1", model="o4-mini", api_key="sk")
        switch = Switch(SwitchParts(engine, get_dialect("openai_effort"), RulesPolicy(),
                                    Settings(answer_max_tokens=100)))
        with live_server(create_app(switch)) as root:
            yield openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0), script
        engine.close()


@pytest.fixture(autouse=True)
def _reset(front: tuple[openai.OpenAI, NativeScript]) -> None:
    front[1].mode = "ok"


def ask(client: openai.OpenAI, **options: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(  # type: ignore[call-overload]
        model="o4-mini", messages=[{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "How many apples?"}], **options)


def test_effort_summary_and_usage(front: tuple[openai.OpenAI, NativeScript]) -> None:
    client, script = front
    response = ask(client, extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}})
    body = script.last_body
    assert body["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert (body["max_output_tokens"], body["store"], body["include"]) == (
        2100, False, ["reasoning.encrypted_content"])
    assert body["instructions"] == "Be brief." and "temperature" not in body
    assert body["input"] == [{"role": "user", "content": "How many apples?"}]
    message = response.choices[0].message
    assert message.model_extra["reasoning_content"] == "".join(THOUGHTS)  # type: ignore[index]
    assert message.content == "Tom has 12 apples."
    usage = response.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert (usage.prompt_tokens, usage.completion_tokens,
            usage.completion_tokens_details.reasoning_tokens) == (17, 12, 5)
    ask(client, reasoning_effort="none")
    assert script.last_body["reasoning"] == {"effort": "minimal"}


def test_encrypted_reasoning_goes_back_with_the_tool_turn(
        front: tuple[openai.OpenAI, NativeScript]) -> None:
    client, script = front
    first = ask(client, tools=TOOLS, reasoning_effort="low")
    (call,) = first.choices[0].message.tool_calls or []
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_9", "get_weather", {"q": "Lisbon"})
    assert first.choices[0].finish_reason == "tool_calls"
    assert script.last_body["tools"] == [{"type": "function", **TOOLS[0]["function"]}]
    encrypted = f"enc-{len(script.bodies)}"
    with client.chat.completions.create(
            model="o4-mini", tools=TOOLS, reasoning_effort="low", stream=True,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "How many apples?"},
                      {"role": "assistant", "content": None,
                       "tool_calls": [call.model_dump()]},
                      {"role": "tool", "tool_call_id": "call_9", "content": "sunny"}]) as stream:
        answer = "".join(chunk.choices[0].delta.content or "" for chunk in stream
                         if chunk.choices)
    assert answer == "Tom has 12 apples."
    items = script.last_body["input"]
    assert items[1]["type"] == "reasoning" and items[1]["encrypted_content"] == encrypted
    assert items[2] == {"type": "function_call", "call_id": "call_9", "name": "get_weather",
                        "arguments": '{"q": "Lisbon"}'}
    assert items[3] == {"type": "function_call_output", "call_id": "call_9", "output": "sunny"}


def test_overloaded_and_broken_streams(front: tuple[openai.OpenAI, NativeScript]) -> None:
    client, script = front
    script.mode = "overloaded"
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, reasoning_effort="low")
    assert caught.value.status_code == 502 and "503" in str(caught.value)
    for mode, words in (("cut", "stream broke"), ("error_event", "scripted failure")):
        script.mode = mode  # type: ignore[assignment]
        with pytest.raises(openai.APIError) as broken:
            for _ in ask(client, reasoning_effort="low", stream=True):
                pass
        assert words in str(broken.value)
