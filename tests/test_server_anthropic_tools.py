"""Tools on the Anthropic endpoint: the official `anthropic` SDK against thinkswitch (openai
engine) in front of a scripted OpenAI-compatible upstream, streaming and not, and an agent
loop whose tool results reach the upstream as `tool` turns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from live_server import live_server
from scripted_upstream import Script, create_upstream

from thinkswitch.engines.openai_compat import OpenAICompatEngine
from thinkswitch.errors import EngineUnavailableError
from thinkswitch.server.anthropic_tools import tool_use_block
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

anthropic = pytest.importorskip("anthropic")
QUESTION = "What is the weather in Lisbon?"
SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
TOOLS = [{"name": "get_weather", "description": "current weather of a city",
          "input_schema": SCHEMA}]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Any, Script]]:
    script = Script(tokens=6)
    with live_server(create_upstream(script)) as upstream:
        engine = OpenAICompatEngine(base_url=f"{upstream}/v1", model="scripted-upstream")
        switch = Switch(engine, get_dialect("qwen3"), RulesPolicy(), Settings())
        with live_server(create_app(switch)) as root:
            yield anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0), script
        engine.close()


def ask(client: Any, **options: Any) -> Any:
    options.setdefault("messages", [{"role": "user", "content": QUESTION}])
    return client.messages.create(model="scripted-upstream", max_tokens=64,
                                  thinking={"type": "disabled"}, **options)


def test_a_tool_call_comes_back_as_a_tool_use_block(served: tuple[Any, Script]) -> None:
    client, script = served
    message = ask(client, tools=TOOLS, tool_choice={"type": "any",
                                                    "disable_parallel_tool_use": True})
    assert message.stop_reason == "tool_use"
    (block,) = [b for b in message.content if b.type == "tool_use"]
    assert (block.id, block.name) == ("call_1", "get_weather")
    assert block.input["q"].startswith(QUESTION)
    sent = script.last_body
    assert sent is not None
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "current weather of a city",
        "parameters": SCHEMA}}]
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    named = ask(client, tools=TOOLS, tool_choice={"type": "tool", "name": "get_weather"})
    assert named.stop_reason == "tool_use"
    assert script.last_body is not None and script.last_body["tool_choice"] == {
        "type": "function", "function": {"name": "get_weather"}}


def test_a_streamed_tool_call_arrives_as_input_json_deltas(served: tuple[Any, Script]) -> None:
    client, _ = served
    kinds: list[str] = []
    with client.messages.stream(model="scripted-upstream", max_tokens=64, tools=TOOLS,
                                thinking={"type": "disabled"},
                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                kinds.append(event.delta.type)
        final = stream.get_final_message()
    assert kinds.count("input_json_delta") == 2  # the upstream sends the arguments in two
    assert final.stop_reason == "tool_use"
    (block,) = [b for b in final.content if b.type == "tool_use"]
    assert block.name == "get_weather" and block.input["q"].startswith(QUESTION)


def test_an_agent_loop_sends_tool_results_back_as_tool_turns(
        served: tuple[Any, Script]) -> None:
    client, script = served
    first = ask(client, tools=TOOLS)
    call = next(b for b in first.content if b.type == "tool_use")
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call.id,
             "content": [{"type": "text", "text": "18 C and sunny"}]},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "timeout",
             "is_error": True},
            {"type": "text", "text": "And tomorrow?"}]},
    ]
    answer = ask(client, messages=history)
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text.startswith("answer to And tomorrow?")
    sent = script.last_body
    assert sent is not None
    assistant, weather, failed, user = sent["messages"][-4:]
    assert assistant["role"] == "assistant" and assistant["content"] == "Let me check."
    (wire_call,) = assistant["tool_calls"]
    assert wire_call["id"] == call.id and wire_call["function"]["name"] == "get_weather"
    assert json.loads(wire_call["function"]["arguments"]) == call.input
    assert weather == {"role": "tool", "tool_call_id": call.id, "content": "18 C and sunny"}
    assert failed == {"role": "tool", "tool_call_id": "call_2", "content": "Error: timeout"}
    assert user["role"] == "user" and user["content"].startswith("And tomorrow?")


@pytest.mark.parametrize(("options", "words"), [
    ({"tools": TOOLS, "tool_choice": {"type": "tool", "name": "get_time"}},
     "tool_choice names 'get_time', which is not in tools"),
    ({"tool_choice": {"type": "any"}}, "tool_choice needs tools"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools"),
    ({"messages": [{"role": "user", "content": [
        {"type": "tool_use", "id": "x", "name": "f", "input": {}}]}]},
     "content block type 'tool_use' is not supported in a user turn"),
    ({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "x", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "AA=="}}]}]}]},
     "tool_result content of type 'image' is not supported"),
])
def test_bad_tool_requests_are_anthropic_400s(served: tuple[Any, Script],
                                              options: dict[str, Any], words: str) -> None:
    client, _ = served
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(client, **options)
    assert words in str(caught.value)
    assert caught.value.body["type"] == "error"


def test_tool_arguments_that_are_not_an_object_are_the_upstreams_fault() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2"}}
    with pytest.raises(EngineUnavailableError, match="not a JSON object"):
        tool_use_block(call)
    fine = tool_use_block({"id": "", "function": {"name": "f", "arguments": ""}})
    assert fine["input"] == {} and fine["id"].startswith("toolu_")
