"""The keep-alive race: an upstream closes an idle connection just as the proxy reuses it for
a chat call (`ChatTransport._send`, engines/keepalive.py). The call is sent again, once, and the
answer arrives — directly on the transport, and through the server to the official SDK.
tests/support/closing_upstream.py closes every connection at its second request, so each
reuse meets the race (in the bench, a rare one: the likely cause of an error event once seen
in ~2,000 streams)."""

from __future__ import annotations

import pytest
from openai import OpenAI
from support.closing_upstream import ANSWER, closing_upstream
from support.no_proxy import without_proxy  # noqa: F401  (a fixture)
from support.scripted_upstream import MODEL, thinkswitch_in_front

from thinkswitch.engines.openai_transport import ChatTransport
from thinkswitch.engines.pool import Route

BODY = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
CALLS = 4


def transport(base_url: str) -> ChatTransport:
    return ChatTransport(base_url, api_key=None, connect_timeout_s=2.0, read_timeout_s=5.0,
                         first_token_timeout_s=5.0, total_timeout_s=10.0, breaker_failures=1,
                         breaker_cooldown_s=30.0, health_interval_s=60.0, transport=None)


@pytest.mark.usefixtures("without_proxy")
@pytest.mark.parametrize("reset", [True, False], ids=["reset", "end-of-stream"])
def test_a_call_on_a_connection_closed_under_it_is_sent_again(reset: bool) -> None:
    with closing_upstream(reset) as (base_url, counts):
        chat = transport(base_url)
        try:
            answers = ["".join(chunk.content for chunk in chat.stream(BODY, Route()))
                       for _ in range(CALLS)]
            replica = chat.pool.replicas[0]
            assert (replica.state, replica.failures, replica.served) == ("closed", 0, CALLS)
        finally:
            chat.close()
    assert answers == [ANSWER] * CALLS
    # every call after the first met a closed connection and was answered on a new one
    assert (counts.answered, counts.dropped, counts.connections) == (
        CALLS, CALLS - 1, CALLS)


@pytest.mark.usefixtures("without_proxy")
def test_streams_through_the_server_do_not_end_in_an_error_event() -> None:
    with closing_upstream() as (base_url, counts), thinkswitch_in_front([base_url]) as (root, _):
        client = OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
        for _ in range(CALLS):
            stream = client.chat.completions.create(
                model=MODEL, stream=True, messages=[{"role": "user", "content": "hi"}])
            text = "".join(chunk.choices[0].delta.content or "" for chunk in stream
                           if chunk.choices)
            assert ANSWER in text
    assert counts.dropped >= CALLS - 1  # each call reused a connection the upstream closed
