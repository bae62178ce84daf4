"""API keys and the bounded queue (429) on a real server, with a slow scripted engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.events import EngineEvent
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.triage.rules import RulesPolicy


class SlowEngine(ScriptedEngine):
    """Answers every request after `delay` seconds (the slow backend of the 429 test)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        time.sleep(self.delay)
        self.enqueue(answer=["done"])
        return super().execute(request, dialect)


@pytest.fixture
def serve():  # type: ignore[no-untyped-def]
    from thinkswitch.server.app import create_app

    with ExitStack() as servers:

        def start(**options: object) -> str:
            delay = float(options.pop("delay", 0.0))  # type: ignore[arg-type]
            switch = Switch(SwitchParts(SlowEngine(delay), get_dialect("prompted"),
                                        RulesPolicy(), Settings()))
            return servers.enter_context(live_server(create_app(switch, **options)))  # type: ignore[arg-type]

        yield start


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_api_keys(serve) -> None:  # type: ignore[no-untyped-def]
    base = serve(api_keys=["s3cret"])
    missing = httpx.post(f"{base}/v1/chat/completions", json=BODY)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    wrong = httpx.post(f"{base}/v1/chat/completions", json=BODY,
                       headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    good = httpx.post(f"{base}/v1/chat/completions", json=BODY,
                      headers={"Authorization": "Bearer s3cret"})
    assert good.status_code == 200 and good.json()["choices"][0]["message"]["content"] == "done"
    anthropic_style = httpx.post(f"{base}/v1/messages", headers={"x-api-key": "nope"},
                                 json={"model": "m", "max_tokens": 5, "messages": BODY["messages"]})
    assert anthropic_style.status_code == 401
    assert anthropic_style.json()["type"] == "error"
    assert httpx.get(f"{base}/health").status_code == 200


def test_a_full_server_answers_429_with_retry_after(serve) -> None:  # type: ignore[no-untyped-def]
    base = serve(capacity=2, delay=1.0)
    results: list[int] = []

    def post() -> None:
        results.append(httpx.post(f"{base}/v1/chat/completions", json=BODY,
                                  timeout=30).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    busy = httpx.post(f"{base}/v1/chat/completions", json=BODY, timeout=30)
    assert busy.status_code == 429
    assert busy.headers["Retry-After"] == "1"
    assert busy.json()["error"]["type"] == "rate_limit_error"
    for thread in threads:
        thread.join()
    assert results == [200, 200]
    assert httpx.post(f"{base}/v1/chat/completions", json=BODY, timeout=30).status_code == 200


class TrickleEngine(ScriptedEngine):
    """Streams up to 400 answer tokens, one every 20 ms, counting what it produced."""

    def __init__(self) -> None:
        super().__init__()
        self.produced = 0

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        from thinkswitch.kernel.events import AnswerDelta, Finish, UsageReport

        for _ in range(400):
            time.sleep(0.02)
            self.produced += 1
            yield AnswerDelta("x ")
        yield UsageReport(1, 0, 400)
        yield Finish("stop")


@pytest.fixture
def trickle() -> Iterator[tuple[TrickleEngine, str]]:
    """A server in front of a slow engine that counts what it has produced."""
    from thinkswitch.server.app import create_app

    engine = TrickleEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    with live_server(create_app(switch)) as root:
        yield engine, root


def assert_generation_stopped(engine: TrickleEngine, root: str, why: str) -> None:
    """Within a second of the client leaving, the engine is stopped and the slot free."""
    at_leaving = engine.produced
    time.sleep(1.0)
    assert engine.produced - at_leaving <= 10, why
    assert engine.produced < 100
    metrics = httpx.get(f"{root}/metrics").text
    assert "thinkswitch_queue_depth 0" in metrics, "the slot was freed"


def test_a_client_that_disconnects_stops_generation(trickle: tuple[TrickleEngine, str]) -> None:
    engine, root = trickle
    with httpx.stream("POST", f"{root}/v1/chat/completions",
                      json={**BODY, "stream": True, "model": "m:nothink"}) as response:
        for count, _ in enumerate(response.iter_lines(), start=1):
            if count >= 10:
                break
    assert_generation_stopped(engine, root, "generation went on after the disconnect")


def test_cost_is_in_the_response(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from thinkswitch.server.app import create_app
    from thinkswitch.trace.backends import open_store
    from thinkswitch.trace.prices import Price, PriceTable
    from thinkswitch.trace.recorder import Recorder

    engine = ScriptedEngine("priced")
    engine.enqueue(thinking=["a", "b"], answer=["c"], prompt_tokens=1_000_000)
    prices = PriceTable({"priced": Price(input=2.0, output=10.0, thinking=5.0)})
    store = open_store(tmp_path / "traces.sqlite")
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store, prices)))
    response = TestClient(create_app(switch)).post(
        "/v1/chat/completions", json={**BODY, "model": "priced:think"})
    cost = response.json()["thinkswitch"]["cost"]
    assert cost["input"] == 2.0
    assert cost["thinking"] == 2 * 5.0 / 1e6 and cost["output"] == 10.0 / 1e6
    (record,) = store.records()
    assert record.cost.total == cost["total"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_client_that_gives_up_on_a_whole_answer_stops_generation(
        path: str, trickle: tuple[TrickleEngine, str]) -> None:
    engine, root = trickle
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{root}{path}", timeout=0.5,
                   json={**BODY, "model": "m:nothink", "max_tokens": 500})
    time.sleep(0.3)
    assert_generation_stopped(engine, root, "generation went on after the client left")
