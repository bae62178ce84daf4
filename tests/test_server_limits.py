"""Body-size limit and CORS on a real server, plus the `instant` engine they run on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from live_server import live_server

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.engines.plan import GenerationRequest, ThinkingPlan
from thinkswitch.engines.registry import create_engine
from thinkswitch.messages import ChatMessage
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch import Request, Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

LIMIT = 4096


def instant_switch() -> Switch:
    return Switch(InstantEngine(), get_dialect("prompted"), RulesPolicy(), Settings())


@pytest.fixture(scope="module")
def root() -> Iterator[str]:
    app = create_app(instant_switch(), max_body_bytes=LIMIT)
    with live_server(app) as url:
        yield url


def chat_body(padding: int) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": "x" * padding}]}


def test_a_body_under_the_limit_is_served(root: str) -> None:
    response = httpx.post(f"{root}/v1/chat/completions", json=chat_body(LIMIT - 200))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].startswith("word0")


def test_a_declared_oversized_body_is_413_in_the_openai_format(root: str) -> None:
    response = httpx.post(f"{root}/v1/chat/completions", json=chat_body(LIMIT))
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert f"limit of {LIMIT} bytes" in error["message"]


def test_a_chunked_oversized_body_is_413_too(root: str) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}]}'

    response = httpx.post(f"{root}/v1/chat/completions", content=pieces(),
                          headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_an_oversized_anthropic_body_is_413_in_the_anthropic_format(root: str) -> None:
    response = httpx.post(f"{root}/v1/messages", json={**chat_body(LIMIT), "max_tokens": 5})
    assert response.status_code == 413
    assert response.json() == {"type": "error", "error": {
        "type": "request_too_large",
        "message": f"request body is larger than the server's limit of {LIMIT} bytes"}}


def test_cors_is_off_by_default(root: str) -> None:
    origin = {"Origin": "http://elsewhere.example"}
    plain = httpx.post(f"{root}/v1/chat/completions", json=chat_body(10), headers=origin)
    assert plain.status_code == 200
    assert "access-control-allow-origin" not in plain.headers
    preflight = httpx.options(f"{root}/v1/chat/completions", headers={
        **origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_the_configured_origins() -> None:
    app = create_app(instant_switch(), cors_origins=["http://ui.example"])
    with live_server(app) as url:
        allowed = httpx.options(f"{url}/v1/chat/completions", headers={
            "Origin": "http://ui.example", "Access-Control-Request-Method": "POST"})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://ui.example"
        other = httpx.post(f"{url}/v1/chat/completions", json=chat_body(10),
                           headers={"Origin": "http://elsewhere.example"})
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(("mode", "budget", "thinking", "finish"), [
    ("off", None, 0, "stop"), ("on", 4, 4, "budget"), ("on", 64, 16, "stop")])
def test_the_instant_engine_keeps_the_plan(mode: str, budget: int | None, thinking: int,
                                           finish: str) -> None:
    engine = create_engine(Settings(engine="instant"))
    plan = ThinkingPlan(mode=mode, budget=budget, answer_max_tokens=512)  # type: ignore[arg-type]
    request = GenerationRequest(messages=(ChatMessage(role="user", content="a b c"),), plan=plan)
    events = list(engine.execute(request, get_dialect("prompted")))
    usage, end = events[-2], events[-1]
    assert (usage.thinking_tokens, usage.answer_tokens, usage.prompt_tokens) == (  # type: ignore[union-attr]
        thinking, 8, 3)
    assert end.reason == finish  # type: ignore[union-attr]


def test_the_instant_engine_through_the_switch_caps_the_answer() -> None:
    result = instant_switch().run(Request.build("hello there", think="off",
                                                answer_max_tokens=3))
    assert result.answer == "word0 word1 word2"
    assert result.finish_reason == "length"
