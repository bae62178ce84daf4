"""Request fields are as strict as the real APIs: a flag is a JSON boolean (`stream: "yes"`
does not stream), a number is a JSON number (`max_tokens: true` is not 1, `temperature:
"0.5"` is not 0.5) — each a 400 in the face's own format naming the field — while what real
clients send stays valid: an int for a float (`temperature: 1`) and an integral float for an
int (`max_tokens: 64.0`). A real server on 127.0.0.1 in front of a scripted engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.clients_server import ANSWER, API_KEY, MODEL, clients_server

from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder

AUTH = {"authorization": f"Bearer {API_KEY}"}
QUESTION = [{"role": "user", "content": "How many apples are in 3 boxes of 4?"}]
CHAT = {"model": MODEL, "messages": QUESTION}
RESPONSES = {"model": MODEL, "input": "How many apples?"}
MESSAGES = {"model": MODEL, "max_tokens": 64, "messages": QUESTION}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = open_store(str(tmp_path_factory.mktemp("strict") / "trace.sqlite"))
    with clients_server(recorder=Recorder(store)) as served:
        yield served
    store.close()


def post(root: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{root}{path}", json=body, headers=AUTH, timeout=30)


@pytest.mark.parametrize(("path", "base", "field", "value"), [
    ("/v1/chat/completions", CHAT, "stream", "yes"),
    ("/v1/chat/completions", CHAT, "stream", 1),
    ("/v1/chat/completions", CHAT, "max_tokens", True),
    ("/v1/chat/completions", CHAT, "max_completion_tokens", "64"),
    ("/v1/chat/completions", CHAT, "temperature", "0.5"),
    ("/v1/chat/completions", CHAT, "temperature", True),
    ("/v1/chat/completions", CHAT, "seed", False),
    ("/v1/chat/completions", CHAT, "top_p", "1"),
    ("/v1/chat/completions", CHAT, "timeout", True),
    ("/v1/chat/completions", CHAT, "stream_options.include_usage", "true"),
    ("/v1/responses", RESPONSES, "stream", "yes"),
    ("/v1/responses", RESPONSES, "store", "no"),
    ("/v1/responses", RESPONSES, "max_output_tokens", True),
    ("/v1/responses", RESPONSES, "temperature", "1"),
])
def test_a_lax_value_is_an_openai_400_naming_the_field(
        root: str, path: str, base: dict[str, Any], field: str, value: Any) -> None:
    body = {**base, **nested(field, value)}
    refused = post(root, path, body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == field
    assert field in error["message"]


@pytest.mark.parametrize(("field", "value"), [
    ("stream", "yes"), ("stream", 0), ("max_tokens", True), ("max_tokens", "64"),
    ("temperature", "0.5"), ("temperature", False),
    ("tool_choice.disable_parallel_tool_use", "yes"),
])
def test_a_lax_value_is_an_anthropic_400_naming_the_field(
        root: str, field: str, value: Any) -> None:
    body = {**MESSAGES, **nested(field, value)}
    if field.startswith("tool_choice"):
        body["tool_choice"]["type"] = "auto"
    refused = post(root, "/v1/messages", body)
    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert f"invalid {field}" in error["error"]["message"]


def test_count_tokens_takes_a_number_only(root: str) -> None:
    refused = post(root, "/v1/messages/count_tokens", {**MESSAGES, "max_tokens": True})
    assert refused.status_code == 400 and "max_tokens" in refused.json()["error"]["message"]


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", {**CHAT, "temperature": 1, "max_tokens": 64.0,
                              "stream": False, "seed": 7.0}),
    ("/v1/responses", {**RESPONSES, "temperature": 0, "max_output_tokens": 64.0,
                       "store": True}),
    ("/v1/messages", {**MESSAGES, "temperature": 1, "max_tokens": 64.0, "stream": False}),
])
def test_what_real_clients_send_stays_valid(root: str, path: str, body: dict[str, Any]) -> None:
    answered = post(root, path, body)
    assert answered.status_code == 200, answered.text
    assert "".join(ANSWER) in answered.text


@pytest.mark.parametrize("step", [True, "1", 1.5])
def test_a_feedback_step_is_an_integer(root: str, step: Any) -> None:
    answered = post(root, "/v1/chat/completions", CHAT)
    trace_id = answered.json()["thinkswitch"]["trace_id"]
    refused = post(root, f"/v1/traces/{trace_id}/feedback", {"step": step, "verdict": "wrong"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "step"


def nested(field: str, value: Any) -> dict[str, Any]:
    """`{"a": {"b": value}}` for the field `a.b`."""
    head, _, rest = field.partition(".")
    return {head: nested(rest, value) if rest else value}
