"""The OpenAI Responses face: `POST /v1/responses`, `GET /v1/responses/{id}`.

A response's id is `resp_` + the id of its trace record, so `previous_response_id` and
retrieval read the trace store; a record is served only to the caller (API key) that made
it, and another caller's id is a 404 as if it did not exist. `store: false` gives the response
an id that names no record: the request is still traced for audit (under its request id marked
`unstored-`, which the `x-request-id` header gives), but it cannot be retrieved or continued.
Continuing a response replays its turns and its answer before the new input; its instructions
(the leading system turn) are not carried over, as OpenAI does.

Errors are in OpenAI's shape (`server/errors.py`), raised as `ResponsesError` for the ones
that carry a `code`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.server.calls import CLIENT_GONE, SwitchCalls
from thinkswitch.server.errors import openai_error, stream_error_message
from thinkswitch.server.gate import caller_of
from thinkswitch.server.request_id import rename_request, request_id_of
from thinkswitch.server.responses_output import (
    Shell,
    call_items,
    output_items,
    stream_events,
    whole_response,
)
from thinkswitch.server.responses_schema import ResponsesRequest
from thinkswitch.server.streaming import iterate_batches_in_thread
from thinkswitch.switch.degrade import HEADER as DEADLINE_HEADER
from thinkswitch.switch.degrade import earliest, parse_deadline
from thinkswitch.trace.prices import PriceTable
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.store import TraceStore


class ResponseNotFound(UsageError):
    """A response id that names no response this caller may see."""

    def __init__(self, response_id: str, param: str | None) -> None:
        self.param = param
        super().__init__(f"response with id {response_id!r} not found")


def not_found(error: ResponseNotFound) -> JSONResponse:
    response = openai_error(404, str(error), "invalid_request_error", error.param)
    body = json.loads(bytes(response.body))
    body["error"]["code"] = ("previous_response_not_found" if error.param
                             else "response_not_found")
    return JSONResponse(status_code=404, content=body)


#: Before the record id of a `store: false` request: no response id names such a record.
UNSTORED = "unstored-"


def record_of(store: TraceStore | None, response_id: str, caller: str,
              param: str | None) -> TraceRecord:
    """The stored record behind `response_id`, if `caller` made it (and stored it)."""
    record = None
    record_id = response_id.removeprefix("resp_")
    if store is not None and response_id.startswith("resp_") and \
            not record_id.startswith(UNSTORED):
        record = store.get(record_id)
    if record is None or record.caller != caller or record.kind != "request":
        raise ResponseNotFound(response_id, param)
    if record.redacted:
        raise UsageError(f"response {response_id!r} was stored redacted; its turns cannot be "
                         "replayed")
    if record.error is not None:
        raise UsageError(f"response {response_id!r} failed ({record.error}); it cannot be "
                         "continued")
    return record


def replayed_turns(record: TraceRecord) -> tuple[ChatMessage, ...]:
    """The record's turns and its answer, without its instructions."""
    turns = [ChatMessage.model_validate(message) for message in record.messages]
    if turns and turns[0].role == "system":
        turns = turns[1:]
    answer = record.answer
    if isinstance(answer, dict):
        calls = tuple(answer.get("tool_calls") or ()) or None
        turns.append(ChatMessage(role="assistant", content=str(answer.get("content") or ""),
                                 tool_calls=calls))
    else:
        turns.append(ChatMessage(role="assistant", content=answer))
    return tuple(turns)


def retrieved(record: TraceRecord, response_id: str) -> dict[str, Any]:
    """A stored response rebuilt from its record (the ids are the ones it was sent with)."""
    answer, calls = record.answer, []
    if isinstance(answer, dict):
        calls = list(answer.get("tool_calls") or [])
        answer = str(answer.get("content") or "")
    status = "incomplete" if record.finish_reason == "length" else "completed"
    thinking = record.thinking if isinstance(record.thinking, str) else ""
    usage = record.usage
    output = usage.get("thinking_tokens", 0) + usage.get("answer_tokens", 0)
    items = output_items(response_id, thinking, str(answer), [], None, status)
    items += call_items(response_id, calls)
    return {"id": response_id, "object": "response", "created_at": int(record.created_at),
            "status": status, "error": None, "model": record.model, "output": items,
            "incomplete_details": ({"reason": "max_output_tokens"}
                                   if status == "incomplete" else None),
            "store": True,
            "usage": {"input_tokens": usage.get("prompt_tokens", 0),
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens": output,
                      "output_tokens_details": {
                          "reasoning_tokens": usage.get("thinking_tokens", 0)},
                      "total_tokens": usage.get("prompt_tokens", 0) + output},
            "thinkswitch": {"decision": record.decision, "trace_id": record.id}}


class EventTexts:
    """The SSE text of each (name, data) pair, made in the switch's worker thread; keeps the
    next sequence number and the last `response` object sent, which a failure midway needs."""

    def __init__(self) -> None:
        self.sequence = 0
        self.last: dict[str, Any] = {}

    def texts(self, pairs: Generator[tuple[str, dict[str, Any]], None, None]) -> Iterator[str]:
        try:
            for name, data in pairs:
                self.sequence = data["sequence_number"] + 1
                if "response" in data:
                    self.last = data["response"]
                yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        finally:
            pairs.close()


async def sse(pairs: Generator[tuple[str, dict[str, Any]], None, None]) -> Any:
    """Server-sent events with event names, encoded in the worker thread and written in
    batches (one socket write per batch, as the chat-completions stream); a failure midway
    becomes `error` then `response.failed`."""
    encoded = EventTexts()
    try:
        async for batch in iterate_batches_in_thread(encoded.texts(pairs)):
            yield "".join(batch)
    except Exception as error:  # the stream has started: the error can only be an event
        message = stream_error_message(error)
        sequence = encoded.sequence
        body = {"type": "error", "code": "server_error", "message": message, "param": None,
                "sequence_number": sequence}
        yield f"event: error\ndata: {json.dumps(body)}\n\n"
        failed: dict[str, Any] = {**encoded.last, "status": "failed",
                  "error": {"code": "server_error", "message": message}}
        end = {"type": "response.failed", "sequence_number": sequence + 1, "response": failed}
        yield f"event: response.failed\ndata: {json.dumps(end)}\n\n"


def add_responses(app: FastAPI, calls: SwitchCalls, default_mode: RequestedMode,
                  budgets_for: Callable[[str], Mapping[str, int]], prices: PriceTable,
                  store: TraceStore | None) -> None:
    """Serve the Responses routes on `app`; `budgets_for` gives a model's effort budgets,
    costs are priced with `prices`, and stored responses are read from `store` (None:
    recording is off, so no response can be retrieved or continued)."""

    @app.exception_handler(ResponseNotFound)
    async def missing(_: Request, error: ResponseNotFound) -> JSONResponse:
        return not_found(error)

    @app.post("/v1/responses", response_model=None)
    async def create(http: Request, body: ResponsesRequest) -> Response:
        mode, budget = body.control(default_mode, budgets_for(body.model))
        caller = caller_of(http)
        history: tuple[ChatMessage, ...] = ()
        if body.previous_response_id is not None:
            record = await run_in_threadpool(record_of, store, body.previous_response_id,
                                             caller, "previous_response_id")
            history = replayed_turns(record)
        messages = body.input_messages()
        if history and messages and messages[0].role == "system" and body.instructions:
            messages = (messages[0], *history, *messages[1:])
        else:
            messages = (*history, *messages)
        if not body.store:
            rename_request(http, UNSTORED + request_id_of(http))
        trace_id = request_id_of(http)  # the record's id: the x-request-id header gives it
        request = SwitchRequest(
            messages=messages, think=mode, budget=budget, output_cap=body.max_output_tokens,
            temperature=body.temperature, options=body.engine_options(),
            trace_id=trace_id,
            deadline_s=earliest(body.timeout, parse_deadline(http.headers.get(DEADLINE_HEADER))),
        )
        response_id = f"resp_{trace_id if body.store else uuid.uuid4().hex}"
        shell = Shell(response_id, body, body.model or calls.engine.model)
        if not body.stream:
            result = await calls.whole(request, http)
            if result is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(whole_response(shell, result, prices))
        pairs = stream_events(await calls.started(request, http), shell, prices)
        return StreamingResponse(sse(pairs), media_type="text/event-stream")

    @app.get("/v1/responses/{response_id}")
    async def retrieve(http: Request, response_id: str) -> dict[str, Any]:
        record = await run_in_threadpool(record_of, store, response_id, caller_of(http), None)
        return retrieved(record, response_id)
