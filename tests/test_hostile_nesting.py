"""JSON nested past the parser from every side but the request body (whose parse refuses it
with a 400 already): an upstream's stream line, a model's tool-call arguments, a caller's
earlier tool calls passed back as text. Python's `json` raises RecursionError there, not
JSONDecodeError; each must be the upstream's or model's failure (502) or the caller's mistake
(400), never a 500 with a traceback. Real uvicorn on 127.0.0.1, the official SDKs, the
`openai` and `anthropic` engines over scripted upstreams on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from support.live_server import live_server
from support.scripted_native_upstreams import NativeScript, create_messages_upstream
from support.scripted_upstream import Script, create_upstream

from thinkswitch.engines.anthropic_upstream import AnthropicEngine
from thinkswitch.engines.base import Engine
from thinkswitch.engines.openai_compat import OpenAICompatEngine
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.events import Finish, ToolCallDelta, UsageReport
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

NESTED = "[" * 100_000 + "]" * 100_000
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


class ToolEngine(ScriptedEngine):
    passthrough = frozenset({"tools", "tool_choice"})


@pytest.mark.parametrize("arguments", ['{"q": ' + NESTED + "}", NESTED])
def test_a_model_calling_a_tool_with_arguments_nested_past_the_parser_is_a_502(
        arguments: str) -> None:
    engine = ToolEngine()
    for _ in range(2):
        engine.enqueue_events([ToolCallDelta(({"index": 0, "id": "call_1", "type": "function",
                                               "function": {"name": "lookup",
                                                            "arguments": arguments}},)),
                               UsageReport(3, 0, 1), Finish("tool_calls")])
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    with live_server(create_app(switch)) as root:
        client = anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)
        ask: dict[str, Any] = {
            "model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "q"}],
            "tools": [{"name": "lookup", "input_schema": {"type": "object"}}]}
        with pytest.raises(anthropic.APIStatusError) as failed:
            client.messages.create(**ask)
        assert failed.value.status_code == 502
        assert "arguments for tool 'lookup' that are not a JSON object" in str(failed.value)
        with pytest.raises(anthropic.APIStatusError) as cut, client.messages.stream(
                **ask) as events:
            events.get_final_message()
        assert "arguments for tool 'lookup' that are not a JSON object" in str(cut.value)
        assert "internal error" not in str(cut.value)


@pytest.fixture(scope="module")
def claude_front() -> Iterator[str]:
    script = NativeScript()
    with live_server(create_messages_upstream(script)) as upstream:
        engine = AnthropicEngine(base_url=f"{upstream}/v1", model="claude-scripted",
                                 api_key="sk-test")
        switch = Switch(SwitchParts(engine, get_dialect("anthropic"), RulesPolicy(),
                                    Settings(answer_max_tokens=100)))
        with live_server(create_app(switch)) as root:
            yield root
        engine.close()


@pytest.mark.parametrize("arguments", ["not json", NESTED, "[1, 2]"])
@pytest.mark.parametrize("stream", [False, True])
def test_passed_back_tool_arguments_that_are_no_json_object_are_a_400(
        claude_front: str, arguments: str, stream: bool) -> None:
    client = openai.OpenAI(base_url=f"{claude_front}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="m", stream=stream, tools=[TOOL],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "q"},
                      {"role": "assistant", "content": None, "tool_calls": [
                          {"id": "call_1", "type": "function",
                           "function": {"name": "lookup", "arguments": arguments}}]},
                      {"role": "tool", "tool_call_id": "call_1", "content": "r"},
                      {"role": "user", "content": "and?"}])
    assert "the arguments of the earlier call to tool 'lookup' are not a JSON object" in str(
        refused.value)


@pytest.mark.parametrize("call", [
    {"id": "call_1", "type": "function", "function": "lookup"},
    {"id": "call_1", "type": "function"},
    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": {"q": 1}}},
    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": 5}},
])
@pytest.mark.parametrize("stream", [False, True])
def test_passed_back_tool_calls_of_the_wrong_shape_are_a_400(
        claude_front: str, call: dict[str, Any], stream: bool) -> None:
    """The engine translates a passed-back call for its upstream by its `function` fields:
    another type there was a 500 (AttributeError, TypeError)."""
    answered = httpx.post(f"{claude_front}/v1/chat/completions", timeout=30, json={
        "model": "m", "stream": stream, "tools": [TOOL],
        "messages": [{"role": "user", "content": "q"},
                     {"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "r"}]})
    assert answered.status_code == 400, answered.text
    error = answered.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("invalid messages.1.tool_calls: ")
    assert "tool call 0" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("engine_name", ["openai", "anthropic"])
def test_an_upstream_stream_line_nested_past_the_parser_is_the_upstreams_failure(
        engine_name: str, stream: bool) -> None:
    native = NativeScript(mode="nested")
    upstream_app = (create_upstream(Script(mode="nested")) if engine_name == "openai"
                    else create_messages_upstream(native))
    with live_server(upstream_app) as upstream:
        engine: Engine = (OpenAICompatEngine(base_url=f"{upstream}/v1", model="scripted")
                          if engine_name == "openai" else
                          AnthropicEngine(base_url=f"{upstream}/v1", model="claude-scripted",
                                          api_key="sk-test"))
        switch = Switch(SwitchParts(engine, get_dialect(
            "anthropic" if engine_name == "anthropic" else "prompted"), RulesPolicy(),
            Settings()))
        with live_server(create_app(switch, owns_switch=True)) as root:
            client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
            ask: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
            if not stream:
                with pytest.raises(openai.APIStatusError) as failed:
                    client.chat.completions.create(**ask)
                assert failed.value.status_code == 502, failed.value
                assert "sent a stream line that is not JSON" in str(failed.value)
                return
            with pytest.raises(openai.APIError) as cut:
                for _ in client.chat.completions.create(**ask, stream=True):
                    pass
            assert "sent a stream line that is not JSON" in str(cut.value)
            assert "internal error" not in str(cut.value)
