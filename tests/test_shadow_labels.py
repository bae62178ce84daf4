"""Correctness joined into shadow pairs: a person's rating after the fact (served end to end,
then `triage report` and the training examples read it), the bench grader's (both sides by the
suite's checker), and the `/metrics` estimates read from the store (the same for every process
behind it, recomputed at most every `shadow_gauges_s`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from support.cli import thinkswitch
from support.live_server import live_server

from thinkswitch.bench.gradebook import GradeBook
from thinkswitch.bench.items import Item, Suite
from thinkswitch.bench.mathcheck import MathChecker
from thinkswitch.bench.modes import parse_modes
from thinkswitch.bench.runner import RunContext, make_progress, run_suite
from thinkswitch.bench.store import ResultStore
from thinkswitch.engines.base import Engine
from thinkswitch.kernel.events import AnswerDelta, EngineEvent, Finish, ThinkingDelta, UsageReport
from thinkswitch.kernel.messages import last_user_text
from thinkswitch.kernel.pairs import Agreement, ShadowPair, SideOutcome
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.shadow.bench_shadow import BenchShadow
from thinkswitch.shadow.pair_labels import labelled_pairs
from thinkswitch.shadow.promotion import store_examples
from thinkswitch.shadow.store_gauges import StoreGauges
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.feedback import Feedback, feedback_record
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

#: question -> (the direct answer, the thinking answer)
ANSWERS = {
    "Capital of France?": ("Lyon", "Paris"),
    "Capital of Japan?": ("Tokyo", "Tokyo"),
    "Capital of Italy?": ("Rome", "Milan"),
    "Capital of Peru?": ("Lima", "Cusco"),
}


class ModeEngine(Engine):
    """Answers each known question one way without thinking and another with it."""

    name = "scripted"

    def __init__(self, answers: dict[str, tuple[str, str]]) -> None:
        self.answers = answers

    @property
    def model(self) -> str:
        return "mode-model"

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        off, on = self.answers[last_user_text(request.messages)]
        thinking = request.plan.mode == "on"
        if thinking:
            yield ThinkingDelta("let me see")
        yield AnswerDelta(on if thinking else off)
        yield UsageReport(5, 3 if thinking else 0, 1)
        yield Finish("stop")


def mode_switch(db: Path, answers: dict[str, tuple[str, str]], rate: float) -> Switch:
    return Switch(SwitchParts(
        ModeEngine(answers), get_dialect("prompted"), RulesPolicy(),
        Settings(shadow_rate=rate, shadow_seed=0, shadow_gauges_s=0.0, record=True),
        Recorder(open_store(db))))


def metric_lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines()
                  if line.startswith(("thinkswitch_auto_", "thinkswitch_shadow_pairs ")))


def serve_and_ask(db: Path) -> tuple[dict[str, str], list[str]]:
    """Serve at shadow rate 1, ask every question; their trace ids and the /metrics gauges."""
    switch = mode_switch(db, ANSWERS, 1.0)
    app = create_app(switch)
    ids = {}
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        for question in ANSWERS:
            reply = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": question}])
            ids[question] = str(reply.model_extra["thinkswitch"]["trace_id"])  # type: ignore[index]
            assert app.state.shadow.wait_idle(30)
        for question, verdict, correction in (
                ("Capital of France?", "wrong", "Paris"), ("Capital of Japan?", "right", None),
                ("Capital of Italy?", "right", None)):
            body = {"verdict": verdict, **({"correction": correction} if correction else {})}
            assert httpx.post(f"{url}/v1/traces/{ids[question]}/feedback",
                              json=body).status_code == 201
        gauges = metric_lines(httpx.get(f"{url}/metrics").text)
    return ids, gauges


def report_json(db: Path, out: Path) -> dict[str, object]:
    run = thinkswitch("triage", "report", "--db", str(db), "--out", str(out))
    assert run.returncode == 0, run.stderr
    loaded: dict[str, object] = json.loads((out / "report.json").read_text())
    return loaded


def test_a_rating_after_the_fact_labels_the_pair_for_the_report_and_training(
        tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    ids, gauges = serve_and_ask(db)
    store = open_store(db)
    try:
        recorded = {pair.question: pair for pair in store.shadow_pairs()}
        joined = {pair.question: pair for pair in labelled_pairs(store)}
        examples = store_examples(store)
    finally:
        store.close()
    assert len(recorded) == 4
    assert all(p.live.correct is None and p.shadow.correct is None for p in recorded.values())
    assert all(p.live.mode == "off" for p in recorded.values())  # rules: short facts
    # wrong, with a correction: the thinking side is graded against it
    france = joined["Capital of France?"]
    assert (france.live.correct, france.shadow.correct) == (False, True)
    assert france.correctness_source == "rating"
    # right, and the two agree: both right; right, and they differ: the other side wrong
    assert (joined["Capital of Japan?"].live.correct,
            joined["Capital of Japan?"].shadow.correct) == (True, True)
    assert (joined["Capital of Italy?"].live.correct,
            joined["Capital of Italy?"].shadow.correct) == (True, False)
    assert not joined["Capital of Peru?"].correctness_known  # never rated
    # training reads the joined pairs, and does not count their ratings a second time
    labelled = [e for e in examples if e.labelled]
    assert sorted(e.id for e in labelled) == sorted(ids[q] for q in (
        "Capital of France?", "Capital of Japan?", "Capital of Italy?"))
    assert {e.source for e in labelled} == {"shadow"}
    # the report's accuracy estimates use them: never 2/3, always 2/3, auto (all direct) 2/3
    report = report_json(db, tmp_path / "report")
    assert report["labelled_pairs"] == 3
    accuracy = report["accuracy"]
    assert isinstance(accuracy, dict)
    for name in ("auto", "always", "never"):
        assert accuracy[name]["value"] == pytest.approx(2 / 3)
        assert accuracy[name]["n"] == 3
    # and so do the gauges of the server that served them (read from the store)
    assert 'thinkswitch_auto_estimated_accuracy{policy="always",bound="estimate"} 0.666667' \
        in gauges
    assert "thinkswitch_auto_labelled_pairs 3" in gauges


def test_another_process_on_the_store_reports_the_same_gauges(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    _, served = serve_and_ask(db)
    restarted = mode_switch(db, ANSWERS, 0.0)  # a new process: no pairs of its own
    with live_server(create_app(restarted)) as url:
        again = metric_lines(httpx.get(f"{url}/metrics").text)
    assert again == served
    assert "thinkswitch_shadow_pairs 4" in again


def pair(index: int, live_right: bool | None, shadow_right: bool | None,
         agree: bool | None = None) -> ShadowPair:
    return ShadowPair(
        request_id=f"r{index}", policy="rules@1", propensity=0.5, question=f"q{index}",
        created_at=1_000.0 + index,
        live=SideOutcome(mode="off", answer="a", correct=live_right),
        shadow=SideOutcome(mode="on", budget=64, answer="b", correct=shadow_right),
        agreement=Agreement(agree=agree, method="text"))


def test_store_gauges_are_cached_and_read_only_what_is_new(tmp_path: Path) -> None:
    store = open_store(tmp_path / "traces.sqlite")
    now = [0.0]
    gauges = StoreGauges(store, refresh_s=10.0, clock=lambda: now[0])
    try:
        store.append_shadow_pair(pair(1, False, True))
        first = gauges.lines()
        assert "thinkswitch_shadow_pairs 1" in first
        store.append_shadow_pair(pair(2, True, True))
        now[0] = 9.9  # within the refresh interval: the cached lines, no read
        assert gauges.lines() == first and gauges.recomputed == 1
        now[0] = 10.0
        second = gauges.lines()
        assert "thinkswitch_shadow_pairs 2" in second and gauges.recomputed == 2
        assert 'thinkswitch_auto_estimated_accuracy{policy="never",bound="estimate"} 0.500000' \
            in second
        # a rating of an unlabelled pair's request, after the fact, joins it at the next read
        store.append_shadow_pair(pair(3, None, None, agree=True))
        store.append(feedback_record(TraceRecord(id="r3"), Feedback(verdict="right"), ""))
        now[0] = 20.0
        third = gauges.lines()
        assert "thinkswitch_auto_labelled_pairs 3" in third
        assert 'thinkswitch_auto_estimated_accuracy{policy="never",bound="estimate"} 0.666667' \
            in third
    finally:
        store.close()


MATH = {"What is 6 * 7?": ("40", "42"), "What is 2 + 2?": ("4", "4")}


def test_bench_shadow_pairs_are_graded_by_the_suites_checker(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    switch = mode_switch(db, MATH, 0.0)
    grades = GradeBook()
    shadow = BenchShadow(switch, rate=1.0, seed=0, grades=grades)
    items = (Item("six", "What is 6 * 7?", "42", "math"),
             Item("two", "What is 2 + 2?", "4", "math"))
    suite = Suite("mini", items, MathChecker())
    results = ResultStore(tmp_path / "bench.sqlite")
    try:
        with make_progress() as progress:
            records = run_suite(RunContext(switch, results, "rules", grades=grades), suite,
                                parse_modes("auto"), progress)
        assert switch.recorder is not None
        pairs = {p.question: p for p in switch.recorder.store.shadow_pairs()}
    finally:
        shadow.close()
        results.close()
        switch.close()
    assert len(records["auto"]) == 2 and len(pairs) == 2
    for question, (off, on) in MATH.items():
        found = pairs[question]
        assert found.correctness_source == "bench"
        gold = next(item.gold for item in items if item.prompt == question)
        assert found.side("off").correct == (off == gold)
        assert found.side("on").correct == (on == gold)


def test_bench_shadow_rate_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    run = thinkswitch("bench", "gym:basic_arithmetic", "--modes", "auto", "--limit", "3",
                      "--shadow-rate", "1", "--engine", "instant", "--policy", "rules",
                      "--db", str(tmp_path / "bench.sqlite"),
                      env={"THINKSWITCH_TRACE_DB": str(db)})
    assert run.returncode == 0, run.stderr
    store = open_store(db)
    try:
        pairs = store.shadow_pairs()
    finally:
        store.close()
    # the instant engine answers "word word ...": the suite's checker grades both sides wrong
    assert len(pairs) == 3
    assert all(p.correctness_source == "bench" and p.correctness_known for p in pairs)
    assert not any(p.live.correct or p.shadow.correct for p in pairs)
    report = report_json(db, tmp_path / "report")
    assert report["labelled_pairs"] == 3
