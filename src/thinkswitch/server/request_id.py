"""One id per request under `/v1/`, sent back as a response header and used as the request's
trace record id, so a bad answer seen in a client's log leads to its record
(`thinkswitch logs show <id>`, which also takes the response ids made from it:
see `trace.record.record_id_of`).

The official SDKs read the id into `_request_id`: openai-python and openai-node from
`x-request-id`, anthropic-python and @anthropic-ai/sdk from `request-id`. Every response under
`/v1/` carries both names — answers, streams and errors alike (an error refused before the
switch ran has no record, but its id still names it in the client's log). The faces record
their request under this id and build their response ids from it (`chatcmpl-<id>`,
`msg_<id>`, `resp_<id>`); a face may rename the request before its response starts
(`rename_request`), and the header then gives the new name.

Plain ASGI, outermost: the id is made when the request comes in (one `uuid4`, no hashing) and
the headers are added to the response start; the body messages pass through untouched.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The response headers the SDKs read the id from (openai's, then anthropic's).
HEADERS = (b"x-request-id", b"request-id")
#: Where the id lives in the ASGI scope while the request runs.
SCOPE_KEY = "thinkswitch.request_id"


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware: a fresh id for each HTTP request under `/v1/`, in the scope for the
    faces (`request_id_of`) and in the response's `x-request-id` and `request-id` headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        scope[SCOPE_KEY] = new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                named = scope[SCOPE_KEY].encode("ascii")
                message["headers"] = [*message.get("headers", ()),
                                      *((name, named) for name in HEADERS)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def request_id_of(http: Request) -> str:
    """The request's id (a fresh one for an app served without `RequestIds`)."""
    named = http.scope.get(SCOPE_KEY)
    if named is None:
        named = http.scope[SCOPE_KEY] = new_request_id()
    return str(named)


def rename_request(http: Request, name: str) -> None:
    """Give the request another id before its response starts (the header sends this one)."""
    http.scope[SCOPE_KEY] = name
