"""The FastAPI app: the gate (keys, admission, the body limit, CORS), errors in each face's
format, `/metrics` and `/health`, and the faces: OpenAI chat completions (`openai_api`) and
Responses (`responses_api`), Anthropic (`anthropic_api`) and the chat page with its history API
(`page`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import (
    ThinkswitchError,
    UnsupportedParameterError,
    UsageError,
)
from thinkswitch.kernel.request import EFFORT_BUDGETS
from thinkswitch.server.admin import add_admin
from thinkswitch.server.admission import Admission, ApiKeys, Metrics, caller_id_secret
from thinkswitch.server.anthropic_api import add_anthropic, thinking_signature_key
from thinkswitch.server.body_limit import BodyLimit
from thinkswitch.server.calls import SwitchCalls
from thinkswitch.server.efforts import EffortTable
from thinkswitch.server.errors import dialect_error, public_message
from thinkswitch.server.exposure import MetaGate, default_exposure
from thinkswitch.server.feedback_api import add_feedback_api
from thinkswitch.server.gate import AdmissionGate, KeyGate
from thinkswitch.server.host_guard import HostGuard
from thinkswitch.server.openai_api import add_openai
from thinkswitch.server.page import add_page
from thinkswitch.server.reasoning_field import DEFAULT_REASONING_FIELD, ReasoningField
from thinkswitch.server.request_id import RequestIds
from thinkswitch.server.responses_api import add_responses
from thinkswitch.server.text_check import TextCheck
from thinkswitch.settings import Exposure
from thinkswitch.shadow.wiring import shadow_runner
from thinkswitch.switch.pipeline import Switch

if TYPE_CHECKING:  # a worker of several (`serve --workers`); one process imports none of it
    from thinkswitch.server.worker_board import Seat

#: Worker threads kept for requests beyond the streams that may fill `capacity`.
THREADS_BESIDE_STREAMS = 8


class Refuse(Protocol):
    def __call__(self, path: str, status: int, message: str, kind: str | None = None,
                 headers: dict[str, str] | None = None, param: str | None = None
                 ) -> JSONResponse: ...


def _first_validation_problem(error: RequestValidationError) -> tuple[str, str]:
    problem = error.errors()[0]
    where = ".".join(str(p) for p in problem["loc"] if p != "body") or "body"
    return where, f"invalid {where}: {problem['msg']}"


def create_app(switch: Switch, default_mode: RequestedMode = "auto",
               signing_key: bytes | None = None, api_keys: Sequence[str] = (),
               capacity: int = 16, max_body_bytes: int = 1 << 20,
               cors_origins: Sequence[str] = (),
               effort_budgets: Mapping[str, int] = EFFORT_BUDGETS,
               owns_switch: bool = False, body_timeout_s: float = 30.0,
               meta: Exposure | None = None,
               model_budgets: Mapping[str, Mapping[str, int]] = MappingProxyType({}),
               reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD,
               allowed_hosts: Sequence[str] = (),
               seat: Seat | None = None) -> FastAPI:
    """The app. `signing_key` (random per process by default) keys thinking signatures and
    the caller ids; `api_keys` (none: open) are required as a bearer token or x-api-key; at
    most `capacity` requests are inside at once (one generating per engine, the rest queued),
    beyond that 429. Bodies over `max_body_bytes` get 413, bodies not in within
    `body_timeout_s` 408. CORS is off unless `cors_origins` names origins (`*` for any).
    `effort_budgets` maps `reasoning_effort` low/medium/high to budgets; `model_budgets` does
    per model (`[budgets.models]`). An app that `owns_switch` closes it (engine and trace
    store) when it shuts down. `meta` says who may read /metrics and /openapi.json (default:
    closed with keys, open without; see exposure). `reasoning_field` names the
    chat-completions field thinking goes in (see reasoning_field). `allowed_hosts` (none:
    any) are the names a request's Host may give (see host_guard). A `seat` makes the app
    one worker of several: `capacity` and the request counters are then the whole
    server's, and a policy reload reaches every worker (see worker_board).
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
            shadow.close()
            if owns_switch:
                switch.close()

    app = FastAPI(title="thinkswitch", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # their UIs load script from a CDN
    key = signing_key or secrets.token_bytes(32)
    keys = ApiKeys(api_keys, caller_id_secret(key))
    admission = Admission(capacity) if seat is None else seat.admission(capacity)
    metrics = Metrics() if seat is None else seat.metrics()
    shadow = shadow_runner(switch, admission)
    if seat is not None:  # its counters summed over the workers
        shadow.metrics.shared = seat.shadow_counts()
    app.state.shadow = shadow

    def refuse(path: str, status: int, message: str, kind: str | None = None,
               headers: dict[str, str] | None = None, param: str | None = None
               ) -> JSONResponse:
        metrics.error(str(status))
        response = dialect_error(path, status, message, kind, param)
        response.headers.update(headers or {})
        return response

    # Outermost first: CORS (preflights need no key), who may read the meta paths, the key,
    # the body (size cap and timeout, then its text), and only then admission: a slot is
    # never held while a body trickles in.
    app.add_middleware(AdmissionGate, admission=admission, refuse=refuse)
    app.add_middleware(TextCheck, refuse=refuse)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, refuse=refuse,
                       timeout_s=body_timeout_s)
    app.add_middleware(KeyGate, keys=keys, refuse=refuse)
    app.add_middleware(MetaGate, keys=keys, exposure=meta or default_exposure(keys),
                       refuse=refuse)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"],
                           expose_headers=["Retry-After", "x-request-id", "request-id"])
    if allowed_hosts:  # outermost: a rebound name is refused before anything else
        app.add_middleware(HostGuard, allowed=allowed_hosts, refuse=refuse)
    app.add_middleware(RequestIds)  # outermost: every answer under /v1/ names its request

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> str:
        # The estimate gauges may read the trace store: off the event loop.
        shadow_lines = await to_thread.run_sync(shadow.metrics.exposition)
        return metrics.exposition(admission.inside) + shadow_lines

    _add_error_handlers(app, refuse)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "engine": switch.engine.name, "model": switch.engine.model}

    calls = SwitchCalls(switch, metrics)
    budgets_for = EffortTable(effort_budgets, model_budgets, switch.engine.model).for_model
    add_openai(app, calls, default_mode, budgets_for, switch.prices, reasoning_field)
    add_responses(app, calls, default_mode, budgets_for, switch.prices, switch.trace_store)
    add_anthropic(app, calls, default_mode, thinking_signature_key(key), budgets_for)
    add_page(app, switch.trace_store)  # the chat page at / and the /v1/traces history
    add_feedback_api(app, switch.recorder)  # flags on steps, ratings of answers
    add_admin(app, switch, keys,  # POST /admin/policy/reload
              None if seat is None else seat.reload_everywhere)
    return app


def _add_error_handlers(app: FastAPI, refuse: Refuse) -> None:
    """Every error as a response in the face's own format (4xx for the caller's mistakes)."""

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
        return refuse(request.url.path, 502, public_message(error), "upstream_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return refuse(request.url.path, error.status_code, str(error.detail), None,
                      dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        return refuse(request.url.path, 500, f"internal error ({type(error).__name__}); the "
                      "request was not completed", "server_error")
