"""The Anthropic Messages dialect on the same server, driven by the official `anthropic` SDK."""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest
from support.llama_server import QUESTION, server  # noqa: F401 - the shared server fixture


@pytest.fixture
def client(server: tuple[str, Path]):  # type: ignore[no-untyped-def]  # noqa: F811
    return anthropic.Anthropic(base_url=server[0].removesuffix("/v1"), api_key="unused",
                               max_retries=0)


def ask(client, **options):  # type: ignore[no-untyped-def]
    arguments = {"model": "smollm2", "max_tokens": 24,
                 "messages": [{"role": "user", "content": QUESTION}], **options}
    return client.messages.create(**arguments)


def test_thinking_blocks_come_before_text(client) -> None:  # type: ignore[no-untyped-def]
    message = ask(client, thinking={"type": "enabled", "budget_tokens": 16})
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text"]
    assert message.content[0].thinking and message.content[0].signature
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.output_tokens > 0


def test_disabled_has_only_text(client) -> None:  # type: ignore[no-untyped-def]
    message = ask(client, thinking={"type": "disabled"})
    assert [block.type for block in message.content] == ["text"]
    assert message.model_extra["thinkswitch"]["decision"]["mode"] == "off"


def test_streaming_event_sequence(client) -> None:  # type: ignore[no-untyped-def]
    names = []
    with client.messages.stream(model="smollm2", max_tokens=24,
                                thinking={"type": "enabled", "budget_tokens": 12},
                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        for event in stream:
            names.append(event.type)
        final = stream.get_final_message()
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "message_delta" in names
    assert [b.type for b in final.content] == ["thinking", "text"]
    deltas = [n for n in names if n in ("thinking", "text")]
    assert deltas.index("text") > max(i for i, n in enumerate(deltas) if n == "thinking")
    assert final.content[0].signature


def test_thinking_passed_back_must_carry_its_signature(client) -> None:  # type: ignore[no-untyped-def]
    first = ask(client, thinking={"type": "enabled", "budget_tokens": 8})
    thinking = first.content[0]
    history = [{"role": "user", "content": QUESTION},
               {"role": "assistant", "content": [
                   {"type": "thinking", "thinking": thinking.thinking,
                    "signature": thinking.signature},
                   {"type": "text", "text": first.content[1].text}]},
               {"role": "user", "content": "And with 5 boxes?"}]
    again = client.messages.create(model="smollm2", max_tokens=8, messages=history,
                                   thinking={"type": "disabled"})
    assert again.content[-1].type == "text"
    history[1]["content"][0]["signature"] = "0" * 64
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="smollm2", max_tokens=8, messages=history)
    assert "signature does not match" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"messages": []}, "messages"),
        ({"thinking": {"type": "enabled"}}, "budget_tokens is required"),
        ({"max_tokens": 20000, "thinking": {"type": "enabled", "budget_tokens": 19999}},
         "exceed the context"),
        ({"thinking": {"type": "enabled", "budget_tokens": 24}},
         "`max_tokens` must be greater than `thinking.budget_tokens`"),
        ({"tools": [{"name": "f", "input_schema": {"type": "object"}}]}, "'tools'"),
    ],
)
def test_bad_requests_are_anthropic_400s(client, options: dict[str, object],  # type: ignore[no-untyped-def]
                                         words: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(client, **options)
    assert words in str(caught.value)
    assert caught.value.body["type"] == "error"


def test_message_start_and_count_tokens_carry_the_real_input_count(client) -> None:  # type: ignore[no-untyped-def]
    options = {"model": "smollm2", "max_tokens": 24,
               "thinking": {"type": "enabled", "budget_tokens": 12},
               "messages": [{"role": "user", "content": QUESTION}]}
    with client.messages.stream(**options) as stream:
        started = next(event for event in stream if event.type == "message_start")
        final = stream.get_final_message()
    assert started.message.usage.input_tokens == final.usage.input_tokens > 10
    options.pop("max_tokens")
    counted = client.messages.count_tokens(**options)
    assert counted.input_tokens == final.usage.input_tokens
    message = ask(client, thinking={"type": "enabled", "budget_tokens": 12})
    assert message.usage.output_tokens <= 24  # max_tokens bounds thinking and text together
