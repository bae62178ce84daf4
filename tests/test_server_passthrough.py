"""Parameters the switch does not own pass through to an OpenAI-compatible upstream unchanged,
and tool calls come back as tool calls (official `openai` SDK, streaming and not). Engines that
cannot honour a parameter refuse it with a 400 that names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from support.live_server import live_server
from support.scripted_upstream import Script, create_upstream, thinkswitch_in_front

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.request import Request
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

QUESTION = "What is the weather in Lisbon?"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "current weather of a city",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                   "required": ["q"]}}}]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Script, Path]]:
    """thinkswitch (openai engine, recording) in front of a scripted upstream."""
    script = Script(tokens=6)
    db = tmp_path_factory.mktemp("passthrough") / "traces.sqlite"
    with live_server(create_upstream(script)) as upstream, thinkswitch_in_front(
            [f"{upstream}/v1"], "qwen3", Recorder(open_store(db))) as (root, _):
        yield f"{root}/v1", script, db


def client(base_url: str):  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)


def test_tool_calls_come_back_as_tool_calls(proxy: tuple[str, Script, Path]) -> None:
    base_url, script, db = proxy
    response = client(base_url).chat.completions.create(
        model="scripted-upstream:nothink", messages=[{"role": "user", "content": QUESTION}],
        tools=TOOLS, tool_choice="auto")
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_1", "function", "get_weather")
    assert json.loads(call.function.arguments)["q"].startswith(QUESTION)  # qwen3 adds /no_think
    assert script.last_body is not None
    assert script.last_body["tools"] == TOOLS and script.last_body["tool_choice"] == "auto"
    record = open_store(db).get(response.model_extra["thinkswitch"]["trace_id"])  # type: ignore[index]
    assert record is not None and record.finish_reason == "tool_calls"
    assert record.answer["tool_calls"][0]["function"]["name"] == "get_weather"  # type: ignore[index]


def test_streamed_tool_calls_arrive_as_fragments_that_merge(
        proxy: tuple[str, Script, Path]) -> None:
    stream = client(proxy[0]).chat.completions.create(
        model="scripted-upstream:nothink", messages=[{"role": "user", "content": QUESTION}],
        tools=TOOLS, stream=True)
    name, arguments, finish = "", "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        for call in chunk.choices[0].delta.tool_calls or []:
            name += call.function.name or "" if call.function else ""
            arguments += call.function.arguments or "" if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather"
    assert json.loads(arguments)["q"].startswith(QUESTION)
    assert finish == "tool_calls"


def test_sampling_and_format_parameters_reach_the_upstream_unchanged(
        proxy: tuple[str, Script, Path]) -> None:
    base_url, script, _ = proxy
    response = client(base_url).chat.completions.create(
        model="scripted-upstream:nothink", messages=[{"role": "user", "content": "hi"}],
        stop=["\n\n", "END"], top_p=0.9, presence_penalty=0.5, seed=7, temperature=0.2,
        response_format={"type": "json_object"}, user="u-1")
    assert response.choices[0].message.content.startswith("answer to hi")  # type: ignore[union-attr]
    sent = script.last_body
    assert sent is not None
    assert sent["stop"] == ["\n\n", "END"] and sent["top_p"] == 0.9
    assert sent["presence_penalty"] == 0.5 and sent["response_format"] == {"type": "json_object"}
    assert (sent["seed"], sent["temperature"], sent["user"]) == (7, 0.2, "u-1")


def test_an_engine_that_cannot_honour_a_parameter_refuses_it_by_name() -> None:
    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    with live_server(create_app(switch)) as root:
        sdk = client(f"{root}/v1")
        for extra, name in [({"tools": TOOLS}, "tools"), ({"stop": ["x"]}, "stop"),
                            ({"response_format": {"type": "json_object"}}, "response_format")]:
            with pytest.raises(openai.BadRequestError) as refused:
                sdk.chat.completions.create(model="m", messages=[
                    {"role": "user", "content": "hi"}], **extra)
            assert refused.value.status_code == 400
            assert refused.value.body["param"] == name  # type: ignore[index]
            assert f"parameter '{name}' is not supported by engine 'instant'" in str(
                refused.value)


def test_the_switch_refuses_options_its_engine_does_not_declare() -> None:
    engine = ScriptedEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    with pytest.raises(UsageError, match="parameter 'stop' is not supported"):
        switch.run(Request.build("hi", think="off", options={"stop": ["x"]}))
    assert engine.requests == []


def test_an_agent_loop_sends_tool_turns_back_unchanged(proxy: tuple[str, Script, Path]) -> None:
    base_url, script, db = proxy
    sdk = client(base_url)
    first = sdk.chat.completions.create(
        model="scripted-upstream:nothink", messages=[{"role": "user", "content": QUESTION}],
        tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    turns = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18 C and sunny"},
    ]
    second = sdk.chat.completions.create(model="scripted-upstream:nothink",
                                         messages=turns)  # type: ignore[arg-type]
    assert second.choices[0].message.content.startswith(f"answer to {QUESTION}")  # type: ignore[union-attr]
    sent = script.last_body
    assert sent is not None
    assistant, tool = sent["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    assert assistant["tool_calls"][0]["id"] == call.id
    assert assistant["tool_calls"][0]["function"]["name"] == "get_weather"
    assert tool == {"role": "tool", "tool_call_id": call.id, "content": "18 C and sunny"}
    record = open_store(db).get(second.model_extra["thinkswitch"]["trace_id"])  # type: ignore[index]
    assert record is not None and record.messages[-1]["role"] == "tool"


def test_tool_turns_to_an_engine_without_tools_are_refused() -> None:
    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    with live_server(create_app(switch)) as root, \
            pytest.raises(openai.BadRequestError) as refused:
        client(f"{root}/v1").chat.completions.create(model="m", messages=[
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"}])
    assert "need an engine that takes tools; engine 'instant' does not" in str(refused.value)


def test_redaction_hides_tool_calls_too() -> None:
    from thinkswitch.trace.record import TraceRecord
    from thinkswitch.trace.redact import redact

    secret = {"content": "", "tool_calls": [{"id": "c", "type": "function", "function": {
        "name": "pay", "arguments": '{"iban": "DE89 3704 0044"}'}}]}
    hidden = redact(TraceRecord(answer=secret, thinking="plan"), "salt")
    assert "DE89" not in json.dumps(hidden.model_dump())
    assert set(hidden.answer) == {"sha256", "length"}  # type: ignore[arg-type]
    assert redact(hidden, "salt").answer == hidden.answer


def test_an_upstream_refusal_is_the_clients_400_without_our_urls(
        proxy: tuple[str, Script, Path]) -> None:
    base_url, script, _ = proxy
    script.mode = "reject"
    try:
        with pytest.raises(openai.BadRequestError) as refused:
            client(base_url).chat.completions.create(
                model="scripted-upstream:nothink", messages=[{"role": "user", "content": "x"}])
    finally:
        script.mode = "ok"
    assert refused.value.status_code == 400
    assert refused.value.body["message"] == (  # type: ignore[index]
        "the model server refused the request (HTTP 400): scripted rejection")
    assert "127.0.0.1" not in str(refused.value.body)
