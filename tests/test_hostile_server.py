"""Hostile input against a real uvicorn on 127.0.0.1: text that is not Unicode, numbers out of
range, parts the engines cannot see, slow and huge requests, and the meta endpoints. No client
input may get a 5xx. The official SDKs send what they can; raw httpx and sockets send the rest.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from support.live_server import live_server

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

CHAT = "/v1/chat/completions"


def guarded_server(app: Any, **limits: Any) -> AbstractContextManager[str]:
    """`app` on uvicorn with the protocol `thinkswitch serve` runs (header timeout and cap)."""
    return live_server(app, guarded=True, **limits)


def instant_switch(recorder: Recorder | None = None) -> Switch:
    return Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(), Settings(),
                              recorder))


@pytest.fixture(scope="module")
def root() -> Iterator[str]:
    with guarded_server(create_app(instant_switch())) as url:
        yield url


def post_raw(root: str, body: str, path: str = CHAT) -> httpx.Response:
    """A body as typed: JSON the SDKs and httpx's own encoder refuse to write (NaN, lone
    surrogates as escapes)."""
    return httpx.post(f"{root}{path}", content=body.encode("utf-8"), timeout=30,
                      headers={"content-type": "application/json", "x-api-key": "unused"})


def openai_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


USER = '"messages": [{"role": "user", "content": "hi"}]'


@pytest.mark.parametrize("body, param", [
    ('{"model": "m", "messages": [{"role": "user", "content": "a\\ud800b"}]}',
     "messages.0.content"),
    ('{"model": "m\\udfff", ' + USER + '}', "model"),
    ('{"model": "m", "stream": true, "messages": [{"role": "user", "content": "\\ud800"}]}',
     "messages.0.content"),
    ('{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", '
     '"text": "\\udc00"}]}]}', "messages.0.content.0.text"),
    ('{"model": "m", "user": {"\\ud800": 1}, ' + USER + '}', "user.\\ud800"),
])
def test_a_lone_surrogate_is_a_400_naming_where_it_is(root: str, body: str,
                                                      param: str) -> None:
    error = openai_error(post_raw(root, body))
    assert error["type"] == "invalid_request_error"
    assert "not valid Unicode" in error["message"]
    assert error["param"] == param


def test_a_surrogate_encoded_as_raw_bytes_is_a_400_too(root: str) -> None:
    body = b'{"model": "m", "messages": [{"role": "user", "content": "a\xed\xa0\x80"}]}'
    response = httpx.post(f"{root}{CHAT}", content=body,
                          headers={"content-type": "application/json"})
    assert openai_error(response)["param"] == "messages.0.content"


@pytest.mark.parametrize("body", [
    b"[" * 500_000, b"[" * 500_000 + "\u00e9".encode(), b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
])
def test_json_nested_past_the_parser_is_a_400(root: str, body: bytes) -> None:
    response = httpx.post(f"{root}{CHAT}", content=body,
                          headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


def test_a_surrogate_pair_is_text_and_is_answered(root: str) -> None:
    body = '{"model": "m", "messages": [{"role": "user", "content": "smile \\ud83d\\ude00"}]}'
    response = post_raw(root, body)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].startswith("word0")


def test_a_lone_surrogate_in_an_anthropic_body_is_an_anthropic_400(root: str) -> None:
    body = '{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud800"}]}'
    response = post_raw(root, body, "/v1/messages")
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_non_ascii_signature_is_refused_with_a_400(root: str) -> None:
    client = anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model="m", max_tokens=5, messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sïgnature ✓"},
                {"type": "text", "text": "ok"}]},
            {"role": "user", "content": "and?"}])
    assert refused.value.status_code == 400
    assert "signature does not match" in str(refused.value)


OUT_OF_RANGE = [
    ({"max_tokens": 10**30}, "max_tokens"),
    ({"max_completion_tokens": 10**30}, "max_completion_tokens"),
    ({"thinking": {"type": "enabled", "budget_tokens": 10**30}}, "thinking.budget_tokens"),
    ({"min_thinking_tokens": 10**30}, "min_thinking_tokens"),
    ({"top_p": 5}, "top_p"),
    ({"top_p": -1}, "top_p"),
    ({"top_p": "x"}, "top_p"),
    ({"presence_penalty": 1e308}, "presence_penalty"),
    ({"presence_penalty": -1e308}, "presence_penalty"),
    ({"presence_penalty": "x"}, "presence_penalty"),
    ({"frequency_penalty": [1]}, "frequency_penalty"),
    ({"seed": 10**30}, "seed"),
    ({"chat_template_kwargs": {"enable_thinking": "no"}}, "chat_template_kwargs"),
    ({"chat_template_kwargs": {"enable_thinking": 1}}, "chat_template_kwargs"),
]


@pytest.mark.parametrize("extra, param", OUT_OF_RANGE)
def test_values_out_of_range_are_400s_naming_the_field(root: str, extra: dict[str, Any],
                                                       param: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    error = openai_error(httpx.post(f"{root}{CHAT}", json=body))
    assert error["param"] == param


@pytest.mark.parametrize("field, literal", [
    ("top_p", "NaN"), ("temperature", "NaN"), ("timeout", "Infinity"),
    ("frequency_penalty", "-Infinity"),
])
def test_nan_and_infinity_are_400s(root: str, field: str, literal: str) -> None:
    error = openai_error(post_raw(root, '{"model": "m", ' + USER + f', "{field}": {literal}}}'))
    assert error["param"] == field


def test_the_openai_sdk_gets_a_bad_request_for_a_huge_max_tokens(root: str) -> None:
    client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="m", max_tokens=10**30,
                                       messages=[{"role": "user", "content": "hi"}])
    assert refused.value.body["param"] == "max_tokens"  # type: ignore[index]


def test_enable_thinking_false_and_true_still_switch(root: str) -> None:
    def mode(flag: bool) -> str:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                "chat_template_kwargs": {"enable_thinking": flag}}
        answered = httpx.post(f"{root}{CHAT}", json=body)
        assert answered.status_code == 200
        return str(answered.json()["thinkswitch"]["decision"]["mode"])

    assert (mode(False), mode(True)) == ("off", "on")


@pytest.mark.parametrize("part, named", [
    ({"type": "text", "text": None}, "without a string `text`"),
    ({"type": "text"}, "without a string `text`"),
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}, "'image_url'"),
    ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
     "'input_audio'"),
])
def test_parts_the_engine_cannot_read_are_400s_naming_the_part(
        root: str, part: dict[str, Any], named: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "look:"}, part]}]}
    error = openai_error(httpx.post(f"{root}{CHAT}", json=body))
    assert error["param"] == "messages.0.content"
    assert "content part 1" in error["message"] and named in error["message"]


@pytest.mark.parametrize("body", [
    {"max_tokens": 10**30, "messages": [{"role": "user", "content": "hi"}]},
    {"max_tokens": 5, "temperature": 5, "messages": [{"role": "user", "content": "hi"}]},
    {"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text",
                                                                  "text": None}]}]},
    {"max_tokens": 5, "system": [{"type": "text"}],
     "messages": [{"role": "user", "content": "hi"}]},
    {"max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "AAAA"}}]}]},
])
def test_anthropic_bodies_out_of_range_are_anthropic_400s(root: str,
                                                          body: dict[str, Any]) -> None:
    response = httpx.post(f"{root}/v1/messages", json={"model": "m", **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


# Slow and huge requests ---------------------------------------------------------------------


def _trickler(port: int, stop: threading.Event, body: bytes, pause_s: float) -> None:
    """Declares `body`'s length, then sends it one byte per `pause_s` until told to stop."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                     b"content-type: application/json\r\n"
                     b"content-length: " + str(len(body)).encode() + b"\r\n\r\n")
        for byte in body:
            if stop.wait(pause_s):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return


def test_bodies_trickling_in_hold_no_slot() -> None:
    """Four connections sending a byte every 0.5 s on a server of capacity 2: requests that
    arrive whole are all served, none gets 429."""
    app = create_app(instant_switch(), capacity=2, body_timeout_s=60)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 200}]})
    with guarded_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        stop = threading.Event()
        slow = [threading.Thread(target=_trickler, args=(port, stop, body.encode(), 0.5))
                for _ in range(4)]
        for thread in slow:
            thread.start()
        try:
            time.sleep(1.0)  # every trickler is connected and inside the app
            statuses = [httpx.post(f"{url}{CHAT}", timeout=10, json={
                "model": "m", "messages": [{"role": "user", "content": "hi"}]}).status_code
                for _ in range(8)]
        finally:
            stop.set()
            for thread in slow:
                thread.join(timeout=10)
    assert statuses == [200] * 8


def _read_all(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def test_a_body_that_does_not_arrive_in_time_is_a_408() -> None:
    app = create_app(instant_switch(), body_timeout_s=1.0)
    with guarded_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                         b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{")
            reply = _read_all(sock, 10)
            waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:100]
    assert b"did not arrive within 1 s" in reply
    assert 0.9 < waited < 5


@pytest.mark.parametrize("opening", [b"", b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"])
def test_headers_that_do_not_arrive_in_time_close_the_connection(opening: bytes) -> None:
    with guarded_server(create_app(instant_switch()), header_timeout_s=1.0) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            started = time.monotonic()
            sock.sendall(opening)
            reply = _read_all(sock, 10)
            waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:100]
    assert 0.9 < waited < 5


def test_a_32_megabyte_header_is_refused_early(root: str) -> None:
    port = int(root.rsplit(":", 1)[1])
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nx-big: ")
        chunk = b"a" * 65536
        try:
            while sent < 32 << 20:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server closed the connection: what is wanted
            pass
        reply = _read_all(sock, 10)
    assert sent < 8 << 20, "the server kept reading a huge header"
    if reply:  # the reply may be lost to a reset when the client is still sending
        assert reply.startswith(b"HTTP/1.1 431 "), reply[:100]


def test_a_header_near_the_cap_is_served(root: str) -> None:
    response = httpx.get(f"{root}/health", headers={"x-pad": "a" * 30_000})
    assert response.status_code == 200


# Meta endpoints, the docs UI, the page's policy, error text --------------------------------


META = ("/metrics", "/openapi.json")


def test_with_keys_the_meta_endpoints_are_closed_by_default() -> None:
    with guarded_server(create_app(instant_switch(), api_keys=["k1"])) as url:
        for path in (*META, "/docs", "/redoc"):
            assert httpx.get(f"{url}{path}", headers={"x-api-key": "k1"}).status_code == 404
        assert httpx.get(f"{url}/health").status_code == 200


def test_meta_endpoints_can_require_a_key() -> None:
    with guarded_server(create_app(instant_switch(), api_keys=["k1"], meta="key")) as url:
        for path in META:
            assert httpx.get(f"{url}{path}").status_code == 401
            assert httpx.get(f"{url}{path}", headers={"x-api-key": "nope"}).status_code == 401
            assert httpx.get(f"{url}{path}", headers={"x-api-key": "k1"}).status_code == 200


def test_without_keys_the_schema_is_open_and_no_docs_ui_is_served(root: str) -> None:
    assert httpx.get(f"{root}/openapi.json").json()["info"]["title"] == "thinkswitch"
    assert httpx.get(f"{root}/metrics").status_code == 200
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = httpx.get(f"{root}{path}")
        assert response.status_code == 404
        assert "cdn" not in response.text.lower()


def test_the_page_carries_its_csp_at_both_addresses(root: str) -> None:
    for path in ("/", "/static/index.html", "/static/app.js"):
        response = httpx.get(f"{root}{path}")
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]


def test_a_failure_shows_no_internal_path(tmp_path: Path) -> None:
    """A store that cannot be written fails the request (502 or a stream error), and neither
    says where the database is."""
    store = open_store(tmp_path / "deep" / "secret-place" / "traces.sqlite")
    switch = instant_switch(Recorder(store))
    store.close()
    (tmp_path / "deep" / "secret-place" / "traces.sqlite").unlink()
    (tmp_path / "deep" / "secret-place").rmdir()
    (tmp_path / "deep" / "secret-place").write_text("not a folder")
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with guarded_server(create_app(switch)) as url:
        whole = httpx.post(f"{url}{CHAT}", json=body)
        streamed = httpx.post(f"{url}{CHAT}", json={**body, "stream": True})
    assert whole.status_code >= 400
    for text in (whole.text, streamed.text):
        assert "secret-place" not in text and str(tmp_path) not in text


def test_serve_reads_the_limits_and_keeps_one_secret_across_restarts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from thinkswitch.cli.serve_cmd import build_server

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    config = tmp_path / "thinkswitch.toml"
    config.write_text(f'[server]\napi_keys = ["k1"]\nmeta_endpoints = "key"\n'
                      f'body_timeout_s = 2.5\nheader_timeout_s = 3\nmax_header_bytes = 4096\n'
                      f'[engine]\nname = "instant"\n[store]\nurl = "{tmp_path / "t.sqlite"}"\n')
    ids = []
    for _ in range(2):  # two starts of the server
        app, options = build_server(config, {}, {}, environ={})
        assert (options.body_timeout_s, options.header_timeout_s, options.max_header_bytes,
                options.meta_endpoints) == (2.5, 3.0, 4096, "key")
        client = TestClient(app, base_url="http://127.0.0.1")  # a loopback bind checks Host
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"x-api-key": "k1"}).status_code == 200
        answered = client.post(CHAT, headers={"x-api-key": "k1"}, json={
            "model": "m", "messages": [{"role": "user", "content": "hi"}]})
        ids.append(answered.json()["thinkswitch"]["trace_id"])
    secret = tmp_path / "home" / "thinkswitch" / "server-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    store = open_store(tmp_path / "t.sqlite")
    callers = {record.caller for record in store.records()}
    store.close()
    assert len(callers) == 1 and len(ids) == 2  # the same key id after a restart


def test_an_upstream_lone_surrogate_becomes_a_replacement_character() -> None:
    from thinkswitch.engines.sse import parse_chunk

    chunk = parse_chunk('{"choices": [{"index": 0, "delta": {"content": "a\\ud800b", '
                        '"reasoning_content": "\\udfff"}}]}', "upstream")
    assert "\ud800" not in chunk.content and chunk.content.startswith("a")
    assert chunk.content.endswith("b") and "\ufffd" in chunk.content
    assert chunk.reasoning.encode("utf-8").decode("utf-8") == chunk.reasoning
    smile = parse_chunk('{"choices": [{"index": 0, "delta": {"content": "\\ud83d\\ude00"}}]}',
                        "upstream")
    assert smile.content == "\U0001F600"
