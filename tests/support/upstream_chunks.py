"""OpenAI stream chunks as an upstream sends them, for mock transports."""

from __future__ import annotations

import json
from typing import Any


def sse(*chunks: dict[str, Any], done: bool = True) -> list[bytes]:
    events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks]
    return events + ([b"data: [DONE]\n\n"] if done else [])


def delta(finish: str | None = None, **fields: str) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": fields, "finish_reason": finish}],
    }

