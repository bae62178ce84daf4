"""Reading the server-sent events of an OpenAI-compatible `/chat/completions` stream.

Each `data:` line of such a stream holds one JSON chunk (no server we target splits a chunk
over several `data:` lines), and `data: [DONE]` ends it. Comment lines (`: ping`), `event:`
lines and blank lines carry nothing for us. A chunk is reduced to what the engine needs: the
reasoning text, the content text, the finish reason and the usage, whichever of them it has.

Servers name the reasoning field differently: vLLM now sends `delta.reasoning` (and used to
send `reasoning_content`), llama.cpp server and Ollama's OpenAI endpoint send
`reasoning_content`. A server that sends both carries the same text twice, so one is taken.

Every delta of every streamed answer crosses here, so the stream is read as bytes
(`ChunkReader`: lines split here, not by httpx's text and line decoders) and each `data:`
payload is decoded once, by msgspec, straight into the few fields read here (`_Payload`: the
envelope's id, model and the rest are skipped, not built into dicts). A payload of another
shape (a choice that is not an object, an error body, ...) goes through orjson and `chunk_of`,
and one orjson refuses (bytes that are not UTF-8, a lone surrogate such as `\\ud800`) through
the standard library parser, as text with U+FFFD for what is not Unicode, so every payload is
read exactly as `chunk_of` of its JSON says (`parse_chunk`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import orjson

from thinkswitch.kernel.errors import EngineUnavailableError

DONE = "[DONE]"
DONE_BYTES = b"[DONE]"
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True, slots=True)
class StreamUsage:
    """The usage block of a chunk; a field is None when the server leaves it out."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None


class StreamChunk(NamedTuple):
    """What the engine needs of one chunk (a tuple: one is made per delta, and cheaply)."""

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
    except (json.JSONDecodeError, RecursionError):  # garbage, or nested past the parser
        raise EngineUnavailableError(
            f"{source} sent a stream line that is not JSON: {one_line(data)[:80]!r}"
        ) from None
    chunk = chunk_of(payload, source)
    return chunk._replace(reasoning=_text(chunk.reasoning), content=_text(chunk.content))


def chunk_of(payload: Any, source: str) -> StreamChunk:
    """The chunk of a parsed payload (JSON objects are `dict`s, arrays `list`s; a text field
    that is not a string is empty). Inlined field by field: it runs once per delta."""
    if type(payload) is not dict:
        raise EngineUnavailableError(f"{source} sent a stream chunk that is not an object")
    if "error" in payload or "message" in payload or "detail" in payload:
        message = error_message(payload)
        if message is not None:
            raise EngineUnavailableError(f"{source} failed mid-stream: {message}")
    reasoning = content = ""
    finish: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    choices = payload.get("choices")
    if type(choices) is list:
        for choice in choices:
            if type(choice) is not dict or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if type(delta) is dict:
                value = delta.get("reasoning")
                if type(value) is not str or not value:
                    value = delta.get("reasoning_content")
                reasoning = value if type(value) is str else ""
                value = delta.get("content")
                content = value if type(value) is str else ""
                calls = delta.get("tool_calls")
                if type(calls) is list:
                    tool_calls = tuple(call for call in calls if type(call) is dict)
            value = choice.get("finish_reason")
            finish = value if type(value) is str and value else None
    usage = payload.get("usage")
    return StreamChunk(reasoning, content, finish,
                       None if usage is None else _usage(usage), tool_calls)


_ABSENT: Any = msgspec.UNSET  # a field the payload does not have


class _Delta(msgspec.Struct):
    """`choices[i].delta`; a text field of another type is read as `chunk_of` reads it."""

    reasoning: Any = None
    reasoning_content: Any = None
    content: Any = None
    tool_calls: Any = None


class _Choice(msgspec.Struct):
    index: Any = 0
    delta: _Delta | None = None
    finish_reason: Any = None


class _Payload(msgspec.Struct):
    """The fields of a chunk that `chunk_of` reads; the error fields only to send a payload
    that has one down the general path."""

    choices: list[_Choice] | None = None
    usage: Any = None
    error: Any = _ABSENT
    message: Any = _ABSENT
    detail: Any = _ABSENT


_decode_payload = msgspec.json.Decoder(_Payload).decode


def _fast_chunk(data: bytes) -> StreamChunk | None:
    """`chunk_of` of the JSON `data`, decoded by msgspec into `_Payload`; None for a payload
    of another shape or with an error field (the general path reads it)."""
    try:
        payload = _decode_payload(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # nested past msgspec
        return None
    if payload.error is not _ABSENT or payload.message is not _ABSENT or (
            payload.detail is not _ABSENT):
        return None
    reasoning = content = ""
    finish: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    choices = payload.choices
    if choices is not None:
        for choice in choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta is not None:
                value = delta.reasoning
                if type(value) is not str or not value:
                    value = delta.reasoning_content
                reasoning = value if type(value) is str else ""
                value = delta.content
                content = value if type(value) is str else ""
                calls = delta.tool_calls
                if type(calls) is list:
                    tool_calls = tuple(call for call in calls if type(call) is dict)
            value = choice.finish_reason
            finish = value if type(value) is str and value else None
    usage = payload.usage
    # `tuple.__new__` itself: the NamedTuple's generated `__new__` is one more Python call
    return _new_chunk(StreamChunk, (reasoning, content, finish,
                                    None if usage is None else _usage(usage), tool_calls))


_new_chunk = tuple.__new__


class ChunkReader:
    """The chunks of an SSE stream fed as the bytes of each network read (see the module
    docstring): `feed` returns the chunks that read completed, in order; `done` is set at
    `data: [DONE]`, after which nothing more is read. A line may end in LF, CRLF or CR."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.done = False
        self._rest: list[bytes] = []  # the reads since the last line end, joined once one comes
        self._after_cr = False  # the last read ended in CR: a LF first in the next is its pair

    def feed(self, data: bytes) -> list[StreamChunk]:
        if self.done:
            return []
        if self._after_cr:
            self._after_cr = False
            data = data[1:] if data.startswith(b"\n") else data
        if b"\n" not in data and b"\r" not in data:  # nothing ends: keep it, rescan nothing
            if data:
                self._rest.append(data)
            return []
        data = b"".join((*self._rest, data)) if self._rest else data
        ended = False
        if b"\r" in data:
            ended = self._after_cr = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._rest = [] if ended else [lines.pop()]
        return self._parse(lines)

    def end(self) -> list[StreamChunk]:
        """The chunk of a last line that had no line end, if any."""
        rest, self._rest = b"".join(self._rest), []
        return [] if self.done or not rest else self._parse([rest])

    def _parse(self, lines: list[bytes]) -> list[StreamChunk]:
        chunks: list[StreamChunk] = []
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == DONE_BYTES:
                self.done = True
                self._rest = []
                break
            if not data:
                continue
            chunk = _fast_chunk(data)  # decoded once (see the module docstring)
            if chunk is not None:
                chunks.append(chunk)
                continue
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                chunks.append(parse_chunk(data.decode("utf-8", "replace"), self.source))
                continue
            chunks.append(chunk_of(payload, self.source))
        return chunks
