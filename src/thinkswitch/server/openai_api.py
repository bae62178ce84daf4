"""The OpenAI face: `POST /v1/chat/completions` (streaming and not) and `GET /v1/models`.

The request's thinking controls (`reasoning_effort`, a `thinking` object,
`chat_template_kwargs.enable_thinking`, a model suffix) are read by `openai_schema`, an effort
level's budget from the model's row of the effort table (`efforts`); `max_completion_tokens`
(or `max_tokens`) bounds thinking and answer together (`thinkswitch.switch.output_cap`). The
answer carries the thinking in the field `--reasoning-field` chose (`reasoning_field`:
`reasoning_content` by default, or `reasoning` as vLLM names it, or both) and the switch's
decision, timings and cost under `thinkswitch`. A stream sends reasoning deltas before content
deltas; the trace record is committed before the last chunk (finish and usage) is sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from thinkswitch.kernel.decision import Decision, RequestedMode
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta, ToolCallDelta
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.kernel.result import Result
from thinkswitch.server.calls import CLIENT_GONE, SwitchCalls
from thinkswitch.server.errors import stream_error_message
from thinkswitch.server.openai_schema import ChatCompletionRequest, passthrough_options
from thinkswitch.server.reasoning_field import (
    DEFAULT_REASONING_FIELD,
    ReasoningField,
    reasoning_fields,
)
from thinkswitch.server.streaming import iterate_in_thread
from thinkswitch.switch.degrade import HEADER as DEADLINE_HEADER
from thinkswitch.switch.degrade import earliest, parse_deadline
from thinkswitch.trace.prices import PriceTable


def add_openai(app: FastAPI, calls: SwitchCalls, default_mode: RequestedMode,
               budgets_for: Callable[[str], Mapping[str, int]], prices: PriceTable,
               reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD) -> None:
    """Serve the OpenAI routes on `app`; `budgets_for` gives a model's effort budgets, costs
    are priced with `prices`, thinking goes in `reasoning_field`."""

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        base = calls.engine.model
        names = [base, f"{base}:think", f"{base}:nothink", f"{base}:auto"]
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "thinkswitch"}
            for name in names]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(http: Request, body: ChatCompletionRequest) -> Response:
        mode, budget, _ = body.control(default_mode, budgets_for(body.model))
        request = SwitchRequest(
            messages=body.chat_messages(), think=mode, budget=budget,
            min_thinking=body.min_thinking_tokens or 0, output_cap=body.output_cap(),
            temperature=body.temperature, seed=body.seed,
            options=passthrough_options(body, calls.engine.passthrough),
            deadline_s=earliest(body.timeout, parse_deadline(http.headers.get(DEADLINE_HEADER))),
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if not body.stream:
            result = await calls.whole(request, http)
            if result is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(completion(result, completion_id, body.model, prices,
                                           reasoning_field))
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            sse(chunks(await calls.started(request, http), completion_id, body.model, usage,
                       prices, reasoning_field)),
            media_type="text/event-stream",
        )


def _usage(result: Result) -> dict[str, Any]:
    usage = result.usage
    completion_tokens = usage.thinking_tokens + usage.answer_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": usage.prompt_tokens + completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.thinking_tokens},
    }


def _extension(result: Result, prices: PriceTable) -> dict[str, Any]:
    cost = prices.cost(result.model, result.usage)
    return {"decision": result.decision.model_dump(), "timings": result.timings.model_dump(),
            "finish_reason": result.finish_reason, "engine": result.engine,
            "trace_id": result.trace_id,
            "steps": [step.model_dump() for step in result.steps],
            "cost": {**cost.model_dump(), "total": cost.total}}


def _finish(result: Result) -> str:
    if result.finish_reason in ("length", "tool_calls"):
        return result.finish_reason
    return "stop"


def completion(result: Result, completion_id: str, model: str, prices: PriceTable,
               reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.answer}
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
        message["content"] = result.answer or None
    if result.thinking:
        message.update(reasoning_fields(result.thinking, reasoning_field))
    return {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()),
        "model": model or result.model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(result)}],
        "usage": _usage(result),
        "thinkswitch": _extension(result, prices),
    }


def chunks(events: Iterator[SwitchEvent], completion_id: str, model: str,
           include_usage: bool, prices: PriceTable,
           reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD,
           ) -> Generator[dict[str, Any], None, None]:
    """OpenAI stream chunks: a role chunk, reasoning and content deltas, then the finish."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None,
              **extra: Any) -> dict[str, Any]:
        return {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish}], **extra}

    try:
        yield from _chunk_events(events, chunk, include_usage, prices, reasoning_field)
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()


def _chunk_events(events: Iterator[SwitchEvent], chunk: Any, include_usage: bool,
                  prices: PriceTable, reasoning_field: ReasoningField,
                  ) -> Iterator[dict[str, Any]]:
    for event in events:
        if isinstance(event, Decision):
            yield chunk({"role": "assistant", "content": ""},
                        thinkswitch={"decision": event.model_dump()})
        elif isinstance(event, ThinkingDelta):
            yield chunk(reasoning_fields(event.text, reasoning_field))
        elif isinstance(event, AnswerDelta):
            yield chunk({"content": event.text})
        elif isinstance(event, ToolCallDelta):
            yield chunk({"tool_calls": list(event.calls)})
        elif isinstance(event, Result):
            yield chunk({}, _finish(event), thinkswitch=_extension(event, prices))
            if include_usage:
                final = chunk({}, None, usage=_usage(event))
                final["choices"] = []
                yield final


async def sse(payloads: Generator[dict[str, Any], None, None]) -> AsyncIterator[str]:
    """Server-sent events; an error mid-stream becomes an error event, then [DONE].

    When the client goes away the generator is closed at once, which stops the engine within
    a token and releases its model for the next request."""
    try:
        async for payload in iterate_in_thread(payloads):
            yield f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
    except Exception as error:  # the stream has started: the error can only be an event
        body = {"error": {"message": stream_error_message(error), "type": "server_error"}}
        yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
