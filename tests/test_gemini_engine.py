"""The `gemini` engine (the OpenAI-compatible engine with the `gemini` dialect) against a
scripted server shaped like Gemini's OpenAI-compatible endpoint (real HTTP on 127.0.0.1):
thinking budgets in `extra_body.google.thinking_config`, thoughts in `<thought>` tags,
`reasoning_effort: none` when off, and faults (503 overloaded, a stream cut mid-thinking)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.live_server import live_server

from thinkswitch.engines.gemini import GEMINI_BASE_URL, GeminiEngine, gemini_settings
from thinkswitch.engines.registry import engine_factories
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect, guess_dialect
from thinkswitch.triage.rules import RulesPolicy

PIECES = ["<thought>", "Three boxes ", "of four.", "</thought>", "Twelve", " apples."]


def gemini_like(state: dict[str, Any]) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        state["body"] = body
        if state["mode"] == "overloaded":
            return JSONResponse([{"error": {"code": 503, "message": "The model is overloaded.",
                                            "status": "UNAVAILABLE"}}], status_code=503)
        config = ((body.get("extra_body") or {}).get("google") or {}).get("thinking_config")
        pieces = PIECES if config and config.get("include_thoughts") else PIECES[4:]
        return StreamingResponse(stream(pieces, state["mode"]), media_type="text/event-stream")

    async def stream(pieces: list[str], mode: str) -> AsyncIterator[str]:
        for sent, piece in enumerate(pieces):
            if mode == "cut" and sent == 2:
                raise RuntimeError("scripted cut mid-thinking")
            chunk = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                  "finish_reason": None}]}
            yield f"data: {json.dumps(chunk)}\n\n"
        final = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 8, "completion_tokens": 9,
                           "completion_tokens_details": {"reasoning_tokens": 5}}}
        yield f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n"

    return Starlette(routes=[Route("/chat/completions", chat, methods=["POST"])])


@pytest.fixture(scope="module")
def front() -> Iterator[tuple[openai.OpenAI, dict[str, Any]]]:
    state: dict[str, Any] = {"mode": "ok"}
    with live_server(gemini_like(state)) as upstream:
        settings = Settings(engine="gemini", model="gemini-2.5-flash", base_url=upstream,
                            answer_max_tokens=64)
        engine = engine_factories()["gemini"][0](settings)
        assert isinstance(engine, GeminiEngine)
        dialect = get_dialect(guess_dialect(engine.model))
        switch = Switch(SwitchParts(engine, dialect, RulesPolicy(), settings))
        with live_server(create_app(switch)) as root:
            yield openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0), state
        engine.close()


def ask(client: openai.OpenAI, **options: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(  # type: ignore[call-overload]
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "How many?"}],
        **options)


def test_thinking_budget_and_thoughts(front: tuple[openai.OpenAI, dict[str, Any]]) -> None:
    client, state = front
    state["mode"] = "ok"
    response = ask(client, extra_body={"thinking": {"type": "enabled", "budget_tokens": 300}})
    assert state["body"]["extra_body"] == {"google": {"thinking_config": {
        "include_thoughts": True, "thinking_budget": 300}}}
    assert "reasoning_effort" not in state["body"]
    message = response.choices[0].message
    assert message.model_extra["reasoning_content"] == "Three boxes of four."  # type: ignore[index]
    assert message.content == "Twelve apples."
    assert response.usage.completion_tokens_details.reasoning_tokens == 5  # type: ignore[union-attr]
    ask(client, reasoning_effort="none")
    assert state["body"]["reasoning_effort"] == "none" and "extra_body" not in state["body"]


def test_faults(front: tuple[openai.OpenAI, dict[str, Any]]) -> None:
    client, state = front
    state["mode"] = "overloaded"
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, reasoning_effort="low")
    assert caught.value.status_code == 502 and "overloaded" in str(caught.value)
    state["mode"] = "cut"
    with pytest.raises(openai.APIError):
        for _ in ask(client, reasoning_effort="low", stream=True):
            pass


def test_default_base_url_is_googles() -> None:
    assert gemini_settings(Settings(engine="gemini")).base_url == GEMINI_BASE_URL
    given = Settings(engine="gemini", base_url="http://127.0.0.1:9/v1")
    assert gemini_settings(given).base_url == "http://127.0.0.1:9/v1"
