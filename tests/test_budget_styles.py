"""Native thinking budgets sent to an OpenAI-compatible upstream, per `budget_style`: the
exact body a scripted upstream (real HTTP on 127.0.0.1) receives, and whether the stream is
cut at the budget."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import openai
import pytest
from support.live_server import live_server
from support.scripted_upstream import Script, create_upstream, thinkswitch_in_front

from thinkswitch.engines.budget_styles import native_budget
from thinkswitch.kernel.plan import ThinkingPlan


@contextmanager
def fronted(style: str, dialect: str = "qwen3", thinking_tokens: int = 6
            ) -> Iterator[tuple[openai.OpenAI, Script]]:
    script = Script(tokens=4, thinking_tokens=thinking_tokens)
    with live_server(create_upstream(script)) as up, thinkswitch_in_front(
            [f"{up}/v1"], dialect, budget_style=style) as (root, _):
        yield openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0), script


def ask(client: openai.OpenAI, **options: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(  # type: ignore[call-overload]
        model="scripted-upstream", messages=[{"role": "user", "content": "q"}], **options)


def on(budget: int) -> dict[str, object]:
    return {"extra_body": {"thinking": {"type": "enabled", "budget_tokens": budget}}}


def test_llama_cpp_server_gets_its_reasoning_budget_and_is_not_cut() -> None:
    with fronted("thinking_budget_tokens", thinking_tokens=3) as (client, script):
        response = ask(client, **on(5))
        assert script.last_body is not None
        assert script.last_body["thinking_budget_tokens"] == 5 and script.calls == 1
        assert response.model_extra["thinkswitch"]["finish_reason"] == "stop"
        ask(client, reasoning_effort="none")
        assert script.last_body["thinking_budget_tokens"] == 0  # off: end thinking at once


def test_ollama_think_switch_and_the_cut_holds_the_budget() -> None:
    with fronted("ollama_think", thinking_tokens=6) as (client, script):
        response = ask(client, **on(2))
        assert script.calls == 2  # thinking cut at the budget, then the answer call
        assert response.model_extra["thinkswitch"]["finish_reason"] == "budget"
        assert response.usage.completion_tokens_details.reasoning_tokens == 2
        assert script.last_body is not None and script.last_body["think"] is False
        ask(client, reasoning_effort="none")
        assert script.last_body["think"] is False


def test_ollama_levels_for_models_that_take_them() -> None:
    with fronted("ollama_think", dialect="openai_effort", thinking_tokens=0) as (client, script):
        ask(client, **on(512))
        assert script.last_body is not None and script.last_body["think"] == "low"
        ask(client, **on(3000))
        assert script.last_body["think"] == "medium"
        assert script.last_body["reasoning_effort"] == "medium"


def test_vllm_and_cut_are_unchanged() -> None:
    with fronted("thinking_token_budget", thinking_tokens=2) as (client, script):
        ask(client, **on(7))
        assert script.last_body is not None and script.last_body["thinking_token_budget"] == 7
        assert "think" not in script.last_body and "thinking_budget_tokens" not in script.last_body


@pytest.mark.parametrize(("style", "mode", "fields", "cut"), [
    ("cut", "on", {}, True),
    ("cut", "off", {}, False),
    ("thinking_token_budget", "off", {}, False),
    ("thinking_budget_tokens", "on", {"thinking_budget_tokens": 9}, False),
    ("ollama_think", "on", {"think": True}, True),
])
def test_style_table(style: str, mode: str, fields: dict[str, object], cut: bool) -> None:
    plan = ThinkingPlan(mode=mode, budget=9 if mode == "on" else None)  # type: ignore[arg-type]
    native = native_budget(style, plan, {})
    assert (dict(native.fields), native.cut) == (fields, cut)
