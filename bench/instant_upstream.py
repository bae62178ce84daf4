"""An OpenAI-compatible upstream that answers at once: the "instant backend" of the proxy
benches. Plain ASGI (no framework), so that it is never the bottleneck: it serves
`GET /v1/models` and `POST /v1/chat/completions`, streaming (reasoning deltas, content deltas,
usage, `[DONE]`) or not.

    .venv/bin/python bench/instant_upstream.py --port 8100 [--deltas 256]

`--deltas N` streams N thinking and N answer deltas (a reasoning model's answer of real
length) instead of the few words of "Say hi.".
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn

MODEL = "instant-upstream"
THINKING = ["Let", " me", " see", "."]
ANSWER = ["The", " answer", " is", " 42", "."]


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _chunks(thinking: list[str], answer: list[str]) -> list[bytes]:
    base = {"id": "chatcmpl-instant", "object": "chat.completion.chunk", "created": 0,
            "model": MODEL}

    def delta(fields: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": fields,
                                          "finish_reason": finish}]})

    parts = [delta({"role": "assistant", "content": ""})]
    parts += [delta({"reasoning_content": text}) for text in thinking]
    parts += [delta({"content": text}) for text in answer]
    parts.append(delta({}, "stop"))
    parts.append(_sse({**base, "choices": [], "usage": {
        "prompt_tokens": 10, "completion_tokens": len(thinking) + len(answer),
        "total_tokens": 10 + len(thinking) + len(answer),
        "completion_tokens_details": {"reasoning_tokens": len(thinking)}}}))
    parts.append(b"data: [DONE]\n\n")
    return parts


def words(count: int) -> list[str]:
    """`count` short deltas, as a tokenizer would cut them."""
    return [f" w{number}" for number in range(count)]


COMPLETION = json.dumps({
    "id": "chatcmpl-instant", "object": "chat.completion", "created": 0, "model": MODEL,
    "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "".join(ANSWER),
        "reasoning_content": "".join(THINKING)}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 9, "total_tokens": 19},
}).encode()
MODELS = json.dumps({"object": "list", "data": [
    {"id": MODEL, "object": "model", "created": 0, "owned_by": "bench"}]}).encode()


def make_app(deltas: int | None = None) -> Any:
    """The ASGI app; `deltas`: that many thinking and answer deltas per streamed answer."""
    stream = b"".join(_chunks(words(deltas), words(deltas)) if deltas else
                      _chunks(THINKING, ANSWER))

    async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app(scope, receive, send, stream)

    return serve


async def app(scope: dict[str, Any], receive: Any, send: Any, stream: bytes) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"].endswith("/models"):
        status, kind, content = 200, b"application/json", MODELS
    elif scope["path"].endswith("/chat/completions"):
        streaming = bool(json.loads(body or b"{}").get("stream"))
        status = 200
        kind = b"text/event-stream" if streaming else b"application/json"
        content = stream if streaming else COMPLETION
    else:
        status, kind, content = 404, b"application/json", b'{"error": {"message": "no route"}}'
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind),
                            (b"content-length", str(len(content)).encode())]})
    await send({"type": "http.response.body", "body": content})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--deltas", type=int, default=None)
    args = parser.parse_args()
    uvicorn.run(make_app(args.deltas), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
