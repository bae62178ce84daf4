"""Requests a hostile web page or client can send, against a real uvicorn on 127.0.0.1: bodies
of the wrong type (a page may POST `text/plain` to any site without a CORS preflight),
compressed bodies, and model text that looks like the stream's own framing.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

#: An answer that spells the SSE framing of every face: it must arrive as text, whole.
FRAMING = ("a\n\ndata: [DONE]\n\nevent: message_stop\ndata: {\"type\": \"message_stop\"}\n\n"
           "event: response.completed\r\n\r\nid: 1\n: comment\u2028z")
CHAT = {"model": "m", "messages": [{"role": "user", "content": "q"}]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ScriptedEngine]]:
    db = tmp_path_factory.mktemp("requests") / "traces.db"
    engine = ScriptedEngine()
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(open_store(db))))
    with live_server(create_app(switch, owns_switch=True)) as root:
        yield root, engine


def _feedback_count(root: str, trace: str) -> int:
    listed = httpx.get(f"{root}/v1/traces/{trace}/feedback")
    assert listed.status_code == 200, listed.text
    return len(listed.json()["data"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_feedback_a_web_page_could_post_without_asking_is_refused(
        served: tuple[str, ScriptedEngine], content_type: str | None) -> None:
    root, engine = served
    engine.enqueue(answer=["ok"])
    trace = httpx.post(f"{root}/v1/chat/completions", json=CHAT).json()["thinkswitch"][
        "trace_id"]
    headers = {"content-type": content_type} if content_type else {}
    sent = httpx.post(f"{root}/v1/traces/{trace}/feedback", headers=headers,
                      content=json.dumps({"verdict": "wrong"}))
    assert sent.status_code == 400, sent.text
    assert "Content-Type: application/json" in sent.json()["error"]["message"]
    assert _feedback_count(root, trace) == 0
    for declared in ("application/json", "application/json; charset=utf-8"):
        given = httpx.post(f"{root}/v1/traces/{trace}/feedback",
                           headers={"content-type": declared},
                           content=json.dumps({"verdict": "right"}))
        assert given.status_code == 201, given.text
    assert _feedback_count(root, trace) == 2


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses", "/v1/messages",
                                  "/v1/messages/count_tokens"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_the_faces_read_only_bodies_declared_json(served: tuple[str, ScriptedEngine], path: str,
                                                  content_type: str) -> None:
    root, _ = served
    body = {**CHAT, "input": "q", "max_tokens": 10}
    sent = httpx.post(f"{root}{path}", headers={"content-type": content_type},
                      content=json.dumps(body))
    assert sent.status_code == 400, sent.text
    assert "error" in sent.json()


def test_a_compressed_body_is_never_inflated(served: tuple[str, ScriptedEngine]) -> None:
    """No request decompression: a gzip bomb stays its compressed size, and is a 400."""
    root, _ = served
    bomb = gzip.compress(b"[" + b"0," * (16 << 20) + b"0]")  # 32 MiB of JSON in ~32 KiB
    assert len(bomb) < 200_000
    sent = httpx.post(f"{root}/v1/chat/completions", content=bomb,
                      headers={"content-type": "application/json",
                               "content-encoding": "gzip"})
    assert sent.status_code == 400, sent.text
    assert sent.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("face", ["chat", "responses", "anthropic"])
def test_an_answer_that_spells_the_stream_framing_arrives_whole(
        served: tuple[str, ScriptedEngine], face: str, tmp_path: Path) -> None:
    root, engine = served
    engine.enqueue(answer=[FRAMING[:7], FRAMING[7:]])
    if face == "chat":
        client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in
                       client.chat.completions.create(model="m", stream=True,
                                                      messages=CHAT["messages"])  # type: ignore[arg-type]
                       if chunk.choices)
    elif face == "responses":
        client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
        text = "".join(event.delta for event in client.responses.create(
            model="m", input="q", stream=True) if event.type == "response.output_text.delta")
    else:
        claude = anthropic.Anthropic(base_url=root, api_key="unused", max_retries=0)
        with claude.messages.stream(model="m", max_tokens=100,
                                    messages=[{"role": "user", "content": "q"}]) as events:
            final = events.get_final_message()
        text = "".join(block.text for block in final.content if block.type == "text")
    assert text == FRAMING


def _served_by_thinkswitch_serve(tmp_path: Path, server_section: str = "") -> Any:
    """The app `thinkswitch serve` builds (default bind: 127.0.0.1), without API keys."""
    from thinkswitch.cli.serve_cmd import build_server

    config = tmp_path / "thinkswitch.toml"
    config.write_text(f'[server]\n{server_section}\n[engine]\nname = "instant"\n'
                      f'[store]\nurl = "{tmp_path / "t.sqlite"}"\n')
    app, _ = build_server(config, {}, {}, environ={})
    return app


def test_a_loopback_server_refuses_a_rebound_host_name(tmp_path: Path) -> None:
    """DNS rebinding: a page at evil.example:PORT re-resolved to 127.0.0.1 reads the local,
    keyless server as same-origin; its requests carry `Host: evil.example:PORT`."""
    with live_server(_served_by_thinkswitch_serve(tmp_path)) as root:
        port = root.rsplit(":", 1)[1]
        assert httpx.post(f"{root}/v1/chat/completions", json=CHAT).status_code == 200
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}",
                     "[::2]", "@127.0.0.1"):
            for method, path in (("GET", "/v1/traces"), ("POST", "/v1/chat/completions"),
                                 ("GET", "/")):
                refused = httpx.request(method, f"{root}{path}", json=CHAT if method == "POST"
                                        else None, headers={"host": host})
                assert refused.status_code == 400, (host, path, refused.text)
                assert "Host header" in refused.json()["error"]["message"]
        for host in (f"localhost:{port}", f"LOCALHOST.:{port}", f"127.0.0.2:{port}",
                     f"[::1]:{port}", "127.0.0.1"):
            assert httpx.get(f"{root}/v1/traces", headers={"host": host}).status_code == 200


def test_the_allowed_host_names_can_be_widened_or_the_check_turned_off(tmp_path: Path) -> None:
    with live_server(_served_by_thinkswitch_serve(
            tmp_path, 'allowed_hosts = ["chat.internal"]')) as root:
        assert httpx.get(f"{root}/health", headers={"host": "chat.internal"}).status_code == 200
        assert httpx.get(f"{root}/health", headers={"host": "evil.example"}).status_code == 400
    with live_server(_served_by_thinkswitch_serve(tmp_path, 'allowed_hosts = ["*"]')) as root:
        assert httpx.get(f"{root}/health", headers={"host": "evil.example"}).status_code == 200
    with live_server(_served_by_thinkswitch_serve(tmp_path, 'host = "0.0.0.0"')) as root:
        assert httpx.get(f"{root}/health", headers={"host": "any.name"}).status_code == 200
