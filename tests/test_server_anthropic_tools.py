"""Tools on the Anthropic endpoint: the official `anthropic` SDK against thinkswitch (openai
engine) in front of a scripted OpenAI-compatible upstream, streaming and not, and an agent
loop whose tool results reach the upstream as `tool` turns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from support.live_server import live_server
from support.scripted_upstream import Script, create_upstream, thinkswitch_in_front

from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.server.anthropic_tools import tool_use_block
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

QUESTION = "What is the weather in Lisbon?"
SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
TOOLS = [{"name": "get_weather", "description": "current weather of a city",
          "input_schema": SCHEMA}]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Any, Script]]:
    script = Script(tokens=6)
    with live_server(create_upstream(script)) as upstream, thinkswitch_in_front(
            [f"{upstream}/v1"], "qwen3") as (root, _):
        yield anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0), script


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


TWO_TOOLS = [*TOOLS, {"name": "get_time", "input_schema": SCHEMA}]


def test_parallel_calls_are_whole_blocks(served: tuple[Any, Script]) -> None:
    client, _ = served
    message = ask(client, tools=TWO_TOOLS)
    assert [(b.type, b.id, b.name) for b in message.content] == [
        ("tool_use", "call_1", "get_weather"), ("tool_use", "call_2", "get_time")]
    assert all(b.input["q"].startswith(QUESTION) for b in message.content)


@pytest.mark.parametrize("tools", [TOOLS, TWO_TOOLS], ids=["one call", "parallel calls"])
def test_streamed_tool_calls_are_contiguous_blocks(served: tuple[Any, Script],
                                                   tools: list[dict[str, Any]]) -> None:
    """The upstream interleaves the calls' fragments; each block still starts, gets all of
    its input and stops before the next one starts."""
    client, _ = served
    seen: list[tuple[str, int]] = []
    with client.messages.stream(model="scripted-upstream", max_tokens=64, tools=tools,
                                thinking={"type": "disabled"},
                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        for event in stream:
            if event.type in ("content_block_start", "content_block_stop"):
                seen.append((event.type, event.index))
            elif event.type == "content_block_delta":
                seen.append((event.delta.type, event.index))
                if event.delta.type == "input_json_delta":
                    assert json.loads(event.delta.partial_json)["q"].startswith(QUESTION)
        final = stream.get_final_message()
    assert seen == [(kind, k) for k in range(len(tools)) for kind in (
        "content_block_start", "input_json_delta", "content_block_stop")]
    assert final.stop_reason == "tool_use"
    assert [b.name for b in final.content] == [t["name"] for t in tools]
    assert all(b.input["q"].startswith(QUESTION) for b in final.content)
    assert final.usage.output_tokens > 0


def test_an_agent_loop_sends_tool_results_back_as_tool_turns(
        served: tuple[Any, Script]) -> None:
    client, script = served
    first = ask(client, tools=TOOLS)
    call = next(b for b in first.content if b.type == "tool_use")
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input},
            {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {"q": "now"}}]},
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
    wire_call, second_call = assistant["tool_calls"]
    assert wire_call["id"] == call.id and wire_call["function"]["name"] == "get_weather"
    assert json.loads(wire_call["function"]["arguments"]) == call.input
    assert second_call["id"] == "call_2" and json.loads(
        second_call["function"]["arguments"]) == {"q": "now"}
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
    with pytest.raises(EngineUnavailableError, match="without a name"):
        tool_use_block({"id": "c", "function": {"name": "", "arguments": "{}"}})
    fine = tool_use_block({"id": "", "function": {"name": "f", "arguments": ""}})
    assert fine["input"] == {} and fine["id"].startswith("toolu_")


def test_a_call_cut_off_by_the_token_limit_is_max_tokens_not_tool_use() -> None:
    from thinkswitch.kernel.decision import Decision
    from thinkswitch.kernel.result import Result, Timings, Usage
    from thinkswitch.server.anthropic_api import events, message

    cut = {"id": "call_1", "type": "function",
           "function": {"name": "get_weather", "arguments": '{"q": "Lis'}}
    whole = {"id": "call_0", "type": "function",
             "function": {"name": "get_time", "arguments": "{}"}}
    decided = Decision(requested="off", mode="off", budget=None, policy="user", reason="off")
    result = Result(answer="", thinking="", decision=decided,
                    usage=Usage(prompt_tokens=3, answer_tokens=64),
                    timings=Timings(ttft_s=0.1, first_answer_s=None, total_s=1.0),
                    engine="openai", model="m", finish_reason="length",
                    tool_calls=[whole, cut])
    shown = message(result, "m", b"k" * 32)
    assert shown["stop_reason"] == "max_tokens"
    assert [b.get("name") for b in shown["content"]] == ["get_time"]
    streamed = list(events(iter([result.decision, result]), "m", b"k" * 32))
    stop = next(data for name, data in streamed if name == "message_delta")
    assert stop["delta"]["stop_reason"] == "max_tokens"
    assert stop["usage"] == {"input_tokens": 3, "output_tokens": 64}  # the SDK applies both
    assert [d["content_block"]["name"] for n, d in streamed if n == "content_block_start"] == [
        "get_time"]


def test_disabling_parallel_calls_on_an_engine_that_cannot_is_refused_by_its_name() -> None:
    from thinkswitch.engines.scripted import ScriptedEngine
    from thinkswitch.kernel.errors import UnsupportedParameterError
    from thinkswitch.server.anthropic_tools import AnthropicTool, ToolChoice, tool_options

    class ToolsOnly(ScriptedEngine):
        passthrough = frozenset({"tools", "tool_choice"})

    tools = [AnthropicTool.model_validate(TOOLS[0])]
    with pytest.raises(UnsupportedParameterError) as refused:
        tool_options(tools, ToolChoice(type="auto", disable_parallel_tool_use=True), ToolsOnly())
    assert refused.value.param == "tool_choice.disable_parallel_tool_use"
    assert tool_options(tools, ToolChoice(type="none"), ToolsOnly())["tool_choice"] == "none"
    assert tool_options(tools, ToolChoice(type="auto"), ToolsOnly())["tool_choice"] == "auto"


def test_stop_sequences_reach_the_upstream_as_stop(served: tuple[Any, Script]) -> None:
    client, script = served
    ask(client, stop_sequences=["\n\n", "END"])
    assert script.last_body is not None and script.last_body["stop"] == ["\n\n", "END"]


def test_stop_sequences_are_refused_by_their_name_where_the_engine_cannot() -> None:
    from thinkswitch.engines.instant import InstantEngine

    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    with live_server(create_app(switch)) as root:
        client = anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as refused:
            ask(client, stop_sequences=["END"])
        assert "parameter 'stop_sequences' is not supported by engine 'instant'" in str(
            refused.value)
        with pytest.raises(anthropic.BadRequestError) as refused:
            ask(client, extra_body={"top_k": 5})
        assert "parameter 'top_k' is not supported" in str(refused.value)
