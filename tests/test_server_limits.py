"""Body-size limit and CORS on a real server, plus the `instant` engine they run on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.live_server import live_server

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.engines.registry import create_engine
from thinkswitch.kernel.events import AnswerDelta, EngineEvent
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.triage.rules import RulesPolicy

LIMIT = 4096


def instant_switch() -> Switch:
    return Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(), Settings()))


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


class BrokenEngine(InstantEngine):
    """Answers two words, then fails with a bug (not a ThinkswitchError)."""

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        yield AnswerDelta("partial ")
        yield AnswerDelta("answer ")
        raise KeyError("internal detail")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SqlTraceStore]]:
    store = open_store(tmp_path_factory.mktemp("broken") / "traces.sqlite")
    switch = Switch(SwitchParts(BrokenEngine(), get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    with live_server(create_app(switch, api_keys=["k1"])) as url:
        yield url, store
    store.close()


KEY = {"Authorization": "bearer k1"}  # the scheme is case-insensitive


def test_a_bug_mid_stream_ends_with_an_error_event_and_done(
        broken: tuple[str, SqlTraceStore]) -> None:
    root, store = broken
    with httpx.stream("POST", f"{root}/v1/chat/completions", headers=KEY,
                      json={**chat_body(5), "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert response.status_code == 200
    assert lines[-1] == "data: [DONE]"
    error = json.loads(lines[-2].removeprefix("data: "))["error"]
    assert error["message"] == "internal error (KeyError); the answer is incomplete"
    assert "internal detail" not in lines[-2]
    assert store.records()[0].error == "internal error: KeyError: 'internal detail'"


def test_a_bug_without_streaming_is_a_500_in_each_dialect(
        broken: tuple[str, SqlTraceStore]) -> None:
    root, _ = broken
    openai_style = httpx.post(f"{root}/v1/chat/completions", headers=KEY, json=chat_body(5))
    assert openai_style.status_code == 500
    assert openai_style.json()["error"]["type"] == "server_error"
    anthropic_style = httpx.post(f"{root}/v1/messages", headers={"x-api-key": "k1"},
                                 json={**chat_body(5), "max_tokens": 5})
    assert anthropic_style.status_code == 500
    assert anthropic_style.json()["error"]["type"] == "api_error"


def test_unknown_routes_and_methods_answer_in_the_dialect(
        broken: tuple[str, SqlTraceStore]) -> None:
    root, _ = broken
    missing = httpx.get(f"{root}/v1/nothing", headers=KEY)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Not Found"
    wrong = httpx.get(f"{root}/v1/messages", headers=KEY)
    assert wrong.status_code == 405
    assert wrong.json() == {"type": "error", "error": {
        "type": "api_error", "message": "Method Not Allowed"}}


def test_the_key_is_checked_before_the_body_is_read(broken: tuple[str, SqlTraceStore]) -> None:
    root, _ = broken
    huge = httpx.post(f"{root}/v1/chat/completions", json=chat_body(2 << 20))
    assert huge.status_code == 401


def test_with_keys_a_caller_sees_only_its_own_traces(tmp_path: Path) -> None:
    store = open_store(tmp_path / "traces.sqlite")
    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    alice, bob = {"x-api-key": "alice-key"}, {"x-api-key": "bob-key"}
    with live_server(create_app(switch, api_keys=["alice-key", "bob-key"])) as root:
        answered = httpx.post(f"{root}/v1/chat/completions", json=chat_body(5), headers=alice)
        trace_id = answered.json()["thinkswitch"]["trace_id"]
        mine = httpx.get(f"{root}/v1/traces", headers=alice).json()["data"]
        theirs = httpx.get(f"{root}/v1/traces", headers=bob).json()["data"]
        assert [row["id"] for row in mine] == [trace_id] and theirs == []
        assert httpx.get(f"{root}/v1/traces/{trace_id}", headers=alice).status_code == 200
        assert httpx.get(f"{root}/v1/traces/{trace_id}", headers=bob).status_code == 404
    store.close()



class HoldingEngine(InstantEngine):
    """Streams one word, then holds its worker thread until `release` is set (answer cap 7);
    answers at once otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        if request.plan.answer_max_tokens == 7:
            yield AnswerDelta("held ")
            self.release.wait(60)
        yield from super().execute(request, dialect)


def test_streams_filling_the_capacity_do_not_starve_other_requests() -> None:
    """45 held streams are more than anyio's default 40 worker threads: without a larger
    limiter the next request would wait for a stream to end."""
    engine = HoldingEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    held = {**chat_body(5), "stream": True, "max_tokens": 7, "model": "m:nothink"}
    opened = threading.Semaphore(0)

    def hold(root: str) -> None:
        with httpx.stream("POST", f"{root}/v1/chat/completions", json=held,
                          timeout=60) as response:
            for line in response.iter_lines():
                if "held" in line:
                    opened.release()

    with live_server(create_app(switch, capacity=60)) as root:
        streams = [threading.Thread(target=hold, args=(root,)) for _ in range(45)]
        for stream in streams:
            stream.start()
        try:
            for _ in streams:
                assert opened.acquire(timeout=10), "a held stream did not start"
            quick = httpx.post(f"{root}/v1/chat/completions", timeout=10,
                               json={**chat_body(5), "model": "m:nothink"})
            assert quick.status_code == 200
        finally:
            engine.release.set()
            for stream in streams:
                stream.join(timeout=30)
