"""The `cascade` policy: a fast attempt first, thinking only when it looks unsure.

Flow and accounting on the scripted engine (logprobs and the two-sample agreement path), then
the real embedded llama.cpp engine (its logits processor) and the server."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
from support.live_server import live_server

from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.events import AnswerDelta, ThinkingDelta, TokenLogprobs, UsageReport
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.switch.probe import calibrate, confidence_of
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.prices import Price, PriceTable
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.base import decide_alone
from thinkswitch.triage.cascade import CascadePolicy
from thinkswitch.triage.confidence import Confidence, agreement
from thinkswitch.triage.registry import get_policy

SURE = [math.log(0.95)] * 3
UNSURE = [math.log(0.9), math.log(0.2), math.log(0.5)]


def _switch(engine: ScriptedEngine, threshold: float = 0.7, temperature: float = 0.3,
            recorder: Recorder | None = None, source: str = "auto") -> Switch:
    settings = Settings(default_budget=300, answer_max_tokens=77, temperature=temperature,
                        seed=11)
    policy = CascadePolicy(threshold, source)  # type: ignore[arg-type]
    return Switch(SwitchParts(engine, get_dialect("prompted"), policy, settings, recorder))


def test_a_confident_fast_answer_is_kept_with_one_engine_call() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["Par", "is"], logprobs=SURE, prompt_tokens=9)
    events = list(_switch(engine).stream(Request.build("Capital of France?")))
    assert len(engine.requests) == 1
    fast = engine.requests[0]
    assert fast.plan.mode == "off" and fast.logprobs is True and fast.temperature == 0.3
    decision, *deltas, result = events
    assert isinstance(decision, Decision) and isinstance(result, Result)
    assert [type(d) for d in deltas] == [AnswerDelta, AnswerDelta]  # replayed once, after it
    assert decision.mode == "off" and decision.budget is None and decision.policy == "cascade"
    assert decision.score == 0.05
    assert decision.reason == ("fast answer confidence 0.95 >= 0.70 (geometric-mean token "
                               "probability over 3 tokens): keep the fast answer")
    assert result.answer == "Paris" and result.thinking == ""
    usage = result.usage
    assert (usage.prompt_tokens, usage.thinking_tokens, usage.answer_tokens,
            usage.probe_tokens) == (9, 0, 2, 2)


def test_an_unsure_fast_answer_thinks_and_both_calls_are_counted() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["4", "1"], logprobs=UNSURE, prompt_tokens=9)
    engine.enqueue(thinking=["6*7", " is", " 42"], answer=["42"], prompt_tokens=10)
    events = list(_switch(engine).stream(Request.build("What is 6*7?", budget=64)))
    assert [r.plan.mode for r in engine.requests] == ["off", "on"]
    slow = engine.requests[1]
    assert slow.plan.budget == 64 and slow.logprobs is False
    decision, *deltas, result = events
    assert isinstance(decision, Decision) and isinstance(result, Result)
    # Only the thinking run is streamed: the discarded fast answer "41" never reaches the caller.
    assert "".join(d.text for d in deltas if isinstance(d, AnswerDelta)) == "42"
    assert [type(d) for d in deltas].count(ThinkingDelta) == 3
    confidence = math.exp(sum(UNSURE) / 3)
    assert decision.mode == "on" and decision.budget == 64
    assert decision.score == round(1 - confidence, 3)
    assert decision.reason == (f"fast answer confidence {confidence:.2f} < 0.70 (geometric-mean "
                               "token probability over 3 tokens): think, budget 64")
    assert result.answer == "42" and result.thinking == "6*7 is 42"
    usage = result.usage
    assert (usage.prompt_tokens, usage.thinking_tokens, usage.answer_tokens,
            usage.probe_tokens) == (19, 3, 1 + 2, 2)
    assert result.timings.ttft_s is not None and result.timings.ttft_s <= result.timings.total_s


def test_the_trace_and_its_cost_count_the_probe(tmp_path: Path) -> None:
    engine = ScriptedEngine(model="priced")
    engine.enqueue(answer=["a", "b", "c", "d"], logprobs=[*UNSURE, 0.0], prompt_tokens=100)
    engine.enqueue(thinking=["t"] * 5, answer=["x", "y"], prompt_tokens=100)
    store = open_store(tmp_path / "traces.sqlite")
    prices = PriceTable({"priced": Price(input=1.0, output=10.0, thinking=10.0)})
    result = _switch(engine, recorder=Recorder(store, prices)).run(Request.build("q?"))
    record = store.get(result.trace_id or "")
    assert record.usage == {"prompt_tokens": 200, "thinking_tokens": 5, "answer_tokens": 6,
                            "probe_tokens": 4}
    assert record.cost.total == pytest.approx((200 * 1.0 + 11 * 10.0) / 1e6)
    assert record.decision["policy"] == "cascade" and record.decision["mode"] == "on"


def test_without_logprobs_two_samples_are_compared() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["The answer is ", "42."], prompt_tokens=9)
    engine.enqueue(answer=["the answer is 42"], prompt_tokens=9)
    result = _switch(engine, temperature=0.0).run(Request.build("What is 6*7?"))
    assert len(engine.requests) == 2
    first, second = engine.requests
    assert first.temperature == 0.0 and first.seed == 11
    # Greedy samples always agree: the second one is sampled, with another seed.
    assert second.temperature == 0.7 and second.seed == 12 and second.plan.mode == "off"
    assert result.decision.mode == "off" and result.answer == "The answer is 42."
    assert result.decision.reason == (
        "fast answer confidence 1.00 >= 0.70 (agreement of two fast samples, word overlap "
        "1.00): keep the fast answer")
    usage = result.usage
    assert (usage.prompt_tokens, usage.answer_tokens, usage.probe_tokens) == (18, 3, 3)


def test_two_samples_that_disagree_think_and_all_three_calls_are_counted() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["It is 41"], prompt_tokens=9)
    engine.enqueue(answer=["It is 43"], prompt_tokens=9)
    engine.enqueue(thinking=["six sevens"], answer=["42"], prompt_tokens=10)
    result = _switch(engine).run(Request.build("What is 6*7?"))
    assert [r.plan.mode for r in engine.requests] == ["off", "off", "on"]
    assert result.decision.mode == "on" and result.decision.score == pytest.approx(1 - 2 / 3,
                                                                                  abs=1e-3)
    assert "word overlap 0.67" in result.decision.reason and "< 0.70" in result.decision.reason
    assert result.answer == "42"
    usage = result.usage
    assert (usage.prompt_tokens, usage.thinking_tokens, usage.answer_tokens,
            usage.probe_tokens) == (28, 1, 3, 2)


def test_agreement_source_ignores_logprobs_and_logprobs_source_needs_them() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["x"], logprobs=SURE)
    engine.enqueue(answer=["y"])
    engine.enqueue(thinking=["t"], answer=["z"])
    result = _switch(engine, source="agreement").run(Request.build("q?"))
    assert len(engine.requests) == 3 and "agreement" in result.decision.reason
    engine.enqueue(answer=["x"])
    with pytest.raises(UsageError, match="no token log-probabilities"):
        _switch(engine, source="logprobs").run(Request.build("q?"))


def test_a_deadline_keeps_the_fast_answer_even_when_unsure() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["41"], logprobs=UNSURE)
    result = _switch(engine).run(Request.build("q?", budget=5000, deadline_s=0.5))
    assert len(engine.requests) == 1
    assert result.decision.mode == "off" and result.decision.reason.startswith("deadline 0.5 s")
    assert "fast answer confidence" in result.decision.reason and result.answer == "41"


def test_explicit_off_and_on_skip_the_probe() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["a"])
    engine.enqueue(thinking=["t"], answer=["b"])
    switch = _switch(engine)
    assert switch.run(Request.build("q?", think="off")).usage.probe_tokens == 0
    assert switch.run(Request.build("q?", think="on")).decision.policy == "user"
    assert [r.logprobs for r in engine.requests] == [False, False]


def test_requests_are_checked_before_the_probe() -> None:
    engine = ScriptedEngine()
    with pytest.raises(UsageError, match="'tools' is not supported"):
        _switch(engine).run(Request.build("q?", options={"tools": []}))
    with pytest.raises(UsageError, match="empty"):
        _switch(engine).run(Request.build("  "))
    assert engine.requests == []


@pytest.mark.parametrize("knob", [-0.1, 1.5])
def test_knob_out_of_range_is_refused(knob: float) -> None:
    with pytest.raises(UsageError, match=r"must be in \[0, 1\]"):
        get_policy("cascade", knob)
    with pytest.raises(UsageError, match=r"must be in \[0, 1\]"):
        CascadePolicy(knob)


def test_registry_knob_and_a_bad_source() -> None:
    policy = get_policy("cascade", 0.4)
    assert isinstance(policy, CascadePolicy) and policy.threshold == 0.4
    assert get_policy("cascade").threshold == 0.7  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="unknown confidence source"):
        CascadePolicy(0.5, "vibes")  # type: ignore[arg-type]


def test_decide_alone_explains_why_it_cannot() -> None:
    with pytest.raises(UsageError, match=r"decides after a fast attempt.*--knob"):
        decide_alone(CascadePolicy(), (ChatMessage(role="user", content="q?"),), 100)


def test_confidence_measures() -> None:
    assert Confidence.from_logprobs([]).value == 0.0
    assert Confidence.from_logprobs([0.0, 0.0]).value == 1.0
    assert Confidence.from_logprobs([math.log(0.5)] * 4).value == pytest.approx(0.5)
    assert agreement("The answer is 42.", "the answer is   42") == 1.0
    assert agreement("", "") == 0.0 and agreement("12", "") == 0.0
    assert agreement("a b c d", "a b x y") == pytest.approx(0.5)
    assert agreement("3.5 apples", "3.50 apples") == pytest.approx(0.5)


def test_threshold_edges() -> None:
    sure = Confidence(1.0, "x")
    assert CascadePolicy(1.0).after_probe(sure, 10).mode == "off"
    assert CascadePolicy(1.0).after_probe(Confidence(0.999, "x"), 10).mode == "on"
    assert CascadePolicy(0.0).after_probe(Confidence(0.0, "x"), 10).mode == "off"


# --- the real embedded engine ------------------------------------------------------------------

def _generate(engine: LlamaCppEngine, question: str, logprobs: bool
              ) -> tuple[str, TokenLogprobs | None, UsageReport]:
    request = GenerationRequest(
        messages=(ChatMessage(role="user", content=question),),
        plan=ThinkingPlan(mode="off", answer_max_tokens=24), temperature=0.0, seed=7,
        logprobs=logprobs)
    events = list(engine.execute(request, get_dialect("prompted")))
    text = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    found = [e for e in events if isinstance(e, TokenLogprobs)]
    usage = next(e for e in events if isinstance(e, UsageReport))
    assert len(found) == (1 if logprobs else 0)
    return text, (found[0] if found else None), usage


def test_llama_logprobs_are_probabilities_and_do_not_change_the_text(
    llama_engine: LlamaCppEngine,
) -> None:
    question = "Name three colours of the rainbow."
    plain, _, _ = _generate(llama_engine, question, logprobs=False)
    recorded, found, usage = _generate(llama_engine, question, logprobs=True)
    assert recorded == plain and plain
    assert found is not None
    assert len(found.logprobs) == usage.answer_tokens + usage.thinking_tokens
    probabilities = [math.exp(lp) for lp in found.logprobs]
    assert all(0.0 < p <= 1.0 for p in probabilities)
    mean = Confidence.from_logprobs(found.logprobs).value
    assert 0.0 < mean <= 1.0
    # Greedy picks likely tokens: on average they carry real probability mass.
    assert sum(probabilities) / len(probabilities) > 0.3


def test_llama_cascade_end_to_end_counts_the_probe(
    llama_engine: LlamaCppEngine, tmp_path: Path
) -> None:
    settings = Settings(temperature=0.0, seed=7, n_ctx=2048, answer_max_tokens=24)
    store = open_store(tmp_path / "traces.sqlite")
    question = "Tom has 3 boxes with 4 apples in each box. How many apples does Tom have?"
    for threshold, mode in ((1.0, "on"), (0.0, "off")):
        switch = Switch(SwitchParts(llama_engine, get_dialect("prompted"), CascadePolicy(threshold),
                                    settings, Recorder(store)))
        result = switch.run(Request.build(question, budget=16))
        usage = result.usage
        assert result.decision.mode == mode and result.decision.policy == "cascade"
        assert "geometric-mean token probability over" in result.decision.reason
        assert 0 < usage.probe_tokens <= 24
        if mode == "on":
            assert 0 < usage.thinking_tokens <= 16
            assert usage.answer_tokens > usage.probe_tokens  # the probe plus the final answer
        else:
            assert usage.answer_tokens == usage.probe_tokens and usage.thinking_tokens == 0
        assert store.get(result.trace_id or "").usage["probe_tokens"] == usage.probe_tokens


def test_server_shows_the_cascade_decision(llama_engine: LlamaCppEngine) -> None:
    from thinkswitch.server.app import create_app

    settings = Settings(temperature=0.0, n_ctx=2048, answer_max_tokens=16)
    switch = Switch(SwitchParts(llama_engine, get_dialect("prompted"), CascadePolicy(0.0),
                                settings))
    with live_server(create_app(switch)) as root:
        response = httpx.post(f"{root}/v1/chat/completions", timeout=60, json={
            "model": "smollm2", "max_tokens": 16,
            "messages": [{"role": "user", "content": "Say hello."}]})
    assert response.status_code == 200
    body = response.json()
    decision = body["thinkswitch"]["decision"]
    assert decision["policy"] == "cascade" and decision["mode"] == "off"
    assert decision["reason"].startswith("fast answer confidence")
    usage = body["usage"]
    assert usage["completion_tokens"] > 0 and usage["completion_tokens_details"][
        "reasoning_tokens"] == 0


def test_calibration_is_a_quantile_of_confidences() -> None:
    confidences = [0.1 * i for i in range(10)]
    threshold = calibrate(confidences, 0.3)
    assert sum(c < threshold for c in confidences) == 3
    with pytest.raises(UsageError, match="strictly between"):
        calibrate(confidences, 1.0)
    with pytest.raises(UsageError, match="no confidences"):
        calibrate([], 0.5)


def test_confidence_of_runs_only_the_fast_attempt() -> None:
    engine = ScriptedEngine()
    engine.enqueue(answer=["x"], logprobs=[math.log(0.5)])
    policy = CascadePolicy()
    confidence = confidence_of(_switch(engine), policy, Request.build("q?"))
    assert confidence.value == pytest.approx(0.5) and len(engine.requests) == 1


def test_calibrating_cascade_on_replay_tables_is_refused() -> None:
    from thinkswitch.cli.cascade_calibrate import calibrate_cascade

    with pytest.raises(UsageError, match="replay tables record no confidences"):
        calibrate_cascade(0.3, ["replay:concise_cot/gpt-35-turbo"], None, None)


def test_calibrating_cascade_on_a_live_suite_runs_fast_attempts(
    llama_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from thinkswitch.cli.cascade_calibrate import calibrate_cascade

    monkeypatch.setenv("THINKSWITCH_ANSWER_MAX_TOKENS", "8")
    monkeypatch.setenv("THINKSWITCH_TEMPERATURE", "0")
    calibrate_cascade(0.5, ["gsm8k"], None, 2)
    out = capsys.readouterr().out
    assert "think-rate 50.0% on 2 dev questions" in out
    assert "llama_cpp:SmolLM2-135M-Instruct" in out and "use --knob 0." in out


def test_llama_logprobs_match_the_full_logits_of_logits_all(
    llama_engine: LlamaCppEngine, llama_settings: Settings
) -> None:
    """The processor's numbers are the model's: the same log-softmax `logits_all` gives for
    each generated token (so the row it sees is in token-id order, before sampling)."""
    import numpy as np
    from llama_cpp import Llama

    from thinkswitch.engines.model_files import resolve_model_path

    question = "Name three colours of the rainbow."
    dialect = get_dialect("prompted")
    plan = ThinkingPlan(mode="off", answer_max_tokens=12)
    messages = (ChatMessage(role="user", content=question),)
    prompt = llama_engine.prompt_tokens(dialect.prepare(messages, plan))
    request = GenerationRequest(messages=messages, plan=plan, temperature=0.0, seed=7,
                                logprobs=True)
    events = list(llama_engine.execute(request, dialect))
    recorded = next(e for e in events if isinstance(e, TokenLogprobs)).logprobs
    text = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    generated = [int(t) for t in llama_engine.tokenize(text)]
    full = Llama(model_path=str(resolve_model_path(llama_settings.model)), n_ctx=512,
                 n_threads=1, verbose=False, logits_all=True)
    expected = []
    try:
        full.eval(prompt)  # then token by token, as generation decodes (batches round apart)
        for token in generated[: len(recorded)]:
            row = np.asarray(full.scores[full.n_tokens - 1], dtype=np.float64)
            peak = row.max()
            expected.append(row[token] - (peak + np.log(np.exp(row - peak).sum())))
            full.eval([token])
    finally:
        full.close()
    assert len(recorded) == 12 and len(expected) >= 10
    assert recorded[: len(expected)] == pytest.approx(expected, abs=2e-3)
