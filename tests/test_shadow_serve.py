"""Shadow evaluation in a real server (uvicorn on 127.0.0.1, the official OpenAI SDK as client):
pairs from a served run on the replay engine carry the recorded correctness and verify in the
chain, and `triage report` reads them end to end; a full server drops shadow runs and counts
them; shadow tokens never reach the caller's usage, bill or token counters; an exclusive
engine's shadow run yields to the next user request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from openai import OpenAI
from support.cli import REPLAY_DATA, assert_one_line_error, thinkswitch
from support.live_server import live_server

from thinkswitch.cli.serve_cmd import build_server
from thinkswitch.engines.replay import ReplayEngine
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.events import AnswerDelta, EngineEvent, Finish, ThinkingDelta, UsageReport
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings, default_data_dir
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.prices import Price, PriceTable
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.verify import verify
from thinkswitch.triage.rules import RulesPolicy

needs_replay = pytest.mark.skipif(not REPLAY_DATA.is_dir(), reason="shared outcome data absent")


def metric(text: str, name: str) -> float:
    """The value of one exposition line `name value`."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics:\n{text}")


def questions(count: int) -> list[str]:
    engine = ReplayEngine(default_data_dir(), "gemini-2.5-flash")
    return engine.questions()[:count]


@needs_replay
def test_a_served_replay_run_yields_pairs_and_the_report_reads_them(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    app, _ = build_server(None, {"engine": "replay", "model": "gemini-2.5-flash",
                                 "trace_db": str(db), "shadow_rate": 1.0}, {})
    asked = questions(24)
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused")
        usages = []
        for question in asked:
            response = client.chat.completions.create(
                model="gemini-2.5-flash", messages=[{"role": "user", "content": question}])
            usages.append(response.usage)
            assert app.state.shadow.wait_idle(30)
        exposition = httpx.get(f"{url}/metrics").text
    assert metric(exposition, 'thinkswitch_shadow_total{outcome="recorded"}') == 24
    assert metric(exposition, 'thinkswitch_shadow_dropped_total{reason="capacity"}') == 0
    assert 'thinkswitch_auto_estimated_accuracy{policy="always",bound="estimate"}' in exposition

    store = open_store(db)
    try:
        pairs = store.shadow_pairs()
        requests = [r for r in store.records() if r.kind == "request"]
        assert verify(store).ok
    finally:
        store.close()
    assert len(pairs) == 24 and {p.request_id for p in pairs} == {r.id for r in requests}
    engine = ReplayEngine(default_data_dir(), "gemini-2.5-flash")
    for pair in pairs:
        assert pair.propensity == 1.0 and pair.correctness_source == "replay"
        assert {pair.live.mode, pair.shadow.mode} == {"off", "on"}
        for side in (pair.live, pair.shadow):
            plan = ThinkingPlan(mode=side.mode, budget=side.budget, answer_max_tokens=512)
            recorded = engine.lookup(str(pair.question), plan)
            assert side.correct == recorded.correct and side.answer == recorded.answer.strip()
    # the callers were billed for their own side only
    by_id = {r.id: r for r in requests}
    for pair in pairs:
        usage = by_id[pair.request_id].usage
        assert usage["thinking_tokens"] == pair.live.thinking_tokens
    assert sum(u.completion_tokens_details.reasoning_tokens for u in usages) == sum(
        p.live.thinking_tokens for p in pairs)

    out = tmp_path / "report"
    run = thinkswitch("triage", "report", "--db", str(db), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("auto saved ") and "over 24 requests" in run.stdout
    report = json.loads((out / "report.json").read_text())
    live_thinking = sum(p.live.thinking_tokens for p in pairs)
    always = sum(p.side("on").thinking_tokens for p in pairs)
    assert report["thinking_tokens"] == live_thinking
    assert report["always_thinking_tokens"] == pytest.approx(always, abs=1)
    truth_loss = sum(float(bool(p.side("on").correct)) - float(bool(p.live.correct))
                     for p in pairs) / len(pairs)
    assert report["accuracy"]["loss"]["value"] == pytest.approx(truth_loss, abs=1e-6)
    assert (out / "accuracy_vs_think_rate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert report["sentence"].split(";")[0] in page and "data:image/png;base64," in page


class HeldEngine(ScriptedEngine):
    """Scripted, except that a question starting with 'hold' waits for `release`, then
    answers 'Lima'."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.holding = threading.Event()

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        if str(request.messages[-1].content).startswith("hold"):
            self.holding.set()
            self.release.wait(30)
            yield from (AnswerDelta("Lima"), UsageReport(5, 0, 1), Finish("stop"))
            return
        yield from super().execute(request, dialect)


def scripted_switch(engine: ScriptedEngine, tmp_path: Path, rate: float,
                    prices: PriceTable | None = None) -> Switch:
    store = open_store(tmp_path / "traces.sqlite")
    return Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(),
                              Settings(shadow_rate=rate, record=True), Recorder(store, prices)))


def test_no_shadow_run_when_capacity_is_full(tmp_path: Path) -> None:
    engine = HeldEngine()
    switch = scripted_switch(engine, tmp_path, rate=1.0)
    app = create_app(switch, capacity=2)
    engine.enqueue(answer=["Paris"])
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        held = threading.Thread(target=client.chat.completions.create, kwargs={
            "model": "m", "messages": [{"role": "user", "content": "hold on, capital of Peru?"}]})
        held.start()
        assert engine.holding.wait(10)
        # the server is full while this answer completes: its shadow run must not start
        answer = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Capital of France?"}])
        assert answer.choices[0].message.content == "Paris"
        exposition = httpx.get(f"{url}/metrics").text
        assert metric(exposition, 'thinkswitch_shadow_dropped_total{reason="capacity"}') == 1
        assert metric(exposition, 'thinkswitch_shadow_total{outcome="recorded"}') == 0
        engine.release.set()
        held.join(10)
        assert app.state.shadow.wait_idle(10)
        exposition = httpx.get(f"{url}/metrics").text
    # once there was room again, the held request's shadow ran: only the full moment dropped
    assert metric(exposition, 'thinkswitch_shadow_total{outcome="recorded"}') == 1
    assert switch.recorder is not None
    [pair] = switch.recorder.store.shadow_pairs()
    assert str(pair.question).startswith("hold") and pair.live.answer == "Lima"


def test_shadow_tokens_never_reach_the_callers_usage_or_bill(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    prices = PriceTable({"*": Price(input=1.0, output=2.0, thinking=4.0)})
    switch = scripted_switch(engine, tmp_path, rate=1.0, prices=prices)
    app = create_app(switch)
    engine.enqueue(answer=["Paris", "."], prompt_tokens=7)        # the user's direct answer
    engine.enqueue(thinking=["x"] * 50, answer=["Paris"], prompt_tokens=7)  # its shadow
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused")
        response = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "What is the capital of France?"}])
        assert app.state.shadow.wait_idle(10)
        exposition = httpx.get(f"{url}/metrics").text
    extension: dict[str, Any] = response.model_extra["thinkswitch"]  # type: ignore[index]
    assert extension["decision"]["mode"] == "off"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (7, 2)
    assert response.usage.completion_tokens_details.reasoning_tokens == 0  # type: ignore[union-attr]
    assert extension["cost"]["total"] == pytest.approx((7 * 1.0 + 2 * 2.0) / 1e6)
    assert metric(exposition, 'thinkswitch_tokens_total{kind="thinking"}') == 0
    assert metric(exposition, 'thinkswitch_shadow_tokens_total{kind="thinking"}') == 50
    assert switch.recorder is not None
    store = switch.recorder.store
    request = store.get(extension["trace_id"])
    assert request is not None and request.usage["thinking_tokens"] == 0
    assert request.cost.total == pytest.approx(11 / 1e6)
    [pair] = store.shadow_pairs()
    shadow_record = store.get(pair.id)
    assert shadow_record is not None and shadow_record.kind == "shadow"
    assert shadow_record.cost.thinking == pytest.approx(50 * 4.0 / 1e6)
    assert pair.agreement.agree is True and pair.shadow.thinking_tokens == 50


class SlowExclusiveEngine(ScriptedEngine):
    """One request at a time under a lock, as the embedded engine; thinking is slow (a token
    every 20 ms, 3 s in all)."""

    exclusive: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        with self.lock:
            if request.plan.mode == "off":
                yield from super().execute(request, dialect)
                return
            for _ in range(150):
                time.sleep(0.02)
                yield ThinkingDelta("t")
            yield from (AnswerDelta("Paris"), UsageReport(5, 150, 1), Finish("stop"))


def test_a_shadow_run_on_an_exclusive_engine_yields_to_the_next_user(tmp_path: Path) -> None:
    engine = SlowExclusiveEngine()
    switch = scripted_switch(engine, tmp_path, rate=1.0)
    app = create_app(switch)
    engine.enqueue(answer=["Paris"])
    engine.enqueue(answer=["Rome"])
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused")
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Capital of France?"}])
        time.sleep(0.2)  # the shadow side is generating now
        started = time.perf_counter()
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Capital of Italy?"}])
        assert time.perf_counter() - started < 1.5  # not the rest of the shadow's 3 s
        assert app.state.shadow.wait_idle(10)
        exposition = httpx.get(f"{url}/metrics").text
    assert metric(exposition, 'thinkswitch_shadow_total{outcome="preempted"}') >= 1


def test_bad_shadow_rates_are_clear_errors(tmp_path: Path) -> None:
    for rate in ("1.5", "-0.1"):
        run = thinkswitch("serve", "--engine", "instant", "--shadow-rate", rate,
                          "--db", str(tmp_path / "t.sqlite"))
        assert_one_line_error(run, 2, "--shadow-rate must be between 0 and 1")
    config = tmp_path / "thinkswitch.toml"
    config.write_text("[triage]\nshadow_rate = 2\n")
    run = thinkswitch("config", "check", str(config))
    assert run.returncode != 0 and "shadow_rate" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    with pytest.raises(UsageError, match="record"):
        create_app(Switch(SwitchParts(ScriptedEngine(), get_dialect("prompted"), RulesPolicy(),
                                      Settings(shadow_rate=0.5))))


def test_report_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    assert_one_line_error(thinkswitch("triage", "report", "--db", str(missing)), 2,
                          "no trace store at")
    empty = tmp_path / "empty.sqlite"
    open_store(empty).close()
    assert_one_line_error(thinkswitch("triage", "report", "--db", str(empty)), 2, "is empty")
    assert_one_line_error(thinkswitch("triage", "report", "--db", str(empty), "--since",
                                      "yesterday"), 2, "--since wants a date")
    store = open_store(empty)
    recorder = Recorder(store)
    switch = Switch(SwitchParts(ScriptedEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings(), recorder))
    assert isinstance(switch.engine, ScriptedEngine)
    switch.engine.enqueue(answer=["4"])
    from thinkswitch.kernel.request import Request

    switch.run(Request(messages=(ChatMessage(role="user", content="2+2?"),), think="off"))
    store.close()
    assert_one_line_error(thinkswitch("triage", "report", "--db", str(empty)), 2,
                          "no auto requests")


def words(text: str) -> list[str]:
    return [word + " " for word in text.split()]


def test_the_optional_judge_call_is_shadow_work(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    store = open_store(tmp_path / "traces.sqlite")
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(),
                                Settings(shadow_rate=1.0, shadow_judge=True), Recorder(store)))
    app = create_app(switch)
    direct = "Rain is likely in the afternoon, so take an umbrella with you when you go out"
    thought = "Expect showers after lunch; carrying an umbrella would be wise for the walk home"
    engine.enqueue(answer=words(direct), prompt_tokens=9)             # the user's answer
    engine.enqueue(thinking=["hmm "] * 20, answer=words(thought))     # the shadow side
    engine.enqueue(answer=["Yes", "."], prompt_tokens=60)             # the judge
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused")
        response = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Will it rain today?"}])
        assert app.state.shadow.wait_idle(10)
        exposition = httpx.get(f"{url}/metrics").text
    assert response.usage is not None and response.usage.prompt_tokens == 9
    judge_request = engine.requests[-1]
    assert judge_request.plan.mode == "off" and "Answer B:" in str(
        judge_request.messages[-1].content)
    [pair] = store.shadow_pairs()
    assert pair.agreement.method == "judge" and pair.agreement.agree is True
    assert pair.judge_tokens == 62 and pair.shadow_tokens == 20 + len(words(thought)) + 62
    assert metric(exposition, 'thinkswitch_shadow_tokens_total{kind="judge"}') == 62
    assert metric(exposition, 'thinkswitch_tokens_total{kind="prompt"}') == 9


def test_a_redacting_server_keeps_the_pairs_label_and_no_text(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    store = open_store(tmp_path / "traces.sqlite")
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(),
                                Settings(shadow_rate=1.0, redact=True),
                                Recorder(store, redact_inputs=True)))
    app = create_app(switch)
    engine.enqueue(answer=["Canberra"])
    engine.enqueue(thinking=["t "] * 8, answer=["Canberra"])
    with live_server(app) as url:
        OpenAI(base_url=f"{url}/v1", api_key="unused").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Capital of Australia?"}])
        assert app.state.shadow.wait_idle(10)
    [pair] = store.shadow_pairs()
    assert pair.redacted and pair.question is None and pair.question_sha256
    assert pair.agreement.agree is True and pair.shadow.thinking_tokens == 8
    everything = " ".join(record.model_dump_json() for _, record in store.chain())
    assert "Canberra" not in everything and "Australia" not in everything
    assert verify(store).ok


@pytest.mark.slow
def test_the_real_embedded_engine_records_a_pair_and_yields_to_the_next_user(
        tmp_path: Path, llama_engine: Any, llama_settings: Settings) -> None:
    settings = llama_settings.model_copy(update={"shadow_rate": 1.0, "default_budget": 1600,
                                                 "answer_max_tokens": 16})
    store = open_store(tmp_path / "traces.sqlite")
    switch = Switch(SwitchParts(llama_engine, get_dialect("prompted"), RulesPolicy(), settings,
                                Recorder(store)))
    app = create_app(switch)
    hello = {"model": "m", "messages": [{"role": "user", "content": "Say hello to Ada."}]}
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused")
        # a short shadow side (a 24-token budget): it runs to its end and is recorded
        first = client.chat.completions.create(**hello, extra_body={"thinking": {  # type: ignore[call-overload]
            "type": "auto", "budget_tokens": 24}})
        assert first.model_extra["thinkswitch"]["decision"]["mode"] == "off"  # type: ignore[index]
        assert app.state.shadow.wait_idle(60)
        [pair] = store.shadow_pairs()
        assert pair.shadow.mode == "on" and 0 < pair.shadow.thinking_tokens <= 24 + 2
        assert pair.live.answer and pair.shadow.answer is not None
        # a long one (at least 1,500 thinking tokens: ~20 s here) yields to the next user
        client.chat.completions.create(**hello, extra_body={  # type: ignore[call-overload]
            "min_thinking_tokens": 1500})
        time.sleep(0.5)
        started = time.perf_counter()
        client.chat.completions.create(**hello, extra_body={"thinking": {"type": "disabled"}})  # type: ignore[call-overload]
        waited = time.perf_counter() - started
        assert app.state.shadow.wait_idle(60)
        exposition = httpx.get(f"{url}/metrics").text
    assert metric(exposition, 'thinkswitch_shadow_total{outcome="preempted"}') == 1
    assert waited < 5.0  # not the shadow's ~20 s
    assert len(store.shadow_pairs()) == 1
