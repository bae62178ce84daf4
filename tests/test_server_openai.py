"""The OpenAI-compatible server on 127.0.0.1, driven by the official `openai` SDK."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from support.llama_server import QUESTION, server  # noqa: F401 - the shared server fixture

from thinkswitch.trace.backends import open_store


@pytest.fixture
def client(server: tuple[str, Path]):  # type: ignore[no-untyped-def]  # noqa: F811
    return openai.OpenAI(base_url=server[0], api_key="unused", max_retries=0)


def ask(client, **options):  # type: ignore[no-untyped-def]
    arguments = {"model": "smollm2", "messages": [{"role": "user", "content": QUESTION}],
                 **options}
    return client.chat.completions.create(**arguments)


def test_off_has_no_reasoning(client) -> None:  # type: ignore[no-untyped-def]
    response = ask(client, reasoning_effort="minimal", max_tokens=24)
    message = response.choices[0].message
    assert message.content
    assert getattr(message, "reasoning_content", None) is None
    assert response.usage.completion_tokens_details.reasoning_tokens == 0
    assert response.model_extra["thinkswitch"]["decision"]["mode"] == "off"


def test_on_with_a_budget_reports_reasoning_tokens(client) -> None:  # type: ignore[no-untyped-def]
    response = ask(client, max_tokens=24,
                   extra_body={"thinking": {"type": "enabled", "budget_tokens": 16}})
    message = response.choices[0].message
    extension = response.model_extra["thinkswitch"]
    reasoning = response.usage.completion_tokens_details.reasoning_tokens
    assert 0 < reasoning <= 16
    assert "reasoning" not in message.model_extra  # one field by default
    assert message.model_extra["reasoning_content"]
    assert extension["decision"] == {**extension["decision"], "mode": "on", "budget": 16}
    assert extension["finish_reason"] in ("budget", "length")


def test_streaming_sends_thinking_before_the_answer(client) -> None:  # type: ignore[no-untyped-def]
    stream = ask(client, stream=True, stream_options={"include_usage": True}, max_tokens=24,
                 model="smollm2:think", extra_body={"min_thinking_tokens": 0,
                                                    "thinking": {"type": "enabled",
                                                                 "budget_tokens": 12}})
    order, usage, thinking = [], None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            if extra.get("reasoning_content"):
                order.append("t")
                thinking.append(extra["reasoning_content"])
            if choice.delta.content:
                order.append("a")
    assert "t" in order and "a" in order
    assert order.index("a") > max(i for i, kind in enumerate(order) if kind == "t")
    assert usage is not None and 0 < usage.completion_tokens_details.reasoning_tokens <= 12


def test_model_suffix_and_auto_decision(client) -> None:  # type: ignore[no-untyped-def]
    off = client.chat.completions.create(
        model="smollm2:nothink", max_tokens=8,
        messages=[{"role": "user", "content": "Say hello."}])
    assert off.model_extra["thinkswitch"]["decision"]["mode"] == "off"
    auto = client.chat.completions.create(
        model="smollm2", max_tokens=8, messages=[{"role": "user", "content": "Say hello."}])
    decision = auto.model_extra["thinkswitch"]["decision"]
    assert decision["requested"] == "auto" and decision["reason"]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"messages": []}, "messages"),
        ({"extra_body": {"thinking": {"type": "enabled", "budget_tokens": -1}}},
         "budget_tokens"),
        ({"extra_body": {"thinking": {"type": "enabled"}}}, "budget_tokens is required"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
         "'tools' is not supported"),
        ({"extra_body": {"thinking": {"type": "enabled", "budget_tokens": 99999}}},
         "exceed the context window"),
        ({"temperature": 7}, "temperature"),
    ],
)
def test_bad_requests_are_openai_400s(client, options: dict[str, object],  # type: ignore[no-untyped-def]
                                      words: str) -> None:
    arguments = {"model": "smollm2", "messages": [{"role": "user", "content": QUESTION}],
                 **options}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**arguments)
    assert words in caught.value.message


def test_health_models_and_every_request_recorded(server: tuple[str, Path], client) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, db = server
    assert httpx.get(base.removesuffix("/v1") + "/health").json()["status"] == "ok"
    ids = [m.id for m in client.models.list()]
    assert any(name.endswith(":think") for name in ids)
    before = len(open_store(db).records())
    ask(client, reasoning_effort="minimal", max_tokens=8)
    records = open_store(db).records()
    assert len(records) == before + 1
    assert records[0].messages[-1]["content"] == QUESTION


def test_metrics_count_requests_and_tokens(server: tuple[str, Path], client) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ask(client, max_tokens=8, extra_body={"thinking": {"type": "enabled", "budget_tokens": 8}})
    text = httpx.get(server[0].removesuffix("/v1") + "/metrics").text
    assert 'thinkswitch_requests_total{mode="on"}' in text
    thinking = [line for line in text.splitlines()
                if line.startswith('thinkswitch_tokens_total{kind="thinking"}')]
    assert thinking and int(thinking[0].split()[-1]) > 0
    assert "thinkswitch_request_seconds_bucket" in text and "thinkswitch_queue_depth 0" in text
