"""The switch records every request it answers (or fails), with costs; and the `thinkswitch logs`
commands on a store that `thinkswitch ask` wrote, end to end."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import REPLAY_DATA, assert_one_line_error, thinkswitch
from support.trace_helpers import raw_sql

from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.errors import EngineUnavailableError, UsageError
from thinkswitch.kernel.events import EngineEvent, ThinkingDelta
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.prices import Price, PriceTable
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.trace.verify import verify
from thinkswitch.triage.rules import RulesPolicy


@pytest.fixture
def store(store_url: str) -> Iterator[SqlTraceStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def make_switch(engine: ScriptedEngine | LlamaCppEngine, store: SqlTraceStore,
                prices: PriceTable | None = None, settings: Settings | None = None) -> Switch:
    return Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(),
                              settings or Settings(), Recorder(store, prices)))


def assert_recorded(record: TraceRecord, result: Result, question: str) -> None:
    assert record.kind == "request" and record.error is None
    assert record.messages == [{"role": "user", "content": question}]
    assert record.decision == result.decision.model_dump()
    assert record.usage == result.usage.model_dump()
    assert record.timings == result.timings.model_dump()
    assert (record.thinking, record.answer) == (result.thinking, result.answer)
    assert (record.engine, record.model, record.finish_reason) == (
        result.engine, result.model, result.finish_reason)
    assert result.trace_id == record.id


def test_every_request_is_recorded_as_answered(store: SqlTraceStore) -> None:
    engine = ScriptedEngine()
    switch = make_switch(engine, store)
    engine.enqueue(thinking=["Three spiders, ", "eight legs each."], answer=["24"])
    on = switch.run(Request.build("How many legs do 3 spiders have?", think="on", budget=64),
                    caller="key-7")
    engine.enqueue(answer=["Paris"])
    auto = switch.run(Request.build("What is the capital of France?", think="auto"))
    newest, oldest = store.records()
    assert_recorded(oldest, on, "How many legs do 3 spiders have?")
    assert oldest.caller == "key-7" and oldest.thinking == "Three spiders, eight legs each."
    assert_recorded(newest, auto, "What is the capital of France?")
    assert newest.decision["policy"] == "rules" and newest.decision["requested"] == "auto"
    assert newest.cost.total == 0.0  # no price configured: local engines cost nothing
    assert verify(store).ok


def test_the_result_is_committed_before_it_is_handed_out(store: SqlTraceStore) -> None:
    engine = ScriptedEngine()
    engine.enqueue(thinking=["hm"], answer=["ok"])
    for event in make_switch(engine, store).stream(Request.build("q?", think="on")):
        if isinstance(event, Result):
            assert [r.answer for r in store.records()] == ["ok"]
            return
    pytest.fail("no result")


def test_a_stream_stopped_by_its_caller_is_recorded_as_stopped(store: SqlTraceStore) -> None:
    engine = ScriptedEngine()
    engine.enqueue(thinking=["a", "b", "c"], answer=["never read"])
    events = make_switch(engine, store).stream(Request.build("q?", think="on"), caller="k")
    next(events)  # the decision
    next(events)  # the first thinking delta
    events.close()  # the client pressed Stop
    (record,) = store.records()
    assert record.error == "stopped by the caller before the end"
    assert record.caller == "k" and record.decision["mode"] == "on"
    engine.enqueue(answer=["done"])
    make_switch(engine, store).run(Request.build("again?", think="off"))
    assert [r.error for r in store.records()] == [None, "stopped by the caller before the end"]
    assert verify(store).ok


class FailingEngine(ScriptedEngine):
    """Starts thinking, then its server goes away."""

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        self.requests.append(request)
        yield ThinkingDelta("Let me see")
        raise EngineUnavailableError("server at http://gpu:8000 went away mid-stream")


def test_a_failing_engine_is_recorded_with_its_error_and_still_raised(
        store: SqlTraceStore) -> None:
    switch = make_switch(FailingEngine(), store)
    with pytest.raises(EngineUnavailableError, match="went away"):
        switch.run(Request.build("Why is the sky blue?", think="on", budget=32), caller="k")
    (record,) = store.records()
    assert record.error == "server at http://gpu:8000 went away mid-stream"
    assert record.decision["mode"] == "on" and record.decision["budget"] == 32
    assert record.messages == [{"role": "user", "content": "Why is the sky blue?"}]
    assert (record.engine, record.model, record.caller) == ("scripted", "scripted-model", "k")
    assert record.usage == {"prompt_tokens": 0, "thinking_tokens": 0, "answer_tokens": 0,
                            "probe_tokens": 0}
    with pytest.raises(UsageError):  # refused before any decision: nothing to record
        switch.run(Request.build("   ", think="on"))
    assert len(store.records()) == 1


@pytest.mark.parametrize(("prices", "expected"), [
    ({"Scripted-MODEL": Price(input=2.0, output=10.0, thinking=5.0)}, (200e-6, 20e-6, 15e-6)),
    ({"*": Price(input=1.0, output=4.0)}, (100e-6, 8e-6, 12e-6)),  # thinking at output price
    ({"other-model": Price(input=9.0, output=9.0)}, (0.0, 0.0, 0.0)),
], ids=["exact-name", "fallback", "unpriced"])
def test_costs_come_from_the_price_table(tmp_path: Path, prices: dict[str, Price],
                                         expected: tuple[float, float, float]) -> None:
    store = open_store(tmp_path / "traces.sqlite")
    engine = ScriptedEngine()
    engine.enqueue(thinking=["a", "b", "c"], answer=["x", "y"], prompt_tokens=100)
    make_switch(engine, store, PriceTable(prices)).run(Request.build("q?", think="on"))
    cost = store.records()[0].cost
    assert (cost.input, cost.output, cost.thinking) == pytest.approx(expected)
    assert cost.total == pytest.approx(sum(expected)) and cost.currency == "USD"
    store.close()


def test_the_real_llama_engine_is_recorded(tmp_path: Path, llama_engine: LlamaCppEngine,
                                           llama_settings: Settings) -> None:
    store = open_store(tmp_path / "traces.sqlite")
    switch = make_switch(llama_engine, store, settings=llama_settings)  # type: ignore[arg-type]
    question = "Tom has 3 boxes with 4 apples each. How many apples?"
    result = switch.run(Request.build(question, think="on", budget=8, answer_max_tokens=8))
    (record,) = store.records()
    assert_recorded(record, result, question)
    assert record.usage["thinking_tokens"] > 0 and record.engine == "llama_cpp"
    assert verify(store).ok
    store.close()


# --- the CLI end to end ------------------------------------------------------------------------
needs_replay = pytest.mark.skipif(not REPLAY_DATA.is_dir(), reason="shared outcome data absent")


def _replay_question() -> dict[str, object]:
    row: dict[str, object] = json.loads(
        (REPLAY_DATA / "qwen3-8b" / "Qwen3-8B_simpleqa_exd0.jsonl").open().readline())
    return row


def _ask(db: Path, think: str, *more: str, env: dict[str, str] | None = None) -> dict[str, object]:
    question = str(_replay_question()["problem"])
    run = thinkswitch("ask", question, "--engine", "replay", "--model", "Qwen3-8B", "--think",
                      think, "--json", "--db", str(db), *more, env=env)
    assert run.returncode == 0, run.stderr
    answer: dict[str, object] = json.loads(run.stdout)
    return answer


@pytest.mark.slow
@needs_replay
def test_ask_then_every_logs_command(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"qwen3-8b": {"input": 0.05, "output": 0.25,
                                               "thinking": 0.5}}))
    env = {"THINKSWITCH_PRICES_FILE": str(prices)}
    results = [_ask(db, "on", env=env), _ask(db, "off", env=env)]
    question = str(_replay_question()["problem"])

    exported = thinkswitch("logs", "export", "--format", "jsonl", "--db", str(db))
    assert exported.returncode == 0, exported.stderr
    records = [TraceRecord.model_validate_json(line) for line in exported.stdout.splitlines()]
    assert len(records) == 2
    for record, result in zip(records, results, strict=True):
        assert_recorded(record, Result.model_validate(result), question)
        assert record.engine == "replay" and record.model == "Qwen3-8B"
    usage = records[0].usage
    assert records[0].cost.thinking == pytest.approx(usage["thinking_tokens"] * 0.5 / 1e6)
    assert records[0].cost.output == pytest.approx(usage["answer_tokens"] * 0.25 / 1e6)

    listed = thinkswitch("logs", "list", "--mode", "on", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert records[0].id[:12] in listed.stdout and records[1].id[:12] not in listed.stdout
    assert "on→on" in listed.stdout

    shown = thinkswitch("logs", "show", records[0].id[:8], "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    for text in (records[0].id, "decision: on → on", "thinking", "answer", records[0].hash,
                 str(records[0].answer).splitlines()[0][:40]):
        assert text in shown.stdout

    stats = thinkswitch("logs", "stats", "--db", str(db))
    assert stats.returncode == 0, stats.stderr
    for text in ("all requests", "by mode", "by policy", "50.0%", "user"):
        assert text in stats.stdout

    table = thinkswitch("logs", "export", "--format", "csv", "--db", str(db))
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [row["id"] for row in rows] == [r.id for r in records]
    assert [row["mode"] for row in rows] == ["on", "off"]
    assert rows[0]["question"] == question and rows[0]["answer"] == records[0].answer
    assert float(rows[0]["cost"]) == pytest.approx(records[0].cost.total)

    verified = thinkswitch("logs", "verify", "--db", str(db))
    assert verified.returncode == 0 and "chain intact: 2 records verified" in verified.stdout

    assert_one_line_error(thinkswitch("logs", "export", "--format", "xml", "--db", str(db)), 2,
                          "unknown export format 'xml'")
    assert_one_line_error(thinkswitch("logs", "show", "nope", "--db", str(db)), 2,
                          "no record 'nope'")

    raw_sql(str(db), "UPDATE traces SET body = replace(body, ?, ?) WHERE id = ?",
            ('"thinking_tokens":', '"thinking_tokens":1', records[0].id))
    tampered = thinkswitch("logs", "verify", "--db", str(db))
    assert_one_line_error(tampered, 1, "tampering detected")
    assert f"record {records[0].id}" in tampered.stderr and "was changed" in tampered.stderr


@needs_replay
def test_ask_redact_keeps_the_question_out_of_the_file(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    result = _ask(db, "on", "--redact")
    exported = thinkswitch("logs", "export", "--db", str(db))
    record = TraceRecord.model_validate_json(exported.stdout)
    assert record.redacted and record.usage == result["usage"]
    shown = thinkswitch("logs", "show", record.id, "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    assert "[redacted: sha256" in shown.stdout
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    question = str(_replay_question()["problem"])
    for text in (question, str(result["answer"]), str(result["thinking"])[:60]):
        assert text.encode() not in raw
    assert str(result["decision"]["reason"]).encode() in raw  # type: ignore[index]
