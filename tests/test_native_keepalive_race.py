"""The keep-alive race on a native-API engine (`HttpUpstreamEngine`, here the `anthropic`
one): an upstream closes a kept-alive connection as the engine reuses it, with no response.
The request is sent again, once (engines/keepalive.py), and each answer arrives through the
server to the official SDK. tests/support/closing_upstream.py closes every connection at its
second request, so every call after the first meets the race."""

from __future__ import annotations

import pytest
from openai import OpenAI
from support.closing_upstream import ANSWER, closing_upstream, messages_stream
from support.live_server import live_server
from support.no_proxy import without_proxy  # noqa: F401  (a fixture)

from thinkswitch.engines.anthropic_upstream import AnthropicEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

MODEL = "claude-scripted"
CALLS = 4


@pytest.mark.usefixtures("without_proxy")
@pytest.mark.parametrize("reset", [True, False], ids=["reset", "end-of-stream"])
def test_a_native_call_on_a_connection_closed_under_it_is_sent_again(reset: bool) -> None:
    with closing_upstream(reset, messages_stream) as (base_url, counts):
        engine = AnthropicEngine(base_url=base_url, model=MODEL, api_key="sk-test",
                                 connect_timeout_s=2.0, read_timeout_s=5.0)
        switch = Switch(SwitchParts(engine, get_dialect("anthropic"), RulesPolicy(),
                                    Settings(answer_max_tokens=100)))
        try:
            with live_server(create_app(switch)) as root:
                client = OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
                answers = [client.chat.completions.create(
                    model=MODEL, reasoning_effort="none",
                    messages=[{"role": "user", "content": "hi"}]).choices[0].message.content
                    for _ in range(CALLS)]
        finally:
            engine.close()
    assert answers == [ANSWER] * CALLS
    # every call after the first met a closed connection and was answered on a new one
    assert (counts.answered, counts.dropped, counts.connections) == (
        CALLS, CALLS - 1, CALLS)
