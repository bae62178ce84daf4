"""The OpenAI face's stream: events to `chat.completion.chunk` server-sent events, fast.

Every thinking or answer delta crosses here, so the per-delta path is a string template: the
chunk envelope (id, object, created, model, choices) is serialised once per response and each
delta only JSON-escapes its text. The rare chunks (the decision, the finish, usage, tool
calls) go through `json.dumps` whole. The texts are made in the switch's worker thread (one
thread for the whole stream, `SwitchCalls.started_batches`) and written in batches: one socket
write per batch of deltas, which is all the deltas of an upstream read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta, ToolCallDelta
from thinkswitch.kernel.result import Result
from thinkswitch.server.errors import stream_error_message
from thinkswitch.server.reasoning_field import DEFAULT_REASONING_FIELD, FIELDS, ReasoningField
from thinkswitch.trace.prices import PriceTable

#: a str in, its JSON literal out (what `json.dumps(text, ensure_ascii=False)` says)
_escape: Callable[[str], str] = json.encoder.encode_basestring
_HOLE = "\x00"  # where a delta's text goes in a chunk template (escaped text never has it)
#: the end of every stream that ends normally
DONE = "data: [DONE]\n\n"


def usage_fields(result: Result) -> dict[str, Any]:
    """The OpenAI `usage` object of `result`."""
    usage = result.usage
    completion_tokens = usage.thinking_tokens + usage.answer_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": usage.prompt_tokens + completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.thinking_tokens},
    }


def extension_fields(result: Result, prices: PriceTable) -> dict[str, Any]:
    """The `thinkswitch` object of a finished answer: decision, timings, steps, cost."""
    cost = prices.cost(result.model, result.usage)
    return {"decision": result.decision.model_dump(), "timings": result.timings.model_dump(),
            "finish_reason": result.finish_reason, "engine": result.engine,
            "trace_id": result.trace_id,
            "steps": [step.model_dump() for step in result.steps],
            "cost": {**cost.model_dump(), "total": cost.total}}


def finish_reason(result: Result) -> str:
    """OpenAI's finish reason for `result` (the switch's own reasons map to "stop")."""
    if result.finish_reason in ("length", "tool_calls"):
        return result.finish_reason
    return "stop"


class ChunkEncoder:
    """The SSE text of one response's chunks; the envelope is serialised once. Thinking goes
    in the field(s) `reasoning_field` names (see reasoning_field)."""

    def __init__(self, completion_id: str, model: str, created: int,
                 reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD) -> None:
        self.envelope = {"id": completion_id, "object": "chat.completion.chunk",
                         "created": created, "model": model}
        head = json.dumps(self.envelope, ensure_ascii=False)
        opening = f'data: {head[:-1]}, "choices": [{{"index": 0, "delta": {{'
        closing = '}, "finish_reason": null}]}\n\n'
        # a delta's chunk is its escaped text joined with these pieces (one `str.join`)
        self.answer_pieces = (f'{opening}"content": ', closing)
        fields = ", ".join(f'"{name}": {_HOLE}' for name in FIELDS[reasoning_field])
        self.thinking_pieces = tuple(f"{opening}{fields}{closing}".split(_HOLE))

    def answer(self, text: str) -> str:
        return _escape(text).join(self.answer_pieces)

    def thinking(self, text: str) -> str:
        return _escape(text).join(self.thinking_pieces)

    def chunk(self, delta: dict[str, Any], finish: str | None = None,
              **extra: Any) -> str:
        """Any chunk, through `json.dumps` (the rare ones: role, finish, usage, tool calls)."""
        payload = {**self.envelope, "choices": [{"index": 0, "delta": delta,
                                                 "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    def usage(self, result: Result) -> str:
        payload = {**self.envelope, "choices": [], "usage": usage_fields(result)}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def chunk_texts(events: Iterator[SwitchEvent], encoder: ChunkEncoder, include_usage: bool,
                prices: PriceTable) -> Iterator[str]:
    """SSE texts: a role chunk, reasoning and content deltas, then the finish (and usage).
    A delta's text is `encoder.thinking` / `encoder.answer`, inlined (it runs per delta)."""
    escape, thinking, answer = _escape, encoder.thinking_pieces, encoder.answer_pieces
    try:
        for event in events:
            kind = type(event)
            if kind is ThinkingDelta:
                yield escape(event.text).join(thinking)  # type: ignore[union-attr]
            elif kind is AnswerDelta:
                yield escape(event.text).join(answer)  # type: ignore[union-attr]
            elif isinstance(event, Decision):
                yield encoder.chunk({"role": "assistant", "content": ""},
                                    thinkswitch={"decision": event.model_dump()})
            elif isinstance(event, ToolCallDelta):
                yield encoder.chunk({"tool_calls": list(event.calls)})
            elif isinstance(event, Result):
                yield encoder.chunk({}, finish_reason(event),
                                    thinkswitch=extension_fields(event, prices))
                if include_usage:
                    yield encoder.usage(event)
    finally:
        close_iterator(events)


def stream_texts(events: Iterator[SwitchEvent], encoder_of: Callable[[], ChunkEncoder],
                 include_usage: bool, prices: PriceTable) -> Iterator[str]:
    """`chunk_texts`, then [DONE], all in the stream's worker thread: [DONE] goes out in the
    last batch's write, and the encoder is made there too (a fresh completion id reads the
    OS's randomness, a system call that on the event loop would hand the GIL to a busy
    worker thread and wait to get it back)."""
    yield from chunk_texts(events, encoder_of(), include_usage, prices)
    yield DONE


async def sse(first: list[str], batches: AsyncIterator[list[str]]) -> AsyncIterator[str]:
    """The response body: the texts of `stream_texts` in batches (`first`, then `batches`);
    an error mid-stream becomes an error event, then [DONE]. When the client goes away the
    batches are closed at once, which stops the engine within a token and releases its model
    for the next request."""
    try:
        yield "".join(first)
        async for batch in batches:
            yield "".join(batch)
    except Exception as error:  # the stream has started: the error can only be an event
        body = {"error": {"message": stream_error_message(error), "type": "server_error"}}
        yield f"data: {json.dumps(body)}\n\n{DONE}"
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
