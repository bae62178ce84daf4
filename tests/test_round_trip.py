"""One conversation through all three APIs: an `openai` SDK client speaks chat completions to
thinkswitch A, whose `openai_responses` engine speaks the Responses API to thinkswitch B,
whose `anthropic` engine speaks the Messages API to thinkswitch C, which answers on a
scripted engine. Real servers on 127.0.0.1 all the way; the thinking, the answer, the budget
and the earlier turns must survive every translation, streaming and not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import openai
import pytest
from support.live_server import live_server

from thinkswitch.engines.anthropic_upstream import AnthropicEngine
from thinkswitch.engines.responses_upstream import ResponsesEngine
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

THOUGHTS = ["Three boxes ", "of four apples."]


@pytest.fixture(scope="module")
def chain() -> Iterator[tuple[openai.OpenAI, ScriptedEngine]]:
    bottom = ScriptedEngine("claude-scripted")
    with ExitStack() as stack:
        c = stack.enter_context(live_server(create_app(Switch(
            SwitchParts(bottom, get_dialect("prompted"), RulesPolicy(), Settings())))))
        messages_engine = AnthropicEngine(base_url=f"{c}/v1", model="claude-scripted")
        stack.callback(messages_engine.close)
        b = stack.enter_context(live_server(create_app(Switch(
            SwitchParts(messages_engine, get_dialect("anthropic"), RulesPolicy(), Settings())))))
        responses_engine = ResponsesEngine(base_url=f"{b}/v1", model="claude-scripted")
        stack.callback(responses_engine.close)
        a = stack.enter_context(live_server(create_app(Switch(
            SwitchParts(responses_engine, get_dialect("openai_effort"), RulesPolicy(),
                        Settings())))))
        yield openai.OpenAI(base_url=f"{a}/v1", api_key="unused", max_retries=0), bottom


def test_a_conversation_through_chat_responses_and_messages(
        chain: tuple[openai.OpenAI, ScriptedEngine]) -> None:
    client, bottom = chain
    bottom.enqueue(thinking=THOUGHTS, answer=["Tom has ", "12 apples."])
    history = [{"role": "system", "content": "Be brief."},
               {"role": "user", "content": "Tom has 3 boxes of 4 apples. How many?"}]
    first = client.chat.completions.create(model="claude-scripted", messages=history,  # type: ignore[arg-type]
                                           reasoning_effort="medium")
    message = first.choices[0].message
    assert message.content == "Tom has 12 apples."
    assert message.model_extra["reasoning_content"] == "".join(THOUGHTS)  # type: ignore[index]
    asked = bottom.requests[-1]
    assert asked.plan.mode == "on" and asked.plan.budget is not None
    assert [(m.role, m.content) for m in asked.messages] == [
        ("system", "Be brief."), ("user", "Tom has 3 boxes of 4 apples. How many?")]
    assert first.usage is not None and first.usage.completion_tokens_details is not None
    assert first.usage.completion_tokens_details.reasoning_tokens > 0

    bottom.enqueue(thinking=["Five boxes."], answer=["20 ", "apples."])
    history += [{"role": "assistant", "content": message.content},
                {"role": "user", "content": "And with 5 boxes?"}]
    stream = client.chat.completions.create(model="claude-scripted", messages=history,  # type: ignore[arg-type]
                                            reasoning_effort="medium", stream=True)
    content, thinking = [], []
    for chunk in stream:
        for choice in chunk.choices:
            content.append(choice.delta.content or "")
            thinking.append((choice.delta.model_extra or {}).get("reasoning_content") or "")
    assert "".join(content) == "20 apples." and "".join(thinking) == "Five boxes."
    assert [(m.role, m.content) for m in bottom.requests[-1].messages][1:] == [
        ("user", "Tom has 3 boxes of 4 apples. How many?"),
        ("assistant", "Tom has 12 apples."),  # C would refuse a passed-back block it cannot verify
        ("user", "And with 5 boxes?")]

    bottom.enqueue(answer=["Off."])
    off = client.chat.completions.create(model="claude-scripted", messages=history[-1:],  # type: ignore[arg-type]
                                         reasoning_effort="none")
    assert off.choices[0].message.content == "Off." and bottom.requests[-1].plan.mode == "off"
