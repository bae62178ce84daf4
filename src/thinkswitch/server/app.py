"""The FastAPI app: `/v1/chat/completions` (streaming and not), `/v1/models`, `/health`.

The switch is synchronous (the embedded engine holds its model lock while it generates), so
each request runs it in a worker thread; a streaming response is fed event by event. The
trace record is committed before the last chunk (finish and usage) is sent.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinkswitch.kernel.decision import Decision, RequestedMode
from thinkswitch.kernel.errors import (
    EngineUnavailableError,
    ThinkswitchError,
    UnsupportedParameterError,
    UsageError,
)
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta, ToolCallDelta
from thinkswitch.kernel.request import EFFORT_BUDGETS
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.kernel.result import Result
from thinkswitch.server.admission import Admission, ApiKeys, Metrics
from thinkswitch.server.anthropic_routes import add_messages
from thinkswitch.server.body_limit import BodyLimit
from thinkswitch.server.efforts import EffortTable
from thinkswitch.server.errors import dialect_error, stream_error_message
from thinkswitch.server.feedback_api import add_feedback_api
from thinkswitch.server.gate import Gate, caller_of
from thinkswitch.server.openai_schema import ChatCompletionRequest, passthrough_options
from thinkswitch.server.page import add_page
from thinkswitch.server.reasoning_field import (
    DEFAULT_REASONING_FIELD,
    ReasoningField,
    reasoning_fields,
)
from thinkswitch.server.responses_api import add_responses
from thinkswitch.server.streaming import iterate_in_thread
from thinkswitch.server.switch_calls import CLIENT_GONE
from thinkswitch.switch.degrade import HEADER as DEADLINE_HEADER
from thinkswitch.switch.degrade import earliest, parse_deadline
from thinkswitch.switch.pipeline import Switch
from thinkswitch.trace.prices import PriceTable

#: Worker threads kept for requests beyond the streams that may fill `capacity`.
THREADS_BESIDE_STREAMS = 8

def _first_validation_problem(error: RequestValidationError) -> tuple[str, str]:
    problem = error.errors()[0]
    where = ".".join(str(p) for p in problem["loc"] if p != "body") or "body"
    return where, f"invalid {where}: {problem['msg']}"


def create_app(switch: Switch, default_mode: RequestedMode = "auto",
               signing_key: bytes | None = None, api_keys: Sequence[str] = (),
               capacity: int = 16, max_body_bytes: int = 1 << 20,
               cors_origins: Sequence[str] = (),
               effort_budgets: Mapping[str, int] = EFFORT_BUDGETS,
               owns_switch: bool = False,
               model_budgets: Mapping[str, Mapping[str, int]] = MappingProxyType({}),
               reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD) -> FastAPI:
    """The app. `signing_key` signs thinking blocks (random per process by default);
    `api_keys` (none: open) are required as a bearer token or x-api-key; at most `capacity`
    requests are inside at once (one generating per engine, the rest queued), beyond that 429.
    Bodies over `max_body_bytes` get 413. CORS is off unless `cors_origins` names origins
    (`*` for any). `effort_budgets` maps `reasoning_effort` low/medium/high to budgets;
    `model_budgets` does per model (`[budgets.models]`). An app that `owns_switch` closes it
    (engine and trace store) when it shuts down. `reasoning_field` names the chat-completions
    field thinking goes in (see reasoning_field).
    """
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Each stream holds a worker thread for its life (see streaming.py), drawn from the
        # same limiter as every run_in_threadpool: size it so `capacity` streams cannot starve
        # the rest (non-streaming requests, the history API).
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, capacity + THREADS_BESIDE_STREAMS)
        try:
            yield
        finally:
            if owns_switch:
                switch.close()

    app = FastAPI(title="thinkswitch", version="0.1.0", lifespan=lifespan)
    key = signing_key or secrets.token_bytes(32)
    keys = ApiKeys(api_keys)
    admission = Admission(capacity)
    metrics = Metrics()
    prices = switch.prices
    budgets_for = EffortTable(effort_budgets, model_budgets, switch.engine.model).for_model

    def refuse(path: str, status: int, message: str, kind: str | None = None,
               headers: dict[str, str] | None = None, param: str | None = None
               ) -> JSONResponse:
        metrics.error(str(status))
        response = dialect_error(path, status, message, kind, param)
        response.headers.update(headers or {})
        return response

    # Outermost first: CORS (preflights need no key), the gate (keys, admission), the size cap.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, refuse=refuse)
    app.add_middleware(Gate, keys=keys, admission=admission, refuse=refuse)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"],
                           expose_headers=["Retry-After"])

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> str:
        return metrics.exposition(admission.inside)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        where, message = _first_validation_problem(error)
        return refuse(request.url.path, 400, message, "invalid_request_error", param=where)

    @app.exception_handler(ThinkswitchError)
    async def failed(request: Request, error: ThinkswitchError) -> JSONResponse:
        if isinstance(error, UsageError):
            param = error.param if isinstance(error, UnsupportedParameterError) else None
            return refuse(request.url.path, 400, str(error), "invalid_request_error",
                          param=param)
        return refuse(request.url.path, 502, str(error), "upstream_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return refuse(request.url.path, error.status_code, str(error.detail), None,
                      dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        return refuse(request.url.path, 500, f"internal error ({type(error).__name__}); the "
                      "request was not completed", "server_error")

    async def whole(request: SwitchRequest, http: Request) -> Result | None:
        """The answer in one piece, counted in the metrics; None when the client left."""
        return await answered(observed(switch.stream(request, caller_of(http)), metrics), http)

    async def started(request: SwitchRequest, http: Request) -> Iterator[SwitchEvent]:
        """The switch's events, decided (and validated) before the 200 goes out."""
        events = observed(switch.stream(request, caller_of(http)), metrics)
        first = await run_in_threadpool(next, events)
        return _chain(first, events)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "engine": switch.engine.name, "model": switch.engine.model}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        base = switch.engine.model
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
            options=passthrough_options(body, switch.engine.passthrough),
            deadline_s=earliest(body.timeout, parse_deadline(http.headers.get(DEADLINE_HEADER))),
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if not body.stream:
            result = await whole(request, http)
            if result is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(completion(result, completion_id, body.model, prices,
                                           reasoning_field))
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            sse(chunks(await started(request, http), completion_id, body.model, usage, prices,
                       reasoning_field)),
            media_type="text/event-stream",
        )

    add_messages(app, switch, whole, started, default_mode, key, budgets_for)
    add_responses(app, switch, whole, started, default_mode, prices, budgets_for)
    add_page(app, switch.trace_store)  # the chat page at / and the /v1/traces history
    add_feedback_api(app, switch.recorder)  # flags on steps, ratings of answers
    return app


async def answered(events: Iterator[SwitchEvent], http: Request) -> Result | None:
    """The `Result` of a request answered in one piece, or None when the client went away
    first: then generation stops within a token, as for a stream, instead of running on to
    its answer limit with the engine held."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await http.receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    stream = iterate_in_thread(events)
    try:
        async for event in stream:
            if gone.is_set():
                return None
            if isinstance(event, Result):
                return event
    finally:
        watcher.cancel()
        await stream.aclose()  # type: ignore[attr-defined]
    raise EngineUnavailableError("the switch ended without a result")


def observed(events: Iterator[SwitchEvent], metrics: Metrics) -> Iterator[SwitchEvent]:
    """Pass events through, counting each finished result."""
    try:
        for event in events:
            if isinstance(event, Result):
                metrics.observe(event)
            yield event
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()


def _chain(first: SwitchEvent, rest: Iterator[SwitchEvent]) -> Iterator[SwitchEvent]:
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if callable(close):
            close()


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
