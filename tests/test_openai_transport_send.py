"""The `openai` engine sends its chat calls on the transport `httpx.Client` would pick, not
through `Client.stream` (see `ChatTransport._send`): what the client would do must still
happen — an environment proxy is used, the client's headers go out, and a bad URL or an
unreachable server fails as before."""

from __future__ import annotations

import httpx
import pytest
from support.live_server import free_port, live_server
from support.no_proxy import without_proxy  # noqa: F401  (a fixture)
from support.scripted_upstream import Script, create_upstream

from thinkswitch.engines.openai_transport import ChatTransport
from thinkswitch.engines.pool import Route
from thinkswitch.kernel.errors import EngineUnavailableError

BODY = {"model": "scripted", "stream": True,
        "messages": [{"role": "user", "content": "through the proxy?"}]}


def transport(base_url: str, api_key: str | None = None) -> ChatTransport:
    return ChatTransport(base_url, api_key=api_key, connect_timeout_s=2.0, read_timeout_s=5.0,
                         first_token_timeout_s=5.0, total_timeout_s=10.0, breaker_failures=3,
                         breaker_cooldown_s=1.0, health_interval_s=60.0, transport=None)


def answer(chat: ChatTransport) -> str:
    return "".join(chunk.content for chunk in chat.stream(BODY, Route()))


def test_an_environment_proxy_carries_the_chat_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upstream's host does not resolve: only the proxy (here the scripted server, which
    serves the absolute-form request as its own) can answer it."""
    script = Script()
    with live_server(create_upstream(script)) as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy)
        chat = transport("http://upstream.invalid/v1", api_key="sk-proxy")
        try:
            assert answer(chat).startswith("answer to through the proxy?")
        finally:
            chat.close()
    assert script.calls == 1
    assert script.last_body == BODY


@pytest.mark.usefixtures("without_proxy")
def test_without_a_proxy_the_call_goes_straight_to_the_server() -> None:
    script = Script()
    with live_server(create_upstream(script)) as root:
        chat = transport(f"{root}/v1")
        try:
            assert answer(chat).startswith("answer to through the proxy?")
            assert answer(chat).startswith("answer to through the proxy?")  # a pooled connection
        finally:
            chat.close()
    assert script.calls == 2


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:{port}/v1", "http://[::1/v1"])
def test_an_unreachable_or_malformed_url_fails_as_unreachable(base_url: str) -> None:
    chat = transport(base_url.format(port=free_port()))
    try:
        with pytest.raises(EngineUnavailableError, match="cannot reach"):
            answer(chat)
    finally:
        chat.close()


@pytest.mark.usefixtures("without_proxy")
def test_the_installed_httpx_still_has_the_private_transport_pick() -> None:
    """`_send` relies on httpx's private `Client._transport_for_url` (pyproject allows any
    httpx below 1): a release without it must fail here, not only run slower unseen."""
    script = Script()
    with live_server(create_upstream(script)) as root:
        chat = transport(f"{root}/v1")
        try:
            assert answer(chat).startswith("answer to through the proxy?")
            url, picked = chat._chat[f"{root}/v1"]
        finally:
            chat.close()
    assert picked is not None, "httpx.Client._transport_for_url is gone: chat calls now " \
        "take the slower public Client.send (see ChatTransport._send)"
    assert str(url) == f"{root}/v1/chat/completions"


@pytest.mark.usefixtures("without_proxy")
def test_without_the_private_pick_calls_go_through_the_public_send() -> None:
    script = Script()
    with live_server(create_upstream(script)) as root:
        chat = transport(f"{root}/v1", api_key="sk-public")
        # what `_send` caches for a replica when httpx has no `_transport_for_url` (removing
        # it here cannot stand for that: this httpx's own `send` calls it)
        chat._chat[f"{root}/v1"] = httpx.URL(f"{root}/v1/chat/completions"), None
        try:
            assert answer(chat).startswith("answer to through the proxy?")
            assert answer(chat).startswith("answer to through the proxy?")
            assert chat._chat[f"{root}/v1"][1] is None
        finally:
            chat.close()
    assert script.calls == 2
    assert script.last_body == BODY
