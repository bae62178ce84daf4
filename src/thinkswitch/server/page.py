"""The chat page at `/` and the history API it reads (`/v1/traces`).

The page is plain HTML, CSS and JavaScript shipped as package data (no build step, no CDN):
it talks to `/v1/chat/completions` like any other client. The history API summarises the
trace store newest first and returns any one record in full; it sits under `/v1/`, so the
app's API-key gate covers it (GET requests are not admission-counted).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from thinkswitch.server.errors import openai_error
from thinkswitch.server.gate import caller_aliases, caller_of
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.store import TraceStore

STATIC_PACKAGE = "thinkswitch.server"
STATIC_FOLDER = "static"
QUESTION_CHARS = 200
MAX_PAGE = 200
#: Defence in depth beside the DOM-only renderer: nothing but this origin's own files may run
#: or load, so even a rendering slip cannot execute model output or reach the network.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
RECORDING_OFF = ("trace recording is off on this server (THINKSWITCH_RECORD=false), so there "
                 "is no history to show")


class PageFiles(StaticFiles):
    """The page's files, each with the page's CSP: `/static/index.html` is the page too, and
    must not be served without its policy."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response


def _static_dir() -> str:
    return str(resources.files(STATIC_PACKAGE).joinpath(STATIC_FOLDER))


def question_of(record: TraceRecord) -> str:
    """The last user turn, shortened for a list row."""
    for message in reversed(record.messages):
        if message.get("role") == "user":
            text = str(message.get("content", ""))
            return text if len(text) <= QUESTION_CHARS else text[: QUESTION_CHARS - 1] + "…"
    return ""


def summary(record: TraceRecord) -> dict[str, Any]:
    """One history row: enough to recognise a request and see what it cost."""
    decision = record.decision
    return {
        "id": record.id,
        "created_at": record.created_at,
        "question": question_of(record),
        "decision": {key: decision.get(key) for key in
                     ("requested", "mode", "budget", "policy", "score", "reason")},
        "usage": {
            "prompt_tokens": record.usage.get("prompt_tokens", 0),
            "thinking_tokens": record.usage.get("thinking_tokens", 0),
            "answer_tokens": record.usage.get("answer_tokens", 0),
        },
        "cost": {"total": record.cost.total, "currency": record.cost.currency},
        "finish_reason": record.finish_reason,
        "error": record.error,
        "redacted": record.redacted,
    }


def detail(record: TraceRecord) -> dict[str, Any]:
    """The whole record as stored, plus the cost total the page shows."""
    body = record.model_dump()
    body["cost"] = {**body["cost"], "total": record.cost.total}
    return body


def history_page(store: TraceStore, limit: int, after: str | None,
                 caller: str = "", aliases: tuple[str, ...] = ()) -> list[TraceRecord] | None:
    """Up to `limit` of `caller`'s request records, newest first, after the record `after`
    in that order (from the newest if None); None when `after` is not one of its records.
    `aliases` are the caller's earlier ids (records written before ids were keyed), read too.
    Retention notes are not requests."""
    names = (caller, *aliases)
    if after is not None:
        cursor = store.get(after)
        if cursor is None or cursor.caller not in names:
            return None
    rows = store.records(limit=limit, caller=caller, after_id=after, kind="request")
    for alias in aliases:  # older records: after every current one, newest first
        rows += store.records(limit=limit, caller=alias, after_id=after, kind="request")
    rows.sort(key=lambda row: row.created_at, reverse=True)  # stable: ties keep chain order
    return rows[:limit]


def add_page(app: FastAPI, store: TraceStore | None) -> None:
    """Serve the chat page at `/`, its files at `/static/`, and the history API."""
    static = _static_dir()
    app.mount("/static", PageFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        response = FileResponse(f"{static}/index.html", media_type="text/html")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-cache"
        return response

    # With API keys, a caller sees only the requests made with its own key.
    @app.get("/v1/traces", response_model=None)
    async def traces(http: Request, limit: int = Query(20, ge=1, le=MAX_PAGE),
                     after: str | None = Query(None, description=(
                         "cursor: the id of the last record of the previous page"))
                     ) -> JSONResponse | dict[str, Any]:
        if store is None:
            return openai_error(404, RECORDING_OFF, "not_found_error")
        rows = await run_in_threadpool(history_page, store, limit + 1, after,
                                       caller_of(http), caller_aliases(http))
        if rows is None:
            return openai_error(400, f"no trace with id {after!r} to page after",
                                "invalid_request_error", param="after")
        more = len(rows) > limit
        return {"object": "list", "data": [summary(r) for r in rows[:limit]],
                "has_more": more}

    @app.get("/v1/traces/{trace_id}", response_model=None)
    async def trace(http: Request, trace_id: str) -> JSONResponse | dict[str, Any]:
        if store is None:
            return openai_error(404, RECORDING_OFF, "not_found_error")
        record = await run_in_threadpool(store.get, trace_id)
        owners = (caller_of(http), *caller_aliases(http))
        if record is None or record.kind != "request" or record.caller not in owners:
            return openai_error(404, f"no trace with id {trace_id!r}", "not_found_error")
        return detail(record)
