"""`/v1/responses` on a real server, driven by the official `openai` SDK: a scripted engine for
exact values (controls, budgets, stored responses, callers), a scripted OpenAI-compatible
upstream for tools, and the real embedded engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from support.live_server import live_server
from support.scripted_upstream import Script, create_upstream, thinkswitch_in_front

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

KEYS = ("key-of-alice", "key-of-bob")
THINKING = ["First, 3 boxes. ", "Each has 4.\n\n", "So 3 times 4 is 12."]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ScriptedEngine]]:
    engine = ScriptedEngine()
    db = tmp_path_factory.mktemp("responses") / "traces.sqlite"
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(open_store(db))))
    with live_server(create_app(switch, api_keys=KEYS,
                                effort_budgets={"low": 100, "medium": 200, "high": 300})) as root:
        yield f"{root}/v1", engine


def sdk(base_url: str, key: str = KEYS[0]) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


def test_reasoning_item_summary_text_and_usage(scripted: tuple[str, ScriptedEngine]) -> None:
    base, engine = scripted
    engine.enqueue(thinking=THINKING, answer=["12", " apples"], prompt_tokens=9)
    response = sdk(base).responses.create(
        model="m", input="How many apples?", instructions="Be brief.",
        reasoning={"effort": "medium", "summary": "concise"})
    assert response.status == "completed"
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert reasoning.content[0].type == "reasoning_text"
    assert reasoning.content[0].text == "".join(THINKING).strip()
    assert [part.text for part in reasoning.summary] == ["So 3 times 4 is 12."]
    assert response.output_text == "12 apples"
    assert response.usage.output_tokens_details.reasoning_tokens == 3
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 5)
    asked = engine.requests[-1]
    assert asked.messages[0].role == "system" and asked.messages[0].content == "Be brief."
    assert (asked.plan.mode, asked.plan.budget) == ("on", 200)
    assert response.model_extra["thinkswitch"]["decision"]["budget"] == 200  # type: ignore[index]


@pytest.mark.parametrize(("controls", "mode", "budget"), [
    ({"reasoning": {"effort": "none"}}, "off", None),
    ({"reasoning": {"effort": "minimal"}}, "off", None),
    ({"reasoning": {"effort": "low"}}, "on", 100),
    ({"reasoning": {"effort": "high"}}, "on", 300),
    ({"reasoning": {"effort": "xhigh"}}, "on", 600),
    ({"model": "m:think"}, "on", 1024),
    ({"model": "m:nothink", "reasoning": {"effort": "high"}}, "on", 300),
    ({"extra_body": {"thinking": {"type": "enabled", "budget_tokens": 42}}}, "on", 42),
    ({"extra_body": {"thinking": {"type": "disabled"}}}, "off", None),
])
def test_thinking_controls_map_onto_the_switch(scripted: tuple[str, ScriptedEngine],
                                                controls: dict, mode: str,  # type: ignore[type-arg]
                                                budget: int | None) -> None:
    base, engine = scripted
    engine.enqueue(thinking=["t"] if mode == "on" else [], answer=["a"])
    response = sdk(base).responses.create(**{"model": "m", "input": "q", **controls})
    plan = engine.requests[-1].plan
    assert (plan.mode, plan.budget) == (mode, budget)
    assert [item.type for item in response.output] == (
        ["reasoning", "message"] if mode == "on" else ["message"])


def test_max_output_tokens_bounds_thinking_plus_answer(
        scripted: tuple[str, ScriptedEngine]) -> None:
    base, engine = scripted
    for effort, cap, budget in (("high", 100, 75), ("low", 400, 100), ("none", 50, None)):
        engine.enqueue(answer=["a"])
        sdk(base).responses.create(model="m", input="q", max_output_tokens=cap,
                                   reasoning={"effort": effort})  # type: ignore[typeddict-item]
        plan = engine.requests[-1].plan
        assert plan.budget == budget
        assert (plan.budget or 0) + plan.answer_max_tokens == cap


def test_cut_by_the_cap_is_incomplete(scripted: tuple[str, ScriptedEngine]) -> None:
    base, engine = scripted
    engine.enqueue(answer=["twelve"], finish="length")
    response = sdk(base).responses.create(model="m", input="q", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_previous_response_is_served_to_its_caller_only(
        scripted: tuple[str, ScriptedEngine]) -> None:
    base, engine = scripted
    engine.enqueue(answer=["12"])
    first = sdk(base).responses.create(model="m", input="How many apples?",
                                       instructions="Be brief.")
    engine.enqueue(answer=["20"])
    second = sdk(base).responses.create(model="m", input=[
        {"role": "user", "content": [{"type": "input_text", "text": "And 5 boxes?"}]}],
        previous_response_id=first.id)
    turns = [(m.role, m.content) for m in engine.requests[-1].messages]
    assert turns == [("user", "How many apples?"), ("assistant", "12"),
                     ("user", "And 5 boxes?")]  # earlier instructions are not carried over
    assert second.previous_response_id == first.id
    assert sdk(base).responses.retrieve(first.id).output_text == "12"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(base, KEYS[1]).responses.create(model="m", input="x", previous_response_id=first.id)
    assert caught.value.body["code"] == "previous_response_not_found"  # type: ignore[index]
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        sdk(base, KEYS[1]).responses.retrieve(first.id)


def test_store_false_is_not_retrievable(scripted: tuple[str, ScriptedEngine]) -> None:
    base, engine = scripted
    engine.enqueue(answer=["12"])
    response = sdk(base).responses.create(model="m", input="q", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        sdk(base).responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        sdk(base).responses.create(model="m", input="q", previous_response_id=response.id)
    trace = response.model_extra["thinkswitch"]["trace_id"]  # type: ignore[index]
    assert trace and trace not in response.id  # still traced for audit


def test_stream_event_sequence(scripted: tuple[str, ScriptedEngine]) -> None:
    base, engine = scripted
    engine.enqueue(thinking=THINKING, answer=["12", " apples"])
    with sdk(base).responses.stream(model="m", input="How many apples?",
                                    reasoning={"effort": "low", "summary": "detailed"}) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:3] == ["response.created", "response.in_progress",
                         "response.output_item.added"]
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    reasoning = [e.delta for e in events if e.type == "response.reasoning_text.delta"]
    assert "".join(reasoning) == "".join(THINKING)
    summary = [e.delta for e in events if e.type == "response.reasoning_summary_text.delta"]
    assert summary == ["First, 3 boxes. So 3 times 4 is 12."]  # first sentence per step
    answer = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert answer == ["12", " apples"]
    last_reasoning = max(i for i, k in enumerate(kinds) if k.startswith("response.reasoning"))
    assert last_reasoning < kinds.index("response.output_text.delta")
    for done in ("response.reasoning_text.done", "response.output_text.done",
                 "response.content_part.done", "response.output_item.done"):
        assert done in kinds
    assert final.output_text == "12 apples"
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 3
    assert sdk(base).responses.retrieve(final.id).output[1].id == final.output[1].id


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"model": "m"}, "input", "Field required"),
    ({"model": "m", "input": "q", "reasoning": {"effort": "extreme"}}, "reasoning.effort",
     "Input should be"),
    ({"model": "m", "input": "q", "max_output_tokens": 0}, "max_output_tokens", "greater"),
    ({"model": "m", "input": [{"type": "image_generation_call"}]}, None, "not supported"),
    ({"model": "m", "input": "q", "tools": [{"type": "web_search"}]}, "tools[type=web_search]",
     "not supported"),
    ({"model": "m", "input": "q", "top_k": 3}, "top_k", "not supported"),
    ({"model": "m", "input": "q", "thinking": {"type": "enabled"}}, None, "budget_tokens"),
    ({"model": "m", "input": "q", "max_output_tokens": 1, "reasoning": {"effort": "low"}}, None,
     "no room"),
    # the faces' bounds (server/bounds.py): no overflow or NaN reaches an engine
    ({"model": "m", "input": "q", "max_output_tokens": 10**30}, "max_output_tokens",
     "less than or equal"),
    ({"model": "m", "input": "q", "timeout": 1e308}, "timeout", "less than or equal"),
    ({"model": "m", "input": "q", "thinking": {"type": "enabled", "budget_tokens": 10**30}},
     "thinking.budget_tokens", "less than or equal"),
])
def test_bad_input_is_a_400_in_openai_shape(scripted: tuple[str, ScriptedEngine],
                                            body: dict, param: str | None,  # type: ignore[type-arg]
                                            words: str) -> None:
    base, _ = scripted
    reply = httpx.post(f"{base}/responses", json=body,
                       headers={"Authorization": f"Bearer {KEYS[0]}"})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert words in error["message"] and error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_unknown_response_and_unknown_key(scripted: tuple[str, ScriptedEngine]) -> None:
    base, _ = scripted
    reply = httpx.get(f"{base}/responses/resp_nothing",
                      headers={"Authorization": f"Bearer {KEYS[0]}"})
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "response_not_found"
    with pytest.raises(openai.AuthenticationError):
        sdk(base, "wrong").responses.create(model="m", input="q")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Script]]:
    script = Script(tokens=6)
    db = tmp_path_factory.mktemp("responses-upstream") / "traces.sqlite"
    with live_server(create_upstream(script)) as up, thinkswitch_in_front(
            [f"{up}/v1"], "qwen3", Recorder(open_store(db))) as (root, _):
        yield f"{root}/v1", script


TOOL = {"type": "function", "name": "get_weather", "description": "weather of a city",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                       "required": ["q"]}}


def test_function_tools_pass_through_and_results_go_back(upstream: tuple[str, Script]) -> None:
    base, script = upstream
    client = sdk(base)
    response = client.responses.create(model="scripted-upstream:nothink", input="Weather?",
                                       tools=[TOOL])  # type: ignore[list-item]
    (call,) = response.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments)["q"].startswith("Weather?")
    assert script.last_body is not None
    sent = script.last_body["tools"][0]
    assert sent == {"type": "function", "function": {
        "name": "get_weather", "description": "weather of a city",
        "parameters": TOOL["parameters"]}}
    follow = client.responses.create(
        model="scripted-upstream:nothink", previous_response_id=response.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert follow.output_text.startswith("answer to")
    turns = script.last_body["messages"]
    assert turns[-2]["tool_calls"][0]["id"] == call.call_id
    assert turns[-1] == {"role": "tool", "content": "sunny", "tool_call_id": call.call_id}


def test_streamed_tool_call_items(upstream: tuple[str, Script]) -> None:
    base, _ = upstream
    with sdk(base).responses.stream(model="scripted-upstream:nothink", input="Weather?",
                                    tools=[TOOL]) as stream:  # type: ignore[list-item]
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    assert final.output[0].type == "function_call"
    assert json.loads(final.output[0].arguments)["q"].startswith("Weather?")


def test_real_engine_create_and_stream(llama_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(temperature=0.0, n_ctx=2048, answer_max_tokens=32)
    switch = Switch(SwitchParts(llama_engine, get_dialect("prompted"), RulesPolicy(), settings,
                                Recorder(open_store(tmp_path / "traces.sqlite"))))
    question = "Tom has 3 boxes with 4 apples in each box. How many apples does Tom have?"
    with live_server(create_app(switch, effort_budgets={"low": 16, "medium": 32,
                                                        "high": 64})) as root:
        client = sdk(f"{root}/v1", "unused")
        response = client.responses.create(model="smollm2", input=question,
                                           max_output_tokens=40,
                                           reasoning={"effort": "low", "summary": "auto"})
        usage = response.usage
        assert usage is not None and 0 < usage.output_tokens_details.reasoning_tokens <= 16
        assert usage.output_tokens <= 40
        assert response.output[0].type == "reasoning" and response.output[0].summary
        assert response.output_text
        with client.responses.stream(model="smollm2", input=question, max_output_tokens=24,
                                     reasoning={"effort": "none"}) as stream:
            events = list(stream)
        kinds = [event.type for event in events]
        assert "response.reasoning_text.delta" not in kinds
        assert kinds[-1] in ("response.completed", "response.incomplete")
        final = events[-1].response  # type: ignore[union-attr]
        assert final.output_text and final.usage is not None
        assert final.usage.output_tokens <= 24
        assert (final.status == "incomplete") == (final.usage.output_tokens == 24)


def test_failure_midway_is_an_error_then_response_failed(
        scripted: tuple[str, ScriptedEngine]) -> None:
    from thinkswitch.kernel.events import ThinkingDelta

    base, engine = scripted
    engine.enqueue_events([ThinkingDelta("half a thought")])  # then the engine ends abruptly
    events = list(sdk(base).responses.create(model="m", input="q", stream=True,
                                             reasoning={"effort": "low"}))
    kinds = [event.type for event in events]
    assert kinds[-2:] == ["error", "response.failed"]
    assert "ended without finishing" in events[-2].message  # type: ignore[union-attr]
    assert events[-1].response.status == "failed"  # type: ignore[union-attr]
    assert [event.sequence_number for event in events] == list(range(len(events)))


def test_deleting_a_response_is_refused(scripted: tuple[str, ScriptedEngine]) -> None:
    base, _ = scripted
    reply = httpx.delete(f"{base}/responses/resp_x",
                         headers={"Authorization": f"Bearer {KEYS[0]}"})
    assert reply.status_code == 405 and "error" in reply.json()
