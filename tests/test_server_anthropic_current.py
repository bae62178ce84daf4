"""Anthropic's current thinking controls on `/v1/messages` (adaptive, display, output_config
effort, count_tokens, the max_tokens rule, error shapes), with the official `anthropic` SDK
against a real server over a scripted engine (exact plans and budgets)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

THINKING = ["First, 3 boxes. Each has 4.\n\n", "So 3 times 4 is 12."]
QUESTION = "Tom has 3 boxes with 4 apples each. How many apples?"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ScriptedEngine]]:
    engine = ScriptedEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    budgets = {"low": 100, "medium": 200, "high": 300}
    with live_server(create_app(switch, effort_budgets=budgets)) as root:
        yield root, engine


def sdk(root: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)


def ask(root: str, **options):  # type: ignore[no-untyped-def]
    arguments = {"model": "m", "max_tokens": 1000,
                 "messages": [{"role": "user", "content": QUESTION}], **options}
    return sdk(root).messages.create(**arguments)


def test_adaptive_is_auto(served: tuple[str, ScriptedEngine]) -> None:
    root, engine = served
    engine.enqueue(answer=["12"])
    message = ask(root, thinking={"type": "adaptive"})
    decision = message.model_extra["thinkswitch"]["decision"]  # type: ignore[index]
    assert decision["requested"] == "auto" and decision["policy"] != "user"


@pytest.mark.parametrize(("effort", "budget"), [("low", 100), ("high", 300), ("max", 600)])
def test_output_config_effort_sets_the_budget(served: tuple[str, ScriptedEngine], effort: str,
                                              budget: int) -> None:
    root, engine = served
    engine.enqueue(thinking=["t"], answer=["a"])
    ask(root, thinking={"type": "adaptive"}, extra_body={"output_config": {"effort": effort}})
    engine.enqueue(thinking=["t"], answer=["a"])
    ask(root, thinking={"type": "enabled", "budget_tokens": 50},
        extra_body={"output_config": {"effort": effort}})
    assert engine.requests[-1].plan.budget == 50  # an explicit budget wins
    assert engine.requests[-2].plan.budget in (budget, None)  # auto may decide off


def test_max_tokens_bounds_thinking_plus_text(served: tuple[str, ScriptedEngine]) -> None:
    root, engine = served
    engine.enqueue(thinking=["t"], answer=["a"])
    ask(root, max_tokens=100, thinking={"type": "enabled", "budget_tokens": 60})
    plan = engine.requests[-1].plan
    assert (plan.budget, plan.answer_max_tokens) == (60, 40)


@pytest.mark.parametrize(("display", "shown"), [
    (None, "".join(THINKING).strip()),
    ("summarized", "First, 3 boxes. So 3 times 4 is 12."),
    ("omitted", ""),
])
def test_display(served: tuple[str, ScriptedEngine], display: str | None, shown: str) -> None:
    root, engine = served
    thinking = {"type": "enabled", "budget_tokens": 64}
    if display:
        thinking["display"] = display
    engine.enqueue(thinking=THINKING, answer=["12"])
    message = ask(root, thinking=thinking)
    block = message.content[0]
    assert block.type == "thinking" and block.thinking == shown and block.signature
    engine.enqueue(thinking=THINKING, answer=["12"])
    with sdk(root).messages.stream(model="m", max_tokens=1000, thinking=thinking,  # type: ignore[arg-type]
                                   messages=[{"role": "user", "content": QUESTION}]) as stream:
        deltas = [e for e in stream if e.type == "content_block_delta"
                  and e.delta.type == "thinking_delta"]
        final = stream.get_final_message()
    assert final.content[0].thinking.strip() == shown  # type: ignore[union-attr]
    assert len(deltas) == (len(THINKING) if display is None else int(bool(shown)))
    history = [{"role": "user", "content": QUESTION},
               {"role": "assistant", "content": [b.model_dump() for b in final.content]},
               {"role": "user", "content": "And 5 boxes?"}]
    engine.enqueue(answer=["20"])
    again = sdk(root).messages.create(model="m", max_tokens=100, messages=history)  # type: ignore[arg-type]
    assert again.content[-1].type == "text"  # the shown thinking's signature verifies


def test_count_tokens(served: tuple[str, ScriptedEngine]) -> None:
    root, _ = served
    short = sdk(root).messages.count_tokens(model="m", messages=[
        {"role": "user", "content": "hi"}], thinking={"type": "disabled"})
    long = sdk(root).messages.count_tokens(model="m", system="Be brief.", messages=[
        {"role": "user", "content": QUESTION * 4}], thinking={"type": "disabled"})
    assert 0 < short.input_tokens < long.input_tokens


def test_max_tokens_must_exceed_the_budget(served: tuple[str, ScriptedEngine]) -> None:
    root, _ = served
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(root, max_tokens=64, thinking={"type": "enabled", "budget_tokens": 64})
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "`max_tokens` must be greater than `thinking.budget_tokens`" in str(caught.value)


@pytest.mark.parametrize("path", ["/v1/messages/batches", "/v1/messages/count_tokens/x"])
def test_unknown_anthropic_paths_answer_in_anthropic_shape(served: tuple[str, ScriptedEngine],
                                                           path: str) -> None:
    root, _ = served
    reply = httpx.post(f"{root}{path}", json={})
    assert reply.status_code in (404, 405)
    assert reply.json()["type"] == "error"
    assert reply.json()["error"]["type"] in ("not_found_error", "invalid_request_error")


def test_bad_count_tokens_body_is_an_anthropic_400(served: tuple[str, ScriptedEngine]) -> None:
    root, _ = served
    reply = httpx.post(f"{root}/v1/messages/count_tokens", json={"model": "m"})
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"
