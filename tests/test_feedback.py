"""Feedback on steps and answers: appended to the chain as records of their own, behind the key
gate, only on the caller's own traces, with every bad input a 400 that names it; listed and
counted by `thinkswitch logs`; read back as labels for triage."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.cli import thinkswitch
from support.live_server import live_server
from support.trace_helpers import raw_sql

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.feedback import Feedback, thinking_label
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import SqlTraceStore
from thinkswitch.trace.verify import verify
from thinkswitch.triage.rules import RulesPolicy

THINKING = ["Three boxes of four.", "\n\nWait, ", "that is 3*4 = 12.\n\n1. count\n2. add"]


@pytest.fixture
def served(store_url: str) -> Iterator[tuple[str, ScriptedEngine, SqlTraceStore]]:
    from thinkswitch.server.app import create_app

    store = open_store(store_url)
    engine = ScriptedEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    with live_server(create_app(switch, api_keys=["alice-key", "bob-key"])) as root:
        yield root, engine, store
    store.close()


def ask(root: str, engine: ScriptedEngine, key: str, think: bool = True,
        stream: bool = False) -> dict[str, object]:
    engine.enqueue(thinking=THINKING if think else [], answer=["12"])
    from openai import OpenAI

    client = OpenAI(base_url=f"{root}/v1", api_key=key)
    body = {"thinking": {"type": "enabled" if think else "disabled", "budget_tokens": 64}}
    messages = [{"role": "user", "content": "3 boxes of 4 apples: how many?"}]
    if not stream:
        reply = client.chat.completions.create(model="m", messages=messages,  # type: ignore[arg-type]
                                               extra_body=body)
        extension: dict[str, object] = reply.model_extra["thinkswitch"]  # type: ignore[index]
        return extension
    chunks = list(client.chat.completions.create(model="m", messages=messages,  # type: ignore[arg-type,call-overload]
                                                 extra_body=body, stream=True))
    last: dict[str, object] = chunks[-1].model_extra["thinkswitch"]  # type: ignore[index]
    return last


def post(root: str, trace: object, key: str, body: object) -> httpx.Response:
    return httpx.post(f"{root}/v1/traces/{trace}/feedback", json=body,
                      headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("stream", [False, True])
def test_steps_come_back_with_the_answer(served: tuple[str, ScriptedEngine, SqlTraceStore],
                                         stream: bool) -> None:
    root, engine, store = served
    extension = ask(root, engine, "alice-key", stream=stream)
    steps = extension["steps"]
    assert isinstance(steps, list)
    thinking = "".join(THINKING).strip()
    assert [thinking[s["start"]:s["end"]] for s in steps] == [
        "Three boxes of four.", "Wait, that is 3*4 = 12.", "1. count", "2. add"]
    record = store.get(str(extension["trace_id"]))
    assert record is not None and record.steps == steps


def test_flag_a_step_and_rate_the_answer(served: tuple[str, ScriptedEngine, SqlTraceStore]
                                         ) -> None:
    root, engine, store = served
    trace = ask(root, engine, "alice-key")["trace_id"]
    flagged = post(root, trace, "alice-key", {"step": 2, "verdict": "wrong",
                                              "comment": "3*4 is right but why?"})
    assert flagged.status_code == 201, flagged.text
    assert flagged.json()["step"] == 2 and flagged.json()["trace_id"] == trace
    rated = post(root, trace, "alice-key", {"verdict": "wrong", "correction": "twelve"})
    assert rated.status_code == 201
    listed = httpx.get(f"{root}/v1/traces/{trace}/feedback",
                       headers={"x-api-key": "alice-key"}).json()["data"]
    assert [(row.get("step", None), row["verdict"]) for row in listed] == [
        (2, "wrong"), (None, "wrong")]
    assert listed[1]["correction"] == "twelve" and listed[0]["mode"] == "on"
    # appended, never updated: the request's own record is as it was, and the chain holds
    request = store.get(str(trace))
    assert request is not None and request.kind == "request" and request.feedback is None
    kinds = [record.kind for _, record in store.chain()]
    assert kinds == ["request", "feedback", "feedback"]
    assert verify(store).ok
    # the history lists requests only
    history = httpx.get(f"{root}/v1/traces", headers={"x-api-key": "alice-key"}).json()
    assert [row["id"] for row in history["data"]] == [trace]


@pytest.mark.parametrize(("body", "param"), [
    ({"step": 9, "verdict": "wrong"}, "step"),                       # no such step
    ({"step": 0, "verdict": "wrong"}, "step"),                       # steps start at 1
    ({"verdict": "meh"}, "verdict"),                                 # unknown verdict
    ({"step": 1, "verdict": "right"}, "body"),                      # an answer's verdict
    ({"verdict": "unclear"}, "body"),                               # a step's verdict
    ({"step": 1, "verdict": "good", "correction": "x"}, "body"),    # corrections are answers'
    ({"verdict": "right", "comment": "x" * 2001}, "comment"),        # too long
    ({"verdict": "right", "mood": "happy"}, "mood"),                 # unknown field
    ({}, "verdict"),                                                 # nothing said
    ([1, 2], "body"),                                                # not an object
])
def test_bad_feedback_is_a_400_that_names_it(
        served: tuple[str, ScriptedEngine, SqlTraceStore], body: object, param: str) -> None:
    root, engine, store = served
    trace = ask(root, engine, "alice-key")["trace_id"]
    response = post(root, trace, "alice-key", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert [record.kind for _, record in store.chain()] == ["request"]  # nothing written


def test_feedback_only_on_ones_own_traces(served: tuple[str, ScriptedEngine, SqlTraceStore]
                                          ) -> None:
    root, engine, _ = served
    trace = ask(root, engine, "alice-key")["trace_id"]
    assert post(root, trace, "bob-key", {"verdict": "right"}).status_code == 404
    assert httpx.get(f"{root}/v1/traces/{trace}/feedback",
                     headers={"x-api-key": "bob-key"}).status_code == 404
    assert httpx.post(f"{root}/v1/traces/{trace}/feedback",
                      json={"verdict": "right"}).status_code == 401
    assert post(root, "no-such-trace", "alice-key", {"verdict": "right"}).status_code == 404
    big = post(root, trace, "alice-key", {"verdict": "right", "comment": "x" * 20_000})
    assert big.status_code in (400, 413)


def test_a_changed_feedback_record_breaks_the_chain(
        served: tuple[str, ScriptedEngine, SqlTraceStore], store_url: str) -> None:
    root, engine, store = served
    trace = ask(root, engine, "alice-key")["trace_id"]
    assert post(root, trace, "alice-key", {"step": 1, "verdict": "good"}).status_code == 201
    seq, body = next((s, r) for s, r in store.chain() if r.kind == "feedback")
    forged = body.model_dump()
    forged["feedback"]["verdict"] = "wrong"
    raw_sql(store_url, "UPDATE traces SET body = ? WHERE seq = ?",
            (json.dumps(forged), seq))
    result = verify(store)
    assert not result.ok and result.record_id == body.id


def test_logs_feedback_stats_and_show(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    store = open_store(str(db))
    engine = ScriptedEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    from thinkswitch.kernel.request import Request

    engine.enqueue(thinking=THINKING, answer=["12"])
    on = switch.run(Request.build("3 boxes of 4?", think="on", budget=64))
    engine.enqueue(answer=["7"])
    off = switch.run(Request.build("3 boxes of 4?", think="off"))
    recorder = switch.recorder
    assert recorder is not None and on.trace_id and off.trace_id
    recorder.feedback(store.get(on.trace_id), Feedback(step=3, verdict="unnecessary",  # type: ignore[arg-type]
                                                       comment="listing is padding"))
    recorder.feedback(store.get(off.trace_id), Feedback(verdict="wrong"))  # type: ignore[arg-type]
    store.close()

    jsonl = thinkswitch("logs", "feedback", "--db", str(db))
    assert jsonl.returncode == 0, jsonl.stderr
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [(r.get("step"), r["verdict"], r["mode"]) for r in rows] == [
        (3, "unnecessary", "on"), (None, "wrong", "off")]
    only = thinkswitch("logs", "feedback", "--db", str(db), "--verdict", "wrong",
                       "--format", "csv")
    table = list(csv.DictReader(io.StringIO(only.stdout)))
    assert [(r["trace_id"], r["verdict"]) for r in table] == [(off.trace_id, "wrong")]
    bad = thinkswitch("logs", "feedback", "--db", str(db), "--verdict", "meh")
    assert bad.returncode != 0 and "meh" in bad.stderr and "Traceback" not in bad.stderr
    stats = thinkswitch("logs", "stats", "--db", str(db))
    assert "feedback by mode" in stats.stdout and "step unnecessary" in stats.stdout
    shown = thinkswitch("logs", "show", on.trace_id, "--db", str(db))
    assert "listing is padding" in shown.stdout and "unnecessary" in shown.stdout


def test_feedback_says_whether_thinking_was_needed(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "t.sqlite"))
    engine = ScriptedEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    from thinkswitch.kernel.request import Request

    engine.enqueue(answer=["7"])
    off = switch.run(Request.build("3 boxes of 4?", think="off"))
    engine.enqueue(thinking=THINKING, answer=["12"])
    on = switch.run(Request.build("3 boxes of 4?", think="on", budget=64))
    assert switch.recorder is not None and off.trace_id and on.trace_id
    wrong_off = switch.recorder.feedback(store.get(off.trace_id), Feedback(verdict="wrong"))  # type: ignore[arg-type]
    padding = switch.recorder.feedback(store.get(on.trace_id),  # type: ignore[arg-type]
                                       Feedback(step=1, verdict="unnecessary"))
    good = switch.recorder.feedback(store.get(on.trace_id), Feedback(step=1, verdict="good"))  # type: ignore[arg-type]
    assert (thinking_label(wrong_off), thinking_label(padding), thinking_label(good)) == (
        True, False, None)
    store.close()


def test_redacted_stores_keep_the_verdict_not_the_words(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "t.sqlite"))
    engine = ScriptedEngine()
    recorder = Recorder(store, redact_inputs=True)
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                recorder))
    from thinkswitch.kernel.request import Request

    engine.enqueue(thinking=THINKING, answer=["12"])
    result = switch.run(Request.build("secret question", think="on", budget=64))
    assert result.trace_id
    note = recorder.feedback(store.get(result.trace_id),  # type: ignore[arg-type]
                             Feedback(verdict="wrong", comment="my secret comment"))
    assert note.feedback is not None and note.feedback["verdict"] == "wrong"
    store.close()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert b"my secret comment" not in on_disk and b"secret question" not in on_disk
