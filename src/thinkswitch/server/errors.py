"""Error responses in the dialect of the endpoint that was called.

`/v1/messages` and the paths under it speak Anthropic (`{"type": "error", "error": {"type",
"message"}}`); every other path speaks OpenAI (`{"error": {"message", "type", "param",
"code"}}`). Every error the server sends — validation, auth, admission, size, unknown routes,
engine failures, bugs — goes through `dialect_error`, so a client never gets FastAPI's
`{"detail": ...}` or a plain-text 500.
"""

from __future__ import annotations

import re
from typing import Protocol

from fastapi.responses import JSONResponse

from thinkswitch.kernel.errors import ThinkswitchError

#: Anthropic's error types by status, for errors that do not name one.
ANTHROPIC_KINDS = {400: "invalid_request_error", 401: "authentication_error",
                   403: "permission_error", 404: "not_found_error", 408: "timeout_error",
                   413: "request_too_large",
                   429: "rate_limit_error", 500: "api_error", 502: "api_error",
                   529: "overloaded_error"}


def is_anthropic(path: str) -> bool:
    return path.endswith("/messages") or "/messages/" in path


def openai_error(status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={
        "error": {"message": message, "type": kind, "param": param, "code": code}})


def anthropic_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"type": "error", "error": {
        "type": ANTHROPIC_KINDS.get(status, "api_error"), "message": message}})


def dialect_error(path: str, status: int, message: str, kind: str | None = None,
                  param: str | None = None) -> JSONResponse:
    """`kind` and `param` are OpenAI's; Anthropic's error type follows from the status."""
    if is_anthropic(path):
        return anthropic_error(status, message)
    return openai_error(status, message, kind or "invalid_request_error", param)


class Refusal(Protocol):
    """How middleware answers a request it refuses (counted in the metrics by the app)."""

    def __call__(self, path: str, status: int, message: str, kind: str | None = None,
                 headers: dict[str, str] | None = None, param: str | None = None
                 ) -> JSONResponse: ...


#: A filesystem path standing alone (not the path part of a URL, not inside a word).
_PATH = re.compile(r"(?<![\w:/.~-])(?:~|\.{1,2})?/(?:[^\s'\"/:,;()]+/)*[^\s'\"/:,;()]*")


def public_message(error: BaseException) -> str:
    """The message of a server-side failure as a client may see it: file paths of this
    machine (a trace database, a model file) are replaced by `<path>`."""
    return _PATH.sub("<path>", str(error))


def stream_error_message(error: BaseException) -> str:
    """What a client is told when a stream fails midway: our errors say what happened (paths
    hidden); a bug is named by its type only (its message may carry internals)."""
    if isinstance(error, ThinkswitchError):
        return public_message(error)
    return f"internal error ({type(error).__name__}); the answer is incomplete"
