"""The OpenAI face: `POST /v1/chat/completions` (streaming and not), `GET /v1/models` and
`GET /v1/models/{id}`.

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

import time
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.kernel.result import Result
from thinkswitch.server.calls import CLIENT_GONE, SwitchCalls
from thinkswitch.server.errors import openai_error
from thinkswitch.server.event_stream import EventStreamResponse
from thinkswitch.server.openai_schema import ChatCompletionRequest, passthrough_options
from thinkswitch.server.openai_stream import (
    ChunkEncoder,
    extension_fields,
    finish_reason,
    sse,
    stream_texts,
    usage_fields,
)
from thinkswitch.server.reasoning_field import (
    DEFAULT_REASONING_FIELD,
    ReasoningField,
    reasoning_fields,
)
from thinkswitch.server.request_id import request_id_of
from thinkswitch.switch.degrade import HEADER as DEADLINE_HEADER
from thinkswitch.switch.degrade import earliest, parse_deadline
from thinkswitch.trace.prices import PriceTable


def add_openai(app: FastAPI, calls: SwitchCalls, default_mode: RequestedMode,
               budgets_for: Callable[[str], Mapping[str, int]], prices: PriceTable,
               reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD) -> None:
    """Serve the OpenAI routes on `app`; `budgets_for` gives a model's effort budgets, costs
    are priced with `prices`, thinking goes in `reasoning_field`."""

    def model_names() -> list[str]:
        base = calls.engine.model
        return [base, f"{base}:think", f"{base}:nothink", f"{base}:auto"]

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = model_names()
        return {"object": "list", "data": [model_object(name) for name in names],
                "has_more": False, "first_id": names[0], "last_id": names[-1]}

    @app.get("/v1/models/{model_id:path}", response_model=None)
    async def model(model_id: str) -> Response:
        """One model (`client.models.retrieve`); a name not served is OpenAI's 404."""
        if model_id not in model_names():
            return openai_error(404, f"The model {model_id!r} does not exist",
                                code="model_not_found", param="model")
        return JSONResponse(model_object(model_id))

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(http: Request, body: ChatCompletionRequest) -> Response:
        mode, budget, _ = body.control(default_mode, budgets_for(body.model))
        record_id = request_id_of(http)  # the trace record's id; the completion's: chatcmpl-+it
        completion_id = f"chatcmpl-{record_id}"
        request = SwitchRequest(
            messages=body.chat_messages(), think=mode, budget=budget,
            min_thinking=body.min_thinking_tokens or 0, output_cap=body.output_cap(),
            temperature=body.temperature, seed=body.seed, trace_id=record_id,
            options=passthrough_options(body, calls.engine.passthrough),
            deadline_s=earliest(body.timeout, parse_deadline(http.headers.get(DEADLINE_HEADER))),
        )
        if not body.stream:
            result = await calls.whole(request, http)
            if result is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(completion(result, completion_id, body.model, prices,
                                           reasoning_field))
        usage = bool(body.stream_options and body.stream_options.include_usage)

        def encoder() -> ChunkEncoder:
            return ChunkEncoder(completion_id, body.model, int(time.time()),
                                reasoning_field)

        first, batches = await calls.started_batches(
            request, http, lambda events: stream_texts(events, encoder, usage, prices))
        return EventStreamResponse(sse(first, batches))


def model_object(name: str) -> dict[str, Any]:
    """A model as both SDKs read it: OpenAI's fields (`object`, `created`, `owned_by`) and
    Anthropic's (`type`, `display_name`, `created_at`), so `models.list` of either is whole."""
    return {"id": name, "object": "model", "created": 0, "owned_by": "thinkswitch",
            "type": "model", "display_name": name, "created_at": "1970-01-01T00:00:00Z"}


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
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(result)}],
        "usage": usage_fields(result),
        "thinkswitch": extension_fields(result, prices),
    }
