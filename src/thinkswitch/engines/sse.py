"""Reading the server-sent events of an OpenAI-compatible `/chat/completions` stream.

Each `data:` line of such a stream holds one JSON chunk (no server we target splits a chunk
over several `data:` lines), and `data: [DONE]` ends it. Comment lines (`: ping`), `event:`
lines and blank lines carry nothing for us. A chunk is reduced to what the engine needs: the
reasoning text, the content text, the finish reason and the usage, whichever of them it has.

Servers name the reasoning field differently: vLLM now sends `delta.reasoning` (and used to
send `reasoning_content`), llama.cpp server and Ollama's OpenAI endpoint send
`reasoning_content`. A server that sends both carries the same text twice, so one is taken.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from thinkswitch.kernel.errors import EngineUnavailableError

DONE = "[DONE]"
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True, slots=True)
class StreamUsage:
    """The usage block of a chunk; a field is None when the server leaves it out."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class StreamChunk:
    reasoning: str = ""
    content: str = ""
    finish_reason: str | None = None
    usage: StreamUsage | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()


def one_line(text: str) -> str:
    """Collapse whitespace and shorten, so an error message stays one readable line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE_CHARS else flat[: MAX_MESSAGE_CHARS - 1] + "…"


def error_message(payload: object) -> str | None:
    """The message of an error body: OpenAI `{error: {message}}`, older vLLM
    `{object: "error", message}`, FastAPI `{detail}`; None when `payload` is not an error."""
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return one_line(str(error["message"]))
    if isinstance(error, str) and error:
        return one_line(error)
    if payload.get("object") == "error" and payload.get("message"):
        return one_line(str(payload["message"]))
    detail = payload.get("detail")
    if detail:
        return one_line(detail if isinstance(detail, str) else json.dumps(detail))
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str:
    """A text field of an upstream chunk; lone surrogates (JSON may spell `\\ud800`) become
    U+FFFD here, or they would fail later when the answer is encoded for the client."""
    if not isinstance(value, str):
        return ""
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _usage(raw: object) -> StreamUsage | None:
    if not isinstance(raw, Mapping):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, Mapping) else None
    return StreamUsage(
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        reasoning_tokens=reasoning,
    )


def parse_chunk(data: str, source: str) -> StreamChunk:
    """One `data:` payload as a chunk; garbage or an in-stream error raises
    `EngineUnavailableError` naming `source`."""
    try:
        payload: Any = json.loads(data)
    except json.JSONDecodeError:
        raise EngineUnavailableError(
            f"{source} sent a stream line that is not JSON: {one_line(data)[:80]!r}"
        ) from None
    message = error_message(payload)
    if message is not None:
        raise EngineUnavailableError(f"{source} failed mid-stream: {message}")
    if not isinstance(payload, Mapping):
        raise EngineUnavailableError(f"{source} sent a stream chunk that is not an object")
    reasoning = content = ""
    finish: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    choices = payload.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, Mapping):
                reasoning = _text(delta.get("reasoning")) or _text(delta.get("reasoning_content"))
                content = _text(delta.get("content"))
                calls = delta.get("tool_calls")
                if isinstance(calls, list):
                    tool_calls = tuple(call for call in calls if isinstance(call, dict))
            finish = _text(choice.get("finish_reason")) or None
    return StreamChunk(reasoning, content, finish, _usage(payload.get("usage")), tool_calls)


def iter_chunks(lines: Iterable[str], source: str) -> Iterator[StreamChunk]:
    """The chunks of an SSE stream, up to `data: [DONE]` or the end of the lines."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == DONE:
            return
        if data:
            yield parse_chunk(data, source)
