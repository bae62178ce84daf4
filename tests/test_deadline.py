"""Graceful degradation under a deadline: the speed estimate, the decision, both dialects."""

from __future__ import annotations

import httpx
import pytest
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.request import Request
from thinkswitch.settings import Settings
from thinkswitch.switch.degrade import degrade, parse_deadline
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.switch.speed import PRIOR_TOKENS_PER_S, DecodeSpeed
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

ON = Decision(requested="on", mode="on", budget=1024, policy="user",
              reason="thinking switched on by the caller, budget 1024")


def test_speed_starts_at_a_slow_prior_then_follows_a_weighted_mean() -> None:
    speed = DecodeSpeed()
    assert speed.tokens_per_s == PRIOR_TOKENS_PER_S == 20.0
    speed.observe(3, 0.01)  # too few tokens to say anything
    assert speed.observations == 0
    speed.observe(100, 1.0)  # the first observation replaces the prior
    assert speed.tokens_per_s == 100.0
    speed.observe(200, 1.0)
    assert speed.tokens_per_s == pytest.approx(100 + 0.3 * 100)
    assert speed.observations == 2


def test_degrade_switches_thinking_off_and_gives_the_numbers() -> None:
    speed = DecodeSpeed()
    speed.observe(85, 1.0)
    off = degrade(ON, 2.0, speed)
    assert off.requested == "on" and off.mode == "off" and off.budget is None
    assert off.policy == "user"
    assert off.reason == (
        "deadline 2 s: thinking up to 1024 tokens would take ~12 s at ~85 tok/s; answering "
        "without thinking (instead of: thinking switched on by the caller, budget 1024)"
    )
    assert degrade(ON, 13.0, speed) == ON  # it fits
    assert degrade(ON, None, speed) == ON
    off_already = Decision(requested="off", mode="off", budget=None, policy="user", reason="x")
    assert degrade(off_already, 0.1, speed) == off_already


def test_parse_deadline_header() -> None:
    assert parse_deadline(None) is None and parse_deadline(" ") is None
    assert parse_deadline("2.5") == 2.5
    for bad in ("soon", "0", "-1", "nan", "inf"):
        with pytest.raises(UsageError, match="x-thinkswitch-deadline"):
            parse_deadline(bad)


def _switch() -> tuple[Switch, ScriptedEngine]:
    engine = ScriptedEngine()
    return Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings())), engine


def test_switch_answers_fast_when_thinking_would_miss_the_deadline() -> None:
    switch, engine = _switch()
    engine.enqueue(answer=["fast"])
    result = switch.run(Request.build("Hi there", think="on", budget=400, deadline_s=5.0))
    # 400 tokens at the 20 tok/s prior: 20 s > 5 s
    assert result.decision.requested == "on" and result.decision.mode == "off"
    assert result.decision.reason.startswith(
        "deadline 5 s: thinking up to 400 tokens would take ~20 s at ~20 tok/s;")
    assert engine.requests[0].plan.mode == "off" and engine.requests[0].plan.budget is None
    assert result.answer == "fast"


def test_switch_keeps_thinking_when_it_fits_and_learns_the_speed() -> None:
    switch, engine = _switch()
    switch.speed.observe(1000, 1.0)
    engine.enqueue(thinking=["hm"], answer=["ok"])
    result = switch.run(Request.build("Hi there", think="on", budget=400, deadline_s=5.0))
    assert result.decision.mode == "on" and result.decision.budget == 400
    assert engine.requests[0].plan.mode == "on"
    engine.enqueue(answer=[f"w{i}" for i in range(10)])
    switch.run(Request.build("Hi there", think="off"))
    # the 2-token answer says too little about the speed; the 10-token one is measured
    assert switch.speed.observations == 2
    assert switch.speed.tokens_per_s != 1000.0


def test_auto_keeps_the_policy_and_requested_mode_under_a_deadline() -> None:
    switch, engine = _switch()
    engine.enqueue(answer=["42"])
    question = "A train goes 120 km in 2 h, then 90 km in 1.5 h. What is the average speed?"
    plain = switch.decide(Request.build(question, think="auto", budget=512))
    assert plain.mode == "on"
    result = switch.run(Request.build(question, think="auto", budget=512, deadline_s=1.0))
    decision = result.decision
    assert (decision.requested, decision.mode, decision.policy) == ("auto", "off", "rules")
    assert decision.score == plain.score
    assert decision.reason.endswith(f"(instead of: {plain.reason})")


def test_server_reads_the_deadline_from_body_timeout_and_header() -> None:
    from thinkswitch.server.app import create_app

    switch, engine = _switch()
    for _ in range(5):
        engine.enqueue(answer=["ok"])
    on = {"model": "m", "messages": [{"role": "user", "content": "Hello"}],
          "thinking": {"type": "enabled", "budget_tokens": 400}}
    with live_server(create_app(switch)) as base:
        by_body = httpx.post(f"{base}/v1/chat/completions", json={**on, "timeout": 2})
        by_header = httpx.post(f"{base}/v1/chat/completions", json=on,
                               headers={"X-Thinkswitch-Deadline": "3"})
        in_time = httpx.post(f"{base}/v1/chat/completions", json={**on, "timeout": 60})
        anthropic = httpx.post(f"{base}/v1/messages", headers={"X-Thinkswitch-Deadline": "1.5"},
                               json={**on, "max_tokens": 500})  # above the budget, as required
        bad = httpx.post(f"{base}/v1/chat/completions", json=on,
                         headers={"X-Thinkswitch-Deadline": "later"})
        negative = httpx.post(f"{base}/v1/chat/completions", json={**on, "timeout": -1})
    decisions = [r.json()["thinkswitch"]["decision"] for r in (by_body, by_header, in_time)]
    assert [d["mode"] for d in decisions] == ["off", "off", "on"]
    assert decisions[0]["reason"].startswith("deadline 2 s: thinking up to 400 tokens")
    assert decisions[1]["reason"].startswith("deadline 3 s:")
    assert anthropic.status_code == 200
    assert [block["type"] for block in anthropic.json()["content"]] == ["text"]
    assert [r.plan.mode for r in engine.requests] == ["off", "off", "on", "off"]
    assert bad.status_code == 400 and "x-thinkswitch-deadline" in bad.json()["error"]["message"]
    assert negative.status_code == 400 and negative.json()["error"]["param"] == "timeout"
