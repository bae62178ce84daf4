"""An OpenAI-compatible upstream that answers at once: the "instant backend" of the proxy
benches. Plain ASGI (no framework), so that it is never the bottleneck: it serves
`GET /v1/models` and `POST /v1/chat/completions`, streaming (reasoning deltas, content deltas,
usage, `[DONE]`) or not.

    .venv/bin/python bench/instant_upstream.py --port 8100
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


def _chunks() -> list[bytes]:
    base = {"id": "chatcmpl-instant", "object": "chat.completion.chunk", "created": 0,
            "model": MODEL}

    def delta(fields: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": fields,
                                          "finish_reason": finish}]})

    parts = [delta({"role": "assistant", "content": ""})]
    parts += [delta({"reasoning_content": text}) for text in THINKING]
    parts += [delta({"content": text}) for text in ANSWER]
    parts.append(delta({}, "stop"))
    parts.append(_sse({**base, "choices": [], "usage": {
        "prompt_tokens": 10, "completion_tokens": len(THINKING) + len(ANSWER),
        "total_tokens": 10 + len(THINKING) + len(ANSWER),
        "completion_tokens_details": {"reasoning_tokens": len(THINKING)}}}))
    parts.append(b"data: [DONE]\n\n")
    return parts


STREAM = b"".join(_chunks())
COMPLETION = json.dumps({
    "id": "chatcmpl-instant", "object": "chat.completion", "created": 0, "model": MODEL,
    "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "".join(ANSWER),
        "reasoning_content": "".join(THINKING)}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 9, "total_tokens": 19},
}).encode()
MODELS = json.dumps({"object": "list", "data": [
    {"id": MODEL, "object": "model", "created": 0, "owned_by": "bench"}]}).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
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
        content = STREAM if streaming else COMPLETION
    else:
        status, kind, content = 404, b"application/json", b'{"error": {"message": "no route"}}'
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind),
                            (b"content-length", str(len(content)).encode())]})
    await send({"type": "http.response.body", "body": content})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
