"""Each face says the same thing streamed and whole (tests/support/parity.py), on a real
server on 127.0.0.1 driven by the official SDKs; the `instant` engine makes both runs the same
generation. The llama.cpp server tests check the content of each form."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from support.live_server import live_server
from support.parity import anthropic_parity, openai_parity, responses_parity

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

QUESTION = [{"role": "user", "content": "How many apples are 3 boxes of 4?"}]


@pytest.fixture(scope="module")
def root() -> Iterator[str]:
    switch = Switch(SwitchParts(InstantEngine(thinking_tokens=6, answer_tokens=5),
                                get_dialect("prompted"), RulesPolicy(), Settings()))
    with live_server(create_app(switch)) as url:
        yield url


@pytest.mark.parametrize(("thinking", "finish"), [
    ({"type": "enabled", "budget_tokens": 4}, "stop"),
    ({"type": "disabled"}, "stop"),
])
def test_openai_stream_and_whole_agree(root: str, thinking: dict[str, object],
                                       finish: str) -> None:
    client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
    folded = openai_parity(client, model="instant", messages=QUESTION,
                           extra_body={"thinking": thinking})
    assert folded["answer"] == "word0 word1 word2 word3 word4"
    assert folded["finish_reason"] == finish
    assert bool(folded["thinking"]) is (thinking["type"] == "enabled")


def test_anthropic_stream_and_whole_agree(root: str) -> None:
    client = anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)
    folded = anthropic_parity(client, model="instant", max_tokens=32, messages=QUESTION,
                              thinking={"type": "enabled", "budget_tokens": 4})
    assert [block["type"] for block in folded["blocks"]] == ["thinking", "text"]
    assert folded["blocks"][1]["text"] == "word0 word1 word2 word3 word4"
    assert folded["stop_reason"] == "end_turn"


@pytest.mark.parametrize(("reasoning", "items"), [
    ({"effort": "low"}, ["reasoning", "message"]),
    ({"effort": "none"}, ["message"]),
])
def test_responses_stream_and_whole_agree(root: str, reasoning: dict[str, str],
                                          items: list[str]) -> None:
    client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
    folded = responses_parity(client, model="instant", input=QUESTION[0]["content"],
                              reasoning=reasoning)
    assert folded["items"] == items
    assert folded["answer"] == "word0 word1 word2 word3 word4"
    assert folded["status"] == "completed"
    assert bool(folded["thinking"]) is (reasoning["effort"] != "none")
