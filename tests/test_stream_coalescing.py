"""The OpenAI face forwards the deltas of one upstream read in one write: an upstream that
sends a long answer in one piece reaches the client in a few HTTP chunks, not one per delta,
with every delta there, in order, and the official SDK reads it."""

from __future__ import annotations

import json
import socket
from typing import Any

import openai
from support.live_server import live_server
from support.scripted_upstream import MODEL, thinkswitch_in_front

DELTAS = 300


def _event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


BODY = b"".join([
    *(_event({"reasoning_content": f" t{n}"}) for n in range(DELTAS)),
    *(_event({"content": f" a{n}"}) for n in range(DELTAS)),
    _event({}, "stop"), b"data: [DONE]\n\n"])


async def one_write_upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An OpenAI-compatible upstream whose every stream is one write of the whole body."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "body": BODY})


def chunked_body(root: str, body: dict[str, Any]) -> list[bytes]:
    """The HTTP chunks of a streamed response, read off a raw socket."""
    host, port = root.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\nContent-Length: "
                     + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        raw = b""
        while data := sock.recv(1 << 16):
            raw += data
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0] and b"chunked" in head.lower()
    chunks = []
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return chunks
        chunks.append(rest[:size])
        rest = rest[size + 2:]


def test_one_upstream_read_goes_out_in_a_few_writes_with_every_delta_in_order() -> None:
    with live_server(one_write_upstream) as upstream, \
            thinkswitch_in_front([f"{upstream}/v1"], dialect="qwen3") as (root, _):
        body = {"model": f"{MODEL}:think", "stream": True,
                "messages": [{"role": "user", "content": "hi"}]}
        chunks = chunked_body(root, body)
        events = [line[6:] for chunk in chunks for line in chunk.decode().split("\n")
                  if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        deltas = [json.loads(data)["choices"][0]["delta"] for data in events[:-1]
                  if json.loads(data)["choices"]]
        thinking = [d["reasoning_content"] for d in deltas if "reasoning_content" in d]
        answer = [d["content"] for d in deltas if d.get("content")]
        assert thinking == [f" t{n}" for n in range(DELTAS)]
        assert answer == [f" a{n}" for n in range(DELTAS)]
        # 600 deltas from one upstream write: a handful of writes (the decision may go out
        # alone, and a thread switch can split a read once or twice), never one per delta
        assert len(chunks) <= 8, [chunk.count(b"data: ") for chunk in chunks]

        client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused")
        stream = client.chat.completions.create(
            model=f"{MODEL}:think", messages=[{"role": "user", "content": "hi"}], stream=True,
            stream_options={"include_usage": True})
        parts = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
        assert "".join(parts) == "".join(f" a{n}" for n in range(DELTAS))
