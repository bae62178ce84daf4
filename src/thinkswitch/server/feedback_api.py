"""`/v1/traces/{id}/feedback`: people flag steps of the thinking and rate answers.

Behind the key gate like the rest of `/v1/`: a caller gives and reads feedback only on its own
traces (another caller's trace is a 404, as if it did not exist). A feedback is appended to the
trace store's chain as a record of its own (see `thinkswitch.trace.feedback`); nothing already
recorded is ever changed.
"""

from __future__ import annotations

from email.message import Message
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from thinkswitch.kernel.errors import UsageError
from thinkswitch.server.errors import openai_error
from thinkswitch.server.gate import caller_aliases, caller_of
from thinkswitch.trace.feedback import Feedback, public
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import TraceStore

RECORDING_OFF = ("trace recording is off on this server (THINKSWITCH_RECORD=false), so there "
                 "is nothing to give feedback on")
MAX_FEEDBACK_BYTES = 16_384


def _validation_problem(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return where, f"invalid {where}: {message}" if where != "body" else message


def _json_content(content_type: str) -> bool:
    """Whether a body is declared JSON, as FastAPI decides for the other routes. A web page
    can send any site a `text/plain` POST without asking (no CORS preflight), so a body read
    as JSON whatever its type could be posted by any page the user visits."""
    declared = Message()
    declared["content-type"] = content_type
    subtype = declared.get_content_subtype()
    return bool(content_type) and declared.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


def _own_request(store: TraceStore, trace_id: str, owners: tuple[str, ...]
                 ) -> TraceRecord | None:
    record = store.get(trace_id)
    if record is None or record.kind != "request" or record.caller not in owners:
        return None
    return record


def add_feedback_api(app: FastAPI, recorder: Recorder | None) -> None:
    """Serve POST and GET `/v1/traces/{trace_id}/feedback`, written by `recorder` into its
    store (None: recording is off)."""
    store = recorder.store if recorder is not None else None

    @app.post("/v1/traces/{trace_id}/feedback", response_model=None, status_code=201)
    async def give(http: Request, trace_id: str) -> JSONResponse | dict[str, Any]:
        if recorder is None or store is None:
            return openai_error(404, RECORDING_OFF, "not_found_error")
        raw = await http.body()
        if raw and not _json_content(http.headers.get("content-type", "")):
            return openai_error(400, "a feedback body must be sent as Content-Type: "
                                "application/json", "invalid_request_error")
        if len(raw) > MAX_FEEDBACK_BYTES:
            return openai_error(413, f"feedback bodies are at most {MAX_FEEDBACK_BYTES} bytes",
                                "invalid_request_error")
        try:
            feedback = Feedback.model_validate_json(raw or b"{}")
        except ValidationError as error:
            param, message = _validation_problem(error)
            return openai_error(400, message, "invalid_request_error", param=param)
        caller = caller_of(http)
        target = await run_in_threadpool(_own_request, store, trace_id,
                                         (caller, *caller_aliases(http)))
        if target is None:
            return openai_error(404, f"no trace with id {trace_id!r}", "not_found_error")
        try:
            sealed = await run_in_threadpool(recorder.feedback, target, feedback, caller)
        except UsageError as error:
            return openai_error(400, str(error), "invalid_request_error", param="step")
        return JSONResponse(public(sealed), status_code=201)

    @app.get("/v1/traces/{trace_id}/feedback", response_model=None)
    async def listing(http: Request, trace_id: str) -> JSONResponse | dict[str, Any]:
        if store is None:
            return openai_error(404, RECORDING_OFF, "not_found_error")
        caller = caller_of(http)
        target = await run_in_threadpool(_own_request, store, trace_id,
                                         (caller, *caller_aliases(http)))
        if target is None:
            return openai_error(404, f"no trace with id {trace_id!r}", "not_found_error")
        rows = await run_in_threadpool(store.related, "feedback", trace_id, None, caller)
        return {"object": "list", "data": [public(row) for row in rows]}
