"""`thinking_ended` through both faces, on the real engine over real HTTP with the official
SDKs: the model ends inside its thinking, the switch closes it and asks for the answer, and
each face says so its own way (OpenAI `finish_reason: stop`, Anthropic `stop_reason:
end_turn`, both with `thinkswitch.finish_reason: thinking_ended`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from support.live_server import live_server

from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

#: SmolLM2 ends this request inside its thinking (see test_llama_engine.py).
QUESTION = "What is 12*3?"
THINKING = {"type": "enabled", "budget_tokens": 32}
#: The output cap bounds thinking plus answer (thinkswitch.switch.output_cap): the budget's 32
#: thinking tokens, then 24 for the answer.
OUTPUT_CAP = 32 + 24
MARKERS = ("<think>", "</think>")


@pytest.fixture(scope="module")
def root(llama_engine: LlamaCppEngine) -> Iterator[str]:
    from thinkswitch.server.app import create_app

    settings = Settings(temperature=0.0, n_ctx=2048, answer_max_tokens=24)
    switch = Switch(SwitchParts(llama_engine, get_dialect("prompted"), RulesPolicy(), settings))
    with live_server(create_app(switch)) as url:
        yield url


def _chat(root: str, **options: Any) -> Any:
    client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
    return client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": QUESTION}], max_tokens=OUTPUT_CAP,
        extra_body={"thinking": THINKING}, **options)


def test_openai_face(root: str) -> None:
    response = _chat(root)
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert response.model_extra["thinkswitch"]["finish_reason"] == "thinking_ended"
    assert choice.message.content and "36" in choice.message.content
    assert not any(marker in choice.message.content for marker in MARKERS)
    assert choice.message.model_extra["reasoning_content"]

    chunks = list(_chat(root, stream=True))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == ["stop"]
    extension = next(c.model_extra["thinkswitch"] for c in chunks
                     if c.choices and c.choices[0].finish_reason)
    assert extension["finish_reason"] == "thinking_ended"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.strip() == choice.message.content


def test_anthropic_face(root: str) -> None:
    client = anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)
    arguments: dict[str, Any] = {"model": "smollm2", "max_tokens": OUTPUT_CAP, "thinking": THINKING,
                                 "messages": [{"role": "user", "content": QUESTION}]}
    message = client.messages.create(**arguments)
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.stop_reason == "end_turn"
    assert message.model_extra["thinkswitch"]["finish_reason"] == "thinking_ended"
    text = message.content[1].text
    assert "36" in text and not any(marker in text for marker in MARKERS)

    with client.messages.stream(**arguments) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "end_turn"
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[1].text.strip() == text
