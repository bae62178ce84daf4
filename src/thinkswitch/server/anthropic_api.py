"""The Anthropic face: the Messages dialect, `POST /v1/messages` (streaming and not) and
`POST /v1/messages/count_tokens`.

`thinking` and `output_config.effort` map onto the switch (see `anthropic_thinking`);
`max_tokens` bounds thinking and text together (`thinkswitch.switch.output_cap`). The
response has `thinking` blocks before `text` blocks; each thinking block carries a
`signature`, an HMAC-SHA256 of the thinking shown under the server's key, so a client that
passes thinking back in a later turn can be checked. Streaming emits Anthropic's event
sequence: message_start (with the prompt's input tokens), content_block_start / *_delta /
content_block_stop per block, message_delta with the usage, message_stop. Tools are
translated by `anthropic_tools`. Any other path under `/v1/messages` is answered in
Anthropic's error shape (`server/errors.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.decision import Decision, RequestedMode
from thinkswitch.kernel.errors import EngineUnavailableError, UnsupportedParameterError, UsageError
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.kernel.result import Result
from thinkswitch.server.anthropic_thinking import (
    AnthropicThinking,
    Display,
    OutputConfig,
    control,
    shown,
)
from thinkswitch.server.anthropic_tools import (
    AnthropicTool,
    ToolChoice,
    tool_call,
    tool_options,
    tool_turn,
    tool_use_block,
)
from thinkswitch.server.bounds import AnthropicTemperature, JsonBool, JsonNumber, TokenCount
from thinkswitch.server.calls import CLIENT_GONE, EngineFacts, SwitchCalls
from thinkswitch.server.errors import stream_error_message
from thinkswitch.server.request_id import request_id_of
from thinkswitch.server.streaming import iterate_batches_in_thread
from thinkswitch.switch.degrade import HEADER as DEADLINE_HEADER
from thinkswitch.switch.degrade import parse_deadline


class AnthropicMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class MessagesRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = ""
    max_tokens: TokenCount
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    thinking: AnthropicThinking | None = None
    output_config: OutputConfig | None = None
    stream: JsonBool = False
    temperature: AnthropicTemperature | None = None
    tools: list[AnthropicTool] | None = None
    tool_choice: ToolChoice | None = None
    stop_sequences: list[str] | None = Field(None, max_length=16)


#: Fields of a Messages request that change nothing thinkswitch produces.
HARMLESS = frozenset({"metadata", "service_tier"})


class CountTokensRequest(MessagesRequest):
    """A Messages request without the need for `max_tokens`."""

    max_tokens: Annotated[int, JsonNumber] = Field(1 << 30, ge=1,
                                                   description="not needed to count")


def add_anthropic(app: FastAPI, calls: SwitchCalls, default_mode: RequestedMode, key: bytes,
                  budgets_for: Callable[[str], Mapping[str, int]]) -> None:
    """Serve `POST /v1/messages` and its `count_tokens` on `app`; thinking blocks are signed
    with `key`, `budgets_for` gives a model's effort budgets."""

    @app.post("/v1/messages", response_model=None)
    async def messages(http: Request, body: MessagesRequest) -> Response:
        record_id = request_id_of(http)  # the record's id; the message's is msg_ + it
        request = switch_request(body, calls.engine, key, default_mode, budgets_for(body.model),
                                 parse_deadline(http.headers.get(DEADLINE_HEADER)), record_id)
        display = body.thinking.display if body.thinking else None
        if not body.stream:
            result = await calls.whole(request, http)
            if result is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(message(result, body.model, key, display, record_id))

        def input_tokens(decision: Decision) -> int:
            return calls.prompt_tokens(request, decision)

        pairs = events(await calls.started(request, http), body.model or calls.engine.model,
                       key, input_tokens, display, record_id)
        return StreamingResponse(sse(pairs), media_type="text/event-stream")

    @app.post("/v1/messages/count_tokens")
    async def count_tokens(body: CountTokensRequest) -> JSONResponse:
        request = switch_request(body, calls.engine, key, default_mode, budgets_for(body.model))
        return JSONResponse({"input_tokens": await calls.count_tokens(request)})


def switch_request(body: MessagesRequest, engine: EngineFacts, key: bytes,
                   default_mode: RequestedMode, effort_budgets: Mapping[str, int],
                   deadline_s: float | None = None, trace_id: str | None = None
                   ) -> SwitchRequest:
    """The switch's request for a Messages request; a field with no OpenAI name to translate
    to (`top_k` and the like) is refused by name."""
    extra = sorted(k for k, v in (body.model_extra or {}).items()
                   if v is not None and k not in HARMLESS)
    if extra:
        raise UnsupportedParameterError(extra[0], engine.name)
    mode, budget = control(body.thinking, body.output_config, body.max_tokens, default_mode,
                           effort_budgets)
    return SwitchRequest(messages=chat_messages(body, key), think=mode, budget=budget,
                         output_cap=body.max_tokens, temperature=body.temperature,
                         options=engine_options(body, engine), deadline_s=deadline_s,
                         trace_id=trace_id)


def engine_options(body: MessagesRequest, engine: EngineFacts) -> dict[str, Any]:
    """What the engine is asked beyond the switch's own controls, in OpenAI's names: tools,
    `stop_sequences` as `stop`, `output_config.format` as `response_format` (each refused by
    its Anthropic name where the engine cannot). The upstream does not say which sequence
    stopped it, so such a stop reads `end_turn`."""
    options = tool_options(body.tools, body.tool_choice, engine)
    if body.stop_sequences:
        if "stop" not in engine.passthrough:
            raise UnsupportedParameterError("stop_sequences", engine.name)
        options["stop"] = list(body.stop_sequences)
    output_format = body.output_config.format if body.output_config else None
    if output_format is not None:
        if "response_format" not in engine.passthrough:
            raise UnsupportedParameterError("output_config.format", engine.name)
        options["response_format"] = output_format.response_format()
    return options


#: What the thinking-signature key is derived for. A signature is an HMAC of text the model
#: wrote, which a caller can steer: signed under the server's key itself, a thinking of
#: "thinkswitch caller id v2" would have been signed with the caller-id secret.
THINKING_SIGNATURE_CONTEXT = b"thinkswitch thinking signature v1"


def thinking_signature_key(signing_key: bytes) -> bytes:
    """The key thinking blocks are signed with, derived from the server's signing key (so
    replicas sharing that key accept each other's blocks) and used for nothing else."""
    return hmac.new(signing_key, THINKING_SIGNATURE_CONTEXT, hashlib.sha256).digest()


def signature(key: bytes, thinking: str) -> str:
    return hmac.new(key, thinking.encode("utf-8"), hashlib.sha256).hexdigest()


def signed(key: bytes, block: dict[str, Any]) -> bool:
    """Whether a passed-back thinking block carries the signature of its thinking. Compared
    as bytes: `compare_digest` refuses non-ASCII strings with a TypeError (a 500)."""
    given = block.get("signature")
    thinking = block.get("thinking")
    if not isinstance(given, str) or not isinstance(thinking, str):
        return False
    expected = signature(key, thinking).encode("ascii")
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected)


def _text_of(block: dict[str, Any], where: str) -> str:
    """A text block's text; a missing or non-string one is refused, not read as "None"."""
    text = block.get("text")
    if block.get("type", "text") != "text" or not isinstance(text, str):
        raise UsageError(f"every {where} text block needs a string `text` "
                         f"(got type {block.get('type')!r} with text {type(text).__name__})")
    return text


def chat_messages(body: MessagesRequest, key: bytes) -> tuple[ChatMessage, ...]:
    """Turns for the switch. Earlier thinking blocks are checked, then left out: reasoning
    from past turns is not sent back to the model. An assistant's `tool_use` blocks become
    its tool calls; a user's `tool_result` blocks become `tool` turns before its text."""
    out: list[ChatMessage] = []
    if body.system:
        system = body.system if isinstance(body.system, str) else "".join(
            _text_of(part, "system") for part in body.system)
        out.append(ChatMessage(role="system", content=system))
    for message in body.messages:
        if isinstance(message.content, str):
            out.append(ChatMessage(role=message.role, content=message.content))
            continue
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        results = 0
        for block in message.content:
            kind = block.get("type")
            if kind == "thinking":
                if not signed(key, block):
                    raise UsageError("a thinking block's signature does not match its thinking")
            elif kind == "text":
                texts.append(_text_of(block, "messages"))
            elif kind == "tool_use" and message.role == "assistant":
                calls.append(tool_call(block))
            elif kind == "tool_result" and message.role == "user":
                out.append(tool_turn(block))
                results += 1
            else:
                raise UsageError(f"content block type {kind!r} is not supported in a "
                                 f"{message.role} turn")
        if texts or calls or not results:  # a turn of tool results alone adds no user turn
            out.append(ChatMessage(role=message.role, content="".join(texts),
                                   tool_calls=tuple(calls) or None))
    return tuple(out)


def _usage(result: Result) -> dict[str, int]:
    return {"input_tokens": result.usage.prompt_tokens,
            "output_tokens": result.usage.thinking_tokens + result.usage.answer_tokens}


def _stop(result: Result) -> str:
    if result.finish_reason == "length":
        return "max_tokens"
    return "tool_use" if result.tool_calls else "end_turn"


def tool_use_blocks(result: Result) -> list[dict[str, Any]]:
    """The result's tool calls as `tool_use` blocks; cut off by the token limit, a call's
    arguments may be incomplete, and such calls are left out (the stop reason says why)."""
    if result.finish_reason != "length":
        return [tool_use_block(call) for call in result.tool_calls]
    whole = []
    for call in result.tool_calls:
        try:
            whole.append(tool_use_block(call))
        except EngineUnavailableError:
            continue
    return whole


def message(result: Result, model: str, key: bytes,
            display: Display | None = None, record_id: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if result.thinking:
        thinking = shown(result.thinking, display)
        content.append({"type": "thinking", "thinking": thinking,
                        "signature": signature(key, thinking)})
    calls = tool_use_blocks(result)
    if result.answer or not calls:
        content.append({"type": "text", "text": result.answer})
    content += calls
    return {"id": message_id(record_id), "type": "message", "role": "assistant",
            "model": model or result.model, "content": content,
            "stop_reason": _stop(result), "stop_sequence": None, "usage": _usage(result),
            "thinkswitch": {"decision": result.decision.model_dump(),
                            "timings": result.timings.model_dump(),
                            "finish_reason": result.finish_reason, **_checkable(result)}}


def message_id(record_id: str | None) -> str:
    """A message's id: `msg_` + its request's record id (a fresh id without one)."""
    return f"msg_{record_id or uuid.uuid4().hex}"


def _checkable(result: Result) -> dict[str, Any]:
    """What a person needs to point at a step: the trace's id and its steps."""
    return {"trace_id": result.trace_id, "steps": [step.model_dump() for step in result.steps]}


def events(stream: Iterator[SwitchEvent], model: str, key: bytes,
           input_tokens: Callable[[Decision], int] | None = None,
           display: Display | None = None, record_id: str | None = None,
           ) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """(event name, data) in Anthropic's streaming order; `input_tokens` counts the prompt
    once the decision is known (for `message_start`; 0 without it). With a thinking
    `display`, the thinking block gets one delta (the summary) or none (omitted) when it
    closes.

    Tool calls are sent once whole, after the text: an upstream may interleave the fragments
    of parallel calls, or send a call's name late, while Anthropic's blocks are contiguous and
    a client may act on a block when it stops; so each `tool_use` block is one start, one
    `input_json_delta` with all of its (checked) arguments, and one stop."""
    block = -1
    kind: str | None = None
    thinking: list[str] = []
    try:
        for event in stream:
            if isinstance(event, Decision):
                yield "message_start", {"type": "message_start", "message": {
                    "id": message_id(record_id), "type": "message", "role": "assistant",
                    "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens(event) if input_tokens else 0,
                              "output_tokens": 0},
                    "thinkswitch": {"decision": event.model_dump()}}}
                continue
            if isinstance(event, ThinkingDelta | AnswerDelta):
                wanted = "thinking" if isinstance(event, ThinkingDelta) else "text"
                if kind != wanted:
                    if kind is not None:
                        yield from _close(block, kind, key, thinking, display)
                    block, kind = block + 1, wanted
                    start = {"type": "thinking", "thinking": ""} if wanted == "thinking" \
                        else {"type": "text", "text": ""}
                    yield "content_block_start", {"type": "content_block_start",
                                                  "index": block, "content_block": start}
                if wanted == "thinking":
                    thinking.append(event.text)
                    if display is not None:
                        continue
                    delta = {"type": "thinking_delta", "thinking": event.text}
                else:
                    delta = {"type": "text_delta", "text": event.text}
                yield "content_block_delta", {"type": "content_block_delta", "index": block,
                                              "delta": delta}
            elif isinstance(event, Result):
                calls = tool_use_blocks(event)
                if kind is None and not calls:
                    block, kind = 0, "text"
                    yield "content_block_start", {"type": "content_block_start", "index": 0,
                                                  "content_block": {"type": "text", "text": ""}}
                if kind is not None:
                    yield from _close(block, kind, key, thinking, display)
                for call in calls:  # whole calls, each block contiguous (see the docstring)
                    block += 1
                    yield "content_block_start", {"type": "content_block_start", "index": block,
                                                  "content_block": {**call, "input": {}}}
                    yield "content_block_delta", {"type": "content_block_delta", "index": block,
                                                  "delta": {"type": "input_json_delta",
                                                            "partial_json": json.dumps(
                                                                call["input"])}}
                    yield "content_block_stop", {"type": "content_block_stop", "index": block}
                yield "message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": _stop(event),
                                                  "stop_sequence": None},
                                        "usage": _usage(event),
                                        "thinkswitch": {"finish_reason": event.finish_reason,
                                                        **_checkable(event)}}
                yield "message_stop", {"type": "message_stop"}
    finally:
        close_iterator(stream)


def _close(block: int, kind: str, key: bytes, thinking: list[str],
           display: Display | None) -> Iterator[tuple[str, dict[str, Any]]]:
    if kind == "thinking":
        text = "".join(thinking) if display is None else shown("".join(thinking).strip(),
                                                               display)
        if display is not None and text:
            yield "content_block_delta", {"type": "content_block_delta", "index": block,
                                          "delta": {"type": "thinking_delta", "thinking": text}}
        yield "content_block_delta", {"type": "content_block_delta", "index": block, "delta": {
            "type": "signature_delta", "signature": signature(key, text)}}
    yield "content_block_stop", {"type": "content_block_stop", "index": block}


def _encoded(pairs: Generator[tuple[str, dict[str, Any]], None, None]) -> Iterator[str]:
    """The events as SSE text, made in the switch's worker thread (closing this closes
    `pairs`, and so the switch)."""
    try:
        for name, data in pairs:
            yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    finally:
        pairs.close()


async def sse(pairs: Generator[tuple[str, dict[str, Any]], None, None]) -> AsyncIterator[str]:
    """The events written in batches: one response chunk for all the events waiting."""
    try:
        async for batch in iterate_batches_in_thread(_encoded(pairs)):
            yield "".join(batch)
    except Exception as error:  # the stream has started: the error can only be an event
        body = {"type": "error", "error": {"type": "api_error",
                                           "message": stream_error_message(error)}}
        yield f"event: error\ndata: {json.dumps(body)}\n\n"
