"""Chat completions: the output cap bounds thinking plus answer, every effort level has a
budget, and thinking goes in one field, chosen by the server (official `openai` SDK against a
real server over a scripted engine, for exact plans)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import openai
import pytest
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

BUDGETS = {"low": 100, "medium": 200, "high": 300}


@contextmanager
def served(**options: object) -> Iterator[tuple[openai.OpenAI, ScriptedEngine]]:
    engine = ScriptedEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    with live_server(create_app(switch, effort_budgets=BUDGETS, **options)) as root:  # type: ignore[arg-type]
        yield openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0), engine


@pytest.fixture(scope="module")
def default() -> Iterator[tuple[openai.OpenAI, ScriptedEngine]]:
    with served() as pair:
        yield pair


def ask(client: openai.OpenAI, **options: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(  # type: ignore[call-overload]
        model="m", messages=[{"role": "user", "content": "How many apples?"}], **options)


@pytest.mark.parametrize(("options", "budget", "answer"), [
    ({"reasoning_effort": "high", "max_completion_tokens": 100}, 75, 25),
    ({"reasoning_effort": "low", "max_completion_tokens": 400}, 100, 300),
    ({"reasoning_effort": "low", "max_tokens": 400}, 100, 300),  # legacy name, same rule
    ({"reasoning_effort": "none", "max_completion_tokens": 50}, None, 50),
    ({"reasoning_effort": "xhigh"}, 600, 512),  # no cap: the answer cap of the settings
    ({"extra_body": {"thinking": {"type": "enabled", "budget_tokens": 60}},
      "max_completion_tokens": 100}, 60, 40),
])
def test_the_cap_bounds_thinking_plus_answer(default: tuple[openai.OpenAI, ScriptedEngine],
                                             options: dict[str, object], budget: int | None,
                                             answer: int) -> None:
    client, engine = default
    engine.enqueue(thinking=["t"] if budget else [], answer=["a"])
    response = ask(client, **options)
    plan = engine.requests[-1].plan
    assert (plan.budget, plan.answer_max_tokens) == (budget, answer)
    assert response.model_extra["thinkswitch"]["decision"]["budget"] == budget


def test_a_cap_of_one_token_cannot_think(default: tuple[openai.OpenAI, ScriptedEngine]) -> None:
    client, _ = default
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, reasoning_effort="low", max_completion_tokens=1)
    assert "no room to think and answer" in str(caught.value)


@pytest.mark.parametrize(("choice", "fields"), [
    (None, {"reasoning_content"}),
    ("reasoning", {"reasoning"}),
    ("both", {"reasoning_content", "reasoning"}),
])
def test_one_reasoning_field_unless_asked(choice: str | None, fields: set[str]) -> None:
    options = {} if choice is None else {"reasoning_field": choice}
    with served(**options) as (client, engine):
        engine.enqueue(thinking=["Three ", "boxes."], answer=["12"])
        message = ask(client, reasoning_effort="low").choices[0].message
        assert {name for name in ("reasoning_content", "reasoning")
                if (message.model_extra or {}).get(name)} == fields
        assert all(message.model_extra[name] == "Three boxes." for name in fields)  # type: ignore[index]
        engine.enqueue(thinking=["Three ", "boxes."], answer=["12"])
        seen: dict[str, str] = {}
        for chunk in ask(client, reasoning_effort="low", stream=True):
            for choice_ in chunk.choices:
                for name in ("reasoning_content", "reasoning"):
                    text = (choice_.delta.model_extra or {}).get(name)
                    if text:
                        seen[name] = seen.get(name, "") + text
        assert seen == dict.fromkeys(fields, "Three boxes.")


def test_effort_budgets_per_model() -> None:
    table = {"big": {"low": 1000, "medium": 2000, "high": 3000, "xhigh": 4000}}
    with served(model_budgets=table) as (client, engine):
        for model, budget in (("big", 3000), ("big:think", 3000), ("other", 300)):
            engine.enqueue(thinking=["t"], answer=["a"])
            client.chat.completions.create(model=model, reasoning_effort="high",
                                           messages=[{"role": "user", "content": "q"}])
            assert engine.requests[-1].plan.budget == budget
        engine.enqueue(thinking=["t"], answer=["a"])
        client.responses.create(model="big", input="q", reasoning={"effort": "xhigh"})
        assert engine.requests[-1].plan.budget == 4000


def test_the_readme_example_of_a_small_cap() -> None:
    from thinkswitch.switch.output_cap import answer_share, thinking_share

    assert (thinking_share(256, 10), answer_share("on", 256, 10)) == (8, 2)
    assert (thinking_share(1, 2), answer_share("on", 1, 2)) == (1, 1)
